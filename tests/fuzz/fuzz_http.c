/*
 * fuzz_http.c: libFuzzer target for the HTTP front end (http.c) with the
 * daemon's routes: the connection cap and deadlines, the header scanner
 * and the early 401, the auth gate, routing, libevent's error pages
 * rewritten into JSON, GET /health, /metrics, /mcp/tools, /mcp/calls,
 * the /sessions API and POST / tool calls (parsed on a worker; no MCP
 * server is configured, so a call ends with an unknown-tool answer).
 *
 * The input is what a client sends on one connection: any bytes, several
 * pipelined requests or half of one. It is written over loopback TCP to
 * the daemon's real listener (listen_open() and http_init() on 127.0.0.1,
 * port 0, as main.c starts it), then the client shuts its side down for writing and reads
 * until the daemon closes. The loop runs until the client has seen the
 * close, no connection is left open (lingering ones included) and nothing
 * is in flight; an input that takes longer than FUZZ_HTTP_GUARD_S is a
 * hang; one that leaves descriptors open, a leak. What the daemon wrote
 * must start with a status line and never hold one of libevent's HTML
 * error pages (every reply is JSON). Any difference aborts. Sessions a request created are ended after each
 * input, so that no input depends on the ones before it. The daemon's
 * token is FUZZ_HTTP_TOKEN, also in the dictionary and the seeds.
 *
 * Run with -close_fd_mask=2 (tests/fuzz/run.sh does): the daemon logs.
 * With FUZZ_HTTP_SHOW set in the environment, what came back (its first
 * FUZZ_HTTP_KEEP bytes) is written to stdout, to see what a seed does.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "allowlist.h"
#include "auth.h"
#include "cache.h"
#include "config.h"
#include "discovery.h"
#include "exec.h"
#include "health.h"
#include "http.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "registry.h"
#include "session.h"
#include "sessionapi.h"
#include "snapshot.h"
#include "stats.h"

#define FUZZ_HTTP_TOKEN		"fuzz-http-token-0123456789abcdef"
#define FUZZ_HTTP_MAX_INPUT	(64 * 1024)
#define FUZZ_HTTP_KEEP		(64 * 1024)	/* output kept for checks */
#define FUZZ_HTTP_GUARD_S	8		/* one input, at most */
#define FUZZ_HTTP_FD_SLACK	16	/* descriptors an input may leave */

/* A small body limit and the shortest timeouts the config allows; no
 * discovery rate limit (the state must not carry over between inputs);
 * one worker; no MCP server. */
static const char fuzz_http_config[] =
    "{\"workers\": 1, \"queueSize\": 16, \"maxBodyBytes\": 4096,"
    " \"maxHeaderBytes\": 2048, \"maxConnections\": 16,"
    " \"headerTimeoutMs\": 200, \"bodyTimeoutMs\": 200,"
    " \"idleTimeoutMs\": 200, \"maxSessions\": 4,"
    " \"allowedTools\": [\"mcp__fuzz__*\"],"
    " \"rateLimits\": {\"discovery\": {\"requests\": 0,"
    " \"windowSeconds\": 60}},"
    " \"mcpServers\": {}}";

/* The daemon's side, made once. */
struct fuzz_http {
	struct config		*cfg;
	struct auth		*auth;
	struct allowlist	*allow;
	struct event_base	*base;
	struct pool		*pool;
	struct cache		*cache;
	struct registry		*reg;
	int			 port;
	int			 first_fd;	/* the first input's client */
};

/* The client's side of one input. */
struct fuzz_client {
	int			 fd;
	const uint8_t		*data;
	size_t			 size;
	size_t			 off;		/* bytes sent */
	int			 eof;		/* the daemon closed */
	int			 hung;		/* the guard fired */
	char			 out[FUZZ_HTTP_KEEP];
	size_t			 outlen;	/* bytes kept of the output */
	size_t			 total;		/* bytes read */
	struct event		*rev;
	struct event		*wev;
	struct event		*guard;
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	fuzz_http_fail(const char *, const struct fuzz_client *)
		    __attribute__((noreturn));
static struct event_base *fuzz_http_base(void);
static void	fuzz_http_init(struct fuzz_http *);
static int	fuzz_http_connect(int);
static void	fuzz_http_shut(struct fuzz_client *);
static void	fuzz_http_write_cb(evutil_socket_t, short, void *);
static void	fuzz_http_read_cb(evutil_socket_t, short, void *);
static void	fuzz_http_close(struct fuzz_client *);
static void	fuzz_http_guard_cb(evutil_socket_t, short, void *);
static int	fuzz_http_done(const struct fuzz_client *);
static void	fuzz_http_run(struct fuzz_http *, struct fuzz_client *);
static void	fuzz_http_check(const struct fuzz_client *);
static void	fuzz_http_reset(struct fuzz_http *);

static void
fuzz_http_fail(const char *what, const struct fuzz_client *cl)
{
	fprintf(stderr, "fuzz_http: %s\n(sent %zu of %zu bytes, read %zu, "
	    "%ld connections, %ld in flight)\nreply: \"%.*s\"\n", what,
	    cl->off, cl->size, cl->total, http_connections(), http_inflight(),
	    (int)(cl->outlen < 500 ? cl->outlen : 500), cl->out);
	abort();
}

/* As main.c makes the loop thread's. */
static struct event_base *
fuzz_http_base(void)
{
	struct event_config	*ec;
	struct event_base	*base;

	if ((ec = event_config_new()) == NULL)
		abort();
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (base == NULL)
		abort();
	return base;
}

/* The daemon as main.c's start_front() and start_back() make it. */
/* The daemon's listener on 127.0.0.1, a free port, as main.c opens it. */
static void
fuzz_http_listen(struct fuzz_http *f)
{
	struct listeners	 ls;
	char			 addr[] = "127.0.0.1:0", *addrs[1] = { addr };
	char			 err[512];
	int			 fds[LISTEN_MAX], i;

	memset(&ls, 0, sizeof(ls));
	if (listen_open(&ls, addrs, 1, 0600, (gid_t)-1, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "fuzz_http: %s\n", err);
		abort();
	}
	for (i = 0; i < ls.n; i++)	/* 127.0.0.1 and its ::1 twin */
		fds[i] = ls.l[i].fd;
	f->port = listen_port(&ls);
	if (http_init(f->base, f->cfg, fds, ls.n, f->auth, 64) == -1)
		abort();
}

static void
fuzz_http_init(struct fuzz_http *f)
{
	struct snapshot	*snap;
	char		 err[CONFIG_ERR_MAX];

	signal(SIGPIPE, SIG_IGN);
	log_init(0);
	event_set_log_callback(log_libevent);
	if ((f->cfg = config_parse(fuzz_http_config, "fuzz_http", err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_http: %s\n", err);
		abort();
	}
	/* The configuration in force, as main.c installs it (reload.c
	 * would replace it); it owns cfg and stays for the process. */
	if ((snap = snapshot_new(f->cfg)) == NULL)
		abort();
	snapshot_install(snap);
	if ((f->auth = auth_new(FUZZ_HTTP_TOKEN)) == NULL ||
	    (f->allow = allowlist_new(f->cfg->allowed_tools,
	    f->cfg->nallowed_tools)) == NULL)
		abort();
	f->base = fuzz_http_base();
	fuzz_http_listen(f);
	if ((f->pool = pool_new(f->base, f->cfg->workers,
	    f->cfg->queue_size)) == NULL ||
	    (f->cache = cache_open("/nonexistent/fuzz_http-cache.json")) ==
	    NULL ||
	    (f->reg = registry_new(f->cfg, f->pool, f->cache)) == NULL ||
	    stats_init(f->cfg) == -1)
		abort();
	exec_init(f->pool, f->reg, f->cfg);
	exec_register();
	discovery_register(f->reg, f->cfg);
	health_register(f->pool, f->reg, f->cache);
	metrics_register(f->pool, f->reg, f->cache);
	if (session_init(f->base, f->auth, f->cfg, f->allow) == -1)
		abort();
	sessionapi_register();
	if (registry_start(f->reg) == -1)
		abort();
}

/* A non-blocking connection to the daemon's listener. */
static int
fuzz_http_connect(int port)
{
	struct sockaddr_in	sin;
	int			fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		abort();
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS) {
		perror("fuzz_http: connect");
		abort();
	}
	return fd;
}

/* Everything is sent (or the daemon stopped reading): end of input. */
static void
fuzz_http_shut(struct fuzz_client *cl)
{
	event_del(cl->wev);
	(void)shutdown(cl->fd, SHUT_WR);
}

static void
fuzz_http_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fuzz_client	*cl = arg;
	ssize_t			 n;

	while (cl->off < cl->size) {
		n = send(fd, cl->data + cl->off, cl->size - cl->off,
		    MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			break;	/* the daemon has closed: EPIPE, ECONNRESET */
		cl->off += (size_t)n;
	}
	fuzz_http_shut(cl);
}

static void
fuzz_http_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fuzz_client	*cl = arg;
	char			 buf[16384];
	ssize_t			 n;
	size_t			 keep;

	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			break;
		keep = sizeof(cl->out) - cl->outlen;
		if (keep > (size_t)n)
			keep = (size_t)n;
		memcpy(cl->out + cl->outlen, buf, keep);
		cl->outlen += keep;
		cl->total += (size_t)n;
	}
	/* The daemon closed (or reset) the connection. */
	cl->eof = 1;
	event_del(cl->rev);
	event_del(cl->wev);
}

/* The daemon has closed: close ours with a reset, so that no TIME_WAIT
 * is left and a lingering daemon side sees the end at once. */
static void
fuzz_http_close(struct fuzz_client *cl)
{
	struct linger	lg = { 1, 0 };

	event_free(cl->rev);
	event_free(cl->wev);
	cl->rev = cl->wev = NULL;
	(void)setsockopt(cl->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(cl->fd);
	cl->fd = -1;
}

static void
fuzz_http_guard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fuzz_client	*cl = arg;

	cl->hung = 1;
}

/* The client has seen the close and the daemon has nothing left. */
static int
fuzz_http_done(const struct fuzz_client *cl)
{
	return cl->eof && http_connections() == 0 && http_inflight() == 0;
}

static void
fuzz_http_run(struct fuzz_http *f, struct fuzz_client *cl)
{
	struct timeval	tv = { FUZZ_HTTP_GUARD_S, 0 };
	int		closed = 0;

	cl->fd = fuzz_http_connect(f->port);
	/* The lowest free number: it grows when descriptors leak. */
	if (f->first_fd == 0)
		f->first_fd = cl->fd;
	else if (cl->fd > f->first_fd + FUZZ_HTTP_FD_SLACK)
		fuzz_http_fail("descriptors leak", cl);
	cl->rev = event_new(f->base, cl->fd, EV_READ | EV_PERSIST,
	    fuzz_http_read_cb, cl);
	cl->wev = event_new(f->base, cl->fd, EV_WRITE | EV_PERSIST,
	    fuzz_http_write_cb, cl);
	cl->guard = evtimer_new(f->base, fuzz_http_guard_cb, cl);
	if (cl->rev == NULL || cl->wev == NULL || cl->guard == NULL ||
	    event_add(cl->rev, NULL) == -1 || event_add(cl->wev, NULL) == -1 ||
	    evtimer_add(cl->guard, &tv) == -1)
		abort();
	while (!fuzz_http_done(cl)) {
		if (cl->hung)
			fuzz_http_fail("the input was not done within "
			    "FUZZ_HTTP_GUARD_S", cl);
		if (cl->eof && !closed) {
			fuzz_http_close(cl);
			closed = 1;
			continue;
		}
		event_base_loop(f->base, EVLOOP_ONCE);
	}
	if (!closed)
		fuzz_http_close(cl);
	event_free(cl->guard);
}

/* What came back: responses, each beginning with a status line, and no
 * HTML page of libevent's. */
static void
fuzz_http_check(const struct fuzz_client *cl)
{
	static const char	 page[] = "<HTML><HEAD>\n<TITLE>";
	const char		*p = cl->out, *end = cl->out + cl->outlen;
	int			 status;

	if (cl->outlen == 0)
		return;
	if (cl->outlen < 13 || memcmp(p, "HTTP/", 5) != 0)
		fuzz_http_fail("a reply that is not a status line", cl);
	p = memchr(p, ' ', (size_t)(end - p));
	if (p == NULL || end - p < 5 || p[1] < '1' || p[1] > '5' ||
	    p[2] < '0' || p[2] > '9' || p[3] < '0' || p[3] > '9' ||
	    (p[4] != ' ' && p[4] != '\r'))
		fuzz_http_fail("a status line without a status", cl);
	status = (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
	if (status < 100 || status > 599)
		fuzz_http_fail("a status out of range", cl);
	if (memmem(cl->out, cl->outlen, page, sizeof(page) - 1) != NULL)
		fuzz_http_fail("one of libevent's HTML pages got out", cl);
}

/* Sessions made by this input end now. */
static void
fuzz_http_reset(struct fuzz_http *f)
{
	struct session_counts	sc;

	session_counts(&sc);
	if (sc.active == 0)
		return;
	session_free_all();
	if (session_init(f->base, f->auth, f->cfg, f->allow) == -1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_http	 f;
	static struct fuzz_client cl;

	if (size > FUZZ_HTTP_MAX_INPUT)
		return 0;
	if (f.base == NULL)
		fuzz_http_init(&f);
	memset(&cl, 0, sizeof(cl));
	cl.data = data;
	cl.size = size;
	fuzz_http_run(&f, &cl);
	fuzz_http_check(&cl);
	if (getenv("FUZZ_HTTP_SHOW") != NULL)
		fwrite(cl.out, 1, cl.outlen, stdout);
	fuzz_http_reset(&f);
	return 0;
}
