/*
 * server.c: one MCP server: its instances, the MCP session of each (spawn
 * through proc.c, handshake, tool list, tools/call by id, timeouts and
 * cancellation, server-to-client requests, notifications), failure and
 * restart with backoff, shutdown.
 *
 * DESIGN. An instance lives on its owner worker: every callback, timer
 * and pipe of it runs there. A failure (exit, EOF, a write error or a
 * full write queue, start timeout, broken protocol) fails every call the
 * instance had, kills its process group and restarts it with exponential
 * backoff; work that a failure would free under a running callback is
 * deferred to a top-level event (fail_ev). The owner never does work that
 * grows with what a child sends: an answer longer than SERVER_BULK_LINE
 * is handed to the bulk lane, which parses it and converts it into the
 * HTTP reply, and every tool list is built there (schemas compiled, the
 * cache entry written) and comes back to the owner when done. Calls that
 * time out after they were sent keep their place against maxConcurrent
 * (a "ghost") until the child answers them or answers the ping sent just
 * after their notifications/cancelled, or is restarted.
 *
 * A child that keeps reading but stops answering (a deadlock, a stuck
 * upstream request) is found by its silence: when calls are pending, one
 * of them timed out, and not one line has come from the child for
 * unresponsiveMs, it is sent a ping; no line within pingTimeoutMs either
 * and it is declared hung: its calls are answered 502, its process group
 * gets SIGTERM (SIGKILL after HUNG_KILL_MS) and it is restarted like any
 * failed child. A child that answers pings is left alone, however long
 * its calls take; an idle one, or one whose calls are all within their
 * timeouts, is never pinged. The circuit breaker is the server's, shared
 * by its instances (breaker.c): failed calls open it, and while it is
 * open calls are answered 503 at once on the owner, without a queue or
 * timer.
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "audit.h"
#include "breaker.h"
#include "cache.h"
#include "config.h"
#include "log.h"
#include "stats.h"
#include "proc.h"
#include "tls.h"
#include "remote.h"
#include "reply.h"
#include "rpc.h"
#include "server.h"
#include "toolset.h"
#include "version.h"

#define PROTOCOL_VERSION	"2025-11-25"
#define SERVER_HASH		1024	/* pending calls by id, per instance */
#define SERVER_ERROR_MAX	512	/* bytes of a call's error kept */
#define SERVER_BULK_LINE	(64 * 1024)	/* longer answers: bulk lane */
#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		30000
#define BACKOFF_RESET_MS	60000	/* ready this long: backoff resets */
#define CRASH_LOOP_FAILURES	5
#define CRASH_LOOP_WINDOW_MS	60000
#define EXIT_GRACE_MS		250	/* after EOF, wait for the exit status */
#define RELIST_DELAY_MS		100	/* list_changed debounce */
#define RELIST_MIN_INTERVAL_MS	1000	/* at most one tools/list a second */
#define REFRESH_MAX_S		(24 * 86400)	/* fits a timer in int ms */
#define CACHE_FLUSH_DELAY_MS	1000	/* cache writes are coalesced */
#define LOG_JUNK_MAX		200
#define MAX_LIST_PAGES		1000
#define MAX_TOOLS		100000
#define HUNG_KILL_MS		2000	/* after SIGTERM to a hung child */

static const char *const server_versions[] = {
	"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", NULL
};

enum inst_state {
	INST_IDLE = 0,	/* no child; a restart may be armed */
	INST_INIT,	/* spawned, initialize sent */
	INST_LIST,	/* initialized, listing tools (or building them) */
	INST_READY,
	INST_CLOSING,	/* EOF or write error: waiting briefly for its exit */
	INST_DEAD	/* failed or stopping: killed, waiting to reap */
};

/* A call that timed out after it was sent: it keeps its place against
 * maxConcurrent until the child answers it or acknowledges the
 * cancellation (answers the ping sent after it). */
struct ghost {
	struct ghost	*next;
	int64_t		 id;
	int64_t		 ack_id;
};

struct server_inst {
	struct server		*srv;
	int			 index;
	int			 worker;	/* the owner */
	struct event_base	*base;
	struct proc		*proc;		/* a stdio server's */
	struct remote		*remote;	/* a remote server's */
	int			 remote_stopping; /* its DELETE is out */
	char			 label[96];
	enum inst_state		 state;
	unsigned		 gen;		/* spawn generation */
	int			 stopping;

	int64_t			 next_id;
	int64_t			 init_id;	/* 0: none outstanding */
	int64_t			 list_id;
	json_object		*list_acc;	/* tools gathered so far */
	size_t			 list_bytes;
	int			 list_pages;
	int			 relist;	/* list_changed while listing */
	int			 building;	/* a list on the bulk lane */
	int			 has_tools;
	int64_t			 last_list_at;
	char			 version[16];

	struct server_call	*pending[SERVER_HASH];
	int			 npending;
	struct ghost		*ghosts;
	int			 nghosts;
	struct server_call	*qhead, *qtail;
	atomic_int		 load;		/* pending + ghosts + queued */
	atomic_int		 ready;

	struct event		*timer_ev;	/* start timeout, exit grace */
	struct event		*restart_ev;
	struct event		*relist_ev;	/* list_changed, debounced */
	struct event		*refresh_ev;	/* schemaCacheTtlSeconds */
	struct event		*fail_ev;	/* deferred failure */
	struct event		*hung_ev;	/* silence, ping timeout */
	int64_t			 last_msg_at;	/* monotonic ms of the last
						   stdout line (or spawn) */
	int64_t			 busy_since;	/* when calls became pending */
	int64_t			 timeout_at;	/* a sent call's last timeout */
	int64_t			 ping_id;	/* liveness ping out, 0: none */
	int64_t			 ping_at;
	char			*close_msg;
	char			*fail_msg;
	int			 backoff_ms;
	int64_t			 ready_at;	/* monotonic ms */
	int			 attempted;	/* first attempt concluded */
	/* For /health, under srv->mtx: the child's pid (0: none) and the
	 * protocol version it agreed to ("": not yet). */
	pid_t			 shown_pid;
	char			 shown_version[16];
};

struct server {
	const struct config		*cfg;
	const struct config_server	*cs;
	const char			*name;
	size_t				 index;
	struct server_hooks		 hooks;
	struct pool			*pool;
	struct cache			*cache;
	char				**argv;
	char				**envp;
	char				*path;	/* PATH the child will see */
	struct server_inst		*insts;
	int				 ninsts;
	struct toolset_slot		 tools;
	struct ssl_ctx_st		*tls_ctx;	/* https servers */
	char				 tls_err[300];

	/* Any thread, under mtx. */
	pthread_mutex_t			 mtx;
	char				 last_error[512];
	int				 crash_loop;
	int				 exec_failed;
	pid_t				 shown_pid;
	int64_t				 failures[CRASH_LOOP_FAILURES];
	int				 nfailures;
	int				 reported;	/* hooks.started */
	int				 nattempted;
	struct timespec			 last_error_at;	/* CLOCK_REALTIME */
	struct timespec			 last_start_at;
	atomic_int			 stopped;	/* shutting down */
	atomic_int			 restarts;
	atomic_size_t			 ntools;	/* in the slot */
	atomic_int			 nready;
	atomic_int			 inflight;
	atomic_int			 queued;
	atomic_long			 hung;		/* hung detections */
	struct breaker			 breaker;
};

/* A tool list on its way to the bulk lane and back to the owner. */
struct server_build {
	struct job		 job;
	struct server_inst	*inst;
	unsigned		 gen;
	json_object		*tools;
	int			 changed;
	int			 flush;
};

/* A coalesced schema cache write, on the bulk lane. */
struct server_flush {
	struct job		 job;
	struct cache		*cache;
};

/* A long line on its way to the bulk lane and back, parsed. */
struct server_parse {
	struct job		 job;
	struct server_inst	*inst;
	unsigned		 gen;
	char			*line;
	size_t			 len;
	struct rpc_msg		 msg;
	int			 ok;
};

static int64_t	 now_ms(void);
static void	 server_publish(struct server *, struct toolset *);
static double	 mono_ms(void);
static char	**server_build_env(const struct config_server *);
static void	 inst_timer(struct server_inst *, struct event *, int);
static int	 inst_spawn(struct server_inst *);
static void	 inst_request(struct server_inst *, int64_t *, const char *,
		    json_object *);
static void	 inst_send_line(struct server_inst *, char *, size_t);
static void	 inst_stdin_full(struct server_inst *);
static void	 inst_on_line(void *, char *, size_t);
static void	 inst_on_overflow(void *, const char *, size_t, size_t);
static void	 inst_on_renewed(void *);
static void	 inst_tools_changed(struct server_inst *);
static void	 inst_on_closed(void *, const char *);
static void	 inst_on_exited(void *, int, int);
static void	 inst_on_failed(void *, const char *);
static void	 inst_on_stopped(void *);
static pid_t	 inst_pid(struct server_inst *);
static int	 inst_transport_new(struct server_inst *, char *, size_t);
static int	 inst_xsend(struct server_inst *, const char *, size_t, char *,
		    size_t, const char *, size_t, struct server_call *);
static size_t	 inst_buffered(struct server_inst *);
static char	*inst_take_line(struct server_inst *, char *, size_t);
static void	 inst_on_msg(struct server_inst *, struct rpc_msg *, size_t);
static void	 inst_on_request(struct server_inst *, struct rpc_msg *);
static void	 inst_on_notification(struct server_inst *, struct rpc_msg *);
static void	 inst_on_response(struct server_inst *, struct rpc_msg *,
		    size_t);
static void	 inst_on_init(struct server_inst *, struct rpc_msg *);
static void	 inst_on_list(struct server_inst *, struct rpc_msg *, size_t);
static void	 inst_list_page(struct server_inst *, const char *);
static void	 inst_list_done(struct server_inst *);
static void	 inst_schedule_relist(struct server_inst *, int);
static void	 inst_arm_refresh(struct server_inst *);
static void	 inst_ready(struct server_inst *);
static void	 inst_attempted(struct server_inst *);
static void	 inst_unready(struct server_inst *);
static void	 inst_dispatch(struct server_inst *);
static int	 inst_over_queue(struct server_inst *, struct server_call *);
static void	 inst_send_call(struct server_inst *, struct server_call *);
static struct server_call *inst_take(struct server_inst *, int64_t);
static void	 inst_queue_add(struct server_inst *, struct server_call *);
static void	 inst_queue_del(struct server_inst *, struct server_call *);
static void	 inst_ghost(struct server_inst *, struct server_call *);
static int	 inst_ghost_answer(struct server_inst *, int64_t);
static void	 inst_drop_ghosts(struct server_inst *);
static void	 inst_load(struct server_inst *, int);
static void	 inst_fail_later(struct server_inst *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 inst_down(struct server_inst *, const char *, int);
static void	 inst_audit(struct server_inst *, const char *, const char *);
static void	 inst_fail_calls(struct server_inst *, int, const char *, int);
static void	 inst_watch(struct server_inst *);
static void	 inst_hung(struct server_inst *);
static void	 inst_schedule_restart(struct server_inst *);
static void	 call_reply(struct server_inst *, struct server_call *,
		    struct rpc_msg *);
static void	 call_timeout_cb(evutil_socket_t, short, void *);
static void	 timer_cb(evutil_socket_t, short, void *);
static void	 restart_cb(evutil_socket_t, short, void *);
static void	 relist_cb(evutil_socket_t, short, void *);
static void	 fail_cb(evutil_socket_t, short, void *);
static void	 hung_cb(evutil_socket_t, short, void *);
static void	 bulk_reply_run(struct job *);
static void	 bulk_parse_run(struct job *);
static void	 parsed_run(struct job *);
static void	 parse_done(struct job *);
static void	 bulk_build_run(struct job *);
static void	 built_run(struct job *);
static void	 build_done(struct job *);
static void	 cache_flush_cb(evutil_socket_t, short, void *);
static void	 cache_flush_run(struct job *);
static void	 cache_flush_done(struct job *);
static void	 server_note_failure(struct server *, const char *);
static int	 server_failed(struct server *);
static int	 server_crash_loop(struct server *);
static int	 server_retry_after(struct server *);
static int	 server_breaker_admit(struct server *, struct server_call *);
static void	 server_breaker_note(struct server *, enum breaker_outcome,
		    int);
static void	 server_breaker_event(struct server *, enum breaker_event,
		    int, const char *);

static const struct proc_hooks inst_proc_hooks = {
	inst_on_line, inst_on_overflow, inst_on_closed, inst_on_exited
};

static const struct remote_hooks inst_remote_hooks = {
	inst_on_line, inst_on_overflow, inst_on_failed, inst_on_stopped,
	inst_on_renewed
};

/* ------------------------------------------------------------ the calls */

void
server_call_clear(struct server_call *c)
{
	free(c->tool);
	free(c->params);
	free(c->body);
	free(c->line);
	free(c->error);
	c->error = NULL;
	if (c->answer != NULL) {
		rpc_msg_free(c->answer);
		free(c->answer);
	}
	c->tool = c->params = c->body = c->line = NULL;
	c->answer = NULL;
	c->paramslen = c->bodylen = c->linelen = 0;
}

void
server_call_finish(struct server_call *c, int status, json_object *body,
    int retry_after)
{
	json_object	*msg;

	if (c->timer != NULL) {
		event_free(c->timer);
		c->timer = NULL;
	}
	if (c->breaker) {
		c->breaker = 0;
		server_breaker_note(c->srv, breaker_outcome_of(status),
		    c->trial);
	}
	free(c->body);
	free(c->error);
	c->error = NULL;
	if (status != 200 && json_object_object_get_ex(body, "error", &msg) &&
	    json_object_is_type(msg, json_type_string))
		c->error = strndup(json_object_get_string(msg),
		    SERVER_ERROR_MAX);
	c->body = reply_text(body, &c->bodylen);
	if (c->body == NULL) {
		/* Out of memory: a fixed answer still goes out. */
		status = 500;
		c->body = strdup("{\"error\":\"out of memory\"}");
		c->bodylen = c->body != NULL ? strlen(c->body) : 0;
	}
	c->status = status;
	c->retry_after = retry_after;
	c->state = SERVER_CALL_DONE;
	c->inst = NULL;
	c->complete(c);
}

void
server_call_fail(struct server_call *c, int status, int retry_after,
    const char *server, const char *msg)
{
	server_call_finish(c, status, reply_message(msg, server), retry_after);
}

/* ------------------------------------------------------------- helpers */

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The same clock as now_ms(), finer, for the time a call waited. */
static double
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Arms (ms >= 0) or cancels (ms < 0) one of an instance's timers. */
static void
inst_timer(struct server_inst *in, struct event *ev, int ms)
{
	struct timeval	tv;

	if (ev == NULL)
		return;
	if (ms < 0) {
		evtimer_del(ev);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

static void
inst_load(struct server_inst *in, int delta)
{
	atomic_fetch_add_explicit(&in->load, delta, memory_order_relaxed);
}

/* ------------------------------------------------------ server lifetime */

static char **
server_build_env(const struct config_server *cs)
{
	static const char *const base[] = {
		"PATH", "HOME", "USER", "LANG", "TERM", NULL
	};
	extern char	**environ;
	char		**envp, **e;
	const char	 *v;
	size_t		  n = 0, i, k, klen;
	int		  overridden;

	for (e = environ; cs->inherit_env && e != NULL && *e != NULL; e++)
		n++;
	n += 5 + cs->nenv + 1;
	if ((envp = calloc(n, sizeof(*envp))) == NULL)
		return NULL;
	n = 0;
	for (e = environ; cs->inherit_env && e != NULL && *e != NULL; e++) {
		klen = strcspn(*e, "=");
		for (overridden = 0, k = 0; k < cs->nenv; k++)
			if (strlen(cs->env[k].key) == klen &&
			    strncmp(cs->env[k].key, *e, klen) == 0)
				overridden = 1;
		if (!overridden && (envp[n++] = strdup(*e)) == NULL)
			goto fail;
	}
	for (i = 0; !cs->inherit_env && base[i] != NULL; i++) {
		if ((v = getenv(base[i])) == NULL)
			continue;
		for (overridden = 0, k = 0; k < cs->nenv; k++)
			if (strcmp(cs->env[k].key, base[i]) == 0)
				overridden = 1;
		if (!overridden && asprintf(&envp[n++], "%s=%s", base[i],
		    v) == -1) {
			envp[n - 1] = NULL;
			goto fail;
		}
	}
	for (k = 0; k < cs->nenv; k++)
		if (asprintf(&envp[n++], "%s=%s", cs->env[k].key,
		    cs->env[k].value) == -1) {
			envp[n - 1] = NULL;
			goto fail;
		}
	return envp;
fail:
	for (e = envp; *e != NULL; e++)
		free(*e);
	free(envp);
	return NULL;
}

struct server *
server_new(const struct config *cfg, size_t index,
    const struct server_hooks *hooks, struct pool *pool, struct cache *cache)
{
	struct server	*srv;
	char		**e;
	size_t		 i;

	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return NULL;
	srv->cfg = cfg;
	srv->cs = &cfg->servers[index];
	srv->name = srv->cs->name;
	srv->index = index;
	srv->hooks = *hooks;
	srv->pool = pool;
	srv->cache = cache;
	pthread_mutex_init(&srv->mtx, NULL);
	breaker_init(&srv->breaker, srv->cs->breaker.enabled ?
	    srv->cs->breaker.failures : 0, srv->cs->breaker.open_ms,
	    srv->cs->breaker.open_ms * CONFIG_BREAKER_MAX_OPEN_FACTOR);
	toolset_slot_init(&srv->tools);
	if ((srv->argv = calloc(srv->cs->nargs + 2,
	    sizeof(*srv->argv))) == NULL ||
	    (srv->envp = server_build_env(srv->cs)) == NULL)
		goto fail;
	srv->argv[0] = srv->cs->command;
	for (i = 0; i < srv->cs->nargs; i++)
		srv->argv[i + 1] = srv->cs->args[i];
	for (e = srv->envp; *e != NULL; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			srv->path = *e + 5;
	srv->ninsts = srv->cs->instances > 0 ? srv->cs->instances : 1;
	if ((srv->insts = calloc((size_t)srv->ninsts,
	    sizeof(*srv->insts))) == NULL)
		goto fail;
	for (i = 0; i < (size_t)srv->ninsts; i++) {
		srv->insts[i].srv = srv;
		srv->insts[i].index = (int)i;
		srv->insts[i].next_id = 1;
		srv->insts[i].backoff_ms = BACKOFF_MIN_MS;
		snprintf(srv->insts[i].label, sizeof(srv->insts[i].label),
		    "server %s[%zu]", srv->name, i);
	}
	/* Here, on the main thread: OpenSSL's libraries and the CA files
	 * are opened before any worker holds a connection. */
	if (srv->cs->tls && !srv->cs->disabled && (srv->tls_ctx =
	    tls_ctx_new(&srv->cs->tls_opts, srv->tls_err,
	    sizeof(srv->tls_err))) == NULL)
		log_warnx("server %s: %s", srv->name, srv->tls_err);
	return srv;
fail:
	server_free(srv);
	return NULL;
}

void
server_set_index(struct server *srv, size_t index)
{
	srv->index = index;
}

void
server_free(struct server *srv)
{
	struct server_inst	*in;
	char			**e;
	int			 i;

	if (srv == NULL)
		return;
	for (i = 0; srv->insts != NULL && i < srv->ninsts; i++) {
		in = &srv->insts[i];
		proc_free(in->proc);
		remote_free(in->remote);
		if (in->timer_ev != NULL)
			event_free(in->timer_ev);
		if (in->restart_ev != NULL)
			event_free(in->restart_ev);
		if (in->relist_ev != NULL)
			event_free(in->relist_ev);
		if (in->refresh_ev != NULL)
			event_free(in->refresh_ev);
		if (in->fail_ev != NULL)
			event_free(in->fail_ev);
		if (in->hung_ev != NULL)
			event_free(in->hung_ev);
		json_object_put(in->list_acc);
		inst_drop_ghosts(in);
		free(in->close_msg);
		free(in->fail_msg);
	}
	free(srv->insts);
	tls_ctx_free(srv->tls_ctx);
	toolset_slot_destroy(&srv->tools);
	breaker_destroy(&srv->breaker);
	for (e = srv->envp; e != NULL && *e != NULL; e++)
		free(*e);
	free(srv->envp);
	free(srv->argv);
	pthread_mutex_destroy(&srv->mtx);
	free(srv);
}

void
server_preload(struct server *srv, json_object *tools)
{
	const char	*text;
	size_t		 len;

	text = json_object_to_json_string_length(tools,
	    JSON_C_TO_STRING_PLAIN, &len);
	server_publish(srv, toolset_build(srv->name, srv->cs, tools,
	    toolset_text_hash(text, len), NULL));
}

/* A new toolset in the slot (NULL: none could be built). */
static void
server_publish(struct server *srv, struct toolset *ts)
{
	if (ts == NULL)
		return;
	atomic_store(&srv->ntools, toolset_count(ts));
	toolset_slot_set(&srv->tools, ts);
}

int
server_ninstances(const struct server *srv)
{
	return srv->ninsts;
}

struct toolset *
server_toolset(struct server *srv)
{
	return toolset_slot_get(&srv->tools);
}

int
server_pick(struct server *srv)
{
	int	i, best = 0, bestload = -1, bestready = 0, load, ready;

	for (i = 0; i < srv->ninsts; i++) {
		load = atomic_load_explicit(&srv->insts[i].load,
		    memory_order_relaxed);
		ready = atomic_load_explicit(&srv->insts[i].ready,
		    memory_order_relaxed);
		if (bestload == -1 || ready > bestready ||
		    (ready == bestready && load < bestload)) {
			best = i;
			bestload = load;
			bestready = ready;
		}
	}
	return best;
}

/* ------------------------------------------------------------- starting */

void
server_inst_start(struct server *srv, int i)
{
	struct server_inst	*in = &srv->insts[i];
	char			*buf;
	size_t			 len;

	if (srv->cs->disabled || in->proc != NULL || in->remote != NULL)
		return;
	in->worker = pool_self();
	in->base = pool_worker_base(srv->pool, in->worker);
	buf = pool_readbuf(&len);
	in->timer_ev = evtimer_new(in->base, timer_cb, in);
	in->restart_ev = evtimer_new(in->base, restart_cb, in);
	in->relist_ev = evtimer_new(in->base, relist_cb, in);
	in->refresh_ev = evtimer_new(in->base, relist_cb, in);
	in->fail_ev = event_new(in->base, -1, 0, fail_cb, in);
	in->hung_ev = evtimer_new(in->base, hung_cb, in);
	if (in->base == NULL || buf == NULL || in->timer_ev == NULL ||
	    in->restart_ev == NULL || in->relist_ev == NULL ||
	    in->refresh_ev == NULL || in->fail_ev == NULL ||
	    in->hung_ev == NULL || inst_transport_new(in, buf, len) == -1) {
		server_note_failure(srv, "cannot set up the server");
		inst_attempted(in);
		return;
	}
	inst_spawn(in);
}

/* The instance's proc (stdio) or remote (http, sse). */
static int
inst_transport_new(struct server_inst *in, char *buf, size_t len)
{
	struct server	*srv = in->srv;
	size_t		 max = srv->cfg->max_message_bytes > 0 ?
			    srv->cfg->max_message_bytes :
			    CONFIG_DEFAULT_MAX_MESSAGE_BYTES;
	char		 err[600];

	if (srv->cs->transport == CONFIG_TRANSPORT_STDIO) {
		in->proc = proc_new(in->base, &inst_proc_hooks, in, in->label,
		    max, srv->cs->max_buffered_bytes, buf, len);
		if (in->proc == NULL)
			log_warnx("%s: out of memory", in->label);
		return in->proc != NULL ? 0 : -1;
	}
	if (srv->cs->tls_opts.insecure)
		log_warnx("%s: tls.insecureSkipVerify: the certificate and "
		    "host name of %s are NOT verified", in->label,
		    srv->cs->url);
	in->remote = remote_new(in->base, &inst_remote_hooks, in, in->label,
	    srv->cs, srv->tls_ctx, max, err, sizeof(err));
	if (in->remote == NULL)
		log_warnx("%s: %s", in->label, err);
	return in->remote != NULL ? 0 : -1;
}

static pid_t
inst_pid(struct server_inst *in)
{
	return in->proc != NULL ? proc_pid(in->proc) : 0;
}

/* One message to the child's stdin or to the remote server; c (may be
 * NULL) gets the handle to withdraw it. */
static int
inst_xsend(struct server_inst *in, const char *head, size_t headlen,
    char *body, size_t bodylen, const char *tail, size_t taillen,
    struct server_call *c)
{
	if (in->remote != NULL)
		return remote_send(in->remote, head, headlen, body, bodylen,
		    tail, taillen, c != NULL ? &c->rmsg : NULL);
	return proc_send(in->proc, head, headlen, body, bodylen, tail,
	    taillen, c != NULL ? &c->msg : NULL);
}

static size_t
inst_buffered(struct server_inst *in)
{
	return in->remote != NULL ? remote_buffered(in->remote) :
	    proc_buffered(in->proc);
}

static char *
inst_take_line(struct server_inst *in, char *line, size_t len)
{
	return in->remote != NULL ? remote_take_line(in->remote, line, len) :
	    proc_take_line(in->proc, line, len);
}

static int
inst_spawn(struct server_inst *in)
{
	struct server	*srv = in->srv;
	json_object	*params, *info;
	char		 err[600];

	if (in->stopping)
		return -1;
	if (in->remote != NULL)
		remote_start(in->remote);
	else if (proc_spawn(in->proc, srv->cs->command, srv->argv, srv->envp,
	    srv->path, srv->cs->cwd, err, sizeof(err)) == -1) {
		log_warnx("%s: %s", in->label, err);
		pthread_mutex_lock(&srv->mtx);
		srv->exec_failed = 1;
		pthread_mutex_unlock(&srv->mtx);
		server_note_failure(srv, err);
		inst_attempted(in);
		inst_schedule_restart(in);
		return -1;
	}
	pthread_mutex_lock(&srv->mtx);
	if (in->remote == NULL)		/* a remote one: when ready */
		srv->exec_failed = 0;
	in->shown_pid = inst_pid(in);
	clock_gettime(CLOCK_REALTIME, &srv->last_start_at);
	pthread_mutex_unlock(&srv->mtx);
	log_debug("%s: %s: pid %d", __func__, in->label, (int)inst_pid(in));
	inst_audit(in, "server_start", NULL);
	in->gen++;
	in->state = INST_INIT;
	in->has_tools = 0;
	in->relist = 0;
	in->last_msg_at = now_ms();
	in->ping_id = 0;
	params = json_object_new_object();
	info = json_object_new_object();
	json_object_object_add(info, "name",
	    json_object_new_string(PACKAGE_NAME));
	json_object_object_add(info, "version",
	    json_object_new_string(MCP_PROXYD_VERSION));
	json_object_object_add(params, "protocolVersion",
	    json_object_new_string(PROTOCOL_VERSION));
	json_object_object_add(params, "capabilities",
	    json_object_new_object());
	json_object_object_add(params, "clientInfo", info);
	inst_timer(in, in->timer_ev, srv->cfg->start_timeout_ms > 0 ?
	    srv->cfg->start_timeout_ms : CONFIG_DEFAULT_START_TIMEOUT_MS);
	inst_request(in, &in->init_id, "initialize", params);
	json_object_put(params);
	return 0;
}

/* Sends a request with the instance's next id, stored in *idp. */
static void
inst_request(struct server_inst *in, int64_t *idp, const char *method,
    json_object *params)
{
	char	*line;
	size_t	 len;

	*idp = in->next_id++;
	if ((line = rpc_encode_request(*idp, method, params, &len)) == NULL) {
		inst_fail_later(in, "server '%s': out of memory",
		    in->srv->name);
		return;
	}
	inst_send_line(in, line, len);
}

/* Queues a line we made (taken); a child that does not read fails. */
static void
inst_send_line(struct server_inst *in, char *line, size_t len)
{
	if (inst_xsend(in, NULL, 0, line, len, NULL, 0, NULL) == -1)
		inst_stdin_full(in);
}

/* proc_send() refused: when bytes wait (stdin is open), the child has
 * stopped reading and is failed. */
static void
inst_stdin_full(struct server_inst *in)
{
	if (inst_buffered(in) == 0 || in->fail_msg != NULL)
		return;
	stats_reject(STATS_STDIN_FULL);
	inst_fail_later(in, "server '%s' is not reading its stdin (%zu bytes "
	    "waiting, maxBufferedBytes %zu)", in->srv->name,
	    inst_buffered(in), in->srv->cs->max_buffered_bytes);
}

static void
inst_on_init(struct server_inst *in, struct rpc_msg *msg)
{
	static const char	 initialized[] = "{\"jsonrpc\":\"2.0\","
	    "\"method\":\"notifications/initialized\"}\n";
	struct server		*srv = in->srv;
	json_object		*v, *caps;
	const char		*version;
	size_t			 i;

	in->init_id = 0;
	if (in->state != INST_INIT)
		return;
	if (msg->kind == RPC_ERROR) {
		inst_fail_later(in, "server '%s' failed to initialize: %s "
		    "(JSON-RPC error %d)", srv->name, msg->err_message,
		    msg->err_code);
		return;
	}
	if (!json_object_is_type(msg->result, json_type_object) ||
	    !json_object_object_get_ex(msg->result, "protocolVersion", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		inst_fail_later(in, "server '%s' sent an unusable reply to "
		    "initialize", srv->name);
		return;
	}
	version = json_object_get_string(v);
	for (i = 0; server_versions[i] != NULL; i++)
		if (strcmp(version, server_versions[i]) == 0)
			break;
	if (server_versions[i] == NULL) {
		inst_fail_later(in, "server '%s' speaks an unsupported "
		    "protocol version '%.40s'", srv->name, version);
		return;
	}
	snprintf(in->version, sizeof(in->version), "%s", version);
	if (in->remote != NULL)
		remote_set_version(in->remote, in->version);
	in->has_tools = json_object_object_get_ex(msg->result, "capabilities",
	    &caps) && json_object_object_get_ex(caps, "tools", &v);
	inst_send_line(in, strdup(initialized), sizeof(initialized) - 1);
	in->state = INST_LIST;
	inst_list_page(in, NULL);
}

/* -------------------------------------------------------------- listing */

static void
inst_list_page(struct server_inst *in, const char *cursor)
{
	json_object	*params = NULL;

	if (cursor == NULL) {
		log_debug("%s: %s: listing its tools", __func__, in->label);
		json_object_put(in->list_acc);
		in->list_acc = json_object_new_array();
		in->list_pages = 0;
		in->list_bytes = 0;
		in->last_list_at = now_ms();
	} else {
		params = json_object_new_object();
		json_object_object_add(params, "cursor",
		    json_object_new_string(cursor));
	}
	inst_request(in, &in->list_id, "tools/list", params);
	json_object_put(params);
}

/* A page that failed: -1 when the instance failed with it. */
static int
inst_list_error(struct server_inst *in, struct rpc_msg *msg)
{
	if (in->state == INST_LIST && !in->has_tools) {
		/* No tools capability: an empty list. */
		json_object_put(in->list_acc);
		in->list_acc = json_object_new_array();
		return 0;
	}
	if (in->state == INST_LIST)
		inst_fail_later(in, "server '%s' failed to list its tools: "
		    "%s (JSON-RPC error %d)", in->srv->name, msg->err_message,
		    msg->err_code);
	else {
		log_warnx("%s: tools/list failed: %s; keeping the previous "
		    "list", in->label, msg->err_message);
		json_object_put(in->list_acc);
		in->list_acc = NULL;
		inst_arm_refresh(in);
	}
	return -1;
}

/* Adds a page's tools; 1 when another page was asked for, -1 on error. */
static int
inst_list_add(struct server_inst *in, json_object *result, size_t bytes)
{
	json_object	*tools, *v;
	size_t		 i, n;

	if (!json_object_object_get_ex(result, "tools", &tools) ||
	    !json_object_is_type(tools, json_type_array)) {
		if (in->state == INST_LIST)
			inst_fail_later(in, "server '%s' sent an unusable "
			    "reply to tools/list", in->srv->name);
		return -1;
	}
	in->list_bytes += bytes;
	n = json_object_array_length(tools);
	for (i = 0; i < n && in->list_acc != NULL &&
	    json_object_array_length(in->list_acc) < MAX_TOOLS; i++) {
		/* Moved, not shared: the list goes to the bulk lane while
		 * this page's tree is freed here (json-c's reference counts
		 * are not atomic). */
		json_object_array_add(in->list_acc, json_object_get(
		    json_object_array_get_idx(tools, i)));
		json_object_array_put_idx(tools, i, NULL);
	}
	in->list_pages++;
	if (!json_object_object_get_ex(result, "nextCursor", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0)
		return 0;
	if (in->list_pages >= MAX_LIST_PAGES ||
	    in->list_bytes >= in->srv->cfg->max_message_bytes) {
		log_warnx("%s: the tool list is longer than %d pages or "
		    "maxMessageBytes; using the first %d pages", in->label,
		    MAX_LIST_PAGES, in->list_pages);
		return 0;
	}
	inst_list_page(in, json_object_get_string(v));
	return 1;
}

static void
inst_on_list(struct server_inst *in, struct rpc_msg *msg, size_t linelen)
{
	in->list_id = 0;
	if ((in->state != INST_LIST && in->state != INST_READY) ||
	    in->list_acc == NULL)
		return;
	if (msg->kind == RPC_ERROR) {
		if (inst_list_error(in, msg) == -1)
			return;
	} else if (inst_list_add(in, msg->result, linelen) != 0)
		return;
	inst_list_done(in);
}

/* The whole list is in: build it on the bulk lane. */
static void
inst_list_done(struct server_inst *in)
{
	struct server_build	*b;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		inst_fail_later(in, "server '%s': out of memory",
		    in->srv->name);
		return;
	}
	b->inst = in;
	b->gen = in->gen;
	b->tools = in->list_acc;
	in->list_acc = NULL;
	in->building = 1;
	b->job.run = bulk_build_run;
	b->job.done = build_done;
	pool_post_bulk(in->srv->pool, &b->job);
}

/* Bulk lane: hash the list; a changed one is built, published, cached. */
static void
bulk_build_run(struct job *j)
{
	struct server_build	*b = (struct server_build *)j;
	struct server		*srv = b->inst->srv;
	struct toolset		*old, *ts;
	const char		*text;
	size_t			 len;
	uint64_t		 hash;

	text = json_object_to_json_string_length(b->tools,
	    JSON_C_TO_STRING_PLAIN, &len);
	hash = toolset_text_hash(text, len);
	old = toolset_slot_get(&srv->tools);
	b->changed = old == NULL || toolset_hash(old) != hash;
	toolset_release(old);
	if (b->changed &&
	    (ts = toolset_build(srv->name, srv->cs, b->tools, hash, NULL)) !=
	    NULL) {
		server_publish(srv, ts);
		if (srv->cache != NULL)
			b->flush = cache_store(srv->cache, srv->cs, text, len);
	}
	json_object_put(b->tools);
	b->tools = NULL;
	b->job.run = built_run;
	pool_post(srv->pool, b->inst->worker, &b->job);
}

/* Owner: the list was built (or found unchanged) on the bulk lane. */
static void
built_run(struct job *j)
{
	struct server_build	*b = (struct server_build *)j;
	struct server_inst	*in = b->inst;
	struct server		*srv = in->srv;
	struct timeval		 tv = { CACHE_FLUSH_DELAY_MS / 1000,
				    (CACHE_FLUSH_DELAY_MS % 1000) * 1000 };

	if (b->flush)
		event_base_once(in->base, -1, EV_TIMEOUT, cache_flush_cb, srv,
		    &tv);
	if (b->changed)
		srv->hooks.published(srv->hooks.arg, srv->index);
	if (b->gen == in->gen && in->building &&
	    (in->state == INST_LIST || in->state == INST_READY)) {
		in->building = 0;
		if (in->state == INST_LIST)
			inst_ready(in);
		else if (b->changed)
			log_info("%s: tool list changed", in->label);
		if (in->relist)
			inst_schedule_relist(in, 0);
		else
			inst_arm_refresh(in);
	}
	free(b);
}

/* Never ran, or came back to a worker that had stopped. */
static void
build_done(struct job *j)
{
	struct server_build	*b = (struct server_build *)j;

	json_object_put(b->tools);
	free(b);
}

/* Owner, a moment after a cache store: the write itself on the bulk lane
 * (several stores meanwhile make one write). */
static void
cache_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server		*srv = arg;
	struct server_flush	*f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return;
	f->cache = srv->cache;
	f->job.run = cache_flush_run;
	f->job.done = cache_flush_done;
	pool_post_bulk(srv->pool, &f->job);
}

static void
cache_flush_run(struct job *j)
{
	struct server_flush	*f = (struct server_flush *)j;

	cache_flush(f->cache);
	free(f);
}

static void
cache_flush_done(struct job *j)
{
	free(j);
}

/*
 * list_changed, or a list that changed while it was being listed: list
 * again after RELIST_DELAY_MS, and no sooner than RELIST_MIN_INTERVAL_MS
 * after the last listing began, so a server that sends list_changed in a
 * loop costs one tools/list a second.
 */
static void
inst_schedule_relist(struct server_inst *in, int notified)
{
	int64_t	wait;

	if (in->list_id != 0 || in->building) {
		in->relist = 1;
		return;
	}
	if (in->state != INST_READY)
		return;
	in->relist = 0;
	wait = in->last_list_at + RELIST_MIN_INTERVAL_MS - now_ms();
	if (wait < RELIST_DELAY_MS)
		wait = RELIST_DELAY_MS;
	/* A notification never pushes a relist already due further off. */
	if (notified && evtimer_pending(in->relist_ev, NULL))
		return;
	inst_timer(in, in->relist_ev, (int)wait);
}

/*
 * schemaCacheTtlSeconds: the first instance lists its tools again when the
 * list is that old (0: only on list_changed and restarts). A failed
 * refresh keeps the previous list.
 */
static void
inst_arm_refresh(struct server_inst *in)
{
	int	ttl_s = in->srv->cfg->schema_cache_ttl_s;

	if (in->index != 0 || ttl_s <= 0 || in->state != INST_READY)
		return;
	if (ttl_s > REFRESH_MAX_S)
		ttl_s = REFRESH_MAX_S;
	inst_timer(in, in->refresh_ev, ttl_s * 1000);
}

static void
relist_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_inst	*in = arg;

	if (in->state != INST_READY)
		return;
	if (in->list_id != 0 || in->building) {
		in->relist = 1;
		return;
	}
	inst_list_page(in, NULL);
}

static void
inst_ready(struct server_inst *in)
{
	struct server	*srv = in->srv;
	struct toolset	*ts;
	char		 at[300];
	int		 failures;

	in->state = INST_READY;
	in->ready_at = now_ms();
	inst_timer(in, in->timer_ev, -1);
	atomic_store(&in->ready, 1);
	atomic_fetch_add(&srv->nready, 1);
	pthread_mutex_lock(&srv->mtx);
	srv->exec_failed = 0;
	if (srv->shown_pid == 0)
		srv->shown_pid = inst_pid(in);
	snprintf(in->shown_version, sizeof(in->shown_version), "%s",
	    in->version);
	pthread_mutex_unlock(&srv->mtx);
	ts = server_toolset(srv);
	if (in->remote != NULL)
		snprintf(at, sizeof(at), "%s", srv->cs->url);
	else
		snprintf(at, sizeof(at), "pid %d", (int)inst_pid(in));
	log_info("%s: ready (%s, protocol %s, %zu tools)", in->label, at,
	    in->version,
	    ts != NULL ? toolset_count(ts) : (size_t)0);
	toolset_release(ts);
	inst_attempted(in);
	if (breaker_reset(&srv->breaker, &failures) == BREAKER_EV_CLOSED)
		server_breaker_event(srv, BREAKER_EV_CLOSED, failures,
		    "restarted");
	pthread_mutex_lock(&srv->mtx);
	if (!srv->reported) {
		srv->reported = 1;
		pthread_mutex_unlock(&srv->mtx);
		srv->hooks.started(srv->hooks.arg, srv->index);
	} else
		pthread_mutex_unlock(&srv->mtx);
	inst_dispatch(in);
}

/* The first start attempt of this instance is over (either way). */
static void
inst_attempted(struct server_inst *in)
{
	struct server	*srv = in->srv;
	int		 report = 0;

	if (in->attempted)
		return;
	in->attempted = 1;
	pthread_mutex_lock(&srv->mtx);
	if (++srv->nattempted == srv->ninsts && !srv->reported)
		report = srv->reported = 1;
	pthread_mutex_unlock(&srv->mtx);
	if (report)
		srv->hooks.started(srv->hooks.arg, srv->index);
}

static void
inst_unready(struct server_inst *in)
{
	struct server	*srv = in->srv;
	pid_t		 pid = inst_pid(in);
	int		 i;

	atomic_store(&in->ready, 0);
	atomic_fetch_sub(&srv->nready, 1);
	pthread_mutex_lock(&srv->mtx);
	if (srv->shown_pid == pid) {
		srv->shown_pid = 0;
		for (i = 0; i < srv->ninsts; i++)
			if (&srv->insts[i] != in &&
			    atomic_load(&srv->insts[i].ready) &&
			    srv->insts[i].proc != NULL)
				srv->shown_pid = proc_pid(srv->insts[i].proc);
	}
	pthread_mutex_unlock(&srv->mtx);
}

/* ---------------------------------------------------------------- calls */

void
server_submit(struct server *srv, int i, struct server_call *c)
{
	struct server_inst	*in = &srv->insts[i];
	struct timeval		 tv;
	char			 msg[700];

	c->state = SERVER_CALL_NEW;
	c->srv = srv;
	c->inst = NULL;
	c->id = 0;
	c->msg = NULL;
	c->rmsg = NULL;
	c->breaker = c->trial = 0;
	if (c->params == NULL || c->tool == NULL) {
		server_call_fail(c, 500, 0, NULL, "internal error: a call "
		    "without a tool or params");
		return;
	}
	if (in->stopping || (in->proc == NULL && in->remote == NULL)) {
		c->reason = "shutdown";
		server_call_fail(c, 503, 1, NULL, "server shutting down");
		return;
	}
	/* A server that cannot start answers at once instead of holding
	 * the call until its timeout. */
	if (!atomic_load(&in->ready) && server_failed(srv)) {
		pthread_mutex_lock(&srv->mtx);
		snprintf(msg, sizeof(msg), "server '%s' is not available: %s",
		    srv->name, srv->last_error);
		pthread_mutex_unlock(&srv->mtx);
		c->reason = "unavailable";
		server_call_fail(c, 503, server_retry_after(srv), srv->name,
		    msg);
		return;
	}
	if (server_breaker_admit(srv, c) == -1)
		return;
	if (c->timeout_ms <= 0)
		c->timeout_ms = srv->cs->timeout_ms > 0 ? srv->cs->timeout_ms :
		    CONFIG_DEFAULT_SERVER_TIMEOUT_MS;
	if ((c->timer = evtimer_new(in->base, call_timeout_cb, c)) == NULL) {
		server_call_fail(c, 500, 0, NULL, "out of memory");
		return;
	}
	evtimer_add(c->timer, pool_timeout(c->timeout_ms, &tv));
	c->inst = in;
	inst_queue_add(in, c);
	inst_dispatch(in);
	if (c->state == SERVER_CALL_QUEUED)
		inst_over_queue(in, c);
}

/* A call left waiting beyond maxQueued: 503 at once. 1 when refused. */
static int
inst_over_queue(struct server_inst *in, struct server_call *c)
{
	struct server	*srv = in->srv;
	char		 msg[256];

	if (atomic_load(&srv->queued) <= srv->cs->max_queued)
		return 0;
	stats_reject(STATS_MAX_QUEUED);
	inst_queue_del(in, c);
	c->reason = "overload";
	snprintf(msg, sizeof(msg), "server '%s' is overloaded: %d calls are "
	    "already waiting (maxQueued)", srv->name, srv->cs->max_queued);
	server_call_fail(c, 503, 1, srv->name, msg);
	return 1;
}

static void
inst_queue_add(struct server_inst *in, struct server_call *c)
{
	c->state = SERVER_CALL_QUEUED;
	c->qnext = NULL;
	c->qprev = in->qtail;
	if (in->qtail != NULL)
		in->qtail->qnext = c;
	else
		in->qhead = c;
	in->qtail = c;
	atomic_fetch_add(&in->srv->queued, 1);
	inst_load(in, 1);
}

static void
inst_queue_del(struct server_inst *in, struct server_call *c)
{
	if (c->qprev != NULL)
		c->qprev->qnext = c->qnext;
	else
		in->qhead = c->qnext;
	if (c->qnext != NULL)
		c->qnext->qprev = c->qprev;
	else
		in->qtail = c->qprev;
	c->qnext = c->qprev = NULL;
	atomic_fetch_sub(&in->srv->queued, 1);
	inst_load(in, -1);
}

/* Sends queued calls while the instance is ready and has room; a call
 * left waiting beyond maxQueued is refused. */
static void
inst_dispatch(struct server_inst *in)
{
	struct server_call	*c;
	int			 max;

	max = in->srv->cs->max_concurrent > 0 ? in->srv->cs->max_concurrent :
	    CONFIG_DEFAULT_MAX_CONCURRENT;
	while ((c = in->qhead) != NULL && in->state == INST_READY &&
	    in->npending + in->nghosts < max) {
		inst_queue_del(in, c);
		inst_send_call(in, c);
	}
}

static void
inst_send_call(struct server_inst *in, struct server_call *c)
{
	char	prefix[96];
	size_t	b;
	int	n;

	if (in->npending + in->nghosts == 0)
		in->busy_since = now_ms();
	c->id = in->next_id++;
	c->state = SERVER_CALL_SENT;
	b = (size_t)c->id & (SERVER_HASH - 1);
	c->hnext = in->pending[b];
	in->pending[b] = c;
	in->npending++;
	inst_load(in, 1);
	atomic_fetch_add(&in->srv->inflight, 1);
	c->sent_ms = mono_ms();
	n = snprintf(prefix, sizeof(prefix), "{\"jsonrpc\":\"2.0\",\"id\":%"
	    PRId64 ",\"method\":\"tools/call\",\"params\":", c->id);
	if (inst_xsend(in, prefix, (size_t)n, c->params, c->paramslen,
	    "}\n", 2, c) == -1)
		inst_stdin_full(in);
	c->params = NULL;	/* taken by the write queue */
	c->paramslen = 0;
}

static struct server_call *
inst_take(struct server_inst *in, int64_t id)
{
	struct server_call	**cp, *c;

	for (cp = &in->pending[(size_t)id & (SERVER_HASH - 1)]; (c = *cp) !=
	    NULL; cp = &c->hnext)
		if (c->id == id) {
			*cp = c->hnext;
			c->hnext = NULL;
			/* Its line is withdrawn if none of it is out yet; the
			 * write queue forgets the call either way. */
			c->unsent = (c->msg != NULL &&
			    proc_cancel(in->proc, c->msg) == 0) ||
			    (c->rmsg != NULL &&
			    remote_cancel(in->remote, c->rmsg) == 0);
			c->msg = NULL;
			c->rmsg = NULL;
			in->npending--;
			inst_load(in, -1);
			atomic_fetch_sub(&in->srv->inflight, 1);
			return c;
		}
	return NULL;
}

/* A sent call timed out: tell the child, and keep its place until the
 * child has seen that (a ping after the cancellation is answered). */
static void
inst_ghost(struct server_inst *in, struct server_call *c)
{
	struct ghost	*g;
	char		*line;
	int		 len;

	len = asprintf(&line, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/cancelled\",\"params\":{\"requestId\":%" PRId64
	    ",\"reason\":\"timeout after %d ms\"}}\n", c->id, c->timeout_ms);
	if (len > 0)
		inst_send_line(in, line, (size_t)len);
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return;
	g->id = c->id;
	inst_request(in, &g->ack_id, "ping", NULL);
	g->next = in->ghosts;
	in->ghosts = g;
	in->nghosts++;
	inst_load(in, 1);
}

/* An answer to a ghost, or to a ping that acknowledges ghosts: 1. */
static int
inst_ghost_answer(struct server_inst *in, int64_t id)
{
	struct ghost	**gp, *g;
	int		 ack = 0, found = 0;

	for (g = in->ghosts; g != NULL; g = g->next)
		if (g->ack_id == id)
			ack = 1;
	for (gp = &in->ghosts; (g = *gp) != NULL;) {
		if (g->id == id || (ack && g->ack_id <= id)) {
			found = 1;
			*gp = g->next;
			free(g);
			in->nghosts--;
			inst_load(in, -1);
			continue;
		}
		gp = &g->next;
	}
	if (found)
		inst_dispatch(in);
	return found;
}

static void
inst_drop_ghosts(struct server_inst *in)
{
	struct ghost	*g;

	while ((g = in->ghosts) != NULL) {
		in->ghosts = g->next;
		free(g);
		in->nghosts--;
		inst_load(in, -1);
	}
}

/* ------------------------------------------------------------- silence */

/*
 * After a call timed out, and again when the watch fires: when the
 * instance has calls pending (ghosts included), one of them timed out
 * during its silence, and not one line has come from it for
 * unresponsiveMs (counted from when it last spoke or last became busy,
 * whichever is later), it is sent a ping, which must be answered (or
 * anything else said) within pingTimeoutMs. Nothing is armed for an idle
 * instance, nor for one whose calls are all within their timeouts.
 */
static void
inst_watch(struct server_inst *in)
{
	const struct config_server	*cs = in->srv->cs;
	int64_t				 now = now_ms(), quiet;

	if (cs->unresponsive_ms <= 0 || in->state != INST_READY ||
	    in->npending + in->nghosts == 0 || in->ping_id != 0)
		return;
	quiet = in->last_msg_at > in->busy_since ? in->last_msg_at :
	    in->busy_since;
	if (in->timeout_at < quiet)
		return;
	if (now - quiet < cs->unresponsive_ms) {
		if (!evtimer_pending(in->hung_ev, NULL))
			inst_timer(in, in->hung_ev, (int)(quiet +
			    cs->unresponsive_ms - now));
		return;
	}
	in->ping_at = now;
	inst_request(in, &in->ping_id, "ping", NULL);
	log_debug("%s: %s: no message for %" PRId64 " ms with %d calls "
	    "pending, one timed out: ping id %" PRId64, __func__, in->label,
	    now - quiet, in->npending + in->nghosts, in->ping_id);
	inst_timer(in, in->hung_ev, cs->ping_timeout_ms);
}

/* The watch: the silence is long enough for a ping, or the ping's time is
 * up. */
static void
hung_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_inst	*in = arg;

	if (in->state != INST_READY || in->npending + in->nghosts == 0) {
		in->ping_id = 0;
		return;
	}
	if (in->ping_id != 0 && in->last_msg_at < in->ping_at) {
		inst_hung(in);
		return;
	}
	in->ping_id = 0;	/* something came: it is alive */
	inst_watch(in);
}

/* Top level: the child keeps silent with calls pending, even to a ping. */
static void
inst_hung(struct server_inst *in)
{
	struct server		*srv = in->srv;
	struct audit_event	 ev;
	char			 msg[512], extra[256];
	int64_t			 silent = now_ms() - in->last_msg_at;
	int			 pending = in->npending + in->nghosts;

	atomic_fetch_add(&srv->hung, 1);
	log_warnx("%s: not responding (pid %d): no message for %" PRId64
	    " ms with %d calls pending (%d of them timed out), ping id %"
	    PRId64 " unanswered after %d ms; SIGTERM to its process group "
	    "(SIGKILL after %d ms), then a restart", in->label,
	    (int)inst_pid(in), silent, pending, in->nghosts,
	    in->ping_id, srv->cs->ping_timeout_ms, HUNG_KILL_MS);
	snprintf(extra, sizeof(extra), "\"server\":\"%s\",\"instance\":%d,"
	    "\"pid\":%d,\"msSinceLastMessage\":%" PRId64 ",\"pending\":%d,"
	    "\"pingTimeoutMs\":%d", srv->name, in->index,
	    (int)inst_pid(in), silent, pending,
	    srv->cs->ping_timeout_ms);
	snprintf(msg, sizeof(msg), "server '%s' stopped responding (no "
	    "message for %" PRId64 " ms, no answer to a ping within %d ms); "
	    "it is being restarted", srv->name, silent,
	    srv->cs->ping_timeout_ms);
	memset(&ev, 0, sizeof(ev));
	ev.event = "server_hung";
	ev.latency_ms = -1;
	ev.error = msg;
	ev.extra = extra;
	audit_log(&ev);
	inst_down(in, msg, 1);
}

static void
call_timeout_sent(struct server_inst *in, struct server_call *c)
{
	json_object	*o;
	char		 msg[256], full[512];
	int		 unsent;

	inst_take(in, c->id);
	unsent = c->unsent;
	snprintf(full, sizeof(full), "mcp__%s__%s", in->srv->name, c->tool);
	if (unsent)
		stats_reject(STATS_NEVER_SENT);
	if (unsent)
		snprintf(msg, sizeof(msg), "Tool call timed out after %d ms "
		    "before it could be sent (the server is not reading its "
		    "input)", c->timeout_ms);
	else {
		snprintf(msg, sizeof(msg), "Tool call timed out after %d ms",
		    c->timeout_ms);
		inst_ghost(in, c);
	}
	log_info("%s: %s timed out after %d ms (id %" PRId64 "%s, request "
	    "%s)", in->label, c->tool, c->timeout_ms, c->id, unsent ?
	    ", never sent" : "", c->rid);
	in->timeout_at = now_ms();
	inst_watch(in);
	if ((o = reply_message(msg, NULL)) != NULL)
		json_object_object_add(o, "tool", json_object_new_string(full));
	server_call_finish(c, 504, o, 0);
}

static void
call_timeout_queued(struct server_inst *in, struct server_call *c)
{
	struct server	*srv = in->srv;
	json_object	*o;
	char		 msg[700], full[512];

	inst_queue_del(in, c);
	if (in->state == INST_READY) {
		/* It was at maxConcurrent all along. */
		snprintf(full, sizeof(full), "mcp__%s__%s", srv->name,
		    c->tool);
		snprintf(msg, sizeof(msg), "Tool call timed out after %d ms "
		    "waiting for a free slot on server '%s'", c->timeout_ms,
		    srv->name);
		if ((o = reply_message(msg, NULL)) != NULL)
			json_object_object_add(o, "tool",
			    json_object_new_string(full));
		server_call_finish(c, 504, o, 0);
		return;
	}
	pthread_mutex_lock(&srv->mtx);
	snprintf(msg, sizeof(msg), "server '%s' is not available: %s",
	    srv->name, srv->last_error[0] != '\0' ? srv->last_error :
	    "starting");
	pthread_mutex_unlock(&srv->mtx);
	server_call_fail(c, 503, server_retry_after(srv), srv->name, msg);
}

static void
call_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_call	*c = arg;
	struct server_inst	*in = c->inst;

	if (in == NULL)
		return;
	if (c->state == SERVER_CALL_SENT)
		call_timeout_sent(in, c);
	else if (c->state == SERVER_CALL_QUEUED)
		call_timeout_queued(in, c);
	inst_dispatch(in);
}

/* Owner: the answer to a call, parsed here (a short line). */
static void
call_reply(struct server_inst *in, struct server_call *c,
    struct rpc_msg *msg)
{
	struct server	*srv = in->srv;
	struct toolset	*ts = NULL;
	json_object	*body = NULL;
	char		 full[512];
	int		 status;

	snprintf(full, sizeof(full), "mcp__%s__%s", srv->name, c->tool);
	if (msg->kind == RPC_RESULT)
		status = reply_result(srv->name, full, msg->result,
		    c->whole, &body);
	else {
		ts = server_toolset(srv);
		status = reply_error(srv->name, full, ts, c->tool,
		    msg->err_code, msg->err_message, msg->err_data, &body);
		toolset_release(ts);
	}
	server_call_finish(c, status, body, 0);
}

/* Bulk lane: a long answer to a call, parsed and converted here. */
static void
bulk_reply_run(struct job *j)
{
	struct server_call	*c = (struct server_call *)j;
	struct server_inst	*in = c->inst;
	struct rpc_msg		 msg, *m = c->answer;
	char			 err[128], text[256];

	if (m == NULL) {
		if (rpc_parse_line(c->line, c->linelen, &msg, err,
		    sizeof(err)) == -1 || (msg.kind != RPC_RESULT &&
		    msg.kind != RPC_ERROR)) {
			if (msg.root != NULL)
				rpc_msg_free(&msg);
			snprintf(text, sizeof(text), "server '%s' sent an "
			    "unusable reply to tools/call (%zu bytes: %s)",
			    in->srv->name, c->linelen, err);
			server_call_fail(c, 502, 0, in->srv->name, text);
			return;
		}
		m = &msg;
	}
	free(c->line);
	c->line = NULL;
	call_reply(in, c, m);
	rpc_msg_free(m);
	if (m != &msg) {
		free(m);
		c->answer = NULL;
	}
}

/* Owner: hand a call and its long answer to the bulk lane. */
static void
call_to_bulk(struct server_inst *in, struct server_call *c)
{
	if (c->timer != NULL) {
		event_free(c->timer);
		c->timer = NULL;
	}
	c->job.run = bulk_reply_run;
	pool_post_bulk(in->srv->pool, &c->job);
	inst_dispatch(in);
}

/* -------------------------------------------------------------- reading */

/* A stdout line. Long ones go to the bulk lane: with the call when the id
 * at their head is a pending call's, else to be parsed and come back. */
static void
inst_on_line(void *arg, char *line, size_t len)
{
	struct server_inst	*in = arg;
	struct server_parse	*p;
	struct server_call	*c;
	struct rpc_msg		 msg;
	char			 err[128];
	int64_t			 id;

	in->last_msg_at = now_ms();
	if (len <= SERVER_BULK_LINE) {
		if (rpc_parse_line(line, len, &msg, err, sizeof(err)) == -1) {
			log_warnx("%s: skipping a stdout line that is not "
			    "JSON-RPC (%s): %.*s", in->label, err,
			    LOG_JUNK_MAX, line);
			return;
		}
		inst_on_msg(in, &msg, len);
		rpc_msg_free(&msg);
		return;
	}
	if (rpc_scan_id(line, len < PROC_HEAD_MAX ? len : PROC_HEAD_MAX,
	    &id) == 0 && (c = inst_take(in, id)) != NULL) {
		c->line = inst_take_line(in, line, len);
		c->linelen = len;
		if (c->line == NULL) {
			server_call_fail(c, 502, 0, in->srv->name,
			    "out of memory");
			return;
		}
		call_to_bulk(in, c);
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->line = inst_take_line(in, line, len)) == NULL) {
		free(p);
		log_warnx("%s: out of memory for a %zu byte line", in->label,
		    len);
		return;
	}
	p->inst = in;
	p->gen = in->gen;
	p->len = len;
	p->job.run = bulk_parse_run;
	p->job.done = parse_done;
	pool_post_bulk(in->srv->pool, &p->job);
}

/* Bulk lane: parse a long line, then back to the owner. */
static void
bulk_parse_run(struct job *j)
{
	struct server_parse	*p = (struct server_parse *)j;
	char			 err[128];

	p->ok = rpc_parse_line(p->line, p->len, &p->msg, err,
	    sizeof(err)) == 0;
	if (!p->ok)
		log_warnx("%s: skipping a stdout line of %zu bytes that is not "
		    "JSON-RPC (%s)", p->inst->label, p->len, err);
	free(p->line);
	p->line = NULL;
	p->job.run = parsed_run;
	pool_post(p->inst->srv->pool, p->inst->worker, &p->job);
}

static void
parsed_run(struct job *j)
{
	struct server_parse	*p = (struct server_parse *)j;

	if (p->ok && p->gen == p->inst->gen)
		inst_on_msg(p->inst, &p->msg, p->len);
	parse_done(j);
}

static void
parse_done(struct job *j)
{
	struct server_parse	*p = (struct server_parse *)j;

	if (p->ok)
		rpc_msg_free(&p->msg);
	free(p->line);
	free(p);
}

static void
inst_on_overflow(void *arg, const char *head, size_t headlen, size_t total)
{
	struct server_inst	*in = arg;
	struct server		*srv = in->srv;
	struct server_call	*c;
	char			 msg[256];
	int64_t			 id;

	in->last_msg_at = now_ms();
	snprintf(msg, sizeof(msg), "server '%s' sent a message larger than "
	    "maxMessageBytes (%zu bytes)", srv->name,
	    srv->cfg->max_message_bytes);
	if (rpc_scan_id(head, headlen, &id) == 0) {
		if ((in->init_id != 0 && id == in->init_id) ||
		    (in->list_id != 0 && id == in->list_id)) {
			inst_fail_later(in, "%s", msg);
			return;
		}
		if ((c = inst_take(in, id)) != NULL) {
			log_warnx("%s: reply to %s (id %" PRId64 ", request "
			    "%s) is %zu bytes, more than maxMessageBytes; "
			    "dropped", in->label, c->tool, id, c->rid, total);
			server_call_fail(c, 502, 0, srv->name, msg);
			inst_dispatch(in);
			return;
		}
	}
	log_warnx("%s: dropped a stdout line of %zu bytes (more than "
	    "maxMessageBytes)", in->label, total);
}

static void
inst_on_msg(struct server_inst *in, struct rpc_msg *msg, size_t linelen)
{
	switch (msg->kind) {
	case RPC_REQUEST:
		inst_on_request(in, msg);
		break;
	case RPC_NOTIFICATION:
		inst_on_notification(in, msg);
		break;
	case RPC_RESULT:
	case RPC_ERROR:
		inst_on_response(in, msg, linelen);
		break;
	}
}

static void
inst_on_response(struct server_inst *in, struct rpc_msg *msg, size_t linelen)
{
	struct server_call	*c;

	if (!msg->id_is_int) {
		if (msg->kind == RPC_ERROR)
			log_warnx("%s: JSON-RPC error %d without a usable id: "
			    "%s", in->label, msg->err_code, msg->err_message);
		return;
	}
	if (in->init_id != 0 && msg->id_int == in->init_id)
		inst_on_init(in, msg);
	else if (in->list_id != 0 && msg->id_int == in->list_id)
		inst_on_list(in, msg, linelen);
	else if (in->ping_id != 0 && msg->id_int == in->ping_id) {
		log_debug("%s: %s: ping id %" PRId64 " answered in %" PRId64
		    " ms", __func__, in->label, in->ping_id,
		    in->last_msg_at - in->ping_at);
		in->ping_id = 0;
	} else if ((c = inst_take(in, msg->id_int)) != NULL) {
		if (linelen > SERVER_BULK_LINE &&
		    (c->answer = malloc(sizeof(*c->answer))) != NULL) {
			/* The tree moves with the call. */
			*c->answer = *msg;
			memset(msg, 0, sizeof(*msg));
			call_to_bulk(in, c);
			return;
		}
		call_reply(in, c, msg);
		inst_dispatch(in);
	} else if (!inst_ghost_answer(in, msg->id_int))
		log_debug("%s: %s: dropping a response with unknown id %"
		    PRId64, __func__, in->label, msg->id_int);
}

static void
inst_on_request(struct server_inst *in, struct rpc_msg *msg)
{
	char	*line;
	size_t	 len;

	if (strcmp(msg->method, "ping") == 0)
		line = rpc_encode_result(msg->id, NULL, &len);
	else {
		log_debug("%s: %s: refusing request %s", __func__, in->label,
		    msg->method);
		line = rpc_encode_error(msg->id, RPC_METHOD_NOT_FOUND,
		    "Method not found", &len);
	}
	if (line != NULL)
		inst_send_line(in, line, len);
}

static void
inst_on_notification(struct server_inst *in, struct rpc_msg *msg)
{
	const char	*m = msg->method;

	if (strcmp(m, "notifications/tools/list_changed") == 0)
		inst_tools_changed(in);
	else if (log_get_verbose() > 0 &&
	    (strcmp(m, "notifications/progress") == 0 ||
	    strcmp(m, "notifications/message") == 0))
		log_debug("%s: %s: %s %s", __func__, in->label, m,
		    msg->params != NULL ? json_object_to_json_string_ext(
		    msg->params, JSON_C_TO_STRING_PLAIN) : "");
	else
		log_debug("%s: %s: ignoring %s", __func__, in->label, m);
}

/* The server's tool list may have changed: list it again. */
static void
inst_tools_changed(struct server_inst *in)
{
	if (in->state == INST_LIST)
		in->relist = 1;
	else
		inst_schedule_relist(in, 1);
}

/* A remote server replaced our forgotten session: a new session may
 * come with another tool list (the server was upgraded). */
static void
inst_on_renewed(void *arg)
{
	struct server_inst	*in = arg;

	log_debug("%s: %s: a new session; listing its tools again",
	    __func__, in->label);
	inst_tools_changed(in);
}

/* -------------------------------------------------------------- failure */

/* Defers a failure found inside a callback to a top-level event. */
static void
inst_fail_later(struct server_inst *in, const char *fmt, ...)
{
	va_list	ap;

	if (in->fail_msg != NULL || in->state == INST_IDLE ||
	    in->state == INST_DEAD)
		return;
	va_start(ap, fmt);
	if (vasprintf(&in->fail_msg, fmt, ap) == -1)
		in->fail_msg = NULL;
	va_end(ap);
	if (in->fail_msg == NULL)
		in->fail_msg = strdup("out of memory");
	event_active(in->fail_ev, EV_TIMEOUT, 0);
}

static void
fail_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_inst	*in = arg;
	char			*msg = in->fail_msg;

	in->fail_msg = NULL;
	if (msg != NULL)
		inst_down(in, msg, 0);
	free(msg);
}

/* stdout hit EOF or stdin failed: wait briefly for the exit status so
 * the calls can be told why. */
static void
inst_on_closed(void *arg, const char *what)
{
	struct server_inst	*in = arg;

	proc_close_stdin(in->proc);
	if (in->state != INST_INIT && in->state != INST_LIST &&
	    in->state != INST_READY)
		return;
	if (in->state == INST_READY)
		inst_unready(in);
	in->state = INST_CLOSING;
	free(in->close_msg);
	if (asprintf(&in->close_msg, "server '%s' %s", in->srv->name,
	    what) == -1)
		in->close_msg = NULL;
	inst_timer(in, in->timer_ev, EXIT_GRACE_MS);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_inst	*in = arg;
	struct server		*srv = in->srv;
	char			 msg[512];

	switch (in->state) {
	case INST_INIT:
	case INST_LIST:
		snprintf(msg, sizeof(msg), "server '%s' did not start within "
		    "%d ms", srv->name, srv->cfg->start_timeout_ms > 0 ?
		    srv->cfg->start_timeout_ms :
		    CONFIG_DEFAULT_START_TIMEOUT_MS);
		inst_down(in, msg, 0);
		break;
	case INST_CLOSING:
		snprintf(msg, sizeof(msg), "%s", in->close_msg != NULL ?
		    in->close_msg : "server closed its pipes");
		inst_down(in, msg, 0);
		break;
	case INST_DEAD:
		/* A hung child that outlived its SIGTERM. */
		if (!in->stopping && inst_pid(in) != 0) {
			log_warnx("%s: still running %d ms after SIGTERM; "
			    "sending SIGKILL", in->label, HUNG_KILL_MS);
			proc_kill_group(in->proc, 0);
		}
		break;
	default:
		break;
	}
}

/*
 * A remote server's transport failed: like a child's exit. Before it
 * answered initialize (unreachable, TLS refused, an error status) it is
 * like a program that cannot be executed: calls are answered 503 at
 * once, with Retry-After, until it is ready again.
 */
static void
inst_on_failed(void *arg, const char *what)
{
	struct server_inst	*in = arg;
	struct server		*srv = in->srv;
	struct server_call	*c;
	char			 msg[700];

	if (in->state == INST_INIT) {
		pthread_mutex_lock(&srv->mtx);
		srv->exec_failed = 1;
		pthread_mutex_unlock(&srv->mtx);
		snprintf(msg, sizeof(msg), "server '%s' is not available: "
		    "server '%s' %s", srv->name, srv->name, what);
		while ((c = in->qhead) != NULL) {
			inst_queue_del(in, c);
			c->reason = "unavailable";
			server_call_fail(c, 503, 1, srv->name, msg);
		}
	}
	inst_fail_later(in, "server '%s' %s", srv->name, what);
}

/* A remote server's session is ended (server_inst_stop()). */
static void
inst_on_stopped(void *arg)
{
	struct server_inst	*in = arg;

	in->remote_stopping = 0;
	in->state = INST_IDLE;
	in->srv->hooks.gone(in->srv->hooks.arg, in->srv->index, in->index);
}

static void
inst_on_exited(void *arg, int status, int known)
{
	struct server_inst	*in = arg;
	struct server		*srv = in->srv;
	char			 msg[512];

	if (known && WIFEXITED(status))
		snprintf(msg, sizeof(msg), "server '%s' exited with status %d",
		    srv->name, WEXITSTATUS(status));
	else if (known && WIFSIGNALED(status))
		snprintf(msg, sizeof(msg), "server '%s' was killed by signal "
		    "%d", srv->name, WTERMSIG(status));
	else
		snprintf(msg, sizeof(msg), "server '%s' exited", srv->name);
	inst_audit(in, "server_exit", msg);
	pthread_mutex_lock(&srv->mtx);
	in->shown_pid = 0;
	in->shown_version[0] = '\0';
	pthread_mutex_unlock(&srv->mtx);
	if (in->state != INST_DEAD) {
		inst_down(in, msg, 0);
		return;
	}
	log_debug("%s: %s: %s", __func__, in->label, msg);
	inst_timer(in, in->timer_ev, -1);
	proc_kill_group(in->proc, !in->stopping);	/* stragglers */
	proc_close_pipes(in->proc);
	in->state = INST_IDLE;
	if (in->stopping)
		srv->hooks.gone(srv->hooks.arg, srv->index, in->index);
	else
		inst_schedule_restart(in);
}

/* server_start (error NULL) or server_exit, in the audit log; expected
 * says whether we asked it to exit. */
static void
inst_audit(struct server_inst *in, const char *event, const char *error)
{
	struct audit_event	ev;
	char			extra[160];
	int			n;

	n = snprintf(extra, sizeof(extra), "\"server\":\"%s\",\"instance\":"
	    "%d,\"pid\":%d", in->srv->name, in->index, (int)in->shown_pid);
	if (error != NULL && n > 0 && (size_t)n < sizeof(extra))
		snprintf(extra + n, sizeof(extra) - (size_t)n,
		    ",\"expected\":%s", in->stopping ? "true" : "false");
	memset(&ev, 0, sizeof(ev));
	ev.event = event;
	ev.latency_ms = -1;
	ev.error = error;
	ev.extra = extra;
	audit_log(&ev);
}

/* The calls sent to the instance fail with status; counts: as one
 * failure for the breaker (one instance's end is one event, whatever the
 * number of calls it had), else as none (shutdown). */
static void
inst_fail_calls(struct server_inst *in, int status, const char *msg,
    int counts)
{
	struct server_call	*c;
	size_t			 b;
	int			 n = 0, ticket = 0;

	for (b = 0; b < SERVER_HASH; b++)
		while ((c = in->pending[b]) != NULL) {
			c = inst_take(in, c->id);
			if (c->trial > 0)
				ticket = c->trial;
			c->breaker = 0;
			server_call_fail(c, status, 0, in->srv->name, msg);
			n++;
		}
	inst_drop_ghosts(in);
	if (counts && n > 0)
		server_breaker_note(in->srv, BREAKER_FAILURE, ticket);
}

/*
 * The child failed: fail its calls, kill its process group (term: SIGTERM
 * first, SIGKILL HUNG_KILL_MS later), and restart it once it is reaped.
 * Top-level callbacks only.
 */
static void
inst_down(struct server_inst *in, const char *msg, int term)
{
	int64_t	now = now_ms();

	if (in->state == INST_IDLE || in->state == INST_DEAD)
		return;
	if (in->state == INST_READY)
		inst_unready(in);
	if (in->ready_at != 0 && now - in->ready_at >= BACKOFF_RESET_MS)
		in->backoff_ms = BACKOFF_MIN_MS;
	in->ready_at = 0;
	in->state = INST_DEAD;
	log_warnx("%s (instance %d)", msg, in->index);
	event_del(in->fail_ev);
	free(in->fail_msg);
	in->fail_msg = NULL;
	inst_timer(in, in->timer_ev, -1);
	inst_timer(in, in->relist_ev, -1);
	inst_timer(in, in->refresh_ev, -1);
	inst_timer(in, in->hung_ev, -1);
	in->ping_id = 0;
	/* Answers written just before the end still count. */
	if (in->proc != NULL)
		proc_drain(in->proc);
	in->init_id = in->list_id = 0;
	json_object_put(in->list_acc);
	in->list_acc = NULL;
	in->relist = in->building = 0;
	server_note_failure(in->srv, msg);
	inst_fail_calls(in, 502, msg, 1);
	inst_attempted(in);
	if (in->remote != NULL)
		remote_reset(in->remote);
	else {
		proc_close_pipes(in->proc);
		if (term && proc_signal(in->proc, SIGTERM))
			inst_timer(in, in->timer_ev, HUNG_KILL_MS);
		else
			proc_kill_group(in->proc, 1);
	}
	if (inst_pid(in) == 0) {
		in->state = INST_IDLE;
		inst_schedule_restart(in);
	}
	/* else inst_on_exited() restarts it */
}

static void
inst_schedule_restart(struct server_inst *in)
{
	int	delay;

	if (in->stopping)
		return;
	delay = in->backoff_ms;
	in->backoff_ms = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
	    delay * 2;
	log_info("%s: restarting in %d ms", in->label, delay);
	inst_timer(in, in->restart_ev, delay);
}

static void
restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_inst	*in = arg;
	struct server		*srv = in->srv;

	if (in->stopping || in->state != INST_IDLE)
		return;
	atomic_fetch_add(&srv->restarts, 1);
	inst_spawn(in);
}

int
server_failing(struct server *srv)
{
	return server_failed(srv);
}

/* exec failures and crash loops: calls are answered at once. */
static int
server_failed(struct server *srv)
{
	int	failed;

	pthread_mutex_lock(&srv->mtx);
	failed = srv->exec_failed || server_crash_loop(srv);
	pthread_mutex_unlock(&srv->mtx);
	return failed;
}

/* srv->mtx held: 5 failures within 60 s, the last one recent. */
static int
server_crash_loop(struct server *srv)
{
	return srv->crash_loop && now_ms() - srv->failures[(srv->nfailures -
	    1) % CRASH_LOOP_FAILURES] <= CRASH_LOOP_WINDOW_MS;
}

/* Seconds until the next restart of an instance of the calling worker,
 * 1..5. */
static int
server_retry_after(struct server *srv)
{
	struct timeval	tv, now;
	int64_t		best = -1, ms;
	int		i, self = pool_self();

	evutil_gettimeofday(&now, NULL);
	for (i = 0; i < srv->ninsts; i++) {
		if (srv->insts[i].worker != self ||
		    srv->insts[i].restart_ev == NULL ||
		    !evtimer_pending(srv->insts[i].restart_ev, &tv))
			continue;
		ms = ((int64_t)tv.tv_sec - now.tv_sec) * 1000 +
		    (tv.tv_usec - now.tv_usec) / 1000;
		if (best == -1 || ms < best)
			best = ms;
	}
	if (best <= 0)
		return 1;
	best = (best + 999) / 1000;
	return best > 5 ? 5 : (int)best;
}

/* Records a failure for /health and the crash-loop detector. */
static void
server_note_failure(struct server *srv, const char *msg)
{
	int64_t	now = now_ms(), oldest;

	pthread_mutex_lock(&srv->mtx);
	snprintf(srv->last_error, sizeof(srv->last_error), "%s", msg);
	clock_gettime(CLOCK_REALTIME, &srv->last_error_at);
	srv->failures[srv->nfailures % CRASH_LOOP_FAILURES] = now;
	srv->nfailures++;
	oldest = srv->failures[srv->nfailures % CRASH_LOOP_FAILURES];
	srv->crash_loop = srv->nfailures >= CRASH_LOOP_FAILURES &&
	    now - oldest <= CRASH_LOOP_WINDOW_MS;
	pthread_mutex_unlock(&srv->mtx);
}

/* ------------------------------------------------------------- breaker */

/* Owner: 0 when the breaker lets the call go (perhaps as its trial), -1
 * when the call was answered 503 at once. */
static int
server_breaker_admit(struct server *srv, struct server_call *c)
{
	struct breaker_view	 v;
	json_object		*o;
	int64_t			 now = now_ms(), retry_ms;
	char			 msg[300];
	int			 ticket, secs;

	if ((ticket = breaker_admit(&srv->breaker, now, &retry_ms)) >= 0) {
		c->breaker = 1;
		c->trial = ticket;
		if (ticket > 0)
			log_info("server '%s': circuit breaker half-open: %s "
			    "(request %s) is the trial call", srv->name,
			    c->tool, c->rid);
		return 0;
	}
	breaker_view(&srv->breaker, now, &v);
	secs = (int)((retry_ms + 999) / 1000);
	secs = secs < 1 ? 1 : secs;
	snprintf(msg, sizeof(msg), "server '%s' is failing: circuit breaker "
	    "%s after %d failed calls in a row; %s retry in %d s", srv->name,
	    v.state == BREAKER_OPEN ? "open" : "half-open", v.failures,
	    v.state == BREAKER_OPEN ? "calls are refused until then," :
	    "a trial call is in progress,", secs);
	if ((o = reply_message(msg, srv->name)) != NULL)
		json_object_object_add(o, "breaker", json_object_new_string(
		    breaker_state_name(v.state)));
	stats_reject(STATS_BREAKER_OPEN);
	c->reason = "breaker_open";
	server_call_finish(c, 503, o, secs);
	return -1;
}

/* Any thread: the end of an admitted call, for the breaker. */
static void
server_breaker_note(struct server *srv, enum breaker_outcome outcome,
    int ticket)
{
	enum breaker_event	ev;
	int			failures;

	ev = breaker_result(&srv->breaker, now_ms(), outcome, ticket,
	    &failures);
	if (ev == BREAKER_EV_OPENED)
		server_breaker_event(srv, ev, failures, ticket > 0 ?
		    "trial_failed" : "failures");
	else if (ev == BREAKER_EV_CLOSED)
		server_breaker_event(srv, ev, failures, ticket > 0 ?
		    "trial_succeeded" : "call_succeeded");
}

/* Any thread: a breaker opened or closed, in the log and the audit log. */
static void
server_breaker_event(struct server *srv, enum breaker_event ev,
    int failures, const char *why)
{
	struct audit_event	e;
	struct breaker_view	v;
	char			extra[200];

	breaker_view(&srv->breaker, now_ms(), &v);
	if (ev == BREAKER_EV_OPENED)
		log_warnx("server '%s': circuit breaker open for %d ms after "
		    "%d failed calls in a row (%s): calls are answered 503 "
		    "until then", srv->name, v.open_ms, failures, why);
	else
		log_info("server '%s': circuit breaker closed (%s, after %d "
		    "failed calls in a row)", srv->name, why, failures);
	snprintf(extra, sizeof(extra), "\"server\":\"%s\",\"failures\":%d,"
	    "\"openMs\":%d", srv->name, failures, v.open_ms);
	memset(&e, 0, sizeof(e));
	e.event = ev == BREAKER_EV_OPENED ? "breaker_open" : "breaker_close";
	e.latency_ms = -1;
	e.reason = why;
	e.extra = extra;
	audit_log(&e);
}

/* ----------------------------------------------------------- reporting */

/* srv->mtx held. */
static const char *
server_state(struct server *srv, int nready, int crash)
{
	if (srv->cs->disabled || atomic_load(&srv->stopped))
		return "stopped";
	if (nready > 0)
		return "ready";
	if (srv->exec_failed || crash)
		return "failed";
	if (atomic_load(&srv->restarts) == 0 && srv->last_error[0] == '\0')
		return "starting";
	return "restarting";
}

/* A CLOCK_REALTIME time as an ISO 8601 string, or null when unset. */
static json_object *
server_time_json(const struct timespec *ts)
{
	char	buf[LOG_TIMESTAMP_LEN];

	if (ts->tv_sec == 0)
		return NULL;
	log_timestamp(ts, buf);
	return json_object_new_string(buf);
}

/* srv->mtx held: each instance's pid (null: none) and the protocol
 * version of the first one that agreed to one. */
static void
server_health_insts(struct server *srv, json_object *o)
{
	json_object	*pids;
	const char	*version = NULL;
	int		 i;

	pids = json_object_new_array();
	for (i = 0; i < srv->ninsts; i++) {
		json_object_array_add(pids, srv->insts[i].shown_pid > 0 ?
		    json_object_new_int(srv->insts[i].shown_pid) : NULL);
		if (version == NULL && srv->insts[i].shown_version[0] != '\0')
			version = srv->insts[i].shown_version;
	}
	json_object_object_add(o, "pids", pids);
	json_object_object_add(o, "protocolVersion", version != NULL ?
	    json_object_new_string(version) : NULL);
}

/* The breaker's part of /health: null when it is off. */
static json_object *
server_health_breaker(struct server *srv)
{
	struct breaker_view	 v;
	struct timespec		 until;
	json_object		*o;
	int64_t			 ms;

	if (!breaker_enabled(&srv->breaker) ||
	    (o = json_object_new_object()) == NULL)
		return NULL;
	breaker_view(&srv->breaker, now_ms(), &v);
	json_object_object_add(o, "state", json_object_new_string(
	    breaker_state_name(v.state)));
	json_object_object_add(o, "failures", json_object_new_int(v.failures));
	json_object_object_add(o, "openMs", json_object_new_int(v.open_ms));
	json_object_object_add(o, "opens", json_object_new_int64(v.opens));
	ms = v.state == BREAKER_OPEN ? v.retry_ms : 0;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	json_object_object_add(o, "openUntil", ms > 0 ?
	    server_time_json(&until) : NULL);
	json_object_object_add(o, "retryAfter", ms > 0 ?
	    json_object_new_int((int)((ms + 999) / 1000)) : NULL);
	return o;
}

json_object *
server_health(struct server *srv)
{
	struct toolset	*ts;
	json_object	*o;
	int		 nready, crash;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	nready = atomic_load(&srv->nready);
	json_object_object_add(o, "name", json_object_new_string(srv->name));
	json_object_object_add(o, "enabled",
	    json_object_new_boolean(!srv->cs->disabled));
	pthread_mutex_lock(&srv->mtx);
	crash = server_crash_loop(srv);
	json_object_object_add(o, "state", json_object_new_string(
	    server_state(srv, nready, crash)));
	json_object_object_add(o, "pid", srv->shown_pid > 0 ?
	    json_object_new_int(srv->shown_pid) : NULL);
	server_health_insts(srv, o);
	json_object_object_add(o, "instances",
	    json_object_new_int(srv->ninsts));
	json_object_object_add(o, "ready", json_object_new_int(nready));
	json_object_object_add(o, "restarts",
	    json_object_new_int(atomic_load(&srv->restarts)));
	json_object_object_add(o, "lastError", srv->last_error[0] != '\0' ?
	    json_object_new_string(srv->last_error) : NULL);
	json_object_object_add(o, "lastErrorAt",
	    server_time_json(&srv->last_error_at));
	json_object_object_add(o, "lastStartAt",
	    server_time_json(&srv->last_start_at));
	json_object_object_add(o, "crashLoop", json_object_new_boolean(crash));
	pthread_mutex_unlock(&srv->mtx);
	json_object_object_add(o, "inflight",
	    json_object_new_int(atomic_load(&srv->inflight)));
	json_object_object_add(o, "queued",
	    json_object_new_int(atomic_load(&srv->queued)));
	ts = server_toolset(srv);
	json_object_object_add(o, "tools", json_object_new_int(ts != NULL ?
	    (int)toolset_count(ts) : 0));
	json_object_object_add(o, "unvalidatedTools", json_object_new_int(
	    (int)toolset_unvalidated(ts)));
	toolset_release(ts);
	json_object_object_add(o, "breaker", server_health_breaker(srv));
	json_object_object_add(o, "hungDetections",
	    json_object_new_int64(atomic_load(&srv->hung)));
	return o;
}

void
server_stats(struct server *srv, struct server_stats *st)
{
	st->up = atomic_load(&srv->nready) > 0;
	st->inflight = atomic_load(&srv->inflight);
	st->queued = atomic_load(&srv->queued);
	st->restarts = atomic_load(&srv->restarts);
	st->tools = atomic_load(&srv->ntools);
	st->breaker_state = (int)breaker_state(&srv->breaker, now_ms());
	st->breaker_opens = breaker_opens(&srv->breaker);
	st->hung = atomic_load(&srv->hung);
}

int
server_ready(struct server *srv)
{
	return atomic_load(&srv->nready) > 0 &&
	    breaker_state(&srv->breaker, now_ms()) == BREAKER_CLOSED;
}

/* ------------------------------------------------------------ shutdown */

void
server_inst_stop(struct server *srv, int i)
{
	struct server_inst	*in = &srv->insts[i];
	struct server_call	*c;

	in->stopping = 1;
	atomic_store(&srv->stopped, 1);
	while ((c = in->qhead) != NULL) {
		inst_queue_del(in, c);
		server_call_fail(c, 503, 1, srv->name, "server shutting down");
	}
	if (in->proc == NULL && in->remote == NULL)
		return;
	inst_timer(in, in->restart_ev, -1);
	inst_timer(in, in->timer_ev, -1);
	inst_timer(in, in->relist_ev, -1);
	inst_timer(in, in->refresh_ev, -1);
	event_del(in->fail_ev);
	inst_timer(in, in->hung_ev, -1);
	inst_fail_calls(in, 502, "server shutting down", 0);
	in->init_id = in->list_id = 0;
	if (in->state == INST_READY)
		inst_unready(in);
	if (in->remote != NULL) {
		/* A DELETE ends the session; then inst_on_stopped(). */
		in->remote_stopping = remote_stop(in->remote);
		in->state = in->remote_stopping ? INST_DEAD : INST_IDLE;
		return;
	}
	if (proc_pid(in->proc) == 0) {
		proc_close_pipes(in->proc);
		in->state = INST_IDLE;
		return;
	}
	in->state = INST_DEAD;
	/* EOF on stdin asks an MCP server to exit. */
	proc_close_stdin(in->proc);
}

int
server_inst_signal(struct server *srv, int i, int sig)
{
	struct server_inst	*in = &srv->insts[i];

	if (in->remote != NULL) {
		/* SIGTERM and SIGKILL abandon the session's DELETE. */
		if (sig != 0 && in->remote_stopping) {
			remote_reset(in->remote);
			in->remote_stopping = 0;
			in->state = INST_IDLE;
		}
		return in->remote_stopping;
	}
	return in->proc != NULL ? proc_signal(in->proc, sig) : 0;
}

void
server_inst_kill_groups(struct server *srv, int i)
{
	if (srv->insts[i].proc != NULL)
		proc_kill_group(srv->insts[i].proc, 0);
}

void
server_kill(struct server *srv)
{
	int	i;

	for (i = 0; i < srv->ninsts; i++)
		if (srv->insts[i].proc != NULL)
			proc_kill(srv->insts[i].proc);
}
