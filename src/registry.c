/*
 * registry.c: all servers, the worker that owns each instance, routing
 * calls to owners, the calls parked until a tool list arrives, start-up
 * and the stop sequence on each worker.
 *
 * Calls flow one way: the registry calls server.c, server.c reports back
 * only through the hooks the registry gave it (started, published, gone).
 */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cache.h"
#include "config.h"
#include "log.h"
#include "pool.h"
#include "monotime.h"
#include "registry.h"
#include "server.h"
#include "snapshot.h"
#include "stats.h"
#include "toolset.h"

#define REGISTRY_STOP_CLOSE_MS	1000	/* after closing stdin, then SIGTERM */
#define REGISTRY_STOP_TERM_MS	2000	/* after SIGTERM, then SIGKILL */
#define REGISTRY_STOP_KILL_MS	5000	/* after SIGKILL, give up waiting */
#define REGISTRY_RELOAD_SLOTS	64	/* servers a reload may add or replace,
					   in all, until a restart */
#define REGISTRY_RETIRE_TICK_MS	50	/* a retiring instance looks again */
#define REGISTRY_RETIRE_SLACK_MS 1000	/* beyond its longest call timeout */

enum registry_stop_phase {
	STOP_NONE = 0,
	STOP_CLOSED,		/* stdin closed, waiting */
	STOP_TERMED,		/* SIGTERM sent, waiting */
	STOP_KILLED,		/* SIGKILL sent, waiting */
	STOP_DONE
};

/* A call waiting for its server's first tool list. */
struct registry_park {
	struct registry_park	*next;
	struct job		*job;
	int			 worker;
};

/* An instance of a server that a reload replaced or removed, on its
 * owner: it waits until no call holds the server (or its longest timeout
 * has passed), then it is stopped like at shutdown. */
struct registry_retire {
	struct job		 job;	/* the hand-off to the owner */
	struct registry		*reg;
	size_t			 slot;
	int			 inst;
	int			 owner;	/* the worker */
	enum registry_stop_phase phase;	/* STOP_NONE: draining */
	double			 since;	/* the phase's start */
	double			 deadline;	/* of the draining */
	struct event		*ev;
	struct registry_retire	*next;	/* the owner's list */
};

/* What one worker's stop sequence needs (that worker only). */
struct registry_worker {
	struct registry		*reg;
	int			 index;
	enum registry_stop_phase phase;
	struct event		*ev;
	struct registry_retire	*retiring;
};

/* Starting one instance on its owner. */
struct registry_start {
	struct job		 job;
	struct server		*srv;
	int			 inst;
};

/*
 * Slots: the servers of the start configuration, then those a reload adds
 * (at most REGISTRY_RELOAD_SLOTS). A slot is filled on the loop thread and
 * then published by nservers (release); it never moves and is freed only
 * at exit. A reload retires the slot of a server it replaces or removes:
 * no new call finds it by name, and its instances stop once no call holds
 * it (users).
 */
struct registry {
	const struct config	*cfg;
	struct pool		*pool;
	struct cache		*cache;
	size_t			 cap;
	atomic_size_t		 nservers;
	struct server		**servers;
	const struct config_server **cs;	/* [slot] */
	struct snapshot		**snaps;	/* [slot]: held for cs; NULL:
						   the start configuration */
	size_t			*stat;		/* [slot] -> stats_call() index */
	atomic_int		*retired;	/* [slot] */
	atomic_int		*users;		/* [slot]: registry_hold() */
	unsigned char		**halted;	/* [slot][inst]: stopped when
						   retired (owner only) */
	int			**owner;	/* [server][instance] -> worker */
	size_t			 next_owner;	/* round robin */
	struct registry_worker	*workers;
	int			 nworkers;

	pthread_mutex_t		 mtx;		/* started, parked */
	unsigned char		*started;
	size_t			 nstarted;
	size_t			 nenabled;
	struct registry_park	**parked;	/* per server */
};

static void	 registry_started_hook(void *, size_t);
static void	 registry_published_hook(void *, size_t);
static void	 registry_gone_hook(void *, size_t, int);
static void	 registry_start_run(struct job *);
static void	 registry_deliver(struct job *);
static void	 registry_free_job(struct job *);
static void	 registry_preload(struct registry *);
static int	 registry_assign(struct registry *);
static void	 registry_stop_step(struct registry_worker *);
static void	 registry_stop_finish(struct registry_worker *);
static void	 registry_stop_cb(evutil_socket_t, short, void *);
static void	 registry_stop_timer(struct registry_worker *, int);
static int	 registry_signal_worker(struct registry *, int, int);
static int	 registry_alloc(struct registry *);
static int	 registry_assign_slot(struct registry *, size_t);
static void	 registry_start_slot(struct registry *, size_t);
static void	 registry_retire_run(struct job *);
static void	 registry_retire_cb(evutil_socket_t, short, void *);
static void	 registry_retire_step(struct registry_retire *, double);
static void	 registry_retire_end(struct registry_retire *);
static int	 registry_drain_ms(const struct config_server *);

struct registry *
registry_new(const struct config *cfg, struct pool *pool, struct cache *cache)
{
	struct registry		*reg;
	struct server_hooks	 hooks;
	size_t			 i;

	if ((reg = calloc(1, sizeof(*reg))) == NULL)
		return NULL;
	reg->cfg = cfg;
	reg->pool = pool;
	reg->cache = cache;
	reg->cap = cfg->nservers + REGISTRY_RELOAD_SLOTS;
	reg->nworkers = pool_nworkers(pool);
	pthread_mutex_init(&reg->mtx, NULL);
	if (registry_alloc(reg) == -1)
		goto fail;
	hooks.started = registry_started_hook;
	hooks.published = registry_published_hook;
	hooks.gone = registry_gone_hook;
	hooks.arg = reg;
	for (i = 0; i < cfg->nservers; i++) {
		reg->cs[i] = &cfg->servers[i];
		reg->stat[i] = i;
		if ((reg->servers[i] = server_new(cfg, i, &hooks, pool,
		    cache)) == NULL)
			goto fail;
		atomic_store(&reg->nservers, i + 1);
		if (!cfg->servers[i].disabled)
			reg->nenabled++;
	}
	for (i = 0; i < (size_t)reg->nworkers; i++) {
		reg->workers[i].reg = reg;
		reg->workers[i].index = (int)i;
	}
	if (registry_assign(reg) == -1)
		goto fail;
	return reg;
fail:
	registry_free(reg);
	return NULL;
}

/* Every per-slot array, for cap slots. */
static int
registry_alloc(struct registry *reg)
{
	size_t	n = reg->cap + 1, i;

	if ((reg->servers = calloc(n, sizeof(*reg->servers))) == NULL ||
	    (reg->cs = calloc(n, sizeof(*reg->cs))) == NULL ||
	    (reg->snaps = calloc(n, sizeof(*reg->snaps))) == NULL ||
	    (reg->stat = calloc(n, sizeof(*reg->stat))) == NULL ||
	    (reg->retired = calloc(n, sizeof(*reg->retired))) == NULL ||
	    (reg->users = calloc(n, sizeof(*reg->users))) == NULL ||
	    (reg->halted = calloc(n, sizeof(*reg->halted))) == NULL ||
	    (reg->owner = calloc(n, sizeof(*reg->owner))) == NULL ||
	    (reg->started = calloc(n, 1)) == NULL ||
	    (reg->parked = calloc(n, sizeof(*reg->parked))) == NULL ||
	    (reg->workers = calloc((size_t)reg->nworkers,
	    sizeof(*reg->workers))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		atomic_init(&reg->retired[i], 0);
		atomic_init(&reg->users[i], 0);
	}
	return 0;
}

/* Instance k of all servers, in order, goes to worker k mod n. */
static int
registry_assign(struct registry *reg)
{
	size_t	s;

	for (s = 0; s < registry_nservers(reg); s++)
		if (registry_assign_slot(reg, s) == -1)
			return -1;
	return 0;
}

/* The owners of one slot's instances, and its halted flags. */
static int
registry_assign_slot(struct registry *reg, size_t s)
{
	int	i, n = server_ninstances(reg->servers[s]);

	if ((reg->owner[s] = calloc((size_t)n, sizeof(int))) == NULL ||
	    (reg->halted[s] = calloc((size_t)n, 1)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		reg->owner[s][i] = (int)(reg->next_owner %
		    (size_t)reg->nworkers);
		if (!reg->cs[s]->disabled)
			reg->next_owner++;
	}
	return 0;
}

/* Toolsets from the schema cache, so that discovery and validation work
 * before the servers have started. Main thread, before any start. */
static void
registry_preload(struct registry *reg)
{
	const struct config_server	*cs;
	struct toolset			*ts;
	json_object			*tools;
	double				 age;
	size_t				 i;

	for (i = 0; i < registry_nservers(reg); i++) {
		cs = reg->cs[i];
		if (cs->disabled ||
		    (tools = cache_lookup(reg->cache, cs, &age)) == NULL)
			continue;
		server_preload(reg->servers[i], tools);
		json_object_put(tools);
		if ((ts = server_toolset(reg->servers[i])) == NULL)
			continue;
		log_info("server %s: %zu tools from the schema cache (listed "
		    "%.0f s ago)", cs->name, toolset_count(ts), age);
		toolset_release(ts);
	}
}

int
registry_start(struct registry *reg)
{
	size_t	s;

	if (reg->cache != NULL)
		registry_preload(reg);
	for (s = 0; s < registry_nservers(reg); s++)
		registry_start_slot(reg, s);
	return 0;
}

/* Each instance of an enabled slot starts on its owner. */
static void
registry_start_slot(struct registry *reg, size_t s)
{
	struct registry_start	*st;
	int			 i;

	if (reg->cs[s]->disabled)
		return;
	for (i = 0; i < server_ninstances(reg->servers[s]); i++) {
		if ((st = calloc(1, sizeof(*st))) == NULL) {
			log_warn("%s: server %s[%d] not started", __func__,
			    reg->cs[s]->name, i);
			continue;
		}
		st->srv = reg->servers[s];
		st->inst = i;
		st->job.run = registry_start_run;
		st->job.done = registry_free_job;
		pool_post(reg->pool, reg->owner[s][i], &st->job);
	}
}

static void
registry_start_run(struct job *j)
{
	struct registry_start	*st = (struct registry_start *)j;

	server_inst_start(st->srv, st->inst);
	free(st);
}

/* The done() of the registry's own jobs: they hold nothing else. */
static void
registry_free_job(struct job *j)
{
	free(j);
}

int
registry_all_started(struct registry *reg)
{
	int	done;

	pthread_mutex_lock(&reg->mtx);
	done = reg->nstarted >= reg->nenabled;
	pthread_mutex_unlock(&reg->mtx);
	return done;
}

static void
registry_started_hook(void *arg, size_t server)
{
	struct registry	*reg = arg;
	struct job	*wake;
	int		 first = 0;

	pthread_mutex_lock(&reg->mtx);
	if (!reg->started[server]) {
		reg->started[server] = 1;
		reg->nstarted++;
		first = 1;
	}
	pthread_mutex_unlock(&reg->mtx);
	/* Wakes the loop thread (waiting for the start) to ask again. */
	if (first && (wake = calloc(1, sizeof(*wake))) != NULL) {
		wake->done = registry_free_job;
		pool_complete(reg->pool, wake);
	}
}

/* A tool list arrived: the calls parked for it go back to their workers. */
static void
registry_published_hook(void *arg, size_t server)
{
	struct registry		*reg = arg;
	struct registry_park	*p, *next;

	pthread_mutex_lock(&reg->mtx);
	p = reg->parked[server];
	reg->parked[server] = NULL;
	pthread_mutex_unlock(&reg->mtx);
	for (; p != NULL; p = next) {
		next = p->next;
		pool_post(reg->pool, p->worker, p->job);
		free(p);
	}
}

int
registry_park(struct registry *reg, size_t server, struct job *j, int worker)
{
	struct registry_park	*p;
	struct toolset		*ts;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -1;
	p->job = j;
	p->worker = worker;
	pthread_mutex_lock(&reg->mtx);
	/* Under the lock: a list published meanwhile is seen here, or its
	 * hook sees this call. */
	if ((ts = server_toolset(reg->servers[server])) != NULL) {
		pthread_mutex_unlock(&reg->mtx);
		toolset_release(ts);
		free(p);
		return -1;
	}
	p->next = reg->parked[server];
	reg->parked[server] = p;
	pthread_mutex_unlock(&reg->mtx);
	return 0;
}

int
registry_unpark(struct registry *reg, size_t server, struct job *j)
{
	struct registry_park	**pp, *p;

	pthread_mutex_lock(&reg->mtx);
	for (pp = &reg->parked[server]; (p = *pp) != NULL; pp = &p->next)
		if (p->job == j) {
			*pp = p->next;
			pthread_mutex_unlock(&reg->mtx);
			free(p);
			return 1;
		}
	pthread_mutex_unlock(&reg->mtx);
	return 0;
}

/* ---------------------------------------------------------------- calls */

void
registry_submit(struct registry *reg, struct server_call *c)
{
	char	msg[256];
	int	owner;

	if (c->server >= registry_nservers(reg)) {
		server_call_fail(c, 404, 0, NULL, "no such MCP server");
		return;
	}
	if (reg->cs[c->server]->disabled) {
		snprintf(msg, sizeof(msg), "server '%s' is not available: it "
		    "is disabled in the configuration",
		    reg->cs[c->server]->name);
		server_call_fail(c, 503, 0, reg->cs[c->server]->name, msg);
		return;
	}
	c->srv = reg->servers[c->server];
	c->target = server_pick(c->srv);
	c->owner = owner = reg->owner[c->server][c->target];
	if (owner == pool_self()) {
		server_submit(c->srv, c->target, c);
		return;
	}
	c->job.run = registry_deliver;
	pool_post(reg->pool, owner, &c->job);
}

/* The owner's side of a forwarded call. */
static void
registry_deliver(struct job *j)
{
	struct server_call	*c = (struct server_call *)j;

	server_submit(c->srv, c->target, c);
}

size_t
registry_nservers(const struct registry *reg)
{
	return atomic_load(&((struct registry *)(uintptr_t)reg)->nservers);
}

const char *
registry_server_name(const struct registry *reg, size_t i)
{
	if (i >= registry_nservers(reg))
		return NULL;
	return reg->cs[i]->name;
}

const struct config_server *
registry_server_config(const struct registry *reg, size_t i)
{
	return i < registry_nservers(reg) ? reg->cs[i] : NULL;
}

int
registry_live(const struct registry *reg, size_t i)
{
	return i < registry_nservers(reg) &&
	    !atomic_load(&((struct registry *)(uintptr_t)reg)->retired[i]);
}

int
registry_enabled(const struct registry *reg, size_t i)
{
	return registry_live(reg, i) && !reg->cs[i]->disabled;
}

size_t
registry_stats_index(const struct registry *reg, size_t i)
{
	return reg->stat[i];
}

int
registry_find_server(const struct registry *reg, const char *name,
    size_t len)
{
	size_t	i, n = registry_nservers(reg);

	for (i = 0; i < n; i++) {
		const char *s = reg->cs[i]->name;

		if (strlen(s) == len && memcmp(s, name, len) == 0 &&
		    registry_live(reg, i))
			return (int)i;
	}
	return -1;
}

int
registry_hold(struct registry *reg, const char *name, size_t len)
{
	int	i;

	/* Held first, then checked: a retirement that raced with it either
	 * sees the hold (and waits) or is seen here (and is skipped). */
	while ((i = registry_find_server(reg, name, len)) != -1) {
		atomic_fetch_add(&reg->users[i], 1);
		if (!atomic_load(&reg->retired[i]))
			return i;
		atomic_fetch_sub(&reg->users[i], 1);
	}
	return -1;
}

void
registry_release(struct registry *reg, size_t i)
{
	atomic_fetch_sub(&reg->users[i], 1);
}

struct toolset *
registry_toolset(struct registry *reg, size_t server)
{
	if (server >= registry_nservers(reg))
		return NULL;
	return server_toolset(reg->servers[server]);
}

int
registry_failing(struct registry *reg, size_t server)
{
	return server < registry_nservers(reg) &&
	    server_failing(reg->servers[server]);
}

json_object *
registry_health(struct registry *reg)
{
	json_object	*o;
	size_t		 i;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	for (i = 0; i < registry_nservers(reg); i++)
		if (registry_live(reg, i))
			json_object_object_add(o, reg->cs[i]->name,
			    server_health(reg->servers[i]));
	return o;
}

void
registry_server_stats(struct registry *reg, size_t i, struct server_stats *st)
{
	server_stats(reg->servers[i], st);
}

int
registry_all_ready(struct registry *reg)
{
	size_t	i;

	for (i = 0; i < registry_nservers(reg); i++)
		if (registry_enabled(reg, i) &&
		    !server_ready(reg->servers[i]))
			return 0;
	return 1;
}

size_t
registry_nready(struct registry *reg, size_t *enabled)
{
	size_t	i, n = 0;

	*enabled = 0;
	for (i = 0; i < registry_nservers(reg); i++) {
		if (!registry_enabled(reg, i))
			continue;
		(*enabled)++;
		n += server_ready(reg->servers[i]) != 0;
	}
	return n;
}

size_t
registry_unvalidated(struct registry *reg)
{
	struct toolset	*ts;
	size_t		 i, n = 0;

	for (i = 0; i < registry_nservers(reg); i++) {
		if (!registry_live(reg, i))
			continue;
		ts = server_toolset(reg->servers[i]);
		n += toolset_unvalidated(ts);
		toolset_release(ts);
	}
	return n;
}

/* ------------------------------------------------------------- stopping */

/* sig (0: none) to the children of worker w; how many are not reaped. */
static int
registry_signal_worker(struct registry *reg, int w, int sig)
{
	size_t	s;
	int	i, live = 0;

	for (s = 0; s < registry_nservers(reg); s++)
		for (i = 0; i < server_ninstances(reg->servers[s]); i++)
			if (reg->owner[s][i] == w)
				live += server_inst_signal(reg->servers[s], i,
				    sig);
	return live;
}

void
registry_stop_worker(int w, void *arg)
{
	struct registry		*reg = arg;
	struct registry_worker	*rw = &reg->workers[w];
	size_t			 s;
	int			 i;

	log_debug("%s: worker %d: stopping its MCP servers", __func__, w);
	while (rw->retiring != NULL)
		registry_retire_end(rw->retiring);
	for (s = 0; s < registry_nservers(reg); s++)
		for (i = 0; i < server_ninstances(reg->servers[s]); i++)
			if (reg->owner[s][i] == w && !reg->halted[s][i])
				server_inst_stop(reg->servers[s], i);
	rw->phase = STOP_CLOSED;
	rw->ev = evtimer_new(pool_worker_base(reg->pool, w), registry_stop_cb,
	    rw);
	registry_stop_timer(rw, REGISTRY_STOP_CLOSE_MS);
	registry_stop_step(rw);
}

static void
registry_stop_timer(struct registry_worker *rw, int ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (rw->ev != NULL)
		evtimer_add(rw->ev, &tv);
}

/* Leaves the worker's loop once none of its children is left. */
static void
registry_stop_step(struct registry_worker *rw)
{
	if (rw->phase == STOP_NONE || rw->phase == STOP_DONE ||
	    registry_signal_worker(rw->reg, rw->index, 0) > 0)
		return;
	registry_stop_finish(rw);
}

/* Stragglers in the groups are killed, and the worker's loop ends. */
static void
registry_stop_finish(struct registry_worker *rw)
{
	struct registry	*reg = rw->reg;
	size_t		 s;
	int		 i;

	rw->phase = STOP_DONE;
	for (s = 0; s < registry_nservers(reg); s++)
		for (i = 0; i < server_ninstances(reg->servers[s]); i++)
			if (reg->owner[s][i] == rw->index)
				server_inst_kill_groups(reg->servers[s], i);
	if (rw->ev != NULL)
		event_free(rw->ev);
	rw->ev = NULL;
	pool_worker_exit();
}

static void
registry_gone_hook(void *arg, size_t server, int inst)
{
	struct registry	*reg = arg;

	registry_stop_step(&reg->workers[reg->owner[server][inst]]);
}

static void
registry_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct registry_worker	*rw = arg;
	struct registry		*reg = rw->reg;
	int			 live;

	switch (rw->phase) {
	case STOP_CLOSED:
		live = registry_signal_worker(reg, rw->index, SIGTERM);
		if (live > 0)
			log_info("sent SIGTERM to %d MCP server%s that did "
			    "not exit", live, live == 1 ? "" : "s");
		rw->phase = STOP_TERMED;
		registry_stop_timer(rw, REGISTRY_STOP_TERM_MS);
		break;
	case STOP_TERMED:
		live = registry_signal_worker(reg, rw->index, SIGKILL);
		if (live > 0)
			log_warnx("sent SIGKILL to %d MCP server%s that did "
			    "not exit", live, live == 1 ? "" : "s");
		rw->phase = STOP_KILLED;
		registry_stop_timer(rw, REGISTRY_STOP_KILL_MS);
		break;
	case STOP_KILLED:
		log_warnx("MCP server processes did not go away after "
		    "SIGKILL; giving up on them");
		registry_stop_finish(rw);
		return;
	default:
		return;
	}
	registry_stop_step(rw);
}

void
registry_kill(struct registry *reg)
{
	size_t	i;

	if (reg == NULL)
		return;
	for (i = 0; i < registry_nservers(reg); i++)
		if (reg->servers[i] != NULL)
			server_kill(reg->servers[i]);
}

void
registry_free(struct registry *reg)
{
	struct registry_park	*p, *next;
	size_t			 i, n;

	if (reg == NULL)
		return;
	n = registry_nservers(reg);
	for (i = 0; reg->parked != NULL && i < n; i++)
		for (p = reg->parked[i]; p != NULL; p = next) {
			next = p->next;
			pool_complete(reg->pool, p->job);
			free(p);
		}
	for (i = 0; reg->servers != NULL && i < n; i++)
		server_free(reg->servers[i]);
	for (i = 0; reg->owner != NULL && i < n; i++) {
		free(reg->owner[i]);
		free(reg->halted[i]);
		snapshot_release(reg->snaps[i]);
	}
	for (i = 0; reg->workers != NULL && i < (size_t)reg->nworkers; i++)
		if (reg->workers[i].ev != NULL)
			event_free(reg->workers[i].ev);
	pthread_mutex_destroy(&reg->mtx);
	free(reg->servers);
	free(reg->cs);
	free(reg->snaps);
	free(reg->stat);
	free(reg->retired);
	free(reg->users);
	free(reg->halted);
	free(reg->owner);
	free(reg->started);
	free(reg->parked);
	free(reg->workers);
	free(reg);
}

/* ------------------------------------------------------------- reloads */

size_t
registry_room(const struct registry *reg)
{
	return reg->cap - registry_nservers(reg);
}

int
registry_add(struct registry *reg, struct snapshot *snap, size_t index)
{
	struct server_hooks	 hooks;
	size_t			 s = registry_nservers(reg);

	if (s >= reg->cap)
		return -1;
	hooks.started = registry_started_hook;
	hooks.published = registry_published_hook;
	hooks.gone = registry_gone_hook;
	hooks.arg = reg;
	reg->cs[s] = &snap->cfg->servers[index];
	if ((reg->servers[s] = server_new(snap->cfg, index, &hooks, reg->pool,
	    reg->cache)) == NULL)
		return -1;
	server_set_index(reg->servers[s], s);
	if (registry_assign_slot(reg, s) == -1 ||
	    stats_add_server(reg->cs[s]->name, &reg->stat[s]) == -1) {
		server_free(reg->servers[s]);
		reg->servers[s] = NULL;
		free(reg->owner[s]);
		free(reg->halted[s]);
		reg->owner[s] = NULL;
		reg->halted[s] = NULL;
		return -1;
	}
	reg->snaps[s] = snapshot_ref(snap);
	atomic_store(&reg->nservers, s + 1);
	registry_start_slot(reg, s);
	return 0;
}

void
registry_retire(struct registry *reg, size_t s)
{
	struct registry_retire	*r;
	int			 i;

	atomic_store(&reg->retired[s], 1);
	for (i = 0; i < server_ninstances(reg->servers[s]); i++) {
		if ((r = calloc(1, sizeof(*r))) == NULL) {
			log_warn("%s: server %s[%d] keeps running", __func__,
			    reg->cs[s]->name, i);
			continue;
		}
		r->reg = reg;
		r->slot = s;
		r->inst = i;
		r->owner = reg->owner[s][i];
		r->job.run = registry_retire_run;
		r->job.done = registry_free_job;
		pool_post(reg->pool, r->owner, &r->job);
	}
}

/* How long a retiring server's calls may still take: its longest timeout
 * and a second. */
static int
registry_drain_ms(const struct config_server *cs)
{
	size_t	i;
	int	ms = cs->timeout_ms > 0 ? cs->timeout_ms :
		    CONFIG_DEFAULT_SERVER_TIMEOUT_MS;

	for (i = 0; i < cs->ntool_timeouts; i++)
		if (cs->tool_timeouts[i].timeout_ms > ms)
			ms = cs->tool_timeouts[i].timeout_ms;
	return ms + REGISTRY_RETIRE_SLACK_MS;
}

/* The owner: the instance waits for its calls, on a timer. */
static void
registry_retire_run(struct job *j)
{
	struct registry_retire	*r = (struct registry_retire *)j;
	struct registry_worker	*rw = &r->reg->workers[r->owner];
	struct timeval		 tv = { 0, REGISTRY_RETIRE_TICK_MS * 1000 };

	r->phase = STOP_NONE;
	r->since = monotime_ms();
	r->deadline = r->since + registry_drain_ms(r->reg->cs[r->slot]);
	r->ev = event_new(pool_worker_base(r->reg->pool, r->owner), -1,
	    EV_PERSIST, registry_retire_cb, r);
	if (r->ev == NULL || event_add(r->ev, &tv) == -1) {
		log_warnx("%s: server %s[%d] keeps running", __func__,
		    r->reg->cs[r->slot]->name, r->inst);
		if (r->ev != NULL)
			event_free(r->ev);
		free(r);
		return;
	}
	r->next = rw->retiring;
	rw->retiring = r;
}

static void
registry_retire_cb(evutil_socket_t fd, short what, void *arg)
{
	registry_retire_step(arg, monotime_ms());
}

/* Draining, then stdin closed, SIGTERM and SIGKILL as at shutdown. */
static void
registry_retire_step(struct registry_retire *r, double now)
{
	struct registry	*reg = r->reg;
	struct server	*srv = reg->servers[r->slot];

	if (r->phase == STOP_NONE) {
		if (atomic_load(&reg->users[r->slot]) > 0 && now < r->deadline)
			return;
		log_info("server %s[%d]: stopping (replaced or removed by a "
		    "reload)", reg->cs[r->slot]->name, r->inst);
		server_inst_stop(srv, r->inst);
		reg->halted[r->slot][r->inst] = 1;
		r->phase = STOP_CLOSED;
		r->since = now;
	}
	if (server_inst_signal(srv, r->inst, 0) == 0) {
		registry_retire_end(r);
		return;
	}
	if (r->phase == STOP_CLOSED && now - r->since >= REGISTRY_STOP_CLOSE_MS) {
		server_inst_signal(srv, r->inst, SIGTERM);
		r->phase = STOP_TERMED;
		r->since = now;
	} else if (r->phase == STOP_TERMED &&
	    now - r->since >= REGISTRY_STOP_TERM_MS) {
		server_inst_signal(srv, r->inst, SIGKILL);
		r->phase = STOP_KILLED;
		r->since = now;
	} else if (r->phase == STOP_KILLED &&
	    now - r->since >= REGISTRY_STOP_KILL_MS) {
		log_warnx("server %s[%d]: did not go away after SIGKILL",
		    reg->cs[r->slot]->name, r->inst);
		registry_retire_end(r);
	}
}

/* The owner: the record is unlinked and freed (the instance is stopped,
 * or the worker is stopping everything). */
static void
registry_retire_end(struct registry_retire *r)
{
	struct registry_retire	**rp;

	for (rp = &r->reg->workers[r->owner].retiring; *rp != NULL;
	    rp = &(*rp)->next)
		if (*rp == r) {
			*rp = r->next;
			break;
		}
	event_free(r->ev);
	free(r);
}
