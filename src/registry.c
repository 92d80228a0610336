/*
 * registry.c: every configured MCP server, the I/O thread that runs them
 * all, the mailbox that feeds it calls, and the immutable reference-counted
 * toolsets that the servers publish for other threads.
 *
 * Only the I/O thread touches the registry's event_base. Other threads
 * reach it through registry_submit() (a mailbox with an eventfd), through
 * the toolsets (swapped under ts_mtx, freed by the last reference) and
 * through server_health() (a small mutex per server).
 */

#include <sys/time.h>

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "cache.h"
#include "config.h"
#include "log.h"
#include "pool.h"
#include "registry.h"
#include "schema.h"
#include "server.h"

#define REGISTRY_READBUF	(128 * 1024)
#define REGISTRY_NTIMEOUTS	32	/* distinct common call timeouts */
#define REGISTRY_STOP_CLOSE_MS	1000	/* after closing stdin, then SIGTERM */
#define REGISTRY_STOP_TERM_MS	2000	/* after SIGTERM, then SIGKILL */
#define REGISTRY_STOP_KILL_MS	5000	/* after SIGKILL, give up waiting */
#define TOOLSET_JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | \
				 JSON_C_TO_STRING_NOSLASHESCAPE)

struct toolset {
	atomic_int	 refs;
	size_t		 n;
	struct tool	*tools;		/* sorted by name */
};

struct registry_timeout {
	int			 ms;
	const struct timeval	*tv;
};

enum registry_stop_phase {
	STOP_NONE = 0,
	STOP_CLOSED,		/* stdin closed, waiting */
	STOP_TERMED,		/* SIGTERM sent, waiting */
	STOP_KILLED,		/* SIGKILL sent, waiting */
	STOP_DONE
};

struct registry {
	const struct config	*cfg;
	size_t			 nservers;
	struct server		**servers;

	/* I/O thread. */
	struct event_base	*base;
	struct event		*mbox_ev;
	struct event		*stop_ev;
	enum registry_stop_phase phase;
	char			*readbuf;
	struct registry_timeout	 timeouts[REGISTRY_NTIMEOUTS];
	size_t			 ntimeouts;

	/* Submission. */
	struct mbox		 mbox;
	struct job		 stop_job;
	pthread_mutex_t		 submit_mtx;
	int			 closed;	/* the I/O thread is gone */
	pthread_t		 thread;
	int			 running;
	/* Shared mode: the I/O runs on the caller's base and thread. */
	int			 shared;
	pthread_t		 owner;

	/* registry_wait_started(). */
	pthread_mutex_t		 start_mtx;
	pthread_cond_t		 start_cond;
	size_t			 nstarted;
	size_t			 nenabled;
	unsigned char		*started;

	/* Toolsets. */
	pthread_mutex_t		 ts_mtx;
	struct toolset		**toolsets;

	/* Schema cache: set before the start, then the I/O thread's. */
	struct cache		*cache;
};

static void	*registry_main(void *);
static void	 registry_mbox_cb(evutil_socket_t, short, void *);
static void	 registry_stop_cb(evutil_socket_t, short, void *);
static void	 registry_begin_stop(struct registry *);
static void	 registry_stop_step(struct registry *);
static void	 registry_stop_timer(struct registry *, int);
static void	 registry_dispatch(struct registry *, struct server_call *);
static int	 tool_cmp(const void *, const void *);
static void	 tool_clear(struct tool *);
static void	 toolset_free(struct toolset *);

struct registry *
registry_new(const struct config *cfg)
{
	return registry_new_shared(cfg, NULL);
}

struct registry *
registry_new_shared(const struct config *cfg, struct event_base *base)
{
	struct registry		*reg;
	pthread_condattr_t	 ca;
	size_t			 i;

	if ((reg = calloc(1, sizeof(*reg))) == NULL)
		return NULL;
	reg->cfg = cfg;
	reg->shared = base != NULL;
	reg->nservers = cfg->nservers;
	reg->mbox.efd = -1;
	pthread_mutex_init(&reg->submit_mtx, NULL);
	pthread_mutex_init(&reg->start_mtx, NULL);
	pthread_mutex_init(&reg->ts_mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&reg->start_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (mbox_init(&reg->mbox) == -1) {
		log_warn("%s: mailbox", __func__);
		reg->mbox.efd = -1;
		goto fail;
	}
	if ((reg->servers = calloc(reg->nservers + 1,
	    sizeof(*reg->servers))) == NULL ||
	    (reg->toolsets = calloc(reg->nservers + 1,
	    sizeof(*reg->toolsets))) == NULL ||
	    (reg->started = calloc(reg->nservers + 1, 1)) == NULL ||
	    (reg->readbuf = malloc(REGISTRY_READBUF)) == NULL)
		goto fail;
	if (reg->shared)
		reg->base = base;
	else if ((reg->base = event_base_new()) == NULL) {
		log_warnx("%s: event_base_new failed", __func__);
		goto fail;
	}
	reg->mbox_ev = event_new(reg->base, mbox_fd(&reg->mbox),
	    EV_READ | EV_PERSIST, registry_mbox_cb, reg);
	reg->stop_ev = evtimer_new(reg->base, registry_stop_cb, reg);
	if (reg->mbox_ev == NULL || reg->stop_ev == NULL ||
	    event_add(reg->mbox_ev, NULL) == -1)
		goto fail;
	for (i = 0; i < reg->nservers; i++) {
		if ((reg->servers[i] = server_new(reg, reg->base, cfg,
		    i)) == NULL)
			goto fail;
		if (!cfg->servers[i].disabled)
			reg->nenabled++;
	}
	return reg;
fail:
	registry_free(reg);
	return NULL;
}

void
registry_set_cache(struct registry *reg, struct cache *cache)
{
	reg->cache = cache;
}

/* Toolsets from the schema cache, so that discovery and validation work
 * before the servers have started. Main thread, before the I/O thread. */
static void
registry_preload(struct registry *reg)
{
	const struct config_server	*cs;
	json_object			*tools;
	double				 age;
	size_t				 i;

	for (i = 0; i < reg->nservers; i++) {
		cs = &reg->cfg->servers[i];
		if (cs->disabled || reg->toolsets[i] != NULL)
			continue;
		if ((tools = cache_lookup(reg->cache, cs, &age)) == NULL)
			continue;
		reg->toolsets[i] = toolset_build(cs->name, cs, tools);
		if (reg->toolsets[i] != NULL)
			log_info("server %s: %zu tools from the schema cache "
			    "(listed %.0f s ago)", cs->name,
			    toolset_count(reg->toolsets[i]), age);
	}
}

int
registry_start(struct registry *reg)
{
	size_t	i;
	int	rc;

	if (reg->running)
		return 0;
	if (reg->cache != NULL)
		registry_preload(reg);
	if (reg->shared) {
		reg->owner = pthread_self();
		for (i = 0; i < reg->nservers; i++)
			server_start(reg->servers[i]);
		return 0;
	}
	if ((rc = pthread_create(&reg->thread, NULL, registry_main,
	    reg)) != 0) {
		errno = rc;
		log_warn("%s: pthread_create", __func__);
		return -1;
	}
	reg->running = 1;
	return 0;
}

static void *
registry_main(void *arg)
{
	struct registry	*reg = arg;
	size_t		 i;

	for (i = 0; i < reg->nservers; i++)
		server_start(reg->servers[i]);
	event_base_dispatch(reg->base);
	return NULL;
}

static void
registry_noop_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* Shared mode: run the base until every server has started or the time is
 * up (start-up only, before the caller's own loop runs). */
static void
registry_run_until_started(struct registry *reg, int timeout_ms)
{
	struct timeval	 tv;
	struct event	*ev;
	int		 done;

	if ((ev = evtimer_new(reg->base, registry_noop_cb, NULL)) == NULL)
		return;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(ev, &tv);
	for (;;) {
		pthread_mutex_lock(&reg->start_mtx);
		done = reg->nstarted >= reg->nenabled;
		pthread_mutex_unlock(&reg->start_mtx);
		/* A drain that began meanwhile (SIGTERM) ends the wait. */
		if (done || !evtimer_pending(ev, NULL) ||
		    event_base_got_exit(reg->base) ||
		    event_base_got_break(reg->base))
			break;
		event_base_loop(reg->base, EVLOOP_ONCE);
	}
	event_free(ev);
}

void
registry_wait_started(struct registry *reg, int timeout_ms)
{
	struct timespec	ts;

	if (reg->shared) {
		registry_run_until_started(reg, timeout_ms);
		return;
	}

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&reg->start_mtx);
	while (reg->nstarted < reg->nenabled)
		if (pthread_cond_timedwait(&reg->start_cond, &reg->start_mtx,
		    &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&reg->start_mtx);
}

void
registry_started(struct registry *reg, size_t server)
{
	pthread_mutex_lock(&reg->start_mtx);
	if (!reg->started[server]) {
		reg->started[server] = 1;
		reg->nstarted++;
		pthread_cond_broadcast(&reg->start_cond);
	}
	pthread_mutex_unlock(&reg->start_mtx);
}

void
registry_submit(struct registry *reg, struct server_call *call)
{
	/* Shared mode, on the owning thread: no hand-off at all. */
	if (reg->shared && pthread_equal(pthread_self(), reg->owner) &&
	    !reg->closed) {
		registry_dispatch(reg, call);
		return;
	}
	pthread_mutex_lock(&reg->submit_mtx);
	if (!reg->closed) {
		mbox_put(&reg->mbox, &call->job);
		pthread_mutex_unlock(&reg->submit_mtx);
		return;
	}
	pthread_mutex_unlock(&reg->submit_mtx);
	server_call_fail(call, 503, 1, NULL, "server shutting down");
}

/* I/O thread: every call and the stop message arrive here. */
static void
registry_mbox_cb(evutil_socket_t fd, short what, void *arg)
{
	struct registry	*reg = arg;
	struct job	*j, *next;
	int		 stop = 0;

	for (j = mbox_take_all(&reg->mbox); j != NULL; j = next) {
		next = j->next;
		if (j == &reg->stop_job)
			stop = 1;
		else
			registry_dispatch(reg, (struct server_call *)j);
	}
	if (stop)
		registry_begin_stop(reg);
}

static void
registry_dispatch(struct registry *reg, struct server_call *call)
{
	const struct config_server	*cs;
	char				 msg[256];

	call->state = SERVER_CALL_NEW;
	call->timer = NULL;
	call->proc = NULL;
	if (reg->phase != STOP_NONE) {
		server_call_fail(call, 503, 1, NULL, "server shutting down");
		return;
	}
	if (call->server >= reg->nservers) {
		server_call_fail(call, 404, 0, NULL, "no such MCP server");
		return;
	}
	cs = &reg->cfg->servers[call->server];
	if (cs->disabled) {
		snprintf(msg, sizeof(msg), "server '%s' is not available: "
		    "it is disabled in the configuration", cs->name);
		server_call_fail(call, 503, 0, cs->name, msg);
		return;
	}
	server_submit(reg->servers[call->server], call);
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

json_object *
registry_health(struct registry *reg)
{
	json_object	*o;
	size_t		 i;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	for (i = 0; i < reg->nservers; i++) {
		json_object	*s = server_health(reg->servers[i]);
		struct toolset	*ts = registry_toolset(reg, i);

		if (s != NULL)
			json_object_object_add(s, "tools", json_object_new_int(
			    ts != NULL ? (int)toolset_count(ts) : 0));
		toolset_release(ts);
		json_object_object_add(o, reg->cfg->servers[i].name, s);
	}
	return o;
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

char *
registry_readbuf(struct registry *reg, size_t *len)
{
	*len = REGISTRY_READBUF;
	return reg->readbuf;
}

const struct timeval *
registry_timeout(struct registry *reg, int ms, struct timeval *tv)
{
	const struct timeval	*common;
	size_t			 i;

	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
	for (i = 0; i < reg->ntimeouts; i++)
		if (reg->timeouts[i].ms == ms)
			return reg->timeouts[i].tv;
	if (reg->ntimeouts == REGISTRY_NTIMEOUTS)
		return tv;
	/* Timers of one duration expire in the order they were added, so
	 * libevent keeps them in a queue instead of its heap. */
	if ((common = event_base_init_common_timeout(reg->base, tv)) == NULL)
		return tv;
	reg->timeouts[reg->ntimeouts].ms = ms;
	reg->timeouts[reg->ntimeouts].tv = common;
	reg->ntimeouts++;
	return common;
}

/* ------------------------------------------------------------- stopping */

void
registry_stop(struct registry *reg)
{
	struct job	*j, *next;

	if (reg->running) {
		mbox_put(&reg->mbox, &reg->stop_job);
		pthread_join(reg->thread, NULL);
		reg->running = 0;
	} else if (reg->shared && reg->base != NULL && !reg->closed) {
		/* Calls handed over by workers first, then the stop phases,
		 * on the caller's base until every child is gone. */
		registry_mbox_cb(-1, 0, reg);
		registry_begin_stop(reg);
		while (reg->phase != STOP_DONE)
			event_base_loop(reg->base, EVLOOP_ONCE);
	}
	/* Whatever arrived after the I/O thread left. */
	pthread_mutex_lock(&reg->submit_mtx);
	reg->closed = 1;
	pthread_mutex_unlock(&reg->submit_mtx);
	if (reg->mbox.efd == -1)
		return;
	for (j = mbox_take_all(&reg->mbox); j != NULL; j = next) {
		next = j->next;
		if (j != &reg->stop_job)
			server_call_fail((struct server_call *)j, 503, 1, NULL,
			    "server shutting down");
	}
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

static void
registry_begin_stop(struct registry *reg)
{
	size_t	i;

	if (reg->phase != STOP_NONE)
		return;
	log_debug("%s: stopping %zu servers", __func__, reg->nservers);
	reg->phase = STOP_CLOSED;
	for (i = 0; i < reg->nservers; i++)
		server_stop(reg->servers[i]);
	registry_stop_timer(reg, REGISTRY_STOP_CLOSE_MS);
	registry_stop_step(reg);
}

static void
registry_stop_timer(struct registry *reg, int ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(reg->stop_ev, &tv);
}

/* Ends the loop once no child is left. */
static void
registry_stop_step(struct registry *reg)
{
	size_t	i;
	int	live = 0;

	if (reg->phase == STOP_NONE || reg->phase == STOP_DONE)
		return;
	for (i = 0; i < reg->nservers; i++)
		live += server_signal(reg->servers[i], 0);
	if (live > 0)
		return;
	reg->phase = STOP_DONE;
	for (i = 0; i < reg->nservers; i++)
		server_kill_groups(reg->servers[i]);
	evtimer_del(reg->stop_ev);
	event_base_loopbreak(reg->base);
}

void
registry_child_gone(struct registry *reg)
{
	registry_stop_step(reg);
}

static void
registry_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct registry	*reg = arg;
	size_t		 i;
	int		 live = 0;

	switch (reg->phase) {
	case STOP_CLOSED:
		for (i = 0; i < reg->nservers; i++)
			live += server_signal(reg->servers[i], SIGTERM);
		if (live > 0)
			log_info("sent SIGTERM to %d MCP server%s that did "
			    "not exit", live, live == 1 ? "" : "s");
		reg->phase = STOP_TERMED;
		registry_stop_timer(reg, REGISTRY_STOP_TERM_MS);
		break;
	case STOP_TERMED:
		for (i = 0; i < reg->nservers; i++)
			live += server_signal(reg->servers[i], SIGKILL);
		if (live > 0)
			log_warnx("sent SIGKILL to %d MCP server%s that did "
			    "not exit", live, live == 1 ? "" : "s");
		reg->phase = STOP_KILLED;
		registry_stop_timer(reg, REGISTRY_STOP_KILL_MS);
		break;
	case STOP_KILLED:
		log_warnx("MCP server processes did not go away after "
		    "SIGKILL; giving up on them");
		reg->phase = STOP_DONE;
		for (i = 0; i < reg->nservers; i++)
			server_kill_groups(reg->servers[i]);
		event_base_loopbreak(reg->base);
		return;
	default:
		return;
	}
	registry_stop_step(reg);
}

void
registry_free(struct registry *reg)
{
	size_t	i;

	if (reg == NULL)
		return;
	if (reg->running)
		registry_stop(reg);
	for (i = 0; reg->servers != NULL && i < reg->nservers; i++)
		server_free(reg->servers[i]);
	for (i = 0; reg->toolsets != NULL && i < reg->nservers; i++)
		if (reg->toolsets[i] != NULL)
			toolset_release(reg->toolsets[i]);
	if (reg->mbox_ev != NULL)
		event_free(reg->mbox_ev);
	if (reg->stop_ev != NULL)
		event_free(reg->stop_ev);
	if (reg->base != NULL && !reg->shared)
		event_base_free(reg->base);
	if (reg->mbox.efd != -1)
		mbox_destroy(&reg->mbox);
	pthread_mutex_destroy(&reg->submit_mtx);
	pthread_mutex_destroy(&reg->start_mtx);
	pthread_mutex_destroy(&reg->ts_mtx);
	pthread_cond_destroy(&reg->start_cond);
	free(reg->servers);
	free(reg->toolsets);
	free(reg->started);
	free(reg->readbuf);
	free(reg);
}

/* ------------------------------------------------------------- toolsets */

struct toolset *
registry_publish(struct registry *reg, size_t server, json_object *tools)
{
	struct toolset	*ts, *old;

	ts = toolset_build(reg->cfg->servers[server].name,
	    &reg->cfg->servers[server], tools);
	if (ts == NULL)
		return NULL;
	atomic_fetch_add(&ts->refs, 1);		/* the caller's */
	pthread_mutex_lock(&reg->ts_mtx);
	old = reg->toolsets[server];
	reg->toolsets[server] = ts;
	pthread_mutex_unlock(&reg->ts_mtx);
	if (old != NULL)
		toolset_release(old);
	if (reg->cache != NULL)
		cache_store(reg->cache, &reg->cfg->servers[server], tools);
	return ts;
}

struct toolset *
registry_toolset(struct registry *reg, size_t server)
{
	struct toolset	*ts;

	if (server >= reg->nservers)
		return NULL;
	pthread_mutex_lock(&reg->ts_mtx);
	ts = reg->toolsets[server];
	if (ts != NULL)
		atomic_fetch_add_explicit(&ts->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&reg->ts_mtx);
	return ts;
}

void
toolset_release(struct toolset *ts)
{
	if (ts == NULL)
		return;
	if (atomic_fetch_sub_explicit(&ts->refs, 1,
	    memory_order_acq_rel) == 1)
		toolset_free(ts);
}

size_t
toolset_count(const struct toolset *ts)
{
	return ts->n;
}

const struct tool *
toolset_tool(const struct toolset *ts, size_t i)
{
	if (i >= ts->n)
		return NULL;
	return &ts->tools[i];
}

const struct tool *
toolset_find(const struct toolset *ts, const char *name)
{
	struct tool	key;

	if (ts == NULL || ts->n == 0)
		return NULL;
	memset(&key, 0, sizeof(key));
	key.name = (char *)(uintptr_t)name;
	return bsearch(&key, ts->tools, ts->n, sizeof(*ts->tools), tool_cmp);
}

static int
tool_cmp(const void *a, const void *b)
{
	const struct tool	*ta = a, *tb = b;

	return strcmp(ta->name, tb->name);
}

static void
tool_clear(struct tool *t)
{
	free(t->full_name);
	free(t->name);
	free(t->description);
	free(t->search_text);
	free(t->json);
	if (t->schema != NULL)
		schema_free(t->schema);
	memset(t, 0, sizeof(*t));
}

static void
toolset_free(struct toolset *ts)
{
	size_t	i;

	for (i = 0; i < ts->n; i++)
		tool_clear(&ts->tools[i]);
	free(ts->tools);
	free(ts);
}

/* Fills t from one tools/list entry: 0, or -1 (skip it, reason in why). */
static int
tool_fill(struct tool *t, const char *server, const struct config_server *cs,
    json_object *entry, const char **why)
{
	json_object	*v, *o, *input = NULL;
	const char	*name, *desc = "", *s;
	char		 err[256];
	size_t		 len, i;

	memset(t, 0, sizeof(*t));
	if (!json_object_is_type(entry, json_type_object)) {
		*why = "not an object";
		return -1;
	}
	if (!json_object_object_get_ex(entry, "name", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0) {
		*why = "no name, or a name that is not a non-empty string";
		return -1;
	}
	name = json_object_get_string(v);
	if (strlen(name) != (size_t)json_object_get_string_len(v)) {
		*why = "NUL byte in the name";
		return -1;
	}
	for (s = name; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			*why = "control character in the name";
			return -1;
		}
	if (json_object_object_get_ex(entry, "description", &v) &&
	    json_object_is_type(v, json_type_string))
		desc = json_object_get_string(v);
	if (json_object_object_get_ex(entry, "inputSchema", &v) &&
	    (json_object_is_type(v, json_type_object) ||
	    json_object_is_type(v, json_type_boolean)))
		input = v;
	*why = "out of memory";
	if ((t->name = strdup(name)) == NULL ||
	    (t->description = strdup(desc)) == NULL ||
	    asprintf(&t->full_name, "mcp__%s__%s", server, name) == -1) {
		t->full_name = NULL;
		goto fail;
	}
	if (asprintf(&t->search_text, "%s %s", t->full_name, desc) == -1) {
		t->search_text = NULL;
		goto fail;
	}
	for (i = 0; t->search_text[i] != '\0'; i++)
		t->search_text[i] = (char)tolower(
		    (unsigned char)t->search_text[i]);

	if ((o = json_object_new_object()) == NULL)
		goto fail;
	json_object_object_add(o, "name",
	    json_object_new_string(t->full_name));
	json_object_object_add(o, "description",
	    json_object_new_string(desc));
	json_object_object_add(o, "parameters", input != NULL ?
	    json_object_get(input) :
	    json_tokener_parse("{\"type\":\"object\"}"));
	if (json_object_object_get_ex(entry, "outputSchema", &v) &&
	    v != NULL)
		json_object_object_add(o, "outputSchema", json_object_get(v));
	if (json_object_object_get_ex(entry, "annotations", &v) && v != NULL)
		json_object_object_add(o, "annotations", json_object_get(v));
	s = json_object_to_json_string_length(o, TOOLSET_JSON_FLAGS, &len);
	t->json = s != NULL ? strndup(s, len) : NULL;
	json_object_put(o);
	if (t->json == NULL)
		goto fail;

	if (input != NULL) {
		err[0] = '\0';
		if ((t->schema = schema_compile(input, err,
		    sizeof(err))) == NULL)
			log_warnx("tool %s: its inputSchema is not validated: "
			    "%s", t->full_name, err[0] != '\0' ? err :
			    "unsupported schema");
	}
	t->timeout_ms = config_tool_timeout(cs, name);
	return 0;
fail:
	tool_clear(t);
	return -1;
}

struct toolset *
toolset_build(const char *server, const struct config_server *cs,
    json_object *tools)
{
	struct toolset	*ts;
	const char	*why;
	size_t		 n, i, j;

	if ((ts = calloc(1, sizeof(*ts))) == NULL)
		return NULL;
	atomic_init(&ts->refs, 1);
	n = json_object_is_type(tools, json_type_array) ?
	    json_object_array_length(tools) : 0;
	if (n > 0 && (ts->tools = calloc(n, sizeof(*ts->tools))) == NULL) {
		free(ts);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		json_object *entry = json_object_array_get_idx(tools, i);

		if (tool_fill(&ts->tools[ts->n], server, cs, entry,
		    &why) == 0)
			ts->n++;
		else
			log_warnx("server %s: skipping tool #%zu: %s", server,
			    i, why);
	}
	if (ts->n > 1)
		qsort(ts->tools, ts->n, sizeof(*ts->tools), tool_cmp);
	/* Drop duplicate names. */
	for (i = 1, j = 1; i < ts->n; i++) {
		if (strcmp(ts->tools[i].name, ts->tools[j - 1].name) == 0) {
			log_warnx("server %s: tool %s is listed twice; using "
			    "one of them", server, ts->tools[i].name);
			tool_clear(&ts->tools[i]);
			continue;
		}
		if (i != j)
			ts->tools[j] = ts->tools[i];
		j++;
	}
	if (ts->n > 1)
		ts->n = j;
	return ts;
}

/* Levenshtein distance (case-insensitive), bounded to short names. */
/* Case-insensitive edit distance of two names (1000 past 128 bytes). */
int
toolset_name_distance(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b), i, j;
	int	row[129], prev, tmp, best;

	if (la > 128 || lb > 128)
		return 1000;
	for (j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = (int)i;
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			best = prev + (tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]));
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

json_object *
toolset_suggestions(const struct toolset *ts, const char *name, size_t max)
{
	json_object	*arr;
	size_t		 i, k, n = 0, limit;
	size_t		 best[8];
	int		 bestd[8], d;

	if ((arr = json_object_new_array()) == NULL)
		return NULL;
	if (ts == NULL)
		return arr;
	if (max > 8)
		max = 8;
	limit = strlen(name) / 3 + 2;
	for (i = 0; i < ts->n; i++) {
		const char *cand = ts->tools[i].name;

		d = toolset_name_distance(name, cand);
		if ((size_t)d > limit && strcasestr(cand, name) == NULL &&
		    strcasestr(name, cand) == NULL)
			continue;
		if ((size_t)d > limit)
			d = (int)limit;
		for (k = n; k > 0 && bestd[k - 1] > d; k--)
			if (k < max) {
				best[k] = best[k - 1];
				bestd[k] = bestd[k - 1];
			}
		if (k < max) {
			best[k] = i;
			bestd[k] = d;
			if (n < max)
				n++;
		}
	}
	for (k = 0; k < n; k++)
		json_object_array_add(arr,
		    json_object_new_string(ts->tools[best[k]].full_name));
	return arr;
}
