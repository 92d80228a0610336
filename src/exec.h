/*
 * exec.h: POST / - tool execution. The handler runs on the loop thread and
 * only queues the body; a worker (or the bulk lane for a large body or
 * costly arguments) parses, checks the allowlist, finds the tool,
 * validates and encodes; the worker that owns the chosen MCP server
 * instance sends it; the answer comes back to the loop thread through the
 * pool's completion list, where it is sent.
 */
#ifndef EXEC_H
#define EXEC_H

struct config;
struct pool;
struct registry;

/* A call is checked against its caller's allowlist (session_allowlist())
 * and the daemon's of the snapshot it holds (snapshot.h) from its arrival
 * to its answer. cfg (startTimeoutMs, rateLimits.execute) outlives the
 * module. */
void	exec_init(struct pool *, struct registry *, const struct config *);
/* Loop thread, a reload: rateLimits.execute of cfg from now on. */
void	exec_reconfigure(const struct config *);
/* Registers the route. */
void	exec_register(void);
void	exec_free(void);

#endif
