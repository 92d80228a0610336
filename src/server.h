/*
 * server.h: one configured MCP server: its instances (child processes)
 * and the MCP session of each: handshake, tool list, calls by id with many
 * in flight, timeouts and cancellation, server-to-client requests,
 * notifications, failure and restart with backoff, a server that stops
 * answering (found with a ping, then restarted), the circuit breaker
 * (breaker.h) that answers calls at once while a server keeps failing,
 * shutdown.
 *
 * Threads. Each instance belongs to one worker (its owner): everything
 * about it, its child's pipes, its timers, its pending and queued calls,
 * runs on that worker, entered through server_inst_start() and
 * server_submit() run there. What is shared across instances and threads
 * is small and marked "any thread": the published toolset (a slot under
 * its mutex), the counters and state that /health shows (atomics and a
 * mutex), and server_pick(). Work that could take long leaves the owner
 * for the bulk lane: building a tool list (schema compilation, the cache
 * entry) and parsing and converting a long answer.
 *
 * A tool call travels as a struct server_call. The submitter fills the
 * input part and hands the call to the owner of an instance; from then on
 * the server owns it until it fills the output part and calls complete()
 * exactly once, on the owner or on a bulk thread. complete() must not
 * block. The reply body is always set ({"error": ...} for every status
 * but 200).
 */
#ifndef SERVER_H
#define SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "pool.h"
#include "reqid.h"

struct cache;
struct config;
struct event;
struct proc_msg;
struct remote_msg;
struct rpc_msg;
struct server;
struct server_inst;
struct toolset;

enum server_call_state {
	SERVER_CALL_NEW = 0,
	SERVER_CALL_QUEUED,	/* waiting for a ready instance or capacity */
	SERVER_CALL_SENT,	/* written (or waiting to be) to a child */
	SERVER_CALL_DONE
};

struct server_call {
	struct job	 job;		/* first member */

	/* Input, set by the submitter; owned by the call. */
	size_t		 server;	/* index in the configuration */
	struct server	*srv;		/* set by the registry: the server, */
	int		 target;	/* the instance it goes to */
	int		 owner;		/* and the worker that owns that */
	char		*tool;		/* name as the server knows it */
	char		*params;	/* tools/call params JSON, one line;
					   handed to the child's write queue */
	size_t		 paramslen;
	int		 timeout_ms;	/* whole call, queueing included */
	int		 whole;		/* answer the whole CallToolResult
					   ("result":"full" in the body) */
	void		(*complete)(struct server_call *);
	char		 rid[REQID_MAX + 1];	/* request id, for the logs */

	/* Output, set before complete(). */
	int		 status;	/* HTTP status */
	char		*body;		/* JSON reply body, malloc'd */
	size_t		 bodylen;
	int		 retry_after;	/* seconds for Retry-After, 0: none */
	double		 sent_ms;	/* when its line went to the child's
					   write queue (CLOCK_MONOTONIC ms);
					   0: never */
	const char	*reason;	/* refused unsent: "overload",
					   "unavailable", "shutdown",
					   "breaker_open"; static */
	char		*error;		/* the body's "error", malloc'd, at
					   most 512 bytes; NULL for 200 */

	/* Private to server.c. */
	enum server_call_state state;
	int64_t		 id;
	struct server_inst *inst;
	struct event	*timer;
	struct proc_msg	*msg;		/* not yet completely written */
	struct remote_msg *rmsg;	/* not yet handed to a connection */
	int		 unsent;	/* withdrawn before any byte went */
	char		*line;		/* a long answer, for the bulk lane */
	size_t		 linelen;
	struct rpc_msg	*answer;	/* a long answer already parsed */
	struct server_call *hnext;	/* pending-by-id chain */
	struct server_call *qnext;	/* wait queue */
	struct server_call *qprev;
	int		 breaker;	/* 1: its end counts for the breaker */
	int		 trial;		/* breaker's trial ticket, 0: none */
};

/* Frees the input and output strings of a call (not the call itself). */
void	server_call_clear(struct server_call *);
/* Ends a call with body (a JSON object, consumed) and calls complete().
 * On the owner, or on any thread for a call no instance holds. */
void	server_call_finish(struct server_call *, int status, json_object *body,
	    int retry_after);
/* Shorthand: {"error": msg} (plus "server": server when not NULL). */
void	server_call_fail(struct server_call *, int status, int retry_after,
	    const char *server, const char *msg);

/* What the server tells the module that runs it (the registry). */
struct server_hooks {
	/* The first start attempt is over (ready, or every instance failed
	 * once). Owner thread. */
	void	(*started)(void *arg, size_t server);
	/* A new toolset is in the slot. Owner thread. */
	void	(*published)(void *arg, size_t server);
	/* A child was reaped after server_inst_stop(). Owner thread. */
	void	(*gone)(void *arg, size_t server, int inst);
	void	*arg;
};

/* Main thread, before any instance starts. cfg, pool and cache (may be
 * NULL) outlive the server. */
struct server	*server_new(const struct config *, size_t index,
		    const struct server_hooks *, struct pool *, struct cache *);
/* Main or loop thread, before any instance starts: the index the hooks
 * report (the registry's slot; server_new() sets it to index). */
void		 server_set_index(struct server *, size_t);
/* After every worker has stopped. */
void		 server_free(struct server *);
/* Main thread, before the start: a toolset from the schema cache. */
void		 server_preload(struct server *, json_object *tools);
int		 server_ninstances(const struct server *);

/* Owner thread (worker): creates the instance's events on that worker's
 * base and spawns its child. Nothing for a disabled server. */
void		 server_inst_start(struct server *, int inst);
/* Owner thread: starts the call's timer and sends or queues it. */
void		 server_submit(struct server *, int inst, struct server_call *);
/* Owner thread, shutdown step 1: fails every queued and pending call,
 * stops restarts, closes the child's stdin. */
void		 server_inst_stop(struct server *, int inst);
/* Owner thread, later steps: sig (0: none) to the child's process group;
 * 1 while the child is not yet reaped. */
int		 server_inst_signal(struct server *, int inst, int sig);
/* Owner thread: SIGKILL to every process group the instance ever led. */
void		 server_inst_kill_groups(struct server *, int inst);

/* Any thread: the instance a new call should go to (the ready one with
 * the fewest calls, else the one with the fewest). */
int		 server_pick(struct server *);
/* Any thread: a reference to the published toolset, or NULL. */
struct toolset	*server_toolset(struct server *);
/* Any thread: the /health entry (a new object); 1 when an instance is
 * ready and the circuit breaker is closed. */
json_object	*server_health(struct server *);
int		 server_ready(struct server *);
/* Any thread: the numbers GET /metrics shows (atomics only). */
struct server_stats {
	int	up;		/* an instance is ready */
	int	restarts;
	int	inflight;
	int	queued;
	size_t	tools;
	int	breaker_state;	/* enum breaker_state: 0 closed, 1 half-open,
				   2 open */
	long	breaker_opens;
	long	hung;		/* instances found not responding */
};
void		 server_stats(struct server *, struct server_stats *);
/* Any thread: 1 when the server cannot start (its command fails to run, or
 * it crashed 5 times within a minute): calls are answered at once. */
int		 server_failing(struct server *);
/* Any thread, emergency exit: SIGKILL to every live child's group. */
void		 server_kill(struct server *);

#endif
