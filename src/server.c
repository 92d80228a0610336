/*
 * server.c: one MCP server, i.e. one or more child processes behind one
 * name: spawn, MCP handshake, tools/call by id with many calls in flight
 * per child, timeouts and cancellation, server-to-client requests,
 * notifications, failure, restart with backoff and shutdown.
 *
 * DESIGN. Everything here runs on the registry's I/O thread, except
 * server_health()/server_ready() (a mutex and atomics) and the pure reply
 * helpers. Children are spawned with posix_spawn (no fork of a threaded
 * image) into their own session, so a whole process group (npx and its
 * grandchildren) can be signalled. Each child has three non-blocking
 * pipes: stdin gets requests through a write-at-once, queue-on-EAGAIN
 * buffer; stdout goes through an NDJSON framer to the JSON-RPC handler;
 * stderr is always drained into the log, rate limited. A pidfd (or a
 * 100 ms waitpid poll when pidfd_open is missing) tells when a child
 * exits. A failure (exit, EOF, write error, start timeout, broken
 * protocol) fails every call the child had, kills its process group and
 * restarts it with exponential backoff. Work that a failure would free
 * under a running callback is deferred to a top-level event (fail_ev).
 */

#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "registry.h"
#include "rpc.h"
#include "server.h"
#include "version.h"

#define PROTOCOL_VERSION	"2025-11-25"
#define PROC_HASH		1024	/* pending calls by id, per child */
#define STDERR_LINE_MAX		(64 * 1024)
#define LINE_HEAD_MAX		512	/* bytes kept to find an overlong id */
#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		30000
#define BACKOFF_RESET_MS	60000	/* ready this long: backoff resets */
#define CRASH_LOOP_FAILURES	5
#define CRASH_LOOP_WINDOW_MS	60000
#define EXIT_GRACE_MS		250	/* after EOF, wait for the exit status */
#define EXIT_POLL_MS		100	/* waitpid poll without pidfd */
#define RELIST_DELAY_MS		100	/* list_changed debounce */
#define REFRESH_MAX_S		(24 * 86400)	/* fits a timer in int ms */
#define LOG_LINES_PER_S		200	/* per server, stderr and junk */
#define LOG_JUNK_MAX		200
#define MAX_LIST_PAGES		1000
#define MAX_TOOLS		100000
#define DRAIN_MAX		(4 * 1024 * 1024)
#define REPLY_JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | \
				 JSON_C_TO_STRING_NOSLASHESCAPE)

static const char *const server_versions[] = {
	"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", NULL
};

enum proc_state {
	PROC_IDLE = 0,	/* no child; a restart may be armed */
	PROC_INIT,	/* spawned, initialize sent */
	PROC_LIST,	/* initialized, listing tools */
	PROC_READY,
	PROC_CLOSING,	/* EOF or write error: waiting briefly for its exit */
	PROC_DEAD	/* failed or stopping: killed, waiting to reap */
};

struct proc {
	struct server		*srv;
	int			 instance;
	enum proc_state		 state;
	pid_t			 pid;		/* 0: none or reaped */
	pid_t			 pgid;		/* last group led, 0: none */
	atomic_int		 live_pgid;	/* for server_kill(), any thread */
	int			 pidfd;
	int			 infd, outfd, errfd;
	struct event		*in_ev, *out_ev, *err_ev;
	struct event		*exit_ev;	/* pidfd, or the poll timer */
	struct event		*timer_ev;	/* start timeout, exit grace */
	struct event		*restart_ev;
	struct event		*relist_ev;
	struct event		*fail_ev;	/* deferred failure */
	struct evbuffer		*outbuf;
	struct rpc_framer	 out;
	struct rpc_framer	 err;
	char			 head[LINE_HEAD_MAX];
	size_t			 headlen;

	int64_t			 next_id;
	int64_t			 init_id;	/* 0: none outstanding */
	int64_t			 list_id;
	json_object		*list_acc;	/* tools gathered so far */
	int			 list_pages;
	int			 relist;	/* list_changed while listing */
	int			 has_tools;	/* tools capability announced */
	char			 version[16];

	struct server_call	*pending[PROC_HASH];
	int			 inflight;

	char			*close_msg;	/* CLOSING: message without status */
	char			*fail_msg;	/* deferred failure */
	int			 backoff_ms;
	int64_t			 ready_at;	/* monotonic ms */
	int			 attempted;	/* first attempt concluded */
};

/* A per-second budget of log lines. */
struct server_loglimit {
	int64_t		 window;	/* ms */
	int		 lines;
	int		 suppressed;
	const char	*what;
};

struct server {
	struct registry			*reg;
	struct event_base		*base;
	const struct config		*cfg;
	const struct config_server	*cs;
	const char			*name;
	size_t				 index;
	char				**argv;
	char				**envp;
	char				*path;	/* PATH the child will see */

	struct proc			*procs;
	int				 nprocs;
	struct server_call		*qhead, *qtail;
	struct toolset			*tools;	/* I/O thread's reference */
	int				 stopping;
	int				 reported;	/* registry_started() */
	int				 nattempted;
	int64_t				 failures[CRASH_LOOP_FAILURES];
	int				 nfailures;

	struct server_loglimit		 errlog;	/* stderr lines */
	struct server_loglimit		 junklog;	/* non-JSON stdout */
	struct event			*log_ev;	/* reports suppressions */

	/* Read by other threads. */
	pthread_mutex_t			 mtx;
	char				 last_error[512];
	int				 restarts;
	int				 crash_loop;
	int				 exec_failed;
	int				 ever_ready;
	pid_t				 shown_pid;
	atomic_int			 nready;
	atomic_int			 inflight;
	atomic_int			 queued;
};

static int64_t	 now_ms(void);
static char	*server_find_exec(struct server *, char *, size_t);
static char	**server_build_env(const struct config_server *);
static void	 server_dispatch(struct server *);
static int	 server_send_call(struct server *, struct proc *,
		    struct server_call *);
static void	 server_queue_add(struct server *, struct server_call *);
static void	 server_queue_del(struct server *, struct server_call *);
static int	 server_log_ok(struct server *, struct server_loglimit *);
static void	 server_log_cb(evutil_socket_t, short, void *);
static int	 server_failed(struct server *);
static int	 server_crash_loop(struct server *);
static int	 server_retry_after(struct server *);
static void	 server_unchecked_404(struct server *, struct server_call *);
static void	 call_timeout_cb(evutil_socket_t, short, void *);
static void	 call_reply(struct server *, struct server_call *,
		    struct rpc_msg *);

static int	 proc_start(struct proc *);
static int	 proc_spawn(struct proc *, char *, size_t);
static void	 proc_write(struct proc *, const struct iovec *, int);
static void	 proc_send_line(struct proc *, char *, size_t);
static void	 proc_request(struct proc *, int64_t *, const char *,
		    json_object *);
static void	 proc_in_cb(evutil_socket_t, short, void *);
static void	 proc_out_cb(evutil_socket_t, short, void *);
static void	 proc_err_cb(evutil_socket_t, short, void *);
static void	 proc_exit_cb(evutil_socket_t, short, void *);
static void	 proc_timer_cb(evutil_socket_t, short, void *);
static void	 proc_restart_cb(evutil_socket_t, short, void *);
static void	 proc_relist_cb(evutil_socket_t, short, void *);
static void	 proc_arm_refresh(struct proc *);
static void	 proc_fail_cb(evutil_socket_t, short, void *);
static void	 proc_feed_out(struct proc *, const char *, size_t);
static void	 proc_on_line(void *, char *, size_t);
static void	 proc_on_overflow(void *, size_t);
static void	 proc_on_err_line(void *, char *, size_t);
static void	 proc_on_err_overflow(void *, size_t);
static void	 proc_on_request(struct proc *, struct rpc_msg *);
static void	 proc_on_notification(struct proc *, struct rpc_msg *);
static void	 proc_on_init(struct proc *, struct rpc_msg *);
static void	 proc_on_list(struct proc *, struct rpc_msg *);
static void	 proc_list_page(struct proc *, const char *);
static void	 proc_ready(struct proc *);
static void	 proc_fail_later(struct proc *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 proc_closing(struct proc *, const char *);
static void	 proc_down(struct proc *, const char *);
static void	 proc_reaped(struct proc *, int, int);
static void	 proc_close_pipes(struct proc *);
static void	 proc_drain(struct proc *);
static void	 proc_fail_calls(struct proc *, int, const char *);
static void	 proc_schedule_restart(struct proc *);
static void	 proc_kill_group(struct proc *);
static void	 proc_attempted(struct proc *);
static void	 proc_timer(struct proc *, struct event *, int);
static struct server_call *proc_take(struct proc *, int64_t);

/* ------------------------------------------------------------ the calls */

void
server_call_clear(struct server_call *c)
{
	free(c->tool);
	free(c->params);
	free(c->body);
	c->tool = NULL;
	c->params = NULL;
	c->body = NULL;
	c->paramslen = 0;
	c->bodylen = 0;
}

void
server_call_finish(struct server_call *c, int status, json_object *body,
    int retry_after)
{
	const char	*s;
	size_t		 len = 0;

	if (c->timer != NULL) {
		event_free(c->timer);
		c->timer = NULL;
	}
	free(c->body);
	c->body = NULL;
	c->bodylen = 0;
	if (body != NULL) {
		s = json_object_to_json_string_length(body, REPLY_JSON_FLAGS,
		    &len);
		if (s != NULL && (c->body = malloc(len + 1)) != NULL) {
			memcpy(c->body, s, len + 1);
			c->bodylen = len;
		}
		json_object_put(body);
	}
	if (c->body == NULL) {
		/* Out of memory: a fixed answer still goes out. */
		status = 500;
		c->body = strdup("{\"error\":\"out of memory\"}");
		c->bodylen = c->body != NULL ? strlen(c->body) : 0;
	}
	c->status = status;
	c->retry_after = retry_after;
	c->state = SERVER_CALL_DONE;
	c->proc = NULL;
	c->complete(c);
}

void
server_call_fail(struct server_call *c, int status, int retry_after,
    const char *server, const char *msg)
{
	json_object	*o;

	if ((o = json_object_new_object()) != NULL) {
		json_object_object_add(o, "error",
		    json_object_new_string(msg));
		if (server != NULL)
			json_object_object_add(o, "server",
			    json_object_new_string(server));
	}
	server_call_finish(c, status, o, retry_after);
}

/* The first content block's text, or NULL. */
static const char *
first_text(json_object *result)
{
	json_object	*content, *b, *v;

	if (!json_object_object_get_ex(result, "content", &content) ||
	    !json_object_is_type(content, json_type_array) ||
	    json_object_array_length(content) == 0)
		return NULL;
	b = json_object_array_get_idx(content, 0);
	if (!json_object_is_type(b, json_type_object) ||
	    !json_object_object_get_ex(b, "type", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "text") != 0 ||
	    !json_object_object_get_ex(b, "text", &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int
says_not_found(const char *text)
{
	return (strcasestr(text, "not found") != NULL &&
	    strcasestr(text, "tool") != NULL) ||
	    strncasecmp(text, "unknown tool", 12) == 0;
}

static json_object *
not_found_body(const char *full, const char *details)
{
	json_object	*o;
	char		 msg[600];

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	snprintf(msg, sizeof(msg), "Tool '%s' not found", full);
	json_object_object_add(o, "error", json_object_new_string(msg));
	if (details != NULL)
		json_object_object_add(o, "details",
		    json_object_new_string(details));
	return o;
}

int
server_reply_result(const char *server, const char *full, json_object *result,
    json_object **body)
{
	json_object	*o, *v, *content, *b;
	const char	*text;
	char		 msg[512];

	*body = NULL;
	if (!json_object_is_type(result, json_type_object)) {
		if ((o = json_object_new_object()) == NULL)
			return 502;
		snprintf(msg, sizeof(msg), "server '%s' sent an unusable reply "
		    "to tools/call (the result is not an object)", server);
		json_object_object_add(o, "error",
		    json_object_new_string(msg));
		json_object_object_add(o, "server",
		    json_object_new_string(server));
		*body = o;
		return 502;
	}
	text = first_text(result);
	if (json_object_object_get_ex(result, "isError", &v) &&
	    json_object_get_boolean(v)) {
		if (text != NULL && says_not_found(text)) {
			*body = not_found_body(full, text);
			return 404;
		}
		if ((o = json_object_new_object()) == NULL)
			return 422;
		json_object_object_add(o, "error", json_object_new_string(
		    text != NULL && text[0] != '\0' ? text :
		    "tool reported an error"));
		json_object_object_add(o, "result", json_object_get(result));
		*body = o;
		return 422;
	}
	if ((o = json_object_new_object()) == NULL)
		return 200;
	if (text != NULL && text[0] != '\0') {
		/* Share the string object: no copy of a large text. */
		json_object_object_get_ex(result, "content", &content);
		b = json_object_array_get_idx(content, 0);
		json_object_object_get_ex(b, "text", &v);
		json_object_object_add(o, "result", json_object_get(v));
	} else
		json_object_object_add(o, "result", json_object_get(result));
	*body = o;
	return 200;
}

int
server_reply_error(const char *server, const char *full, int code,
    const char *message, json_object *data, json_object **body)
{
	json_object	*o;
	char		 msg[1024];
	int		 status;

	if (message == NULL)
		message = "";
	if (code == RPC_INVALID_PARAMS && (strcasestr(message,
	    "not found") != NULL || strncasecmp(message, "unknown tool",
	    12) == 0)) {
		o = not_found_body(full, message);
		status = 404;
	} else {
		if (code == RPC_INVALID_PARAMS) {
			snprintf(msg, sizeof(msg), "server '%s' rejected the "
			    "arguments: %s", server, message);
			status = 400;
		} else {
			snprintf(msg, sizeof(msg), "server '%s' returned "
			    "JSON-RPC error %d: %s", server, code, message);
			status = 502;
		}
		if ((o = json_object_new_object()) != NULL)
			json_object_object_add(o, "error",
			    json_object_new_string(msg));
	}
	if (o != NULL && data != NULL)
		json_object_object_add(o, "data", json_object_get(data));
	*body = o;
	return status;
}

int
server_scan_id(const char *s, size_t n, int64_t *id)
{
	size_t		 i, j, key = 0;
	int		 depth = 0, instr = 0, esc = 0, neg, digits;
	uint64_t	 v;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (instr) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"') {
				instr = 0;
				if (depth != 1 || i - key != 2 ||
				    memcmp(s + key, "id", 2) != 0)
					continue;
				j = i + 1;
				while (j < n && isspace((unsigned char)s[j]))
					j++;
				if (j >= n || s[j] != ':')
					continue;
				j++;
				while (j < n && isspace((unsigned char)s[j]))
					j++;
				neg = j < n && s[j] == '-';
				if (neg)
					j++;
				for (v = 0, digits = 0; j < n &&
				    isdigit((unsigned char)s[j]) &&
				    digits < 18; j++, digits++)
					v = v * 10 + (uint64_t)(s[j] - '0');
				/* A number cut by the end of what we kept, a
				 * fraction, or no number at all: unknown. */
				if (digits == 0 || j >= n || s[j] == '.' ||
				    s[j] == 'e' || s[j] == 'E' ||
				    isdigit((unsigned char)s[j]))
					return -1;
				*id = neg ? -(int64_t)v : (int64_t)v;
				return 0;
			}
			continue;
		}
		if (c == '"') {
			instr = 1;
			key = i + 1;
		} else if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
	}
	return -1;
}

/* ------------------------------------------------------------- helpers */

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Arms (ms >= 0) or cancels (ms < 0) one of a child's timers. */
static void
proc_timer(struct proc *p, struct event *ev, int ms)
{
	struct timeval	tv;

	if (ms < 0) {
		evtimer_del(ev);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

/* 1 while a server's log budget for this second lasts. */
static int
server_log_ok(struct server *srv, struct server_loglimit *ll)
{
	struct timespec	ts;
	struct timeval	tv = { 1, 0 };
	int64_t		ms;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (ms - ll->window >= 1000) {
		if (ll->suppressed > 0)
			log_info("server %s: suppressed %d %s", srv->name,
			    ll->suppressed, ll->what);
		ll->window = ms;
		ll->lines = 0;
		ll->suppressed = 0;
	}
	if (ll->lines < LOG_LINES_PER_S) {
		ll->lines++;
		return 1;
	}
	/* The count is reported a second later even if nothing follows. */
	if (ll->suppressed++ == 0 && !evtimer_pending(srv->log_ev, NULL))
		evtimer_add(srv->log_ev, &tv);
	return 0;
}

static void
server_log_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	struct timeval	 tv = { 1, 0 };
	int		 again = 0;

	if (srv->errlog.suppressed > 0) {
		log_info("server %s: suppressed %d %s", srv->name,
		    srv->errlog.suppressed, srv->errlog.what);
		srv->errlog.suppressed = 0;
		again = 1;
	}
	if (srv->junklog.suppressed > 0) {
		log_info("server %s: suppressed %d %s", srv->name,
		    srv->junklog.suppressed, srv->junklog.what);
		srv->junklog.suppressed = 0;
		again = 1;
	}
	/* Still flooding: report again next second. */
	if (again)
		evtimer_add(srv->log_ev, &tv);
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
	if (cs->inherit_env) {
		for (e = environ; e != NULL && *e != NULL; e++) {
			klen = strcspn(*e, "=");
			for (overridden = 0, k = 0; k < cs->nenv; k++)
				if (strlen(cs->env[k].key) == klen &&
				    strncmp(cs->env[k].key, *e, klen) == 0)
					overridden = 1;
			if (!overridden && (envp[n++] = strdup(*e)) == NULL)
				goto fail;
		}
	} else {
		for (i = 0; base[i] != NULL; i++) {
			if ((v = getenv(base[i])) == NULL)
				continue;
			for (overridden = 0, k = 0; k < cs->nenv; k++)
				if (strcmp(cs->env[k].key, base[i]) == 0)
					overridden = 1;
			if (overridden)
				continue;
			if (asprintf(&envp[n], "%s=%s", base[i], v) == -1) {
				envp[n] = NULL;
				goto fail;
			}
			n++;
		}
	}
	for (k = 0; k < cs->nenv; k++) {
		if (asprintf(&envp[n], "%s=%s", cs->env[k].key,
		    cs->env[k].value) == -1) {
			envp[n] = NULL;
			goto fail;
		}
		n++;
	}
	return envp;
fail:
	for (e = envp; *e != NULL; e++)
		free(*e);
	free(envp);
	return NULL;
}

struct server *
server_new(struct registry *reg, struct event_base *base,
    const struct config *cfg, size_t index)
{
	struct server	*srv;
	struct proc	*p;
	char		**e;
	size_t		 i;
	int		 n;

	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return NULL;
	srv->reg = reg;
	srv->base = base;
	srv->cfg = cfg;
	srv->cs = &cfg->servers[index];
	srv->name = srv->cs->name;
	srv->index = index;
	pthread_mutex_init(&srv->mtx, NULL);
	srv->errlog.what = "lines of stderr";
	srv->junklog.what = "non-JSON-RPC lines on stdout";
	atomic_init(&srv->nready, 0);
	atomic_init(&srv->inflight, 0);
	atomic_init(&srv->queued, 0);

	if ((srv->log_ev = evtimer_new(base, server_log_cb, srv)) == NULL)
		goto fail;
	if ((srv->argv = calloc(srv->cs->nargs + 2,
	    sizeof(*srv->argv))) == NULL)
		goto fail;
	srv->argv[0] = srv->cs->command;
	for (i = 0; i < srv->cs->nargs; i++)
		srv->argv[i + 1] = srv->cs->args[i];
	if ((srv->envp = server_build_env(srv->cs)) == NULL)
		goto fail;
	for (e = srv->envp; *e != NULL; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			srv->path = *e + 5;

	n = srv->cs->instances > 0 ? srv->cs->instances : 1;
	if ((srv->procs = calloc((size_t)n, sizeof(*srv->procs))) == NULL)
		goto fail;
	srv->nprocs = n;
	for (i = 0; i < (size_t)n; i++) {
		p = &srv->procs[i];
		p->srv = srv;
		p->instance = (int)i;
		p->pidfd = p->infd = p->outfd = p->errfd = -1;
		p->next_id = 1;
		p->backoff_ms = BACKOFF_MIN_MS;
		p->timer_ev = evtimer_new(base, proc_timer_cb, p);
		p->restart_ev = evtimer_new(base, proc_restart_cb, p);
		p->relist_ev = evtimer_new(base, proc_relist_cb, p);
		p->fail_ev = event_new(base, -1, 0, proc_fail_cb, p);
		p->outbuf = evbuffer_new();
		if (p->timer_ev == NULL || p->restart_ev == NULL ||
		    p->relist_ev == NULL || p->fail_ev == NULL ||
		    p->outbuf == NULL)
			goto fail;
		rpc_framer_init(&p->out, srv->cfg->max_message_bytes > 0 ?
		    srv->cfg->max_message_bytes :
		    CONFIG_DEFAULT_MAX_MESSAGE_BYTES);
		rpc_framer_init(&p->err, STDERR_LINE_MAX);
	}
	return srv;
fail:
	server_free(srv);
	return NULL;
}

void
server_free(struct server *srv)
{
	struct proc	*p;
	char		**e;
	int		 i;

	if (srv == NULL)
		return;
	for (i = 0; i < srv->nprocs; i++) {
		p = &srv->procs[i];
		proc_close_pipes(p);
		if (p->exit_ev != NULL)
			event_free(p->exit_ev);
		if (p->pidfd != -1)
			close(p->pidfd);
		if (p->timer_ev != NULL)
			event_free(p->timer_ev);
		if (p->restart_ev != NULL)
			event_free(p->restart_ev);
		if (p->relist_ev != NULL)
			event_free(p->relist_ev);
		if (p->fail_ev != NULL)
			event_free(p->fail_ev);
		if (p->outbuf != NULL)
			evbuffer_free(p->outbuf);
		rpc_framer_free(&p->out);
		rpc_framer_free(&p->err);
		json_object_put(p->list_acc);
		free(p->close_msg);
		free(p->fail_msg);
	}
	free(srv->procs);
	if (srv->log_ev != NULL)
		event_free(srv->log_ev);
	if (srv->tools != NULL)
		toolset_release(srv->tools);
	for (e = srv->envp; e != NULL && *e != NULL; e++)
		free(*e);
	free(srv->envp);
	free(srv->argv);
	pthread_mutex_destroy(&srv->mtx);
	free(srv);
}

void
server_start(struct server *srv)
{
	int	i;

	if (srv->cs->disabled)
		return;
	for (i = 0; i < srv->nprocs; i++)
		proc_start(&srv->procs[i]);
}

/* ---------------------------------------------------------------- calls */

void
server_submit(struct server *srv, struct server_call *c)
{
	struct timeval		 tv;
	const struct timeval	*tvp;
	char			 msg[700];
	int			 ms;

	c->state = SERVER_CALL_NEW;
	c->srv = srv;
	c->proc = NULL;
	c->id = 0;
	if (c->params == NULL || c->tool == NULL) {
		server_call_fail(c, 500, 0, NULL, "internal error: a call "
		    "without a tool or params");
		return;
	}
	if (srv->stopping) {
		server_call_fail(c, 503, 1, NULL, "server shutting down");
		return;
	}
	/* A server that cannot start answers at once instead of holding
	 * the call until its timeout. */
	if (atomic_load_explicit(&srv->nready, memory_order_relaxed) == 0 &&
	    server_failed(srv)) {
		pthread_mutex_lock(&srv->mtx);
		snprintf(msg, sizeof(msg), "server '%s' is not available: %s",
		    srv->name, srv->last_error);
		pthread_mutex_unlock(&srv->mtx);
		server_call_fail(c, 503, server_retry_after(srv), srv->name,
		    msg);
		return;
	}
	ms = c->timeout_ms > 0 ? c->timeout_ms : (srv->cs->timeout_ms > 0 ?
	    srv->cs->timeout_ms : CONFIG_DEFAULT_SERVER_TIMEOUT_MS);
	c->timeout_ms = ms;
	if ((c->timer = evtimer_new(srv->base, call_timeout_cb, c)) == NULL) {
		server_call_fail(c, 500, 0, NULL, "out of memory");
		return;
	}
	tvp = registry_timeout(srv->reg, ms, &tv);
	evtimer_add(c->timer, tvp);
	server_queue_add(srv, c);
	server_dispatch(srv);
}

static void
server_queue_add(struct server *srv, struct server_call *c)
{
	c->state = SERVER_CALL_QUEUED;
	c->qnext = NULL;
	c->qprev = srv->qtail;
	if (srv->qtail != NULL)
		srv->qtail->qnext = c;
	else
		srv->qhead = c;
	srv->qtail = c;
	atomic_fetch_add_explicit(&srv->queued, 1, memory_order_relaxed);
}

static void
server_queue_del(struct server *srv, struct server_call *c)
{
	if (c->qprev != NULL)
		c->qprev->qnext = c->qnext;
	else
		srv->qhead = c->qnext;
	if (c->qnext != NULL)
		c->qnext->qprev = c->qprev;
	else
		srv->qtail = c->qprev;
	c->qnext = c->qprev = NULL;
	atomic_fetch_sub_explicit(&srv->queued, 1, memory_order_relaxed);
}

/* Sends queued calls to the ready children with the fewest in flight. */
static void
server_dispatch(struct server *srv)
{
	struct server_call	*c;
	struct proc		*p, *best;
	int			 i, max;

	max = srv->cs->max_concurrent > 0 ? srv->cs->max_concurrent :
	    CONFIG_DEFAULT_MAX_CONCURRENT;
	while ((c = srv->qhead) != NULL) {
		best = NULL;
		for (i = 0; i < srv->nprocs; i++) {
			p = &srv->procs[i];
			if (p->state != PROC_READY || p->inflight >= max)
				continue;
			if (best == NULL || p->inflight < best->inflight)
				best = p;
		}
		if (best == NULL)
			return;
		server_queue_del(srv, c);
		if (c->unchecked && srv->tools != NULL &&
		    toolset_find(srv->tools, c->tool) == NULL) {
			server_unchecked_404(srv, c);
			continue;
		}
		server_send_call(srv, best, c);
	}
}

static void
server_unchecked_404(struct server *srv, struct server_call *c)
{
	json_object	*o;
	char		 full[512];

	snprintf(full, sizeof(full), "mcp__%s__%s", srv->name, c->tool);
	if ((o = not_found_body(full, NULL)) != NULL)
		json_object_object_add(o, "suggestions",
		    toolset_suggestions(srv->tools, c->tool, 3));
	server_call_finish(c, 404, o, 0);
}

static int
server_send_call(struct server *srv, struct proc *p, struct server_call *c)
{
	struct iovec	iov[3];
	char		prefix[96];
	size_t		b;
	int		n;

	c->id = p->next_id++;
	c->proc = p;
	c->state = SERVER_CALL_SENT;
	b = (size_t)c->id & (PROC_HASH - 1);
	c->hnext = p->pending[b];
	p->pending[b] = c;
	p->inflight++;
	atomic_fetch_add_explicit(&srv->inflight, 1, memory_order_relaxed);

	n = snprintf(prefix, sizeof(prefix), "{\"jsonrpc\":\"2.0\",\"id\":%"
	    PRId64 ",\"method\":\"tools/call\",\"params\":", c->id);
	iov[0].iov_base = prefix;
	iov[0].iov_len = (size_t)n;
	iov[1].iov_base = c->params;
	iov[1].iov_len = c->paramslen;
	iov[2].iov_base = (char *)(uintptr_t)"}\n";
	iov[2].iov_len = 2;
	proc_write(p, iov, 3);
	return 0;
}

static struct server_call *
proc_take(struct proc *p, int64_t id)
{
	struct server_call	**cp, *c;

	for (cp = &p->pending[(size_t)id & (PROC_HASH - 1)]; (c = *cp) !=
	    NULL; cp = &c->hnext)
		if (c->id == id) {
			*cp = c->hnext;
			c->hnext = NULL;
			p->inflight--;
			atomic_fetch_sub_explicit(&p->srv->inflight, 1,
			    memory_order_relaxed);
			return c;
		}
	return NULL;
}

static void
call_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_call	*c = arg;
	struct proc		*p = c->proc;
	struct server		*srv;
	json_object		*o;
	char			 msg[700], full[512];
	int			 i, ready = 0;

	if (c->state == SERVER_CALL_SENT && p != NULL) {
		srv = p->srv;
		proc_take(p, c->id);
		if (p->infd != -1) {
			char	*line;
			int	 len;

			len = asprintf(&line, "{\"jsonrpc\":\"2.0\",\"method\":"
			    "\"notifications/cancelled\",\"params\":{"
			    "\"requestId\":%" PRId64 ",\"reason\":\"timeout "
			    "after %d ms\"}}\n", c->id, c->timeout_ms);
			if (len > 0) {
				proc_send_line(p, line, (size_t)len);
				free(line);
			}
		}
		snprintf(full, sizeof(full), "mcp__%s__%s", srv->name,
		    c->tool);
		snprintf(msg, sizeof(msg), "Tool call timed out after %d ms",
		    c->timeout_ms);
		log_info("server %s[%d]: %s timed out after %d ms (id %"
		    PRId64 ")", srv->name, p->instance, c->tool,
		    c->timeout_ms, c->id);
		if ((o = json_object_new_object()) != NULL) {
			json_object_object_add(o, "error",
			    json_object_new_string(msg));
			json_object_object_add(o, "tool",
			    json_object_new_string(full));
		}
		server_call_finish(c, 504, o, 0);
		server_dispatch(srv);
		return;
	}
	if (c->state != SERVER_CALL_QUEUED || (srv = c->srv) == NULL)
		return;
	server_queue_del(srv, c);
	for (i = 0; i < srv->nprocs; i++)
		if (srv->procs[i].state == PROC_READY)
			ready = 1;
	if (ready) {
		/* Every ready child was at maxConcurrent all along. */
		snprintf(full, sizeof(full), "mcp__%s__%s", srv->name, c->tool);
		snprintf(msg, sizeof(msg), "Tool call timed out after %d ms "
		    "waiting for a free slot on server '%s'", c->timeout_ms,
		    srv->name);
		if ((o = json_object_new_object()) != NULL) {
			json_object_object_add(o, "error",
			    json_object_new_string(msg));
			json_object_object_add(o, "tool",
			    json_object_new_string(full));
		}
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
call_reply(struct server *srv, struct server_call *c, struct rpc_msg *msg)
{
	json_object	*body = NULL;
	char		 full[512];
	int		 status;

	snprintf(full, sizeof(full), "mcp__%s__%s", srv->name, c->tool);
	if (msg->kind == RPC_RESULT)
		status = server_reply_result(srv->name, full, msg->result,
		    &body);
	else
		status = server_reply_error(srv->name, full, msg->err_code,
		    msg->err_message, msg->err_data, &body);
	server_call_finish(c, status, body, 0);
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

/* Seconds until the next restart, 1..5. */
static int
server_retry_after(struct server *srv)
{
	struct timeval	tv, now;
	int64_t		best = -1, ms;
	int		i;

	evutil_gettimeofday(&now, NULL);
	for (i = 0; i < srv->nprocs; i++) {
		if (!evtimer_pending(srv->procs[i].restart_ev, &tv))
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
	srv->failures[srv->nfailures % CRASH_LOOP_FAILURES] = now;
	srv->nfailures++;
	oldest = srv->failures[srv->nfailures % CRASH_LOOP_FAILURES];
	srv->crash_loop = srv->nfailures >= CRASH_LOOP_FAILURES &&
	    now - oldest <= CRASH_LOOP_WINDOW_MS;
	pthread_mutex_unlock(&srv->mtx);
}

json_object *
server_health(struct server *srv)
{
	json_object	*o;
	const char	*state;
	int		 nready, crash;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	nready = atomic_load_explicit(&srv->nready, memory_order_relaxed);
	pthread_mutex_lock(&srv->mtx);
	crash = server_crash_loop(srv);
	if (srv->cs->disabled)
		state = "disabled";
	else if (nready > 0)
		state = "ready";
	else if (srv->exec_failed || crash)
		state = "failed";
	else if (srv->restarts == 0 && srv->last_error[0] == '\0')
		state = "starting";
	else
		state = "restarting";
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "pid", srv->shown_pid > 0 ?
	    json_object_new_int(srv->shown_pid) : NULL);
	json_object_object_add(o, "instances",
	    json_object_new_int(srv->nprocs));
	json_object_object_add(o, "ready", json_object_new_int(nready));
	json_object_object_add(o, "restarts",
	    json_object_new_int(srv->restarts));
	json_object_object_add(o, "lastError", srv->last_error[0] != '\0' ?
	    json_object_new_string(srv->last_error) : NULL);
	json_object_object_add(o, "crashLoop", json_object_new_boolean(crash));
	pthread_mutex_unlock(&srv->mtx);
	json_object_object_add(o, "inflight", json_object_new_int(
	    atomic_load_explicit(&srv->inflight, memory_order_relaxed)));
	json_object_object_add(o, "queued", json_object_new_int(
	    atomic_load_explicit(&srv->queued, memory_order_relaxed)));
	return o;
}

int
server_ready(struct server *srv)
{
	return atomic_load_explicit(&srv->nready, memory_order_relaxed) > 0;
}

/* ------------------------------------------------------------- children */

static char *
server_find_exec(struct server *srv, char *buf, size_t len)
{
	const char	*cmd = srv->cs->command, *path, *dir, *end;
	struct stat	 st;
	int		 n;

	if (strchr(cmd, '/') != NULL) {
		if (cmd[0] == '/') {
			if ((size_t)snprintf(buf, len, "%s", cmd) >= len) {
				errno = ENAMETOOLONG;
				return NULL;
			}
			return buf;
		}
		/* Relative to the daemon's cwd, not to the child's. */
		if (len < PATH_MAX) {
			errno = ENAMETOOLONG;
			return NULL;
		}
		return realpath(cmd, buf);
	}
	if ((path = srv->path) == NULL && (path = getenv("PATH")) == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (dir = path;; dir = end + 1) {
		end = strchrnul(dir, ':');
		n = snprintf(buf, len, "%.*s/%s", (int)(end - dir),
		    end == dir ? "." : dir, cmd);
		if (end == dir)
			n = snprintf(buf, len, "./%s", cmd);
		if (n > 0 && (size_t)n < len && stat(buf, &st) == 0 &&
		    S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
			return buf;
		if (*end == '\0')
			break;
	}
	errno = ENOENT;
	return NULL;
}

static int
proc_spawn(struct proc *p, char *err, size_t errlen)
{
	struct server			*srv = p->srv;
	const struct config_server	*cs = srv->cs;
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	sigset_t			 sigs;
	char				 path[PATH_MAX + 1];
	int				 fds[6] = { -1, -1, -1, -1, -1, -1 };
	int				 i, fd, rc, fa_ok = 0, attr_ok = 0;
	pid_t				 pid = 0;

	if (server_find_exec(srv, path, sizeof(path)) == NULL) {
		snprintf(err, errlen, "cannot execute '%s': %s", cs->command,
		    strerror(errno));
		return -1;
	}
	if (pipe2(fds, O_CLOEXEC) == -1 || pipe2(fds + 2, O_CLOEXEC) == -1 ||
	    pipe2(fds + 4, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "cannot create pipes for '%s': %s",
		    cs->command, strerror(errno));
		goto fail;
	}
	/* Keep our ends off 0-2 so the dup2s below cannot collide. */
	for (i = 0; i < 6; i++) {
		if (fds[i] > 2)
			continue;
		if ((fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) == -1) {
			snprintf(err, errlen, "fcntl: %s", strerror(errno));
			goto fail;
		}
		close(fds[i]);
		fds[i] = fd;
	}
	if (fcntl(fds[1], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(fds[2], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(fds[4], F_SETFL, O_NONBLOCK) == -1) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		goto fail;
	}
	/* Fewer wake-ups for large replies (kept modest: pipe pages count
	 * against a per-user budget); the default 64 KiB is fine when the
	 * system refuses. */
	(void)fcntl(fds[2], F_SETPIPE_SZ, 256 * 1024);

	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		goto spawn_fail;
	fa_ok = 1;
	if ((rc = posix_spawn_file_actions_adddup2(&fa, fds[0], 0)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, fds[3], 1)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, fds[5], 2)) != 0)
		goto spawn_fail;
	if (cs->cwd != NULL && (rc = posix_spawn_file_actions_addchdir_np(&fa,
	    cs->cwd)) != 0)
		goto spawn_fail;
	if ((rc = posix_spawnattr_init(&attr)) != 0)
		goto spawn_fail;
	attr_ok = 1;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGPIPE);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGCHLD);
	if ((rc = posix_spawnattr_setsigdefault(&attr, &sigs)) != 0)
		goto spawn_fail;
	sigemptyset(&sigs);
	if ((rc = posix_spawnattr_setsigmask(&attr, &sigs)) != 0 ||
	    (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)) != 0)
		goto spawn_fail;
	rc = posix_spawn(&pid, path, &fa, &attr, srv->argv, srv->envp);
	if (rc != 0) {
		pid = 0;
		goto spawn_fail;
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(fds[0]);
	close(fds[3]);
	close(fds[5]);

	p->pid = p->pgid = pid;
	atomic_store(&p->live_pgid, (int)pid);
	p->infd = fds[1];
	p->outfd = fds[2];
	p->errfd = fds[4];
	p->headlen = 0;
	p->in_ev = event_new(srv->base, p->infd, EV_WRITE | EV_PERSIST,
	    proc_in_cb, p);
	p->out_ev = event_new(srv->base, p->outfd, EV_READ | EV_PERSIST,
	    proc_out_cb, p);
	p->err_ev = event_new(srv->base, p->errfd, EV_READ | EV_PERSIST,
	    proc_err_cb, p);
	if ((p->pidfd = pidfd_open(pid, 0)) != -1)
		p->exit_ev = event_new(srv->base, p->pidfd,
		    EV_READ | EV_PERSIST, proc_exit_cb, p);
	else
		p->exit_ev = event_new(srv->base, -1, EV_PERSIST,
		    proc_exit_cb, p);
	if (p->in_ev == NULL || p->out_ev == NULL || p->err_ev == NULL ||
	    p->exit_ev == NULL) {
		snprintf(err, errlen, "out of memory");
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		p->pid = 0;
		atomic_store(&p->live_pgid, 0);
		if (p->exit_ev != NULL)
			event_free(p->exit_ev);
		p->exit_ev = NULL;
		if (p->pidfd != -1)
			close(p->pidfd);
		p->pidfd = -1;
		proc_close_pipes(p);
		return -1;
	}
	event_add(p->out_ev, NULL);
	event_add(p->err_ev, NULL);
	if (p->pidfd != -1)
		event_add(p->exit_ev, NULL);
	else
		proc_timer(p, p->exit_ev, EXIT_POLL_MS);
	return 0;

spawn_fail:
	if (cs->cwd != NULL)
		snprintf(err, errlen, "cannot execute '%s' in '%s': %s",
		    cs->command, cs->cwd, strerror(rc));
	else
		snprintf(err, errlen, "cannot execute '%s': %s", cs->command,
		    strerror(rc));
fail:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	for (i = 0; i < 6; i++)
		if (fds[i] != -1)
			close(fds[i]);
	return -1;
}

static int
proc_start(struct proc *p)
{
	struct server	*srv = p->srv;
	json_object	*params, *info;
	char		 err[600];
	int		 ms;

	if (srv->stopping)
		return -1;
	if (proc_spawn(p, err, sizeof(err)) == -1) {
		log_warnx("server %s[%d]: %s", srv->name, p->instance, err);
		pthread_mutex_lock(&srv->mtx);
		srv->exec_failed = 1;
		pthread_mutex_unlock(&srv->mtx);
		server_note_failure(srv, err);
		proc_attempted(p);
		proc_schedule_restart(p);
		return -1;
	}
	pthread_mutex_lock(&srv->mtx);
	srv->exec_failed = 0;
	pthread_mutex_unlock(&srv->mtx);
	log_debug("%s: server %s[%d]: pid %d", __func__, srv->name,
	    p->instance, (int)p->pid);
	p->state = PROC_INIT;
	p->has_tools = 0;
	p->relist = 0;

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
	ms = srv->cfg->start_timeout_ms > 0 ? srv->cfg->start_timeout_ms :
	    CONFIG_DEFAULT_START_TIMEOUT_MS;
	proc_timer(p, p->timer_ev, ms);
	/* A write error here turns the timer into the exit grace timer. */
	proc_request(p, &p->init_id, "initialize", params);
	json_object_put(params);
	return 0;
}

/* Sends a request with the child's next id, stored in *idp. */
static void
proc_request(struct proc *p, int64_t *idp, const char *method,
    json_object *params)
{
	char	*line;
	size_t	 len;

	*idp = p->next_id++;
	if ((line = rpc_encode_request(*idp, method, params, &len)) == NULL) {
		proc_fail_later(p, "server '%s': out of memory", p->srv->name);
		return;
	}
	proc_send_line(p, line, len);
	free(line);
}

static void
proc_send_line(struct proc *p, char *line, size_t len)
{
	struct iovec	iov;

	iov.iov_base = line;
	iov.iov_len = len;
	proc_write(p, &iov, 1);
}

/* Writes at once when nothing is queued; queues the rest for EV_WRITE. */
static void
proc_write(struct proc *p, const struct iovec *iov, int n)
{
	ssize_t	w = 0;
	size_t	off;
	int	i;

	if (p->infd == -1)
		return;
	if (evbuffer_get_length(p->outbuf) == 0) {
		do
			w = writev(p->infd, iov, n);
		while (w == -1 && errno == EINTR);
		if (w == -1) {
			if (errno != EAGAIN) {
				if (errno != EPIPE)
					log_warn("server %s[%d]: write",
					    p->srv->name, p->instance);
				proc_closing(p, "closed its stdin");
				return;
			}
			w = 0;
		}
	}
	off = (size_t)w;
	for (i = 0; i < n; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		evbuffer_add(p->outbuf, (const char *)iov[i].iov_base + off,
		    iov[i].iov_len - off);
		off = 0;
	}
	if (evbuffer_get_length(p->outbuf) > 0)
		event_add(p->in_ev, NULL);
}

static void
proc_in_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;
	int		 w;

	w = evbuffer_write(p->outbuf, fd);
	if (w == -1 && errno != EAGAIN && errno != EINTR) {
		if (errno != EPIPE)
			log_warn("server %s[%d]: write", p->srv->name,
			    p->instance);
		proc_closing(p, "closed its stdin");
		return;
	}
	if (evbuffer_get_length(p->outbuf) == 0)
		event_del(p->in_ev);
}

static void
proc_out_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;
	char		*buf;
	size_t		 cap;
	ssize_t		 n;
	int		 i;

	buf = registry_readbuf(p->srv->reg, &cap);
	for (i = 0; i < 8; i++) {
		n = read(fd, buf, cap);
		if (n > 0) {
			proc_feed_out(p, buf, (size_t)n);
			if ((size_t)n < cap || p->outfd != fd)
				return;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1)
			log_warn("server %s[%d]: read", p->srv->name,
			    p->instance);
		event_del(p->out_ev);
		proc_closing(p, "closed its stdout");
		return;
	}
}

/* Feeds stdout to the framer line by line, keeping the head of the
 * current line to find the id of a line too long to parse. */
static void
proc_feed_out(struct proc *p, const char *data, size_t n)
{
	const char	*nl;
	size_t		 seg, body, k;

	while (n > 0) {
		nl = memchr(data, '\n', n);
		seg = nl != NULL ? (size_t)(nl - data) + 1 : n;
		body = nl != NULL ? seg - 1 : seg;
		if (p->headlen < LINE_HEAD_MAX) {
			k = LINE_HEAD_MAX - p->headlen;
			if (k > body)
				k = body;
			memcpy(p->head + p->headlen, data, k);
			p->headlen += k;
		}
		rpc_framer_feed(&p->out, data, seg, proc_on_line,
		    proc_on_overflow, p);
		if (nl != NULL)
			p->headlen = 0;
		data += seg;
		n -= seg;
	}
}

static void
proc_on_overflow(void *arg, size_t total)
{
	struct proc		*p = arg;
	struct server		*srv = p->srv;
	struct server_call	*c;
	char			 msg[256];
	int64_t			 id;

	snprintf(msg, sizeof(msg), "server '%s' sent a message larger than "
	    "maxMessageBytes (%zu bytes)", srv->name, p->out.max);
	if (server_scan_id(p->head, p->headlen, &id) == 0) {
		if ((p->init_id != 0 && id == p->init_id) ||
		    (p->list_id != 0 && id == p->list_id)) {
			proc_fail_later(p, "%s", msg);
			return;
		}
		if ((c = proc_take(p, id)) != NULL) {
			log_warnx("server %s[%d]: reply to %s (id %" PRId64
			    ") is %zu bytes, more than maxMessageBytes; "
			    "dropped", srv->name, p->instance, c->tool, id,
			    total);
			server_call_fail(c, 502, 0, srv->name, msg);
			server_dispatch(srv);
			return;
		}
	}
	log_warnx("server %s[%d]: dropped a stdout line of %zu bytes (more "
	    "than maxMessageBytes)", srv->name, p->instance, total);
}

static void
proc_on_line(void *arg, char *line, size_t len)
{
	struct proc		*p = arg;
	struct server		*srv = p->srv;
	struct server_call	*c;
	struct rpc_msg		 msg;
	char			 err[128];

	if (rpc_parse_line(line, len, &msg, err, sizeof(err)) == -1) {
		if (server_log_ok(srv, &srv->junklog))
			log_warnx("server %s[%d]: skipping a stdout line that "
			    "is not JSON-RPC (%s): %.*s", srv->name,
			    p->instance, err, LOG_JUNK_MAX, line);
		return;
	}
	switch (msg.kind) {
	case RPC_REQUEST:
		proc_on_request(p, &msg);
		break;
	case RPC_NOTIFICATION:
		proc_on_notification(p, &msg);
		break;
	case RPC_RESULT:
	case RPC_ERROR:
		if (!msg.id_is_int) {
			if (msg.kind == RPC_ERROR)
				log_warnx("server %s[%d]: JSON-RPC error %d "
				    "without a usable id: %s", srv->name,
				    p->instance, msg.err_code,
				    msg.err_message);
			else
				log_debug("%s: server %s[%d]: dropping a "
				    "response with a non-integer id", __func__,
				    srv->name, p->instance);
			break;
		}
		if (p->init_id != 0 && msg.id_int == p->init_id)
			proc_on_init(p, &msg);
		else if (p->list_id != 0 && msg.id_int == p->list_id)
			proc_on_list(p, &msg);
		else if ((c = proc_take(p, msg.id_int)) != NULL) {
			call_reply(srv, c, &msg);
			server_dispatch(srv);
		} else
			log_debug("%s: server %s[%d]: dropping a response "
			    "with unknown id %" PRId64, __func__, srv->name,
			    p->instance, msg.id_int);
		break;
	}
	rpc_msg_free(&msg);
}

static void
proc_on_request(struct proc *p, struct rpc_msg *msg)
{
	char	*line;
	size_t	 len;

	if (strcmp(msg->method, "ping") == 0)
		line = rpc_encode_result(msg->id, NULL, &len);
	else {
		log_debug("%s: server %s[%d]: refusing request %s", __func__,
		    p->srv->name, p->instance, msg->method);
		line = rpc_encode_error(msg->id, RPC_METHOD_NOT_FOUND,
		    "Method not found", &len);
	}
	if (line != NULL) {
		proc_send_line(p, line, len);
		free(line);
	}
}

static void
proc_on_notification(struct proc *p, struct rpc_msg *msg)
{
	struct server	*srv = p->srv;
	const char	*m = msg->method;

	if (strcmp(m, "notifications/tools/list_changed") == 0) {
		log_debug("%s: server %s[%d]: tool list changed", __func__,
		    srv->name, p->instance);
		if (p->state == PROC_LIST || p->list_id != 0)
			p->relist = 1;
		else if (p->state == PROC_READY)
			proc_timer(p, p->relist_ev, RELIST_DELAY_MS);
	} else if (strcmp(m, "notifications/progress") == 0 ||
	    strcmp(m, "notifications/message") == 0) {
		if (log_get_verbose() > 0)
			log_debug("%s: server %s[%d]: %s %s", __func__,
			    srv->name, p->instance, m, msg->params != NULL ?
			    json_object_to_json_string_ext(msg->params,
			    JSON_C_TO_STRING_PLAIN) : "");
	} else
		log_debug("%s: server %s[%d]: ignoring %s", __func__,
		    srv->name, p->instance, m);
}

static void
proc_on_init(struct proc *p, struct rpc_msg *msg)
{
	static const char	 initialized[] = "{\"jsonrpc\":\"2.0\","
	    "\"method\":\"notifications/initialized\"}\n";
	struct server		*srv = p->srv;
	json_object		*v, *caps;
	const char		*version;
	size_t			 i;

	p->init_id = 0;
	if (p->state != PROC_INIT)
		return;
	if (msg->kind == RPC_ERROR) {
		proc_fail_later(p, "server '%s' failed to initialize: %s "
		    "(JSON-RPC error %d)", srv->name, msg->err_message,
		    msg->err_code);
		return;
	}
	if (!json_object_is_type(msg->result, json_type_object) ||
	    !json_object_object_get_ex(msg->result, "protocolVersion", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		proc_fail_later(p, "server '%s' sent an unusable reply to "
		    "initialize", srv->name);
		return;
	}
	version = json_object_get_string(v);
	for (i = 0; server_versions[i] != NULL; i++)
		if (strcmp(version, server_versions[i]) == 0)
			break;
	if (server_versions[i] == NULL) {
		proc_fail_later(p, "server '%s' speaks an unsupported protocol "
		    "version '%.40s'", srv->name, version);
		return;
	}
	snprintf(p->version, sizeof(p->version), "%s", version);
	p->has_tools = json_object_object_get_ex(msg->result, "capabilities",
	    &caps) && json_object_object_get_ex(caps, "tools", &v);
	proc_send_line(p, (char *)(uintptr_t)initialized,
	    sizeof(initialized) - 1);
	p->state = PROC_LIST;
	proc_list_page(p, NULL);
}

static void
proc_list_page(struct proc *p, const char *cursor)
{
	json_object	*params = NULL;

	if (cursor == NULL) {
		json_object_put(p->list_acc);
		p->list_acc = json_object_new_array();
		p->list_pages = 0;
	}
	if (cursor != NULL) {
		params = json_object_new_object();
		json_object_object_add(params, "cursor",
		    json_object_new_string(cursor));
	}
	proc_request(p, &p->list_id, "tools/list", params);
	json_object_put(params);
}

static void
proc_on_list(struct proc *p, struct rpc_msg *msg)
{
	struct server	*srv = p->srv;
	struct toolset	*ts;
	json_object	*tools, *v;
	size_t		 i, n;

	p->list_id = 0;
	if (p->state != PROC_LIST && p->state != PROC_READY)
		return;
	if (msg->kind == RPC_ERROR) {
		if (p->state == PROC_LIST && !p->has_tools) {
			/* No tools capability: an empty list. */
			json_object_put(p->list_acc);
			p->list_acc = json_object_new_array();
		} else if (p->state == PROC_LIST) {
			proc_fail_later(p, "server '%s' failed to list its "
			    "tools: %s (JSON-RPC error %d)", srv->name,
			    msg->err_message, msg->err_code);
			return;
		} else {
			log_warnx("server %s[%d]: tools/list failed: %s; "
			    "keeping the previous list", srv->name,
			    p->instance, msg->err_message);
			json_object_put(p->list_acc);
			p->list_acc = NULL;
			proc_arm_refresh(p);
			return;
		}
	} else if (json_object_object_get_ex(msg->result, "tools", &tools) &&
	    json_object_is_type(tools, json_type_array)) {
		n = json_object_array_length(tools);
		for (i = 0; i < n && p->list_acc != NULL &&
		    json_object_array_length(p->list_acc) < MAX_TOOLS; i++)
			json_object_array_add(p->list_acc, json_object_get(
			    json_object_array_get_idx(tools, i)));
		p->list_pages++;
		if (json_object_object_get_ex(msg->result, "nextCursor", &v) &&
		    json_object_is_type(v, json_type_string) &&
		    json_object_get_string_len(v) > 0) {
			if (p->list_pages < MAX_LIST_PAGES) {
				proc_list_page(p, json_object_get_string(v));
				return;
			}
			log_warnx("server %s[%d]: more than %d pages of tools; "
			    "using the first %d", srv->name, p->instance,
			    MAX_LIST_PAGES, MAX_LIST_PAGES);
		}
	} else if (p->state == PROC_LIST) {
		proc_fail_later(p, "server '%s' sent an unusable reply to "
		    "tools/list", srv->name);
		return;
	}
	if (p->list_acc == NULL)
		return;
	ts = registry_publish(srv->reg, srv->index, p->list_acc);
	json_object_put(p->list_acc);
	p->list_acc = NULL;
	if (ts != NULL) {
		if (srv->tools != NULL)
			toolset_release(srv->tools);
		srv->tools = ts;
	}
	if (p->state == PROC_LIST)
		proc_ready(p);
	else
		log_info("server %s[%d]: tool list changed: %zu tools",
		    srv->name, p->instance, ts != NULL ?
		    toolset_count(ts) : (size_t)0);
	if (p->relist && p->state == PROC_READY) {
		p->relist = 0;
		proc_timer(p, p->relist_ev, RELIST_DELAY_MS);
	} else
		proc_arm_refresh(p);
}

/*
 * schemaCacheTtlSeconds: the first instance lists its tools again when the
 * list is that old (0: only on list_changed and restarts). A failed
 * refresh keeps the previous list.
 */
static void
proc_arm_refresh(struct proc *p)
{
	int	ttl_s = p->srv->cfg->schema_cache_ttl_s;

	if (p->instance != 0 || ttl_s <= 0 || p->state != PROC_READY)
		return;
	if (ttl_s > REFRESH_MAX_S)
		ttl_s = REFRESH_MAX_S;
	proc_timer(p, p->relist_ev, ttl_s * 1000);
}

static void
proc_relist_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;

	if (p->state != PROC_READY)
		return;
	if (p->list_id != 0) {
		p->relist = 1;
		return;
	}
	proc_list_page(p, NULL);
}

static void
proc_ready(struct proc *p)
{
	struct server	*srv = p->srv;

	p->state = PROC_READY;
	p->ready_at = now_ms();
	proc_timer(p, p->timer_ev, -1);
	atomic_fetch_add_explicit(&srv->nready, 1, memory_order_relaxed);
	pthread_mutex_lock(&srv->mtx);
	srv->ever_ready = 1;
	if (srv->shown_pid == 0)
		srv->shown_pid = p->pid;
	pthread_mutex_unlock(&srv->mtx);
	log_info("server %s[%d]: ready (pid %d, protocol %s, %zu tools)",
	    srv->name, p->instance, (int)p->pid, p->version,
	    srv->tools != NULL ? toolset_count(srv->tools) : (size_t)0);
	proc_attempted(p);
	if (!srv->reported) {
		srv->reported = 1;
		registry_started(srv->reg, srv->index);
	}
	server_dispatch(srv);
}

/* The first start attempt of this child is over (either way). */
static void
proc_attempted(struct proc *p)
{
	struct server	*srv = p->srv;

	if (p->attempted)
		return;
	p->attempted = 1;
	if (++srv->nattempted == srv->nprocs && !srv->reported) {
		srv->reported = 1;
		registry_started(srv->reg, srv->index);
	}
}

static void
proc_unready(struct proc *p)
{
	struct server	*srv = p->srv;
	int		 i;

	atomic_fetch_sub_explicit(&srv->nready, 1, memory_order_relaxed);
	pthread_mutex_lock(&srv->mtx);
	if (srv->shown_pid == p->pid) {
		srv->shown_pid = 0;
		for (i = 0; i < srv->nprocs; i++)
			if (&srv->procs[i] != p &&
			    srv->procs[i].state == PROC_READY)
				srv->shown_pid = srv->procs[i].pid;
	}
	pthread_mutex_unlock(&srv->mtx);
}

static void
proc_err_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;
	char		*buf;
	size_t		 cap;
	ssize_t		 n;

	buf = registry_readbuf(p->srv->reg, &cap);
	do
		n = read(fd, buf, cap);
	while (n == -1 && errno == EINTR);
	if (n > 0) {
		rpc_framer_feed(&p->err, buf, (size_t)n, proc_on_err_line,
		    proc_on_err_overflow, p);
		return;
	}
	if (n == -1 && errno == EAGAIN)
		return;
	event_del(p->err_ev);
}

static void
proc_on_err_line(void *arg, char *line, size_t len)
{
	struct proc	*p = arg;

	if (server_log_ok(p->srv, &p->srv->errlog))
		log_info("server %s[%d]: %s", p->srv->name, p->instance, line);
}

static void
proc_on_err_overflow(void *arg, size_t total)
{
	struct proc	*p = arg;

	if (server_log_ok(p->srv, &p->srv->errlog))
		log_info("server %s[%d]: (a stderr line of %zu bytes, not "
		    "shown)", p->srv->name, p->instance, total);
}

/* ------------------------------------------------------------- failure */

/* Defers a failure found inside a callback to a top-level event. */
static void
proc_fail_later(struct proc *p, const char *fmt, ...)
{
	va_list	ap;

	if (p->fail_msg != NULL || p->state == PROC_IDLE ||
	    p->state == PROC_DEAD)
		return;
	va_start(ap, fmt);
	if (vasprintf(&p->fail_msg, fmt, ap) == -1)
		p->fail_msg = NULL;
	va_end(ap);
	if (p->fail_msg == NULL)
		p->fail_msg = strdup("out of memory");
	event_active(p->fail_ev, EV_TIMEOUT, 0);
}

static void
proc_fail_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;
	char		*msg = p->fail_msg;

	p->fail_msg = NULL;
	if (msg != NULL)
		proc_down(p, msg);
	free(msg);
}

/*
 * stdout hit EOF or stdin failed: the child is most likely gone. Wait
 * briefly for its exit status so the calls can be told why. Safe inside
 * callbacks (it frees nothing).
 */
static void
proc_closing(struct proc *p, const char *what)
{
	struct server	*srv = p->srv;

	if (p->in_ev != NULL)
		event_del(p->in_ev);
	evbuffer_drain(p->outbuf, evbuffer_get_length(p->outbuf));
	if (p->state != PROC_INIT && p->state != PROC_LIST &&
	    p->state != PROC_READY)
		return;
	if (p->state == PROC_READY)
		proc_unready(p);
	p->state = PROC_CLOSING;
	free(p->close_msg);
	if (asprintf(&p->close_msg, "server '%s' %s", srv->name, what) == -1)
		p->close_msg = NULL;
	if (p->infd != -1) {
		close(p->infd);
		p->infd = -1;
	}
	proc_timer(p, p->timer_ev, EXIT_GRACE_MS);
}

static void
proc_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;
	struct server	*srv = p->srv;
	char		 msg[512];

	switch (p->state) {
	case PROC_INIT:
	case PROC_LIST:
		snprintf(msg, sizeof(msg), "server '%s' did not start within "
		    "%d ms", srv->name, srv->cfg->start_timeout_ms > 0 ?
		    srv->cfg->start_timeout_ms :
		    CONFIG_DEFAULT_START_TIMEOUT_MS);
		proc_down(p, msg);
		break;
	case PROC_CLOSING:
		snprintf(msg, sizeof(msg), "%s", p->close_msg != NULL ?
		    p->close_msg : "server closed its pipes");
		proc_down(p, msg);
		break;
	default:
		break;
	}
}

static void
proc_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;
	pid_t		 r;
	int		 status = 0;

	if (p->pid == 0)
		return;
	do
		r = waitpid(p->pid, &status, WNOHANG);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		return;			/* the poll timer goes on */
	if (r == -1)
		log_warn("server %s[%d]: waitpid %d", p->srv->name,
		    p->instance, (int)p->pid);
	proc_reaped(p, status, r != -1);
}

static void
proc_reaped(struct proc *p, int status, int known)
{
	struct server	*srv = p->srv;
	char		 msg[512];

	event_free(p->exit_ev);
	p->exit_ev = NULL;
	if (p->pidfd != -1)
		close(p->pidfd);
	p->pidfd = -1;
	p->pid = 0;
	atomic_store(&p->live_pgid, 0);
	if (known && WIFEXITED(status))
		snprintf(msg, sizeof(msg), "server '%s' exited with status %d",
		    srv->name, WEXITSTATUS(status));
	else if (known && WIFSIGNALED(status))
		snprintf(msg, sizeof(msg), "server '%s' was killed by signal "
		    "%d", srv->name, WTERMSIG(status));
	else
		snprintf(msg, sizeof(msg), "server '%s' exited", srv->name);

	switch (p->state) {
	case PROC_INIT:
	case PROC_LIST:
	case PROC_READY:
	case PROC_CLOSING:
		proc_down(p, msg);
		break;
	case PROC_DEAD:
		log_debug("%s: server %s[%d]: %s", __func__, srv->name,
		    p->instance, msg);
		proc_kill_group(p);	/* stragglers */
		proc_close_pipes(p);
		p->state = PROC_IDLE;
		if (srv->stopping)
			registry_child_gone(srv->reg);
		else
			proc_schedule_restart(p);
		break;
	default:
		break;
	}
}

/* Reads what the child left in its pipes (responses may be there). */
static void
proc_drain(struct proc *p)
{
	char	*buf;
	size_t	 cap, total = 0;
	ssize_t	 n;

	buf = registry_readbuf(p->srv->reg, &cap);
	while (p->outfd != -1 && total < DRAIN_MAX &&
	    (n = read(p->outfd, buf, cap)) > 0) {
		total += (size_t)n;
		proc_feed_out(p, buf, (size_t)n);
	}
	while (p->errfd != -1 && total < DRAIN_MAX &&
	    (n = read(p->errfd, buf, cap)) > 0) {
		total += (size_t)n;
		rpc_framer_feed(&p->err, buf, (size_t)n, proc_on_err_line,
		    proc_on_err_overflow, p);
	}
}

static void
proc_close_pipes(struct proc *p)
{
	size_t	max;

	if (p->in_ev != NULL)
		event_free(p->in_ev);
	if (p->out_ev != NULL)
		event_free(p->out_ev);
	if (p->err_ev != NULL)
		event_free(p->err_ev);
	p->in_ev = p->out_ev = p->err_ev = NULL;
	if (p->infd != -1)
		close(p->infd);
	if (p->outfd != -1)
		close(p->outfd);
	if (p->errfd != -1)
		close(p->errfd);
	p->infd = p->outfd = p->errfd = -1;
	if (p->outbuf != NULL)
		evbuffer_drain(p->outbuf, evbuffer_get_length(p->outbuf));
	max = p->out.max;
	rpc_framer_free(&p->out);
	rpc_framer_init(&p->out, max);
	rpc_framer_free(&p->err);
	rpc_framer_init(&p->err, STDERR_LINE_MAX);
	p->headlen = 0;
}

static void
proc_fail_calls(struct proc *p, int status, const char *msg)
{
	struct server_call	*c;
	size_t			 b;

	for (b = 0; b < PROC_HASH; b++)
		while ((c = p->pending[b]) != NULL) {
			p->pending[b] = c->hnext;
			c->hnext = NULL;
			p->inflight--;
			atomic_fetch_sub_explicit(&p->srv->inflight, 1,
			    memory_order_relaxed);
			server_call_fail(c, status, 0, p->srv->name, msg);
		}
}

/*
 * The child failed: fail its calls, kill its process group, and restart
 * it once it is reaped. Top-level callbacks only.
 */
static void
proc_down(struct proc *p, const char *msg)
{
	struct server	*srv = p->srv;
	int64_t		 now = now_ms();

	if (p->state == PROC_IDLE || p->state == PROC_DEAD)
		return;
	if (p->state == PROC_READY)
		proc_unready(p);
	if (p->ready_at != 0 && now - p->ready_at >= BACKOFF_RESET_MS)
		p->backoff_ms = BACKOFF_MIN_MS;
	p->ready_at = 0;
	p->state = PROC_DEAD;
	log_warnx("%s (instance %d)", msg, p->instance);
	event_del(p->fail_ev);
	free(p->fail_msg);
	p->fail_msg = NULL;
	proc_timer(p, p->timer_ev, -1);
	proc_timer(p, p->relist_ev, -1);
	/* Answers written just before the end still count. */
	proc_drain(p);
	p->init_id = p->list_id = 0;
	json_object_put(p->list_acc);
	p->list_acc = NULL;
	p->relist = 0;
	server_note_failure(srv, msg);
	proc_fail_calls(p, 502, msg);
	proc_close_pipes(p);
	proc_attempted(p);
	proc_kill_group(p);
	if (p->pid == 0) {
		p->state = PROC_IDLE;
		proc_schedule_restart(p);
	}
	/* else proc_reaped() restarts it */
}

/*
 * SIGKILL to the child's process group (grandchildren too). Once the
 * leader is reaped the group id is forgotten, so that a later sweep cannot
 * hit a reused id; during shutdown it is kept for the final sweep.
 */
static void
proc_kill_group(struct proc *p)
{
	if (p->pgid == 0)
		return;
	(void)kill(-p->pgid, SIGKILL);
	if (p->pid == 0 && !p->srv->stopping)
		p->pgid = 0;
}

static void
proc_schedule_restart(struct proc *p)
{
	int	delay;

	if (p->srv->stopping)
		return;
	delay = p->backoff_ms;
	p->backoff_ms = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
	    delay * 2;
	log_info("server %s[%d]: restarting in %d ms", p->srv->name,
	    p->instance, delay);
	proc_timer(p, p->restart_ev, delay);
}

static void
proc_restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;
	struct server	*srv = p->srv;

	if (srv->stopping || p->state != PROC_IDLE)
		return;
	pthread_mutex_lock(&srv->mtx);
	srv->restarts++;
	pthread_mutex_unlock(&srv->mtx);
	proc_start(p);
}

/* ------------------------------------------------------------ shutdown */

void
server_stop(struct server *srv)
{
	struct server_call	*c;
	struct proc		*p;
	int			 i;

	srv->stopping = 1;
	while ((c = srv->qhead) != NULL) {
		server_queue_del(srv, c);
		server_call_fail(c, 502, 0, srv->name, "server shutting down");
	}
	for (i = 0; i < srv->nprocs; i++) {
		p = &srv->procs[i];
		proc_timer(p, p->restart_ev, -1);
		proc_timer(p, p->timer_ev, -1);
		proc_timer(p, p->relist_ev, -1);
		event_del(p->fail_ev);
		proc_fail_calls(p, 502, "server shutting down");
		p->init_id = p->list_id = 0;
		if (p->state == PROC_READY)
			proc_unready(p);
		if (p->pid == 0) {
			proc_close_pipes(p);
			p->state = PROC_IDLE;
			continue;
		}
		p->state = PROC_DEAD;
		/* EOF on stdin asks an MCP server to exit. */
		if (p->in_ev != NULL)
			event_del(p->in_ev);
		if (p->infd != -1) {
			close(p->infd);
			p->infd = -1;
		}
	}
}

int
server_signal(struct server *srv, int sig)
{
	struct proc	*p;
	int		 i, live = 0;

	for (i = 0; i < srv->nprocs; i++) {
		p = &srv->procs[i];
		if (p->pid == 0)
			continue;
		live++;
		if (sig != 0)
			(void)kill(-p->pgid, sig);
	}
	return live;
}

void
server_kill_groups(struct server *srv)
{
	int	i;

	for (i = 0; i < srv->nprocs; i++)
		if (srv->procs[i].pgid != 0)
			(void)kill(-srv->procs[i].pgid, SIGKILL);
}

void
server_kill(struct server *srv)
{
	int	i, pg;

	for (i = 0; i < srv->nprocs; i++)
		if ((pg = atomic_load(&srv->procs[i].live_pgid)) > 0)
			(void)kill(-pg, SIGKILL);
}
