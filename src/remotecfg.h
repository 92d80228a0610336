/*
 * remotecfg.h: the checks and conversions behind a remote server's
 * configuration (config.c calls them): its URL, its header names and
 * values, ${VAR} references in header values, the headers file. Pure
 * apart from getenv() and reading the headers file; each returns -1
 * with one sentence in err on error, no path prefix (config.c adds it).
 */
#ifndef REMOTECFG_H
#define REMOTECFG_H

#include <stddef.h>

#define REMOTECFG_VALUE_MAX	8192	/* bytes of one header value */
#define REMOTECFG_FILE_MAX	65536	/* bytes of a headers file */

struct config_kv;

/* An http:// or https:// URL with a host, no user info, no fragment;
 * *tls is set to 1 for https. */
int	remotecfg_url(const char *url, int *tls, char *err, size_t errlen);
/* A header name we accept: an HTTP token that is not one the daemon sets
 * itself (Host, Content-Type, Mcp-Session-Id ...). */
int	remotecfg_header_name(const char *name, char *err, size_t errlen);
/*
 * The value with every ${NAME} replaced by the variable's value and
 * every ${NAME:-default} by the variable's value, or default when it is
 * unset or empty; "$$" is a "$". An unset variable without a default is
 * an error naming it. The result (malloc'd, in *out) must be a valid
 * header value: no control characters, at most REMOTECFG_VALUE_MAX bytes.
 */
int	remotecfg_expand(const char *value, char **out, char *err,
	    size_t errlen);
/*
 * Reads a headers file: a regular file of mode 0600 or stricter holding
 * a JSON object of string values (no ${} expansion). Adds each header to
 * *kv (realloc'd; *n counts them), replacing one of the same name (case
 * insensitive).
 */
int	remotecfg_headers_file(const char *path, struct config_kv **kv,
	    size_t *n, char *err, size_t errlen);
/* Adds or replaces (case insensitive) name: value in *kv; both copied. */
int	remotecfg_header_set(struct config_kv **kv, size_t *n,
	    const char *name, const char *value);

#endif
