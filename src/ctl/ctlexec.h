/*
 * ctlexec.h: "mcp-proxyctl exec": a session for one command, the command
 * run with the session's URL and token in its environment, then the
 * session revoked and its call summary written out: the per-execution
 * life cycle of code-executor-MCP's proxy, against one long-lived daemon.
 */
#ifndef CTLEXEC_H
#define CTLEXEC_H

#include "ctlcmd.h"
#include "ctltarget.h"

/* mcp-proxyctl exec failed before the command ran (as env(1): 125), the
 * command could not be run (126) or was not found (127). */
#define CTLEXEC_EXIT_FAIL	125
#define CTLEXEC_EXIT_NOEXEC	126
#define CTLEXEC_EXIT_NOTFOUND	127

struct ctlexec_opts {
	char *const	*argv;		/* the command, NULL-terminated */
	const char	*unix_path;	/* MCP_PROXYD_URL=unix:PATH; NULL: the
					   daemon's TCP URL */
	const char	*summary;	/* the summary's file; NULL: stderr */
	int		 timeout_s;	/* of each request to the daemon */
};

/* Whether path can be a Unix socket's: absolute, short enough. */
int	ctlexec_unix_path_ok(const char *path);
/*
 * Creates the session (req: its POST /sessions), runs the command and
 * waits for it, forwarding SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to us
 * by another process, revokes the session whatever happened, writes its
 * summary. Returns the exit status: the command's, 128+N when signal N
 * killed it, or CTLEXEC_EXIT_*.
 */
int	ctlexec_run(const struct ctlexec_opts *, const struct ctlcmd_req *req,
	    const struct ctltarget *);

#endif
