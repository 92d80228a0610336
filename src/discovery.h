/*
 * discovery.h: GET /mcp/tools?q=...&q=... - keyword search over every
 * server's tools, answered from the toolsets (loop thread only).
 */
#ifndef DISCOVERY_H
#define DISCOVERY_H

#include <stddef.h>

struct config;
struct registry;

/* 0 and the keywords (decoded, lower-cased, malloc'd, NULL-terminated in
 * *out) or -1 and a message naming the problem; *bad gets a copy of the
 * offending query (caller frees). Pure: for unit tests and fuzzing. */
int	discovery_parse_query(const char *query, char ***out, const char **msg,
	    char **bad);
void	discovery_free_keywords(char **);
/* 1 when any keyword is a substring of haystack (already lower case);
 * no keywords match everything. */
int	discovery_match(const char *haystack, char *const *keywords);

/* Discovery applies the caller's allowlist (session_allowlist()) and the
 * daemon's (snapshot_current()) when discoveryRespectsAllowlist is set.
 * The servers are the registry's enabled ones. */
void	discovery_register(struct registry *, const struct config *);
/* Loop thread, a reload: discoveryTimeoutMs, discoveryRespectsAllowlist
 * and rateLimits.discovery of cfg from now on (the caller holds cfg
 * until the next call or discovery_free()). */
void	discovery_reconfigure(const struct config *);
/* Answers or drops the requests still waiting for servers (shutdown). */
void	discovery_free(void);

#endif
