/*
 * remote.c: one remote MCP server's transport (Streamable HTTP or
 * HTTP+SSE, over http or https); see remote.h.
 *
 * DESIGN. Each request has a connection of its own from a small pool
 * (evhttp queues requests on a connection one after the other, and a
 * POST answered by an event stream holds its connection for as long as
 * the call runs), at most maxConcurrent + REMOTE_SPARE_CONNS of them so
 * that notifications/cancelled and answers to the server's requests
 * pass while every call is out. A connection is used for one request at
 * a time and kept alive for the next; one that closes, fails or is
 * abandoned (an over-long answer) is marked dead and freed from a
 * deferred event (gc_ev), never inside evhttp's callbacks, and never
 * reused, so a TLS connection is never reconnected with a spent SSL.
 * Body bytes come through evhttp's chunk callback and are either
 * gathered (a JSON answer, at most max_message) or fed to the event
 * stream parser (sse.c), so nothing grows beyond max_message.
 *
 * Streamable HTTP's GET stream for the server's own messages (requests
 * and notifications) has a connection of its own, outside the pool:
 * opened once notifications/initialized is accepted, its events go the
 * way of a POST's, it is reopened with a bounded backoff (and
 * Last-Event-ID) when it ends, dropped for the session when the server
 * refuses it (405 and other 4xx), and closed first at stop and when a
 * session is replaced (the new one opens its own).
 */

#include <sys/queue.h>

#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "config.h"
#include "log.h"
#include "remote.h"
#include "rpc.h"
#include "sse.h"
#include "tls.h"

#define REMOTE_SPARE_CONNS	4
#define REMOTE_MAX_CONNS	256
#define REMOTE_SESSION_MAX	256	/* bytes of an Mcp-Session-Id */
#define REMOTE_HEADERS_MAX	65536	/* bytes of a response's headers */
#define REMOTE_DELETE_MS	900	/* the session's DELETE at stop */
#define REMOTE_LISTEN_MIN_MS	1000	/* the GET stream's reopen backoff */
#define REMOTE_LISTEN_MAX_MS	30000

enum remote_kind {
	REMOTE_POST,
	REMOTE_STREAM,		/* HTTP+SSE: the GET event stream */
	REMOTE_LISTEN,		/* Streamable HTTP: the GET stream */
	REMOTE_DELETE
};

struct remote_msg {
	struct remote_msg	 *next;
	char			 *data;
	size_t			  len;
	int64_t			  id;		/* -1: not a request */
	int			  retried;	/* sent again after a 404 */
	int			  renew;	/* a replayed initialized */
	struct remote_msg	**handle;
};

/* A connection and the one request it carries (busy). */
struct remote_conn {
	struct remote		*r;
	struct remote_conn	*next;
	struct evhttp_connection *evcon;
	struct bufferevent	*bev;
	enum remote_kind	 kind;
	int			 busy;
	int			 dead;
	int64_t			 id;		/* the request's, -1: none */
	int			 sse;		/* the answer is a stream */
	int			 skip;		/* ignore the rest */
	int			 error;		/* evhttp's, -1: none */
	int			 reinit;	/* the replayed initialize */
	int			 reused;	/* answered a request before */
	int			 answered;	/* this one's status line came */
	struct remote_msg	*msg;		/* kept for a retry */
	char			*body;		/* a JSON answer so far */
	size_t			 bodylen;
	size_t			 bodycap;
	size_t			 seen;		/* bytes of an over-long one */
	struct sse		 parser;
};

struct remote {
	struct event_base	*base;
	struct remote_hooks	 hooks;
	void			*arg;
	char			 label[96];
	const struct config_server *cs;
	size_t			 max_message;
	char			*host;		/* without brackets */
	char			*hosthdr;	/* Host: */
	char			*path;		/* path and query */
	int			 port;
	struct ssl_ctx_st	*ctx;		/* https only; the server's */
	struct evdns_base	*dns;		/* names only */
	struct remote_conn	*conns;
	int			 nconns;
	int			 maxconns;
	struct remote_msg	*qhead, *qtail;
	size_t			 queued;
	char			*session;
	char			 version[16];
	char			*endpoint;	/* HTTP+SSE: where to POST */
	char			*init;		/* the initialize request */
	int			 reinit;	/* replaying it: hold messages */
	struct event		*gc_ev;
	struct remote_conn	*listen;	/* the GET stream, if open */
	struct event		*listen_ev;	/* ... reopens it */
	int			 listen_ms;	/* the next backoff */
	char			 last_id[SSE_ID_MAX + 1];
	int			 failed;
	int			 stopping;	/* the DELETE is out */
	int			 stopped;	/* ... and done */
};

static int	 remote_parse_url(struct remote *, char *, size_t);
static struct remote_conn *remote_conn_new(struct remote *,
		    enum remote_kind);
static struct remote_conn *remote_conn_get(struct remote *);
static void	 remote_conn_free(struct remote_conn *);
static void	 remote_conn_done(struct remote_conn *);
static void	 remote_fail(struct remote *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 remote_pump(struct remote *);
static int	 remote_request(struct remote *, struct remote_conn *,
		    enum evhttp_cmd_type, const char *, struct remote_msg *);
static void	 remote_add_headers(struct remote *, struct evkeyvalq *,
		    enum remote_kind);
static void	 remote_deliver(struct remote *, char *, size_t);
static int	 remote_on_event(void *, const struct sse_event *);
static void	 remote_on_endpoint(struct remote *, const char *);
static void	 remote_gather(struct remote_conn *, struct evbuffer *);
static void	 remote_feed(struct remote_conn *, struct evbuffer *);
static void	 remote_overflow(struct remote_conn *, const char *, size_t,
		    size_t);
static void	 remote_answer(struct remote_conn *, int,
		    struct evhttp_request *);
static void	 remote_refused(struct remote_conn *, int);
static void	 remote_conn_failed(struct remote_conn *);
static int	 remote_lost(struct remote_conn *);
static int	 remote_stale(struct remote_conn *);
static void	 remote_reinit(struct remote *);
static void	 remote_reinit_done(struct remote_conn *, int);
static void	 remote_msg_push(struct remote *, struct remote_msg *);
static int	 remote_is_initialized(const struct remote_msg *);
static void	 remote_listen_start(struct remote *);
static void	 remote_listen_open(struct remote *);
static void	 remote_listen_close(struct remote *);
static void	 remote_listen_again(struct remote *, struct remote_conn *,
		    const char *);
static void	 remote_listen_done(struct remote_conn *, int);
static void	 listen_cb(evutil_socket_t, short, void *);
static void	 remote_msg_free(struct remote_msg *);
static int	 header_cb(struct evhttp_request *, void *);
static void	 chunk_cb(struct evhttp_request *, void *);
static void	 error_cb(enum evhttp_request_error, void *);
static void	 done_cb(struct evhttp_request *, void *);
static void	 close_cb(struct evhttp_connection *, void *);
static void	 gc_cb(evutil_socket_t, short, void *);

/* -------------------------------------------------------- the remote */

struct remote *
remote_new(struct event_base *base, const struct remote_hooks *hooks,
    void *arg, const char *label, const struct config_server *cs,
    struct ssl_ctx_st *ctx, size_t max_message, char *err, size_t errlen)
{
	struct remote	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->base = base;
	r->hooks = *hooks;
	r->arg = arg;
	snprintf(r->label, sizeof(r->label), "%s", label);
	r->cs = cs;
	r->max_message = max_message;
	r->maxconns = cs->max_concurrent + REMOTE_SPARE_CONNS;
	if (r->maxconns > REMOTE_MAX_CONNS)
		r->maxconns = REMOTE_MAX_CONNS;
	r->listen_ms = REMOTE_LISTEN_MIN_MS;
	if ((r->gc_ev = event_new(base, -1, 0, gc_cb, r)) == NULL ||
	    (r->listen_ev = evtimer_new(base, listen_cb, r)) == NULL ||
	    remote_parse_url(r, err, errlen) == -1)
		goto fail;
	if (cs->tls && (r->ctx = ctx) == NULL) {
		snprintf(err, errlen, "no TLS context (see the log at start)");
		goto fail;
	}
	return r;
fail:
	remote_free(r);
	return NULL;
}

/* host, port, path and the Host header from the configured URL. */
static int
remote_parse_url(struct remote *r, char *err, size_t errlen)
{
	struct evhttp_uri	*u;
	const char		*h, *p, *q;
	unsigned char		 addr[16];
	size_t			 n;
	int			 dflt, rc = -1;

	if ((u = evhttp_uri_parse_with_flags(r->cs->url, 0)) == NULL) {
		snprintf(err, errlen, "bad URL");
		return -1;
	}
	h = evhttp_uri_get_host(u);
	n = strlen(h);
	if (n > 2 && h[0] == '[' && h[n - 1] == ']')
		r->host = strndup(h + 1, n - 2);
	else
		r->host = strdup(h);
	dflt = r->cs->tls ? 443 : 80;
	r->port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : dflt;
	p = evhttp_uri_get_path(u);
	q = evhttp_uri_get_query(u);
	if (r->host == NULL || asprintf(&r->path, "%s%s%s", p != NULL &&
	    p[0] != '\0' ? p : "/", q != NULL ? "?" : "", q != NULL ? q :
	    "") == -1 || (r->port == dflt ? asprintf(&r->hosthdr, "%s", h) :
	    asprintf(&r->hosthdr, "%s:%d", h, r->port)) == -1) {
		r->path = r->hosthdr = NULL;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (inet_pton(AF_INET, r->host, addr) != 1 &&
	    inet_pton(AF_INET6, r->host, addr) != 1 &&
	    (r->dns = evdns_base_new(r->base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL) {
		snprintf(err, errlen, "cannot set up name resolution");
		goto out;
	}
	rc = 0;
out:
	evhttp_uri_free(u);
	return rc;
}

void
remote_free(struct remote *r)
{
	if (r == NULL)
		return;
	remote_reset(r);
	if (r->gc_ev != NULL)
		event_free(r->gc_ev);
	if (r->listen_ev != NULL)
		event_free(r->listen_ev);
	if (r->dns != NULL)
		evdns_base_free(r->dns, 0);
	free(r->host);
	free(r->hosthdr);
	free(r->path);
	free(r);
}

void
remote_start(struct remote *r)
{
	struct remote_conn	*c;

	remote_reset(r);
	if (r->cs->transport != CONFIG_TRANSPORT_SSE)
		return;
	if ((c = remote_conn_new(r, REMOTE_STREAM)) == NULL ||
	    remote_request(r, c, EVHTTP_REQ_GET, r->path, NULL) == -1)
		remote_fail(r, "cannot open the event stream");
}

void
remote_reset(struct remote *r)
{
	struct remote_msg	*m;

	while (r->conns != NULL)
		remote_conn_free(r->conns);
	while ((m = r->qhead) != NULL) {
		r->qhead = m->next;
		if (m->handle != NULL)
			*m->handle = NULL;
		free(m->data);
		free(m);
	}
	r->qtail = NULL;
	r->queued = 0;
	free(r->session);
	free(r->endpoint);
	free(r->init);
	r->session = r->endpoint = r->init = NULL;
	r->version[0] = '\0';
	r->failed = r->stopping = r->stopped = r->reinit = 0;
	if (r->gc_ev != NULL)
		event_del(r->gc_ev);
	if (r->listen_ev != NULL)
		event_del(r->listen_ev);
	r->listen_ms = REMOTE_LISTEN_MIN_MS;
	r->last_id[0] = '\0';
}

int
remote_stop(struct remote *r)
{
	struct remote_conn	*c;
	struct timeval		 tv = { 0, REMOTE_DELETE_MS * 1000 };
	char			*session = r->session;

	r->session = NULL;
	remote_reset(r);
	r->session = session;
	if (session == NULL || r->cs->transport != CONFIG_TRANSPORT_HTTP)
		return 0;
	if ((c = remote_conn_new(r, REMOTE_DELETE)) == NULL)
		return 0;
	evhttp_connection_set_timeout_tv(c->evcon, &tv);
	if (remote_request(r, c, EVHTTP_REQ_DELETE, r->path, NULL) == -1)
		return 0;
	r->stopping = 1;
	return 1;
}

void
remote_set_version(struct remote *r, const char *version)
{
	snprintf(r->version, sizeof(r->version), "%s", version);
}

size_t
remote_buffered(const struct remote *r)
{
	return r->queued;
}

char *
remote_take_line(struct remote *r, char *line, size_t len)
{
	char	*copy;

	if ((copy = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(copy, line, len);
	copy[len] = '\0';
	return copy;
}

/* The transport failed: the hook, once; everything is dropped at the
 * next remote_reset(). */
static void
remote_fail(struct remote *r, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	if (r->failed || r->stopping)
		return;
	r->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->hooks.failed(r->arg, msg);
}

/* ---------------------------------------------------------- sending */

int
remote_send(struct remote *r, const char *head, size_t headlen, char *body,
    size_t bodylen, const char *tail, size_t taillen,
    struct remote_msg **handle)
{
	struct remote_msg	*m;
	size_t			 len = headlen + bodylen + taillen;

	if (r->queued > 0 && r->queued + len > r->cs->max_buffered_bytes) {
		free(body);
		return -1;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->data = malloc(len + 1)) == NULL) {
		free(m);
		free(body);
		return -1;
	}
	if (headlen > 0)
		memcpy(m->data, head, headlen);
	if (bodylen > 0)
		memcpy(m->data + headlen, body, bodylen);
	if (taillen > 0)
		memcpy(m->data + headlen + bodylen, tail, taillen);
	free(body);
	/* The line's newline is for pipes only. */
	while (len > 0 && m->data[len - 1] == '\n')
		len--;
	m->data[len] = '\0';
	m->len = len;
	if (rpc_scan_id(m->data, len < REMOTE_HEAD_MAX ? len :
	    REMOTE_HEAD_MAX, &m->id) == -1 || strstr(m->data,
	    "\"method\"") == NULL)
		m->id = -1;
	m->handle = handle;
	if (handle != NULL)
		*handle = m;
	if (r->qtail != NULL)
		r->qtail->next = m;
	else
		r->qhead = m;
	r->qtail = m;
	r->queued += len;
	remote_pump(r);
	return 0;
}

int
remote_cancel(struct remote *r, struct remote_msg *m)
{
	struct remote_msg	**mp, *prev = NULL;

	for (mp = &r->qhead; *mp != NULL; prev = *mp, mp = &(*mp)->next)
		if (*mp == m) {
			*mp = m->next;
			if (r->qtail == m)
				r->qtail = prev;
			r->queued -= m->len;
			free(m->data);
			free(m);
			return 0;
		}
	return -1;
}

/* Hands waiting messages to free connections. */
static void
remote_pump(struct remote *r)
{
	struct remote_conn	*c;
	struct remote_msg	*m;
	const char		*path;

	while ((m = r->qhead) != NULL && !r->failed && !r->reinit) {
		if (r->cs->transport == CONFIG_TRANSPORT_SSE &&
		    r->endpoint == NULL)
			return;		/* until the endpoint event */
		if ((c = remote_conn_get(r)) == NULL)
			return;
		r->qhead = m->next;
		if (r->qhead == NULL)
			r->qtail = NULL;
		r->queued -= m->len;
		if (m->handle != NULL)
			*m->handle = NULL;
		path = r->endpoint != NULL ? r->endpoint : r->path;
		m->next = NULL;
		if (r->init == NULL && strstr(m->data,
		    "\"method\":\"initialize\"") != NULL)
			r->init = strdup(m->data);
		if (remote_request(r, c, EVHTTP_REQ_POST, path, m) == -1) {
			remote_fail(r, "cannot send a request to %s",
			    r->hosthdr);
			remote_msg_free(m);
		} else
			c->msg = m;	/* for a retry on a new session */
	}
}

static void
remote_msg_free(struct remote_msg *m)
{
	if (m == NULL)
		return;
	free(m->data);
	free(m);
}

/* A message first in the queue (a retry, or the handshake's end). */
static void
remote_msg_push(struct remote *r, struct remote_msg *m)
{
	m->handle = NULL;
	m->next = r->qhead;
	r->qhead = m;
	if (r->qtail == NULL)
		r->qtail = m;
	r->queued += m->len;
}

/* ------------------------------------------------------ connections */

static struct remote_conn *
remote_conn_new(struct remote *r, enum remote_kind kind)
{
	struct remote_conn	*c;
	int			 opts = BEV_OPT_CLOSE_ON_FREE |
				    BEV_OPT_DEFER_CALLBACKS;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->r = r;
	c->kind = kind;
	c->error = -1;
	sse_init(&c->parser, r->max_message);
	if (r->ctx != NULL)
		c->bev = tls_bufferevent_new(r->base, r->ctx, r->host,
		    r->cs->tls_opts.insecure, opts);
	else
		c->bev = bufferevent_socket_new(r->base, -1, opts);
	if (c->bev == NULL)
		goto fail;
	if ((c->evcon = evhttp_connection_base_bufferevent_new(r->base,
	    r->dns, c->bev, r->host, (unsigned short)r->port)) == NULL)
		goto fail;
	evhttp_connection_set_max_headers_size(c->evcon, REMOTE_HEADERS_MAX);
	evhttp_connection_set_retries(c->evcon, 0);
	evhttp_connection_set_closecb(c->evcon, close_cb, c);
	c->next = r->conns;
	r->conns = c;
	r->nconns++;
	return c;
fail:
	if (c->evcon == NULL && c->bev != NULL)
		bufferevent_free(c->bev);
	free(c);
	return NULL;
}

/* An idle live connection, or a new one within maxconns. */
static struct remote_conn *
remote_conn_get(struct remote *r)
{
	struct remote_conn	*c;
	int			 n = 0;

	for (c = r->conns; c != NULL; c = c->next) {
		if (c->kind != REMOTE_POST)
			continue;
		if (!c->busy && !c->dead)
			return c;
		n++;
	}
	if (n >= r->maxconns)
		return NULL;
	return remote_conn_new(r, REMOTE_POST);
}

static void
remote_conn_free(struct remote_conn *c)
{
	struct remote		*r = c->r;
	struct remote_conn	**cp;

	for (cp = &r->conns; *cp != NULL; cp = &(*cp)->next)
		if (*cp == c) {
			*cp = c->next;
			break;
		}
	r->nconns--;
	if (r->listen == c)
		r->listen = NULL;
	evhttp_connection_set_closecb(c->evcon, NULL, NULL);
	evhttp_connection_free(c->evcon);	/* and the bufferevent */
	remote_msg_free(c->msg);
	free(c->body);
	sse_reset(&c->parser);
	free(c);
}

/* The request is over: the connection is idle again (or dead). */
static void
remote_conn_done(struct remote_conn *c)
{
	c->busy = 0;
	remote_msg_free(c->msg);
	c->msg = NULL;
	c->reinit = 0;
	free(c->body);
	c->body = NULL;
	c->bodylen = c->bodycap = c->seen = 0;
	c->sse = c->skip = 0;
	c->error = -1;
	sse_reset(&c->parser);
	c->reused |= c->answered;
	c->answered = 0;
	if (c->kind != REMOTE_POST)
		c->dead = 1;
	event_active(c->r->gc_ev, 0, 0);
}

static void
close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct remote_conn	*c = arg;

	c->dead = 1;
	event_active(c->r->gc_ev, 0, 0);
}

/* Top level: dead connections are freed, waiting messages sent, a
 * finished stop reported. */
static void
gc_cb(evutil_socket_t fd, short what, void *arg)
{
	struct remote		*r = arg;
	struct remote_conn	*c, *next;

	for (c = r->conns; c != NULL; c = next) {
		next = c->next;
		if (c->dead && (!c->busy || c->skip))
			remote_conn_free(c);
	}
	if (r->stopped) {
		r->stopped = r->stopping = 0;
		r->hooks.stopped(r->arg);
		return;
	}
	remote_pump(r);
}

/* ---------------------------------------------------------- requests */

static int
remote_request(struct remote *r, struct remote_conn *c,
    enum evhttp_cmd_type cmd, const char *path, struct remote_msg *m)
{
	struct evhttp_request	*req;

	if ((req = evhttp_request_new(done_cb, c)) == NULL)
		return -1;
	evhttp_request_set_header_cb(req, header_cb);
	evhttp_request_set_chunked_cb(req, chunk_cb);
	evhttp_request_set_error_cb(req, error_cb);
	remote_add_headers(r, evhttp_request_get_output_headers(req),
	    c->kind);
	if (m != NULL && evbuffer_add(evhttp_request_get_output_buffer(req),
	    m->data, m->len) == -1) {
		evhttp_request_free(req);
		return -1;
	}
	c->id = m != NULL ? m->id : -1;
	c->busy = 1;
	if (evhttp_make_request(c->evcon, req, cmd, path) == -1) {
		c->busy = 0;
		c->dead = 1;	/* evhttp freed req */
		return -1;
	}
	return 0;
}

static void
remote_add_headers(struct remote *r, struct evkeyvalq *h,
    enum remote_kind kind)
{
	size_t	i;

	evhttp_add_header(h, "Host", r->hosthdr);
	if (kind == REMOTE_STREAM || kind == REMOTE_LISTEN)
		evhttp_add_header(h, "Accept", "text/event-stream");
	if (kind == REMOTE_LISTEN && r->last_id[0] != '\0')
		evhttp_add_header(h, "Last-Event-ID", r->last_id);
	else if (kind == REMOTE_POST) {
		evhttp_add_header(h, "Accept",
		    "application/json, text/event-stream");
		evhttp_add_header(h, "Content-Type", "application/json");
	}
	for (i = 0; i < r->cs->nheaders; i++)
		evhttp_add_header(h, r->cs->headers[i].key,
		    r->cs->headers[i].value);
	if (r->session != NULL && r->cs->transport == CONFIG_TRANSPORT_HTTP)
		evhttp_add_header(h, "Mcp-Session-Id", r->session);
	if (r->version[0] != '\0' &&
	    r->cs->transport == CONFIG_TRANSPORT_HTTP)
		evhttp_add_header(h, "MCP-Protocol-Version", r->version);
}

/* The status line and headers: the session id, the answer's kind. */
static int
header_cb(struct evhttp_request *req, void *arg)
{
	struct remote_conn	*c = arg;
	struct remote		*r = c->r;
	struct evkeyvalq	*h = evhttp_request_get_input_headers(req);
	const char		*v;
	size_t			 n;

	if ((v = evhttp_find_header(h, "Mcp-Session-Id")) != NULL &&
	    r->cs->transport == CONFIG_TRANSPORT_HTTP &&
	    (n = strlen(v)) > 0 && n <= REMOTE_SESSION_MAX &&
	    strspn(v, "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTU"
	    "VWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") == n &&
	    (r->session == NULL || strcmp(r->session, v) != 0)) {
		free(r->session);
		r->session = strdup(v);
	}
	v = evhttp_find_header(h, "Content-Type");
	c->sse = v != NULL && strncasecmp(v, "text/event-stream", 17) == 0;
	c->answered = 1;
	return 0;
}

static void
error_cb(enum evhttp_request_error e, void *arg)
{
	struct remote_conn	*c = arg;

	c->error = (int)e;
}

/* Body bytes as they come. */
static void
chunk_cb(struct evhttp_request *req, void *arg)
{
	struct remote_conn	*c = arg;
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);

	if (c->skip || c->r->failed || c->reinit)
		evbuffer_drain(in, evbuffer_get_length(in));
	else if (c->sse)
		remote_feed(c, in);
	else
		remote_gather(c, in);
}

/* A JSON answer, at most max_message bytes of it. */
static void
remote_gather(struct remote_conn *c, struct evbuffer *in)
{
	size_t	 n = evbuffer_get_length(in), cap;
	char	*nb;

	if (c->bodylen + n > c->r->max_message) {
		remote_overflow(c, c->body != NULL ? c->body : "",
		    c->bodylen, c->bodylen + n);
		evbuffer_drain(in, n);
		return;
	}
	if (c->bodylen + n + 1 > c->bodycap) {
		cap = c->bodycap < 4096 ? 4096 : c->bodycap;
		while (cap < c->bodylen + n + 1)
			cap *= 2;
		if ((nb = realloc(c->body, cap)) == NULL) {
			remote_overflow(c, "", 0, c->bodylen + n);
			evbuffer_drain(in, n);
			return;
		}
		c->body = nb;
		c->bodycap = cap;
	}
	evbuffer_remove(in, c->body + c->bodylen, n);
	c->bodylen += n;
	c->body[c->bodylen] = '\0';
}

/* Event stream bytes to the parser, segment by segment. */
static void
remote_feed(struct remote_conn *c, struct evbuffer *in)
{
	struct evbuffer_iovec	 v;
	const char		*head;
	size_t			 headlen;
	enum sse_rc		 rc = SSE_OK;

	while (evbuffer_get_length(in) > 0 && rc == SSE_OK && !c->skip &&
	    evbuffer_peek(in, -1, NULL, &v, 1) > 0) {
		rc = sse_feed(&c->parser, v.iov_base, v.iov_len,
		    remote_on_event, c);
		evbuffer_drain(in, v.iov_len);
	}
	if (rc == SSE_TOO_LONG || rc == SSE_NOMEM) {
		head = sse_head(&c->parser, &headlen);
		remote_overflow(c, head, headlen, headlen);
	}
	evbuffer_drain(in, evbuffer_get_length(in));
}

/* An answer or event over max_message: its head to the hook, the rest
 * ignored, the connection closed. */
static void
remote_overflow(struct remote_conn *c, const char *head, size_t headlen,
    size_t total)
{
	struct remote	*r = c->r;

	c->skip = 1;
	c->dead = 1;
	event_active(r->gc_ev, 0, 0);
	if (c->kind == REMOTE_STREAM) {
		remote_fail(r, "sent an event longer than maxMessageBytes "
		    "(%zu) on its event stream", r->max_message);
		return;
	}
	if (c->kind == REMOTE_LISTEN) {
		log_warnx("%s: dropped an event of more than maxMessageBytes "
		    "(%zu) on the stream of the server's messages",
		    r->label, r->max_message);
		remote_listen_again(r, c, "an over-long event");
		return;
	}
	r->hooks.overflow(r->arg, head, headlen < REMOTE_HEAD_MAX ? headlen :
	    REMOTE_HEAD_MAX, total);
}

/* One event of a stream: a message, or HTTP+SSE's endpoint. */
static int
remote_on_event(void *arg, const struct sse_event *ev)
{
	struct remote_conn	*c = arg;
	struct remote		*r = c->r;

	if (r->failed || c->skip)
		return -1;
	if (c->kind == REMOTE_LISTEN)
		r->listen_ms = REMOTE_LISTEN_MIN_MS;	/* it works */
	if (strcmp(ev->name, "endpoint") == 0 && c->kind == REMOTE_STREAM)
		remote_on_endpoint(r, ev->data);
	else if (strcmp(ev->name, "message") == 0)
		remote_deliver(r, (char *)(uintptr_t)ev->data, ev->len);
	return 0;
}

/* HTTP+SSE: where messages go, a path or a URL of the same origin. */
static void
remote_on_endpoint(struct remote *r, const char *data)
{
	struct evhttp_uri	*u;
	const char		*p, *q;
	char			*path = NULL;

	if (data[0] == '/')
		path = strdup(data);
	else if ((u = evhttp_uri_parse_with_flags(data, 0)) != NULL) {
		p = evhttp_uri_get_path(u);
		q = evhttp_uri_get_query(u);
		if (evhttp_uri_get_host(u) != NULL && strcasecmp(
		    evhttp_uri_get_host(u), r->host) == 0 &&
		    (evhttp_uri_get_port(u) == -1 ||
		    evhttp_uri_get_port(u) == r->port) &&
		    asprintf(&path, "%s%s%s", p != NULL && p[0] != '\0' ?
		    p : "/", q != NULL ? "?" : "", q != NULL ? q : "") == -1)
			path = NULL;
		evhttp_uri_free(u);
	}
	if (path == NULL || strpbrk(path, " \r\n") != NULL) {
		free(path);
		remote_fail(r, "sent an unusable endpoint (not a path on %s)",
		    r->hosthdr);
		return;
	}
	free(r->endpoint);
	r->endpoint = path;
	log_debug("%s: %s: endpoint %s", __func__, r->label, path);
	remote_pump(r);
}

/* A message to the owner, unless the transport failed. */
static void
remote_deliver(struct remote *r, char *msg, size_t len)
{
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r' ||
	    msg[len - 1] == ' '))
		msg[--len] = '\0';
	if (!r->failed && len > 0)
		r->hooks.line(r->arg, msg, len);
}

/* The request is complete (or failed: req NULL or no status). */
static void
done_cb(struct evhttp_request *req, void *arg)
{
	struct remote_conn	*c = arg;
	struct remote		*r = c->r;
	int			 status;

	status = req != NULL ? evhttp_request_get_response_code(req) : 0;
	if (c->kind == REMOTE_DELETE) {
		r->stopped = 1;
		remote_conn_done(c);
		return;
	}
	if (c->kind == REMOTE_LISTEN) {
		remote_listen_done(c, status);
		remote_conn_done(c);
		return;
	}
	if (c->reinit)
		remote_reinit_done(c, status);
	else if (status == 0 && remote_stale(c) == -1)
		remote_conn_failed(c);
	else if (status == 0)
		;	/* sent again on a new connection */
	else if (c->kind == REMOTE_STREAM && status / 100 == 2)
		remote_fail(r, "closed its event stream");
	else if (status / 100 == 2) {
		remote_answer(c, status, req);
		if (remote_is_initialized(c->msg))
			remote_listen_start(r);
		if (c->msg != NULL && c->msg->renew && !r->failed)
			r->hooks.renewed(r->arg);
	} else
		remote_refused(c, status);
	remote_conn_done(c);
}

/* A 2xx answer to a POST: the JSON message it carries, if any. */
static void
remote_answer(struct remote_conn *c, int status, struct evhttp_request *req)
{
	if (c->sse || c->skip || c->bodylen == 0 || status == 202)
		return;
	remote_deliver(c->r, c->body, c->bodylen);
}

/* An HTTP error: the session is gone (404), the server failed (5xx),
 * or this one request was refused: the call gets a JSON-RPC error. */
static void
remote_refused(struct remote_conn *c, int status)
{
	struct remote	*r = c->r;
	char		 msg[256];
	int		 n;

	if ((r->session != NULL || r->reinit) && (status == 404 ||
	    (status == 400 &&
	    c->body != NULL && strcasestr(c->body, "session") != NULL))) {
		if (remote_lost(c) == -1)
			remote_fail(r, "no longer knows our session (HTTP %d): "
			    "starting a new one", status);
		return;
	}
	if (status >= 500 || c->kind == REMOTE_STREAM || c->id == -1) {
		remote_fail(r, "answered HTTP %d", status);
		return;
	}
	n = snprintf(msg, sizeof(msg), "{\"jsonrpc\":\"2.0\",\"id\":%" PRId64
	    ",\"error\":{\"code\":-32603,\"message\":\"the server answered "
	    "HTTP %d\"}}", c->id, status);
	remote_deliver(r, msg, (size_t)n);
}

/* No answer at all: the connection failed (refused, reset, TLS). */
static void
remote_conn_failed(struct remote_conn *c)
{
	struct remote	*r = c->r;
	char		 why[300];

	c->dead = 1;
	tls_error(c->bev, why, sizeof(why));
	if (why[0] != '\0')
		remote_fail(r, "at %s: %s", r->hosthdr, why);
	else if (c->error == EVREQ_HTTP_TIMEOUT)
		remote_fail(r, "at %s timed out", r->hosthdr);
	else if (c->error == EVREQ_HTTP_INVALID_HEADER)
		remote_fail(r, "at %s sent an invalid HTTP answer",
		    r->hosthdr);
	else if (c->error == EVREQ_HTTP_EOF)
		remote_fail(r, "at %s closed the connection", r->hosthdr);
	else
		remote_fail(r, "is unreachable at %s (connection failed)",
		    r->hosthdr);
}

/*
 * The server no longer knows our session (it restarted): the refused
 * message was not processed, so it is sent again, once, in a new
 * session made by replaying the initialize request we saw (its answer
 * is dropped: the owner already has it) and notifications/initialized.
 * -1 when that cannot be done: the transport fails instead.
 */
static int
remote_lost(struct remote_conn *c)
{
	struct remote	*r = c->r;

	if (c->kind != REMOTE_POST || c->msg == NULL || c->msg->retried ||
	    r->init == NULL || r->cs->transport != CONFIG_TRANSPORT_HTTP)
		return -1;
	c->msg->retried = 1;
	remote_msg_push(r, c->msg);
	c->msg = NULL;
	if (!r->reinit)
		remote_reinit(r);
	return 0;
}

static void
remote_reinit(struct remote *r)
{
	struct remote_conn	*c;
	struct remote_msg	 m;

	log_info("%s: %s no longer knows our session: starting a new one",
	    r->label, r->hosthdr);
	free(r->session);
	r->session = NULL;
	r->reinit = 1;
	remote_listen_close(r);
	memset(&m, 0, sizeof(m));
	m.data = r->init;
	m.len = strlen(r->init);
	m.id = -1;
	if ((c = remote_conn_get(r)) == NULL ||
	    remote_request(r, c, EVHTTP_REQ_POST, r->path, &m) == -1) {
		remote_fail(r, "cannot start a new session");
		return;
	}
	c->reinit = 1;
}

/* The replayed initialize is answered: the handshake's end, then the
 * messages held. */
static void
remote_reinit_done(struct remote_conn *c, int status)
{
	static const char	 done[] = "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/initialized\"}";
	struct remote		*r = c->r;
	struct remote_msg	*m;

	r->reinit = 0;
	if (status / 100 != 2 || r->session == NULL) {
		remote_fail(r, "no longer knows our session and refused a new "
		    "one (HTTP %d)", status);
		return;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->data = strdup(done)) == NULL) {
		free(m);
		remote_fail(r, "out of memory");
		return;
	}
	m->len = sizeof(done) - 1;
	m->id = -1;
	m->renew = 1;
	remote_msg_push(r, m);
	event_active(r->gc_ev, 0, 0);	/* pumps */
}

/*
 * A kept-alive connection failed before any answer: most likely the
 * server closed it (its idle timeout) as the request went out, so the
 * message is sent again, once, on a new connection, as HTTP clients do.
 * -1 when it was not that case: the transport fails.
 */
static int
remote_stale(struct remote_conn *c)
{
	if (c->kind != REMOTE_POST || !c->reused || c->answered ||
	    c->msg == NULL || c->msg->retried)
		return -1;
	log_debug("%s: %s: a kept-alive connection failed; sending again",
	    __func__, c->r->label);
	c->dead = 1;
	c->msg->retried = 1;
	remote_msg_push(c->r, c->msg);
	c->msg = NULL;
	return 0;
}

/* ------------------------------------------- the server's GET stream */

static int
remote_is_initialized(const struct remote_msg *m)
{
	return m != NULL && strstr(m->data,
	    "\"method\":\"notifications/initialized\"") != NULL;
}

/* The session is initialised: the GET stream is opened for it. */
static void
remote_listen_start(struct remote *r)
{
	if (r->cs->transport != CONFIG_TRANSPORT_HTTP)
		return;
	remote_listen_close(r);
	r->listen_ms = REMOTE_LISTEN_MIN_MS;
	r->last_id[0] = '\0';
	remote_listen_open(r);
}

static void
remote_listen_open(struct remote *r)
{
	struct remote_conn	*c;

	if (r->failed || r->stopping || r->reinit || r->listen != NULL)
		return;
	if ((c = remote_conn_new(r, REMOTE_LISTEN)) == NULL) {
		remote_listen_again(r, NULL, "no connection");
		return;
	}
	if (remote_request(r, c, EVHTTP_REQ_GET, r->path, NULL) == -1) {
		event_active(r->gc_ev, 0, 0);	/* frees c */
		remote_listen_again(r, NULL, "cannot send the GET");
		return;
	}
	r->listen = c;
	log_debug("%s: %s: opening the stream of the server's messages%s%s",
	    __func__, r->label, r->last_id[0] != '\0' ? ", after event " :
	    "", r->last_id);
}

/* Closes the GET stream (freed from gc_cb), no reopening. */
static void
remote_listen_close(struct remote *r)
{
	struct remote_conn	*c = r->listen;

	event_del(r->listen_ev);
	if (c == NULL)
		return;
	c->skip = c->dead = 1;
	r->listen = NULL;
	event_active(r->gc_ev, 0, 0);
}

/* The stream c (if any) ended: reopened after the backoff, with the
 * last event id it gave. */
static void
remote_listen_again(struct remote *r, struct remote_conn *c,
    const char *why)
{
	struct timeval	tv;

	if (c != NULL) {
		snprintf(r->last_id, sizeof(r->last_id), "%s", c->parser.id);
		if (r->listen == c)
			r->listen = NULL;
	}
	if (r->failed || r->stopping || r->reinit)
		return;
	log_debug("%s: %s: the stream of the server's messages ended (%s); "
	    "reopening it in %d ms", __func__, r->label, why, r->listen_ms);
	tv.tv_sec = r->listen_ms / 1000;
	tv.tv_usec = (r->listen_ms % 1000) * 1000;
	evtimer_add(r->listen_ev, &tv);
	r->listen_ms *= 2;
	if (r->listen_ms > REMOTE_LISTEN_MAX_MS)
		r->listen_ms = REMOTE_LISTEN_MAX_MS;
}

/*
 * The GET is over. A stream that ends or fails is reopened (one idle
 * for evhttp's read timeout, 50 s, without a longer backoff); a refusal
 * (405, any 4xx, 501, a 2xx that is not a stream) means none for this
 * session, and so does a session error: the next POST meets it and the
 * replacement session opens its own. Other 5xx: tried again later.
 */
static void
remote_listen_done(struct remote_conn *c, int status)
{
	struct remote	*r = c->r;
	char		 why[64];

	if (r->listen != c || c->skip)
		return;		/* closed on purpose */
	if (status == 0 && c->error == EVREQ_HTTP_TIMEOUT && c->sse) {
		/* Idle past evhttp's read timeout: not a failure. */
		r->listen_ms = REMOTE_LISTEN_MIN_MS;
		remote_listen_again(r, c, "idle");
	} else if (status == 0)
		remote_listen_again(r, c, "the connection closed");
	else if (status / 100 == 2 && c->sse)
		remote_listen_again(r, c, "the server ended it");
	else if (status / 100 == 5 && status != 501) {
		snprintf(why, sizeof(why), "HTTP %d", status);
		remote_listen_again(r, c, why);
	} else if (r->session != NULL && (status == 404 || (status == 400 &&
	    c->body != NULL && strcasestr(c->body, "session") != NULL))) {
		r->listen = NULL;
		log_info("%s: %s refused the stream of its own messages for "
		    "our session (HTTP %d): none until a new session",
		    r->label, r->hosthdr, status);
	} else {
		r->listen = NULL;
		log_info("%s: %s offers no stream of its own messages (GET: "
		    "HTTP %d%s)", r->label, r->hosthdr, status,
		    status / 100 == 2 ? ", not an event stream" : "");
	}
}

static void
listen_cb(evutil_socket_t fd, short what, void *arg)
{
	remote_listen_open(arg);
}
