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
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cache.h"
#include "config.h"
#include "log.h"
#include "pool.h"
#include "registry.h"
#include "server.h"
#include "toolset.h"

#define REGISTRY_STOP_CLOSE_MS	1000	/* after closing stdin, then SIGTERM */
#define REGISTRY_STOP_TERM_MS	2000	/* after SIGTERM, then SIGKILL */
#define REGISTRY_STOP_KILL_MS	5000	/* after SIGKILL, give up waiting */

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

/* What one worker's stop sequence needs (that worker only). */
struct registry_worker {
	struct registry		*reg;
	int			 index;
	enum registry_stop_phase phase;
	struct event		*ev;
};

/* Starting one instance on its owner. */
struct registry_start {
	struct job		 job;
	struct server		*srv;
	int			 inst;
};

struct registry {
	const struct config	*cfg;
	struct pool		*pool;
	struct cache		*cache;
	size_t			 nservers;
	struct server		**servers;
	int			**owner;	/* [server][instance] -> worker */
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
	reg->nservers = cfg->nservers;
	reg->nworkers = pool_nworkers(pool);
	pthread_mutex_init(&reg->mtx, NULL);
	if ((reg->servers = calloc(reg->nservers + 1,
	    sizeof(*reg->servers))) == NULL ||
	    (reg->owner = calloc(reg->nservers + 1,
	    sizeof(*reg->owner))) == NULL ||
	    (reg->started = calloc(reg->nservers + 1, 1)) == NULL ||
	    (reg->parked = calloc(reg->nservers + 1,
	    sizeof(*reg->parked))) == NULL ||
	    (reg->workers = calloc((size_t)reg->nworkers,
	    sizeof(*reg->workers))) == NULL)
		goto fail;
	hooks.started = registry_started_hook;
	hooks.published = registry_published_hook;
	hooks.gone = registry_gone_hook;
	hooks.arg = reg;
	for (i = 0; i < reg->nservers; i++) {
		if ((reg->servers[i] = server_new(cfg, i, &hooks, pool,
		    cache)) == NULL)
			goto fail;
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

/* Instance k of all servers, in order, goes to worker k mod n. */
static int
registry_assign(struct registry *reg)
{
	size_t	s, k = 0;
	int	i, n;

	for (s = 0; s < reg->nservers; s++) {
		n = server_ninstances(reg->servers[s]);
		if ((reg->owner[s] = calloc((size_t)n, sizeof(int))) == NULL)
			return -1;
		for (i = 0; i < n; i++) {
			reg->owner[s][i] = (int)(k % (size_t)reg->nworkers);
			if (!reg->cfg->servers[s].disabled)
				k++;
		}
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

	for (i = 0; i < reg->nservers; i++) {
		cs = &reg->cfg->servers[i];
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
	struct registry_start	*st;
	size_t			 s;
	int			 i;

	if (reg->cache != NULL)
		registry_preload(reg);
	for (s = 0; s < reg->nservers; s++) {
		if (reg->cfg->servers[s].disabled)
			continue;
		for (i = 0; i < server_ninstances(reg->servers[s]); i++) {
			if ((st = calloc(1, sizeof(*st))) == NULL)
				return -1;
			st->srv = reg->servers[s];
			st->inst = i;
			st->job.run = registry_start_run;
			st->job.done = registry_free_job;
			pool_post(reg->pool, reg->owner[s][i], &st->job);
		}
	}
	return 0;
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

	if (c->server >= reg->nservers) {
		server_call_fail(c, 404, 0, NULL, "no such MCP server");
		return;
	}
	if (reg->cfg->servers[c->server].disabled) {
		snprintf(msg, sizeof(msg), "server '%s' is not available: it "
		    "is disabled in the configuration",
		    reg->cfg->servers[c->server].name);
		server_call_fail(c, 503, 0, reg->cfg->servers[c->server].name,
		    msg);
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
	return reg->nservers;
}

const char *
registry_server_name(const struct registry *reg, size_t i)
{
	if (i >= reg->nservers)
		return NULL;
	return reg->cfg->servers[i].name;
}

int
registry_find_server(const struct registry *reg, const char *name,
    size_t len)
{
	size_t	i;

	for (i = 0; i < reg->nservers; i++) {
		const char *n = reg->cfg->servers[i].name;

		if (strlen(n) == len && memcmp(n, name, len) == 0)
			return (int)i;
	}
	return -1;
}

struct toolset *
registry_toolset(struct registry *reg, size_t server)
{
	if (server >= reg->nservers)
		return NULL;
	return server_toolset(reg->servers[server]);
}

int
registry_failing(struct registry *reg, size_t server)
{
	return server < reg->nservers && server_failing(reg->servers[server]);
}

json_object *
registry_health(struct registry *reg)
{
	json_object	*o;
	size_t		 i;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	for (i = 0; i < reg->nservers; i++)
		json_object_object_add(o, reg->cfg->servers[i].name,
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

	for (i = 0; i < reg->nservers; i++)
		if (!reg->cfg->servers[i].disabled &&
		    !server_ready(reg->servers[i]))
			return 0;
	return 1;
}

size_t
registry_nready(struct registry *reg, size_t *enabled)
{
	size_t	i, n = 0;

	*enabled = 0;
	for (i = 0; i < reg->nservers; i++) {
		if (reg->cfg->servers[i].disabled)
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

	for (i = 0; i < reg->nservers; i++) {
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

	for (s = 0; s < reg->nservers; s++)
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
	for (s = 0; s < reg->nservers; s++)
		for (i = 0; i < server_ninstances(reg->servers[s]); i++)
			if (reg->owner[s][i] == w)
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
	for (s = 0; s < reg->nservers; s++)
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
	for (i = 0; i < reg->nservers; i++)
		if (reg->servers[i] != NULL)
			server_kill(reg->servers[i]);
}

void
registry_free(struct registry *reg)
{
	struct registry_park	*p, *next;
	size_t			 i;

	if (reg == NULL)
		return;
	for (i = 0; reg->parked != NULL && i < reg->nservers; i++)
		for (p = reg->parked[i]; p != NULL; p = next) {
			next = p->next;
			pool_complete(reg->pool, p->job);
			free(p);
		}
	for (i = 0; reg->servers != NULL && i < reg->nservers; i++)
		server_free(reg->servers[i]);
	for (i = 0; reg->owner != NULL && i < reg->nservers; i++)
		free(reg->owner[i]);
	for (i = 0; reg->workers != NULL && i < (size_t)reg->nworkers; i++)
		if (reg->workers[i].ev != NULL)
			event_free(reg->workers[i].ev);
	pthread_mutex_destroy(&reg->mtx);
	free(reg->servers);
	free(reg->owner);
	free(reg->started);
	free(reg->parked);
	free(reg->workers);
	free(reg);
}
