/*
 * registry.h: every configured MCP server, which worker owns each of
 * their instances, and how calls reach them.
 *
 * The registry spreads the instances of all servers over the workers
 * (round robin) and starts each on its owner. registry_submit(), from any
 * pool thread, picks an instance and runs the call there at once when the
 * calling worker owns it, else forwards it to the owner's mailbox. A call
 * for a server that has never listed its tools is parked here until the
 * list arrives (registry_park()), so that no call reaches a server
 * unvalidated. Stopping runs on every worker (registry_stop_worker(), the
 * stop function of pool_stop()): it ends that worker's children (stdin
 * closed, SIGTERM to the process group, SIGKILL, reaped) and then leaves
 * the worker's loop.
 */
#ifndef REGISTRY_H
#define REGISTRY_H

#include <stddef.h>

#include <json-c/json.h>

struct cache;
struct config;
struct config_server;
struct snapshot;
struct job;
struct pool;
struct server_call;
struct toolset;

struct registry;
struct server_stats;

/* cfg, pool and cache (may be NULL) outlive the registry. */
struct registry	*registry_new(const struct config *, struct pool *,
		    struct cache *);
/* Main thread: toolsets from the schema cache, then every enabled
 * instance started on its owner. */
int		 registry_start(struct registry *);
/* Any thread: 1 when every enabled server has concluded its first start
 * attempt. Each server that does completes a job through the pool, so the
 * loop thread wakes to ask again. */
int		 registry_all_started(struct registry *);
/* Any pool thread: hand a call to the owner of an instance of
 * call->server (the call is answered 503 when the server is disabled). */
void		 registry_submit(struct registry *, struct server_call *);

/* Any thread. Servers are numbered by slot: those of the start
 * configuration, then those reloads added. A slot is never reused; a
 * reload retires the slot of a server it replaced or removed. */
size_t		 registry_nservers(const struct registry *);
const char	*registry_server_name(const struct registry *, size_t);
const struct config_server *registry_server_config(const struct registry *,
		    size_t);
/* 1 when the slot is not retired; enabled: not retired nor disabled. */
int		 registry_live(const struct registry *, size_t);
int		 registry_enabled(const struct registry *, size_t);
/* The index of its counters for stats_call() (one per server name). */
size_t		 registry_stats_index(const struct registry *, size_t);
/* Index of the live server with this name (len bytes), or -1. */
int		 registry_find_server(const struct registry *, const char *,
		    size_t);
/* The same, held: the server is not stopped by a reload until
 * registry_release() (a call holds it from its routing to its answer). */
int		 registry_hold(struct registry *, const char *, size_t);
void		 registry_release(struct registry *, size_t);
/* Any thread: a reference to the server's toolset (toolset_release()),
 * or NULL when it has never listed its tools. */
struct toolset	*registry_toolset(struct registry *, size_t server);

/*
 * Any pool thread: keep job until the server publishes a tool list, then
 * post it to worker (its run() set by the caller). 0 when parked; -1 when
 * the server has a toolset now (the caller goes on at once).
 * registry_unpark() takes it back (the caller's timeout): 1, or 0 when it
 * was already handed back.
 */
int		 registry_park(struct registry *, size_t server, struct job *,
		    int worker);
int		 registry_unpark(struct registry *, size_t server, struct job *);

/* Any thread: 1 when the server cannot start now (server_failing()). */
int		 registry_failing(struct registry *, size_t server);
/* Any thread: {"<name>": server_health(), ...} (a new object). */
json_object	*registry_health(struct registry *);
/* Any thread: server_stats() of one server (index < nservers). */
void		 registry_server_stats(struct registry *, size_t,
		    struct server_stats *);
/* 1 when every enabled server is ready. */
int		 registry_all_ready(struct registry *);
/* Enabled servers that are ready now, and how many are enabled. */
size_t		 registry_nready(struct registry *, size_t *enabled);
/* Sum over the servers of the tools whose schema could not be compiled. */
size_t		 registry_unvalidated(struct registry *);

/*
 * Loop thread, a reload. registry_add(): a new slot for server index of
 * snap's configuration (held until exit), started on its owners; -1 when
 * no slot is left (registry_room()) or out of memory. registry_retire():
 * new calls no longer find the slot; each instance stops on its owner
 * once no call holds the server (at most its longest timeout and a
 * second later): stdin closed, SIGTERM, SIGKILL, as at shutdown.
 */
size_t		 registry_room(const struct registry *);
int		 registry_add(struct registry *, struct snapshot *, size_t);
void		 registry_retire(struct registry *, size_t);

/* The stop function for pool_stop(): runs on each worker. */
void		 registry_stop_worker(int worker, void *registry);
/* Any thread, also a signal handler (a second SIGTERM): SIGKILL every
 * child's process group now, without waiting. */
void		 registry_kill(struct registry *);
/* After pool_stop(): frees everything; parked calls go to their done(). */
void		 registry_free(struct registry *);

#endif
