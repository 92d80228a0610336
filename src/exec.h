/*
 * exec.h: POST / - tool execution. exec_handle() runs on the loop thread;
 * the call then moves to a worker (parse, allowlist, lookup, validation,
 * encoding), to the registry's I/O thread (the child), and back to the loop
 * thread through the pool's completion list, where it is answered.
 */
#ifndef EXEC_H
#define EXEC_H

struct allowlist;
struct config;
struct pool;
struct registry;

void	exec_init(struct pool *, struct registry *, const struct config *,
	    const struct allowlist *);
/* Registers the route. */
void	exec_register(void);
void	exec_free(void);

#endif
