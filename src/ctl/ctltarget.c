/*
 * ctltarget.c: the daemon's URL and admin token for mcp-proxyctl, from
 * the command line, the environment or the daemon's configuration, in
 * that order (see ctltarget.h). The token is read with the daemon's own
 * rules (auth_token_read_file) and never copied into a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "ctlhttp.h"
#include "ctltarget.h"

static int	ctltarget_from_args(const struct ctltarget_opts *,
		    struct ctltarget *, char *, size_t);
static int	ctltarget_from_env(struct ctltarget *, char *, size_t);
static int	ctltarget_from_config(const char *, struct ctltarget *, char *,
		    size_t);
static const char	*ctltarget_tcp_listen(const struct config *);
static void	ctltarget_missing(const struct ctltarget *, const char *,
		    const char *, char *, size_t);

int
ctltarget_resolve(const struct ctltarget_opts *opts,
    const char *default_config, struct ctltarget *t, char *err,
    size_t errlen)
{
	const char	*config = opts->config;

	memset(t, 0, sizeof(*t));
	if (ctltarget_from_args(opts, t, err, errlen) == -1 ||
	    ctltarget_from_env(t, err, errlen) == -1)
		goto fail;
	if (config == NULL && (t->url.port == 0 || t->token[0] == '\0') &&
	    access(default_config, F_OK) == 0)
		config = default_config;
	if (config != NULL && ctltarget_from_config(config, t, err,
	    errlen) == -1)
		goto fail;
	if (t->url.port == 0 || t->token[0] == '\0') {
		ctltarget_missing(t, config, default_config, err, errlen);
		goto fail;
	}
	return 0;
fail:
	ctltarget_clear(t);
	return -1;
}

void
ctltarget_clear(struct ctltarget *t)
{
	explicit_bzero(t->token, sizeof(t->token));
}

static int
ctltarget_from_args(const struct ctltarget_opts *opts, struct ctltarget *t,
    char *err, size_t errlen)
{
	char	why[CONFIG_ERR_MAX];

	if (opts->url != NULL) {
		if (ctlhttp_parse_url(opts->url, &t->url, why,
		    sizeof(why)) == -1) {
			snprintf(err, errlen, "--url: %s", why);
			return -1;
		}
		snprintf(t->url_from, sizeof(t->url_from), "--url");
	}
	if (opts->token_file != NULL) {
		if (auth_token_read_file(opts->token_file, t->token,
		    sizeof(t->token), why, sizeof(why)) == -1) {
			snprintf(err, errlen, "--token-file: %s", why);
			return -1;
		}
		snprintf(t->token_from, sizeof(t->token_from),
		    "--token-file %s", opts->token_file);
	}
	return 0;
}

/* An empty variable counts as unset. */
static int
ctltarget_from_env(struct ctltarget *t, char *err, size_t errlen)
{
	const char	*url = getenv(CTLTARGET_ENV_URL);
	const char	*tok = getenv(CTLTARGET_ENV_TOKEN);
	char		 why[CONFIG_ERR_MAX];
	size_t		 i;

	if (t->url.port == 0 && url != NULL && *url != '\0') {
		if (ctlhttp_parse_url(url, &t->url, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s: %s", CTLTARGET_ENV_URL, why);
			return -1;
		}
		snprintf(t->url_from, sizeof(t->url_from), CTLTARGET_ENV_URL);
	}
	if (t->token[0] != '\0' || tok == NULL || *tok == '\0')
		return 0;
	for (i = 0; tok[i] != '\0'; i++)
		if ((unsigned char)tok[i] <= ' ' || tok[i] == 0x7f ||
		    i == AUTH_TOKEN_MAX) {
			snprintf(err, errlen, "%s: the token %s",
			    CTLTARGET_ENV_TOKEN, i == AUTH_TOKEN_MAX ?
			    "is too long" : "holds whitespace or control "
			    "characters");
			return -1;
		}
	memcpy(t->token, tok, i + 1);
	snprintf(t->token_from, sizeof(t->token_from), CTLTARGET_ENV_TOKEN);
	return 0;
}

/* The daemon's first TCP listen address; NULL when all are Unix. */
static const char *
ctltarget_tcp_listen(const struct config *cfg)
{
	size_t	i;

	for (i = 0; i < cfg->nlisten; i++)
		if (strncmp(cfg->listen[i], "unix:", 5) != 0)
			return cfg->listen[i];
	return NULL;
}

/* What is still missing, from the daemon's configuration at path. */
static int
ctltarget_from_config(const char *path, struct ctltarget *t, char *err,
    size_t errlen)
{
	struct config	*cfg;
	const char	*listen;
	char		 why[CONFIG_ERR_MAX];

	if ((cfg = config_load(path, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if (t->url.port == 0 && cfg->nlisten > 0) {
		if ((listen = ctltarget_tcp_listen(cfg)) == NULL) {
			snprintf(err, errlen, "%s: listen has Unix sockets "
			    "only, and mcp-proxyctl speaks TCP; give the URL "
			    "with --url or %s", path, CTLTARGET_ENV_URL);
			goto fail;
		}
		if (ctlhttp_url_from_listen(listen, &t->url, why,
		    sizeof(why)) == -1) {
			snprintf(err, errlen, "%s: %s; give the URL with --url "
			    "or %s", path, why, CTLTARGET_ENV_URL);
			goto fail;
		}
		snprintf(t->url_from, sizeof(t->url_from), "listen in %s",
		    path);
	}
	if (t->token[0] == '\0' && cfg->auth_token_file != NULL) {
		if (auth_token_read_file(cfg->auth_token_file, t->token,
		    sizeof(t->token), why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s (authTokenFile in %s)", why,
			    path);
			goto fail;
		}
		snprintf(t->token_from, sizeof(t->token_from),
		    "authTokenFile %s in %s", cfg->auth_token_file, path);
	} else if (t->token[0] == '\0' &&
	    access(CTLTARGET_RUNTIME_TOKEN, F_OK) == 0) {
		if (auth_token_read_file(CTLTARGET_RUNTIME_TOKEN, t->token,
		    sizeof(t->token), why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s (the token the daemon made "
			    "under systemd; %s has no authTokenFile)", why,
			    path);
			goto fail;
		}
		snprintf(t->token_from, sizeof(t->token_from), "%s (%s has "
		    "no authTokenFile)", CTLTARGET_RUNTIME_TOKEN, path);
	}
	config_free(cfg);
	return 0;
fail:
	config_free(cfg);
	return -1;
}

/* Says what is missing and where it looked. */
static void
ctltarget_missing(const struct ctltarget *t, const char *config,
    const char *default_config, char *err, size_t errlen)
{
	char	looked[CTLTARGET_FROM_MAX];
	int	no_url = t->url.port == 0;

	if (config != NULL)
		snprintf(looked, sizeof(looked), "and %s has no %s", config,
		    no_url ? "\"listen\" (the daemon then picks a free port)" :
		    "\"authTokenFile\" (the daemon then makes a token at each "
		    "start, printed in its ready line)");
	else
		snprintf(looked, sizeof(looked), "no -c FILE was given and %s "
		    "does not exist", default_config);
	if (no_url)
		snprintf(err, errlen, "no daemon URL: there is no --url, %s is "
		    "not set, %s", CTLTARGET_ENV_URL, looked);
	else
		snprintf(err, errlen, "no admin token: there is no "
		    "--token-file, %s is not set, %s", CTLTARGET_ENV_TOKEN,
		    looked);
}
