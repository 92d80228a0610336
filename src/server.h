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
 * complete() runs on the I/O thread, except for a call submitted after
 * registry_stop(): that one is answered (503) on the submitting thread
 * inside registry_submit(). complete() must not block. The reply body is
 * always set (JSON, {"error": ...} for every status but 200).
 */
#ifndef SERVER_H
#define SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "pool.h"

struct config;
struct event;
struct event_base;
struct proc;
struct registry;
struct server;

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
	struct server	*srv;
	struct proc	*proc;
	struct event	*timer;
	struct server_call *hnext;	/* pending-by-id chain */
	struct server_call *qnext;	/* wait queue */
	struct server_call *qprev;
};

/* Frees the input and output strings of a call (not the call itself). */
void	server_call_clear(struct server_call *);

/*
 * Ends a call: takes body (a JSON object, consumed) as the reply, frees the
 * call's timer and calls complete(). The I/O thread, or any thread for a
 * call the I/O thread never saw.
 */
void	server_call_finish(struct server_call *, int status, json_object *body,
	    int retry_after);
/* Shorthand: {"error": msg} (plus "server": name when server != NULL). */
void	server_call_fail(struct server_call *, int status, int retry_after,
	    const char *server, const char *msg);

/*
 * Turning a tools/call answer into the HTTP reply (pure, any thread; the
 * json-c arguments are borrowed and must belong to the calling thread).
 * Return the HTTP status and set *body to a new object the caller owns.
 * full is the tool's full name, mcp__<server>__<tool>.
 */
int	server_reply_result(const char *server, const char *full,
	    json_object *result, json_object **body);
int	server_reply_error(const char *server, const char *full, int code,
	    const char *message, json_object *data, json_object **body);
/* The id of a JSON-RPC message from the first bytes of its line (the
 * "id" member of the top-level object): 0 and *id, or -1. */
int	server_scan_id(const char *line, size_t len, int64_t *id);

/*
 * One configured server, run by the registry on its I/O thread; everything
 * below is I/O thread only unless marked otherwise.
 */
struct server	*server_new(struct registry *, struct event_base *,
		    const struct config *, size_t index);
void		 server_free(struct server *);
/* Spawns every instance (nothing for a disabled server). */
void		 server_start(struct server *);
/* Starts the call's timer and queues or sends it. */
void		 server_submit(struct server *, struct server_call *);
/* Shutdown, step 1: fails every queued and pending call, stops restarts,
 * closes every child's stdin. */
void		 server_stop(struct server *);
/* Shutdown, later steps: sig to every live child's process group; returns
 * the number of children not yet reaped. sig 0 only counts. */
int		 server_signal(struct server *, int sig);
/* SIGKILL to every process group this server ever led (stragglers). */
void		 server_kill_groups(struct server *);
/* Any thread (emergency exit): SIGKILL to every live child's group. */
void		 server_kill(struct server *);
/* Any thread: the server's /health entry (a new object), and whether at
 * least one instance is ready. */
json_object	*server_health(struct server *);
int		 server_ready(struct server *);

#endif
