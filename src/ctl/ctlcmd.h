/*
 * ctlcmd.h: mcp-proxyctl's commands: the words of a command line turned
 * into one HTTP request to the daemon (method, path and query, JSON body),
 * and the values of the options of "session create". Pure: nothing here
 * prints or talks to the network. The caller owns the struct ctlcmd_req
 * and frees it with ctlcmd_req_free().
 */
#ifndef CTLCMD_H
#define CTLCMD_H

#include <stddef.h>

#define CTLCMD_ID_MAX	128	/* characters in a session id */

/* The options of "session create"; zero or NULL: not given. */
struct ctlcmd_create {
	const char	*given;		/* the first one given (its long name
				   without "--"), for messages */
	const char	*tools;		/* "A,B": allowedTools */
	const char	*label;
	int		 ttl_s;
	int		 max_concurrent;
	int		 rate_requests;
	int		 rate_window_s;	/* 0: the daemon's default (60) */
	int		 token_only;	/* print only the session's token */
	const char	*exec_given;	/* the first option of exec alone
					   (--unix, --summary) given */
};

/* The request a command makes. */
struct ctlcmd_req {
	const char	*method;	/* "GET", "POST" or "DELETE" */
	char		*target;	/* path and query, URL-encoded */
	char		*body;		/* JSON, or NULL */
	int		 health;	/* GET /health: a 503 body is printed */
	int		 create;	/* POST /sessions */
	int		 exec;		/* ... for exec (ctlexec.c) */
	int		 stubs;		/* stubs (ctlstubs.c) */
};

/*
 * The request for the command words argv[0..argc), with c the options
 * of "session create" and "exec" (any of them given to another command is
 * an error; exec's command is not among the words). 0, or -1 with a usage
 * message in err.
 */
int	ctlcmd_build(int argc, char *argv[], const struct ctlcmd_create *c,
	    struct ctlcmd_req *, char *err, size_t errlen);
void	ctlcmd_req_free(struct ctlcmd_req *);

/* A decimal number (digits only) from min to max. 0 or -1. */
int	ctlcmd_parse_int(const char *s, int min, int max, int *out);
/* Seconds: N, or N followed by s, m, h or d; at least 1. 0 or -1. */
int	ctlcmd_parse_duration(const char *s, int *out);
/* "N" or "N/DURATION" (requests per window). 0 or -1. */
int	ctlcmd_parse_rate(const char *s, int *requests, int *window_s);

#endif
