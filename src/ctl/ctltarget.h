/*
 * ctltarget.h: which daemon mcp-proxyctl talks to, and with what token.
 *
 * The URL and the token each come from the first place that has one:
 * the command line (--url, --token-file), the environment
 * (MCP_PROXYD_URL, MCP_PROXYD_TOKEN: the names the sandbox clients read),
 * then the daemon's configuration file (-c, else the installed one when
 * it exists): its "listen" address and its "authTokenFile". The caller
 * owns the struct ctltarget and wipes it with ctltarget_clear().
 */
#ifndef CTLTARGET_H
#define CTLTARGET_H

#include <stddef.h>

#include "auth.h"
#include "ctlhttp.h"

#define CTLTARGET_ENV_URL	"MCP_PROXYD_URL"
#define CTLTARGET_ENV_TOKEN	"MCP_PROXYD_TOKEN"
/* Where the daemon under systemd keeps a token it made (RuntimeDirectory):
 * used when the configuration has no authTokenFile. */
#define CTLTARGET_RUNTIME_TOKEN	"/run/mcp-proxyd/token"
#define CTLTARGET_FROM_MAX	(2 * 4096 + 64)

/* What the command line says; NULL where it says nothing. */
struct ctltarget_opts {
	const char	*url;		/* --url */
	const char	*token_file;	/* --token-file */
	const char	*config;	/* -c */
};

struct ctltarget {
	struct ctlhttp_url	url;
	char			url_from[CTLTARGET_FROM_MAX];
	char			token[AUTH_TOKEN_MAX + 1];
	char			token_from[CTLTARGET_FROM_MAX];
};

/*
 * Finds both: 0, or -1 with a message in err that says what is wrong or
 * where it looked. default_config is the daemon's default configuration
 * file, read only when it exists and -c is not given and something is
 * still missing.
 */
int	ctltarget_resolve(const struct ctltarget_opts *,
	    const char *default_config, struct ctltarget *, char *err,
	    size_t errlen);
/* Wipes the token. */
void	ctltarget_clear(struct ctltarget *);

#endif
