/*
 * reqid.h: request ids. A client may name its request with X-Request-Id;
 * a sane name is kept, anything else is replaced by one we make. The id
 * goes back on the reply, into the audit log and every log line about the
 * request, and to the MCP server in the call's params._meta. Pure code,
 * any thread.
 */
#ifndef REQID_H
#define REQID_H

#include <stddef.h>

#define REQID_MAX	128	/* bytes of a client's id, at most */

/* 1 when the len bytes at s are a sane id: 1 to REQID_MAX bytes of
 * [A-Za-z0-9._:-] (s may be NULL: 0). */
int	reqid_valid(const char *s, size_t len);
/* Writes a new id into out: 16 lower-case hex digits, never the same
 * twice in a process (a random start, then a counter through a bijective
 * mixer, so that ids do not reveal how many requests came before). */
void	reqid_make(char out[REQID_MAX + 1]);

#endif
