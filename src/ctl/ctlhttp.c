/*
 * ctlhttp.c: mcp-proxyctl's HTTP client (see ctlhttp.h). One request per
 * run, on an event base of its own: the host is resolved with
 * getaddrinfo(3), and each address is tried in turn until one accepts the
 * connection (so "localhost" works whichever of ::1 and 127.0.0.1 the
 * daemon listens on); one deadline covers all of it. libevent bounds the
 * answer's headers and body; its own log messages are dropped, the
 * failure is reported in err instead.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "ctlhttp.h"

/* How one connection attempt ended. */
enum ctlhttp_outcome {
	CTLHTTP_PENDING,
	CTLHTTP_ANSWERED,	/* an HTTP answer, in the reply */
	CTLHTTP_NO_CONNECT,	/* the connection failed: try the next */
	CTLHTTP_FAILED		/* no (whole) answer: see error */
};

/* One connection attempt. */
struct ctlhttp_try {
	struct event_base	*base;
	struct ctlhttp_reply	*reply;
	enum ctlhttp_outcome	 outcome;
	int			 error;		/* enum evhttp_request_error;
						   -1: the deadline */
	double			 deadline;	/* ctlhttp_now() */
	int			 refused;	/* the connection was refused */
};

static int	ctlhttp_set_host(struct ctlhttp_url *, const char *, int,
		    char *, size_t);
static double	ctlhttp_now(void);
static int	ctlhttp_try(const struct ctlhttp_url *, const char *,
		    const struct ctlhttp_call *, double, struct ctlhttp_try *);
static struct evhttp_request *ctlhttp_new_request(const struct ctlhttp_url *,
		    const struct ctlhttp_call *, struct ctlhttp_try *);
static void	ctlhttp_on_reply(struct evhttp_request *, void *);
static void	ctlhttp_on_error(enum evhttp_request_error, void *);
static void	ctlhttp_on_deadline(evutil_socket_t, short, void *);
static void	ctlhttp_failure(const struct ctlhttp_url *,
		    const struct ctlhttp_call *, const struct ctlhttp_try *,
		    char *, size_t);
static void	ctlhttp_quiet(int, const char *);

/* host: from a URL or a listen value, an IPv6 literal in brackets. */
static int
ctlhttp_set_host(struct ctlhttp_url *u, const char *host, int port,
    char *err, size_t errlen)
{
	struct in6_addr	a6;
	size_t		n = strlen(host);

	memset(u, 0, sizeof(*u));
	if (n == 0 || n >= sizeof(u->host)) {
		snprintf(err, errlen, "the host is %s", n == 0 ? "missing" :
		    "too long");
		return -1;
	}
	if (host[0] == '[') {
		if (n < 3 || host[n - 1] != ']')
			goto bad6;
		memcpy(u->host, host + 1, n - 2);
		if (inet_pton(AF_INET6, u->host, &a6) != 1)
			goto bad6;
		u->ipv6 = 1;
	} else
		memcpy(u->host, host, n);
	if (port < 1 || port > 65535) {
		snprintf(err, errlen, port == -1 ? "the port is missing" :
		    "the port must be a number from 1 to 65535");
		return -1;
	}
	u->port = port;
	snprintf(u->text, sizeof(u->text), "http://%s%s%s:%d", u->ipv6 ? "[" :
	    "", u->host, u->ipv6 ? "]" : "", port);
	return 0;
bad6:
	snprintf(err, errlen, "'%.64s' is not an IPv6 address in brackets",
	    host);
	return -1;
}

int
ctlhttp_parse_url(const char *s, struct ctlhttp_url *u, char *err,
    size_t errlen)
{
	struct evhttp_uri	*uri;
	const char		*path;
	char			 why[128];
	int			 rc = -1;

	if (strncasecmp(s, "https://", 8) == 0) {
		snprintf(err, errlen, "'%.200s': https is not supported "
		    "(mcp-proxyd speaks plain HTTP: http://host:port)", s);
		return -1;
	}
	if (strncasecmp(s, "http://", 7) != 0 ||
	    (uri = evhttp_uri_parse(s)) == NULL) {
		snprintf(err, errlen, "'%.200s' is not a URL of the form "
		    "http://host:port", s);
		return -1;
	}
	path = evhttp_uri_get_path(uri);
	if (evhttp_uri_get_userinfo(uri) != NULL ||
	    evhttp_uri_get_query(uri) != NULL ||
	    evhttp_uri_get_fragment(uri) != NULL ||
	    (path != NULL && strcmp(path, "") != 0 && strcmp(path, "/") != 0))
		snprintf(err, errlen, "'%.200s': expected http://host:port, "
		    "without a path, query or user", s);
	else if (ctlhttp_set_host(u, evhttp_uri_get_host(uri) != NULL ?
	    evhttp_uri_get_host(uri) : "", evhttp_uri_get_port(uri), why,
	    sizeof(why)) == -1)
		snprintf(err, errlen, "'%.200s': %s", s, why);
	else
		rc = 0;
	evhttp_uri_free(uri);
	return rc;
}

int
ctlhttp_url_from_listen(const char *listen, struct ctlhttp_url *u, char *err,
    size_t errlen)
{
	char		 host[CTLHTTP_HOST_MAX], why[128];
	const char	*colon = strrchr(listen, ':'), *h = host;
	char		*end;
	long		 port;

	if (colon == NULL || (size_t)(colon - listen) >= sizeof(host)) {
		snprintf(err, errlen, "listen '%.200s' is not host:port",
		    listen);
		return -1;
	}
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 0 ||
	    port > 65535)
		port = -2;
	if (port == 0) {
		snprintf(err, errlen, "listen '%.200s' has port 0 (the daemon "
		    "picks a free port at each start)", listen);
		return -1;
	}
	if (strcmp(host, "0.0.0.0") == 0)
		h = "127.0.0.1";
	else if (strcmp(host, "[::]") == 0)
		h = "[::1]";
	if (ctlhttp_set_host(u, h, (int)port, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "listen '%.200s': %s", listen, why);
		return -1;
	}
	return 0;
}

static double
ctlhttp_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
ctlhttp_quiet(int severity, const char *msg)
{
}

int
ctlhttp_request(const struct ctlhttp_url *u, const struct ctlhttp_call *call,
    struct ctlhttp_reply *reply, char *err, size_t errlen)
{
	struct addrinfo		 hints, *res = NULL, *ai;
	struct ctlhttp_try	 t;
	char			 addr[INET6_ADDRSTRLEN], port[8];
	double			 deadline = ctlhttp_now() + call->timeout_s;
	int			 rc;

	memset(reply, 0, sizeof(*reply));
	memset(&t, 0, sizeof(t));
	t.reply = reply;
	snprintf(err, errlen, "cannot connect to %s: no usable address",
	    u->text);
	event_set_log_callback(ctlhttp_quiet);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", u->port);
	if ((rc = getaddrinfo(u->host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot resolve the host of %s: %s",
		    u->text, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr),
		    NULL, 0, NI_NUMERICHOST) != 0)
			continue;
		if (ctlhttp_try(u, addr, call, deadline, &t) == -1) {
			snprintf(err, errlen, "%s: out of memory", u->text);
			break;
		}
		if (t.outcome != CTLHTTP_NO_CONNECT ||
		    ctlhttp_now() >= deadline)
			break;
	}
	freeaddrinfo(res);
	if (t.outcome == CTLHTTP_ANSWERED)
		return 0;
	if (t.outcome != CTLHTTP_PENDING)
		ctlhttp_failure(u, call, &t, err, errlen);
	ctlhttp_reply_free(reply);
	return -1;
}

/* Sends call to one address (numeric) of u; the outcome in t. -1 when
 * the request cannot be set up. */
static int
ctlhttp_try(const struct ctlhttp_url *u, const char *addr,
    const struct ctlhttp_call *call, double deadline, struct ctlhttp_try *t)
{
	struct evhttp_connection	*conn = NULL;
	struct evhttp_request		*req;
	struct event			*timer = NULL;
	struct timeval			 tv;
	double				 left = deadline - ctlhttp_now();
	int				 rc = -1;

	t->outcome = CTLHTTP_PENDING;
	t->error = 0;
	t->refused = 0;
	t->deadline = deadline;
	if (left < 0.001)
		left = 0.001;
	tv.tv_sec = (time_t)left;
	tv.tv_usec = (suseconds_t)((left - (double)tv.tv_sec) * 1e6);
	if ((t->base = event_base_new()) == NULL ||
	    (conn = evhttp_connection_base_new(t->base, NULL, addr,
	    (unsigned short)u->port)) == NULL ||
	    (timer = evtimer_new(t->base, ctlhttp_on_deadline, t)) == NULL ||
	    (req = ctlhttp_new_request(u, call, t)) == NULL)
		goto fail;
	evhttp_connection_set_timeout_tv(conn, &tv);
	evhttp_connection_set_max_body_size(conn, CTLHTTP_BODY_MAX);
	evhttp_connection_set_max_headers_size(conn, CTLHTTP_HEADERS_MAX);
	if (evhttp_make_request(conn, req, strcmp(call->method, "POST") == 0 ?
	    EVHTTP_REQ_POST : strcmp(call->method, "DELETE") == 0 ?
	    EVHTTP_REQ_DELETE : EVHTTP_REQ_GET, call->target) == -1) {
		/* evhttp has freed req; it may have failed it first */
		rc = t->outcome != CTLHTTP_PENDING ? 0 : -1;
		goto fail;
	}
	evtimer_add(timer, &tv);
	while (t->outcome == CTLHTTP_PENDING)
		if (event_base_loop(t->base, EVLOOP_ONCE) == -1)
			goto fail;
	rc = 0;
fail:
	if (timer != NULL)
		event_free(timer);
	if (conn != NULL)
		evhttp_connection_free(conn);	/* frees a pending req */
	if (t->base != NULL)
		event_base_free(t->base);
	t->base = NULL;
	return rc;
}

/* The request with its headers and body; NULL on failure. */
static struct evhttp_request *
ctlhttp_new_request(const struct ctlhttp_url *u,
    const struct ctlhttp_call *call, struct ctlhttp_try *t)
{
	struct evhttp_request	*req;
	struct evkeyvalq	*h;
	char			 buf[CTLHTTP_URL_MAX + 4096 + 8];

	if ((req = evhttp_request_new(ctlhttp_on_reply, t)) == NULL)
		return NULL;
	evhttp_request_set_error_cb(req, ctlhttp_on_error);
	h = evhttp_request_get_output_headers(req);
	snprintf(buf, sizeof(buf), "%s%s%s:%d", u->ipv6 ? "[" : "", u->host,
	    u->ipv6 ? "]" : "", u->port);
	if (evhttp_add_header(h, "Host", buf) == -1 ||
	    evhttp_add_header(h, "User-Agent", "mcp-proxyctl/"
	    PACKAGE_VERSION) == -1 ||
	    evhttp_add_header(h, "Accept", "application/json") == -1 ||
	    evhttp_add_header(h, "Connection", "close") == -1)
		goto fail;
	if (call->token != NULL) {
		snprintf(buf, sizeof(buf), "Bearer %s", call->token);
		if (evhttp_add_header(h, "Authorization", buf) == -1)
			goto fail;
		explicit_bzero(buf, sizeof(buf));
	}
	if (call->body != NULL && (evhttp_add_header(h, "Content-Type",
	    "application/json") == -1 || evbuffer_add(
	    evhttp_request_get_output_buffer(req), call->body,
	    strlen(call->body)) == -1))
		goto fail;
	return req;
fail:
	explicit_bzero(buf, sizeof(buf));
	evhttp_request_free(req);
	return NULL;
}

/* The whole answer, or (req NULL, or no status) a failure. */
static void
ctlhttp_on_reply(struct evhttp_request *req, void *arg)
{
	struct ctlhttp_try	*t = arg;
	struct ctlhttp_reply	*r = t->reply;
	struct evbuffer		*in;
	const char		*reason;

	if (t->outcome != CTLHTTP_PENDING)
		return;
	if (req == NULL || evhttp_request_get_response_code(req) == 0) {
		/*
		 * Without the error callback: the connection failed, refused
		 * or timed out (evhttp has lost errno by now: it shuts the
		 * socket down first).
		 */
		t->refused = ctlhttp_now() < t->deadline - 0.01;
		t->outcome = req == NULL ? CTLHTTP_FAILED : CTLHTTP_NO_CONNECT;
		return;
	}
	in = evhttp_request_get_input_buffer(req);
	r->len = evbuffer_get_length(in);
	if (r->len > CTLHTTP_BODY_MAX ||
	    (r->body = malloc(r->len + 1)) == NULL) {
		t->error = EVREQ_HTTP_DATA_TOO_LONG;
		t->outcome = CTLHTTP_FAILED;
		return;
	}
	evbuffer_remove(in, r->body, r->len);
	r->body[r->len] = '\0';
	r->status = evhttp_request_get_response_code(req);
	reason = evhttp_request_get_response_code_line(req);
	snprintf(r->reason, sizeof(r->reason), "%s", reason != NULL ? reason :
	    "");
	t->outcome = CTLHTTP_ANSWERED;
}

static void
ctlhttp_on_error(enum evhttp_request_error error, void *arg)
{
	struct ctlhttp_try	*t = arg;

	if (t->outcome != CTLHTTP_PENDING)
		return;
	t->error = (int)error;
	t->outcome = CTLHTTP_FAILED;
}

static void
ctlhttp_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct ctlhttp_try	*t = arg;

	if (t->outcome != CTLHTTP_PENDING)
		return;
	t->error = -1;
	t->outcome = CTLHTTP_FAILED;
}

/* Why there is no answer, naming the URL. */
static void
ctlhttp_failure(const struct ctlhttp_url *u, const struct ctlhttp_call *call,
    const struct ctlhttp_try *t, char *err, size_t errlen)
{
	if (t->outcome == CTLHTTP_NO_CONNECT && t->refused)
		snprintf(err, errlen, "cannot connect to %s: connection "
		    "refused (is mcp-proxyd running and listening there?)",
		    u->text);
	else if (t->outcome == CTLHTTP_NO_CONNECT)
		snprintf(err, errlen, "cannot connect to %s within %d second%s",
		    u->text, call->timeout_s, call->timeout_s == 1 ? "" : "s");
	else if (t->error == -1 || t->error == EVREQ_HTTP_TIMEOUT)
		snprintf(err, errlen, "no answer from %s within %d second%s",
		    u->text, call->timeout_s, call->timeout_s == 1 ? "" : "s");
	else if (t->error == EVREQ_HTTP_DATA_TOO_LONG)
		snprintf(err, errlen, "the answer from %s is too large (more "
		    "than %u MiB of body or %d KiB of headers)", u->text,
		    CTLHTTP_BODY_MAX >> 20, CTLHTTP_HEADERS_MAX >> 10);
	else if (t->error == EVREQ_HTTP_INVALID_HEADER)
		snprintf(err, errlen, "%s sent a malformed HTTP answer",
		    u->text);
	else if (t->error == EVREQ_HTTP_EOF)
		snprintf(err, errlen, "no answer from %s: the connection "
		    "failed or was closed before a complete answer", u->text);
	else
		snprintf(err, errlen, "cannot talk to %s (connection error)",
		    u->text);
}

void
ctlhttp_reply_free(struct ctlhttp_reply *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}
