/*
 * server.h: one MCP server (one or more child processes behind one name):
 * spawn, handshake, JSON-RPC over stdio, pending calls by id, timeouts,
 * restart with backoff, shutdown. Everything in server.c runs on the
 * registry's I/O thread, except what is marked "any thread".
 *
 * A tool call travels as a struct server_call. The submitter (a worker)
 * fills the input part and hands it to registry_submit(); from then on the
 * I/O thread owns it until it fills the output part and calls complete()
 * exactly once. The submitter's complete() hands it on (pool_complete).
 */
#ifndef SERVER_H
#define SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"

struct event;
struct proc;

enum server_call_state {
	SERVER_CALL_NEW = 0,
	SERVER_CALL_QUEUED,	/* waiting for a ready instance or capacity */
	SERVER_CALL_SENT,	/* written (or buffered) to a child */
	SERVER_CALL_DONE
};

struct server_call {
	struct job	 job;		/* first member: the pool's hand-back */

	/* Input, set by the submitter; owned by the call. */
	size_t		 server;	/* index into the registry */
	char		*tool;		/* name as the server knows it */
	char		*params;	/* tools/call params JSON, one line */
	size_t		 paramslen;
	int		 timeout_ms;	/* whole call, queueing included */
	int		 unchecked;	/* 1: tool existence not yet verified */
	void		(*complete)(struct server_call *);

	/* Output, set by the I/O thread before complete(). */
	int		 status;	/* HTTP status */
	char		*body;		/* JSON reply body, malloc'd */
	size_t		 bodylen;
	int		 retry_after;	/* seconds for Retry-After, 0: none */

	/* Private to server.c / registry.c. */
	enum server_call_state state;
	int64_t		 id;
	struct proc	*proc;
	struct event	*timer;
	struct server_call *hnext;	/* pending-by-id chain */
	struct server_call *qnext;	/* wait queue */
};

/* Frees the input and output strings of a call (not the call itself). */
void	server_call_clear(struct server_call *);

#endif
