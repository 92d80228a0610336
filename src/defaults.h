/*
 * defaults.h: where the daemon keeps what its configuration does not
 * place: the schema cache file and the file of a generated admin token.
 * Called from main, before any thread.
 *
 * The schema cache: $STATE_DIRECTORY/schema-cache.json under systemd
 * (StateDirectory=); else the installed default (under localstatedir)
 * when that directory exists and is writable; else, run from a build tree
 * or by a user, $XDG_CACHE_HOME/mcp-proxyd/schema-cache.json (or
 * ~/.cache/...), the directory made 0700. The choice is logged at info
 * level.
 *
 * The token file: $RUNTIME_DIRECTORY/token under systemd
 * (RuntimeDirectory=), so a generated token never reaches the journal.
 */
#ifndef DEFAULTS_H
#define DEFAULTS_H

#include <stddef.h>

#define DEFAULTS_PATH_MAX	4096

/* The schema cache path into buf (installed is the build's default). */
void	defaults_cache_path(const char *installed, char *buf, size_t len);
/* The generated token's file into buf: 0, or -1 when there is no runtime
 * directory (not under systemd, or no RuntimeDirectory=). */
int	defaults_token_path(char *buf, size_t len);
/* 1 when started by systemd as a service ($INVOCATION_ID). */
int	defaults_under_systemd(void);

#endif
