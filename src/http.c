/*
 * http.c: evhttp set-up, limits, connection cap, the auth gate, routing,
 * and the one reply path.
 *
 * DESIGN. Loop thread only. A request arrives in http_gencb(): it is
 * counted in flight, given its id (the client's sane X-Request-Id, else a
 * new one, echoed on the reply), answered 503 while draining, 401 without
 * the right bearer token (audited), then routed on its path (the query is
 * ignored) to a handler, which answers at once or registers a struct
 * http_pending and answers when its job comes back from the pool.
 * http_reply*() is the only place that sends: it sets the JSON content
 * type (unless the handler set another), counts the answer (stats.c:
 * method, status, endpoint, duration), sends, counts the request out of
 * flight and finishes a drain. The answers written without a request
 * (408, a refused body, libevent's rewritten pages) are counted where
 * they are written, without a duration. What is known of the request in
 * progress (its id, peer, clock, labels) is kept with its connection
 * (struct http_reqinfo): evhttp runs one request per connection at a
 * time.
 *
 * libevent 2.1.12 has no cap on connections and answers protocol errors
 * (bad request line, body or headers over the limit) with its own HTML
 * pages. We count connections from the bufferevent callback (a connection
 * is born there) until we see that evhttp has freed it (we hold a
 * reference on its bufferevent; a sweep every HTTP_SWEEP_MS looks), pause
 * the listeners at the cap and resume them below it. The HTML pages are
 * rewritten into JSON by a callback on each connection's output buffer, so
 * every reply is JSON.
 *
 * Everything a client can make the loop thread spend is bounded:
 *
 * - Unauthenticated bodies are refused unread. evhttp calls us only once a
 *   whole request, body included, has been read, and 2.1.12 has no hook
 *   for the end of the headers. But we create each connection's
 *   bufferevent, and a callback on its input evbuffer (http_inbuf_cb) runs
 *   synchronously inside evbuffer_read(), before evhttp's read callback
 *   parses the new bytes. There http_scan() follows the request's header
 *   block with a small streaming parser that mirrors evhttp's: a line ends
 *   at LF and loses one CR before it, a NUL ends its C string, header names
 *   are compared without case, only the first Authorization,
 *   Content-Length and Transfer-Encoding count, a value loses its leading
 *   spaces and its trailing spaces and tabs, and a folded continuation
 *   line spoils the Authorization it extends. When the block ends, a body
 *   follows and auth_check() refuses the token, the connection's body limit
 *   is set to 0 (evhttp_connection_set_max_body_size; the connection is
 *   the cbarg of the bufferevent's callbacks). evhttp, parsing the headers
 *   right after us, then refuses the body with its 413 page without
 *   reading it, and http_outbuf_cb() turns that page into our 401 (with
 *   WWW-Authenticate and Connection: close). evhttp refuses a chunked body
 *   only when its first chunk-size line comes, so a check that runs once
 *   evhttp has seen the headers (c->timer, made active) answers a
 *   connection still waiting for its body itself: the 401 is written on
 *   the socket and the connection freed. Requests without a body reach
 *   http_gencb(), which answers 401 as always; the scanner is only
 *   advisory, http_gencb() checks the token itself. The scanner starts
 *   afresh at each request boundary: a connection starts at one, and when
 *   http_gencb() runs evhttp has consumed exactly that request and reads
 *   nothing more until the reply has gone, so every byte left in the input
 *   buffer belongs to the next request and is scanned again.
 * - Time. A request's headers must arrive within headerTimeoutMs of its
 *   first byte (of the accept, for a connection's first request; of the
 *   previous reply leaving, for a pipelined one), its body within
 *   bodyTimeoutMs of the end of its headers, however slowly the bytes
 *   trickle in: evhttp's own timeout (idleTimeoutMs) restarts with every
 *   byte and now only governs idle keep-alive connections. evhttp has no
 *   request we could answer in those states, so the 408 is written on the
 *   socket and the connection freed (evhttp_connection_free). From
 *   http_gencb() until the reply has been written
 *   (evhttp_request_set_on_complete_cb) no timer runs.
 * - Lingering close. Once evhttp has freed a connection whose socket it
 *   still read (after an error page, a refusal or Connection: close) we
 *   read and discard what the client still sends, for at most
 *   HTTP_LINGER_MS or until it closes, so that a client still sending its
 *   body reads our answer rather than a reset. The connection keeps its
 *   maxConnections slot meanwhile. A connection that timed out is closed
 *   at once: its slot must not outlast the timeout.
 * - Memory. A connection's input buffer holds at most maxHeaderBytes +
 *   maxBodyBytes + HTTP_READ_SLACK (a read high-water mark), also while a
 *   reply is written to a client that sends but does not read.
 * - Descriptors. http_init() raises the soft RLIMIT_NOFILE to the hard
 *   limit and lowers maxConnections to what the descriptors allow beside
 *   those reserved for the rest of the daemon. When accept() fails all the
 *   same (EMFILE, ENFILE, ENOBUFS), the listeners pause for
 *   HTTP_ACCEPT_PAUSE_MS instead of spinning on a socket that stays
 *   readable.
 */

#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/tcp.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "audit.h"
#include "auth.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "monotime.h"
#include "ratelimit.h"
#include "reqid.h"
#include "stats.h"

#define HTTP_MAX_ROUTES		16
#define HTTP_UNIX_HOST		"mcp-proxyd.invalid"
#define HTTP_MAX_LISTENERS	32	/* LISTEN_MAX */
#define HTTP_SWEEP_MS		100
#define HTTP_FLUSH_MAX_MS	1000
#define HTTP_LINGER_MS		1000	/* reading after the close, at most */
#define HTTP_ACCEPT_PAUSE_MS	100	/* after accept() failed */
#define HTTP_LOG_EVERY_MS	10000	/* repeated warnings, at most */
#define HTTP_RATELOG_MORE	64
#define HTTP_READ_SLACK		(64 * 1024)
#define HTTP_PAGE_MAX		1024	/* libevent's error pages */
#define HTTP_HEAD_MAX		4096	/* the headers of such a page */
#define HTTP_IO_MAX		(256 * 1024)	/* bytes per read or write */
#define HTTP_SCAN_KEY		20	/* longest header name we look for */
#define HTTP_SCAN_VALUE		(AUTH_TOKEN_MAX + 8)	/* "Bearer " token */

static const char http_unauthorized[] =
    "{\"error\":\"Unauthorized - invalid or missing authentication token\","
    "\"hint\":\"Provide Authorization: Bearer <token> header\"}";

struct http_route {
	const char	*path;
	int		 methods;
	http_handler	 handler;
	void		*arg;
};

enum http_scan_phase {
	HS_FIRSTLINE,		/* the request line */
	HS_HEADERS,
	HS_DONE			/* the empty line that ends the block came */
};

/* What the current line of the header block is. */
enum http_scan_line {
	HL_KEY,			/* its name so far (no colon yet) */
	HL_CONT,		/* a folded continuation line */
	HL_AUTH,		/* the value of one of these three */
	HL_LENGTH,
	HL_ENCODING,
	HL_OTHER		/* a header we do not look at */
};

enum http_scan_auth {
	HA_NONE,		/* no Authorization yet */
	HA_BAD,
	HA_OK
};

/* One request's header block, scanned as its bytes arrive. */
struct http_scan {
	enum http_scan_phase	 phase;
	size_t			 nbytes;	/* of the block, so far */
	/* The current line. */
	enum http_scan_line	 line;
	size_t			 col;		/* characters of its C string */
	int			 cr;		/* a CR held back: it may end it */
	int			 nul;		/* a NUL ended its C string */
	int			 leading;	/* still in the value's spaces */
	char			 key[HTTP_SCAN_KEY];
	size_t			 keylen;
	char			 val[HTTP_SCAN_VALUE + 1];
	size_t			 vallen;	/* bytes kept */
	size_t			 valend;	/* without trailing blanks */
	int			 valover;	/* more than val holds */
	/* What the block says so far. */
	char			 method[8];
	size_t			 methodlen;
	int			 method_done;
	int			 body_method;	/* the method may have a body */
	enum http_scan_auth	 auth;		/* the first Authorization */
	int			 auth_last;	/* it is the last header so far */
	int			 te_seen;
	int			 chunked;
	int			 cl_seen;
	int			 cl_nonzero;
};

enum http_conn_state {
	HC_HEAD,		/* evhttp reads a request's header block */
	HC_BODY,		/* then its body */
	HC_BUSY,		/* http_gencb() has it, until the reply is out */
	HC_LINGER		/* evhttp has freed it: we drain, then close */
};

enum http_deadline {
	HD_NONE,
	HD_HEADER,		/* headerTimeoutMs */
	HD_BODY			/* bodyTimeoutMs */
};

/* What the counters, the audit log and the logs know of the request
 * http_gencb() has, until its reply. */
struct http_reqinfo {
	double			 t_arrived;	/* http_now_ms() */
	enum stats_method	 method;
	enum stats_endpoint	 endpoint;
	char			 id[REQID_MAX + 1];
	char			 peer[64];	/* "addr:port" */
};

/* One accepted connection: we hold a reference on its bufferevent, so
 * the record stays valid after evhttp frees the connection. */
struct http_conn {
	struct bufferevent	*bev;
	struct http_conn	*prev;
	struct http_conn	*next;
	struct http_conn	*hnext;		/* hash chain, by bev */
	struct event		*timer;		/* deadline; refusal check */
	struct event		*linger;	/* HC_LINGER: read and discard */
	enum http_conn_state	 state;
	enum http_deadline	 deadline_of;
	double			 deadline;	/* http_now_ms() */
	int			 setup;		/* the close callback is not set */
	int			 refused;	/* body limit 0: no valid token */
	int			 check;		/* the refusal check is due */
	int			 answered;	/* evhttp wrote an error page */
	int			 hint;		/* see http_conn_hint() */
	struct http_scan	 scan;
	struct http_reqinfo	 ri;
};

/* A warning that may repeat: at most one line per HTTP_LOG_EVERY_MS. */
struct http_ratelog {
	double	last;			/* http_now_ms(), 0: never */
	long	suppressed;
};

struct http_state {
	struct event_base	*base;
	struct evhttp		*http;
	const struct auth	*auth;
	const struct config	*cfg;
	struct evhttp_bound_socket *bound[HTTP_MAX_LISTENERS];
	int			 nbound;
	int			 paused;
	int			 backoff;	/* accept() failed: wait */
	long			 max_conns;	/* maxConnections, clamped */
	long			 fd_conns;	/* the clamp: RLIMIT_NOFILE */
	size_t			 read_max;	/* input buffer high mark */
	struct http_route	 routes[HTTP_MAX_ROUTES];
	int			 nroutes;
	struct http_conn	*conns;
	long			 nconns;
	struct http_conn	**hash;
	size_t			 hashmask;
	struct event		*sweep_ev;
	struct event		*drain_ev;
	struct event		*flush_ev;
	struct event		*backoff_ev;
	struct timespec		 flush_start;
	struct http_pending	*pending;
	struct ratelimit	*limiters[4];
	int			 nlimiters;
	atomic_long		 inflight;
	int			 draining;
	int			 exiting;
	struct timespec		 started;
	struct http_ratelog	 cap_log;
	struct http_ratelog	 accept_log;
	struct http_reqinfo	 lone;		/* of an uncounted connection */
};

static struct http_state hs;

static void	 http_gencb(struct evhttp_request *, void *);
static struct bufferevent *http_bevcb(struct event_base *, void *);
static void	 http_sweep_cb(evutil_socket_t, short, void *);
static void	 http_drain_timeout_cb(evutil_socket_t, short, void *);
static void	 http_flush_cb(evutil_socket_t, short, void *);
static int	 http_status_of(const char *, size_t);
static ev_ssize_t http_status_line(struct evbuffer *, ev_ssize_t, int *);
static void	 http_rewrite_page(struct http_conn *, struct evbuffer *,
		    ev_ssize_t, int);
static void	 http_outbuf_cb(struct evbuffer *,
		    const struct evbuffer_cb_info *, void *);
static void	 http_inbuf_cb(struct evbuffer *,
		    const struct evbuffer_cb_info *, void *);
static void	 http_scan_reset(struct http_scan *);
static void	 http_scan_line_reset(struct http_scan *);
static void	 http_scan(struct http_scan *, const unsigned char *, size_t);
static void	 http_scan_char(struct http_scan *, unsigned char);
static void	 http_scan_eol(struct http_scan *);
static void	 http_scan_header(struct http_scan *);
static int	 http_scan_key_is(const struct http_scan *, const char *);
static int	 http_scan_body_method(const struct http_scan *);
static void	 http_scan_buffer(struct http_conn *, struct evbuffer *,
		    size_t);
static struct evhttp_connection *http_conn_evcon(const struct http_conn *);
static int	 http_conn_gone(const struct http_conn *);
static struct http_conn *http_conn_of(struct evhttp_request *);
static void	 http_conn_update(struct http_conn *);
static void	 http_conn_arm(struct http_conn *, enum http_deadline, int);
static void	 http_conn_timer_cb(evutil_socket_t, short, void *);
static void	 http_conn_closecb(struct evhttp_connection *, void *);
static int	 http_conn_refuse(struct http_conn *);
static void	 http_conn_expire(struct http_conn *);
static void	 http_conn_write_now(struct http_conn *, int, const char *,
		    const char *);
static void	 http_conn_request(struct http_conn *,
		    struct evhttp_request *);
static void	 http_request_done_cb(struct evhttp_request *, void *);
static void	 http_conn_linger(struct http_conn *, int);
static void	 http_linger_cb(evutil_socket_t, short, void *);
static void	 http_conn_close(struct http_conn *);
static void	 http_conn_free(struct http_conn *);
static size_t	 http_hash_slot(const struct bufferevent *);
static void	 http_conn_setup(struct http_conn *);
static void	 http_hash_del(struct http_conn *);
static void	 http_format_close(struct evbuffer *, int, const char *,
		    const char *);
static void	 http_event_add_ms(struct event *, double);
static int	 http_log_due(struct http_ratelog *, char *);
static void	 http_update_pause(void);
static void	 http_accept_error_cb(struct evconnlistener *, void *);
static void	 http_backoff_cb(evutil_socket_t, short, void *);
static long	 http_fd_limit(int, int, unsigned long long *);
static void	 http_maybe_finish_drain(void);
static const char *http_reason(int);
static void	 http_not_found(struct evhttp_request *, int);
static void	 http_route_names(json_object *, const struct http_route *);
static int	 http_route_match(const struct http_route *, const char *);
static void	 http_forbidden(struct evhttp_request *,
		    const struct auth_caller *);
static const char *http_allow(int);
static int	 http_accept(int);
static double	 ts_ms(const struct timespec *, const struct timespec *);
static void	 http_free_body(const void *, size_t, void *);
static struct http_reqinfo *http_info(struct evhttp_request *);
static void	 http_request_begin(struct http_conn *,
		    struct evhttp_request *, const char *);
static void	 http_peer(struct evhttp_connection *, char *, size_t);
static enum stats_method http_stats_method(enum evhttp_cmd_type);
static enum stats_method http_scan_method(const struct http_scan *);
static void	 http_count_unrouted(struct http_conn *, int);
static void	 http_unauthorized_reply(struct evhttp_request *);
static void	 http_audit_refusal(struct http_conn *, const char *);

static double
ts_ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1000.0 +
	    (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}

static void
http_event_add_ms(struct event *ev, double ms)
{
	struct timeval	tv;
	long		us;

	us = ms > 0 ? (long)(ms * 1000.0) : 0;
	tv.tv_sec = us / 1000000;
	tv.tv_usec = us % 1000000;
	event_add(ev, &tv);
}

/* 1 when a repeated warning may be logged now; then more (of size
 * HTTP_RATELOG_MORE) says how often it was not since the last time. */
static int
http_log_due(struct http_ratelog *r, char *more)
{
	double	now = http_now_ms();

	if (r->last != 0 && now - r->last < HTTP_LOG_EVERY_MS) {
		r->suppressed++;
		return 0;
	}
	more[0] = '\0';
	if (r->suppressed > 0)
		snprintf(more, HTTP_RATELOG_MORE, " (%ld more times in %.0f s)",
		    r->suppressed, (now - r->last) / 1000);
	r->last = now;
	r->suppressed = 0;
	return 1;
}

/* A whole response that closes the connection, appended to buf. */
static void
http_format_close(struct evbuffer *buf, int status, const char *headers,
    const char *body)
{
	evbuffer_add_printf(buf, "HTTP/1.1 %d %s\r\n%sContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\nConnection: close"
	    "\r\n\r\n%s", status, http_reason(status), headers, strlen(body),
	    body);
}

/* ------------------------------------------------------------------ */
/* The header scanner (see DESIGN above). Pure: no I/O, no evhttp.     */

static void
http_scan_line_reset(struct http_scan *s)
{
	s->line = HL_KEY;
	s->col = 0;
	s->cr = 0;
	s->nul = 0;
	s->leading = 0;
	s->keylen = 0;
	s->vallen = 0;
	s->valend = 0;
	s->valover = 0;
}

static void
http_scan_reset(struct http_scan *s)
{
	s->phase = HS_FIRSTLINE;
	s->nbytes = 0;
	s->methodlen = 0;
	s->method_done = 0;
	s->body_method = 0;
	s->auth = HA_NONE;
	s->auth_last = 0;
	s->te_seen = 0;
	s->chunked = 0;
	s->cl_seen = 0;
	s->cl_nonzero = 0;
	http_scan_line_reset(s);
}

/* The header name is name, compared as evhttp does (ASCII, no case). */
static int
http_scan_key_is(const struct http_scan *s, const char *name)
{
	size_t	n = strlen(name);

	return s->keylen == n && n <= sizeof(s->key) &&
	    evutil_ascii_strncasecmp(s->key, name, n) == 0;
}

/* evhttp reads a body for these methods only (evhttp_method_may_have_body);
 * their names are case-sensitive. */
static int
http_scan_body_method(const struct http_scan *s)
{
	static const char *const with_body[] = { "POST", "PUT", "PATCH",
	    "GET", "DELETE", "OPTIONS", "CONNECT" };
	size_t	i;

	for (i = 0; i < sizeof(with_body) / sizeof(with_body[0]); i++)
		if (s->methodlen == strlen(with_body[i]) &&
		    memcmp(s->method, with_body[i], s->methodlen) == 0)
			return 1;
	return 0;
}

/* One character of a line's C string (never its final CR). */
static void
http_scan_char(struct http_scan *s, unsigned char ch)
{
	size_t	col = s->col++;

	if (s->phase == HS_FIRSTLINE) {
		if (s->method_done)
			return;
		if (ch == ' ')
			s->method_done = 1;
		else if (s->methodlen < sizeof(s->method))
			s->method[s->methodlen++] = (char)ch;
		else
			s->methodlen = sizeof(s->method) + 1;	/* unknown */
		return;
	}
	switch (s->line) {
	case HL_KEY:
		if (col == 0 && (ch == ' ' || ch == '\t'))
			s->line = HL_CONT;
		else if (ch != ':') {
			if (s->keylen < sizeof(s->key))
				s->key[s->keylen] = (char)ch;
			s->keylen++;
		} else {
			if (http_scan_key_is(s, "Authorization"))
				s->line = HL_AUTH;
			else if (http_scan_key_is(s, "Content-Length"))
				s->line = HL_LENGTH;
			else if (http_scan_key_is(s, "Transfer-Encoding"))
				s->line = HL_ENCODING;
			else
				s->line = HL_OTHER;
			s->leading = 1;
		}
		break;
	case HL_AUTH:
	case HL_LENGTH:
	case HL_ENCODING:
		/* evhttp skips spaces (not tabs) after the colon and trims
		 * spaces and tabs at the end. */
		if (s->leading && ch == ' ')
			break;
		s->leading = 0;
		if (s->vallen < HTTP_SCAN_VALUE) {
			s->val[s->vallen++] = (char)ch;
			if (ch != ' ' && ch != '\t')
				s->valend = s->vallen;
		} else if (ch != ' ' && ch != '\t')
			s->valover = 1;
		break;
	default:
		break;
	}
}

/* A header line is complete. */
static void
http_scan_header(struct http_scan *s)
{
	size_t	i;

	if (s->line == HL_CONT) {
		/* evhttp appends it, after a space, to the last header:
		 * "Bearer <token> ..." is never a valid Authorization. */
		if (s->auth_last)
			s->auth = HA_BAD;
		return;
	}
	s->auth_last = 0;
	s->val[s->valend] = '\0';
	switch (s->line) {
	case HL_AUTH:
		if (s->auth != HA_NONE)
			break;
		s->auth = !s->valover && auth_check(hs.auth, s->val,
		    http_now_ms()) != NULL ?
		    HA_OK : HA_BAD;
		s->auth_last = 1;
		break;
	case HL_LENGTH:
		if (s->cl_seen)
			break;
		s->cl_seen = 1;
		/* Anything but digits is evhttp's 400; an empty value too. */
		s->cl_nonzero = s->valover || s->valend == 0;
		for (i = 0; i < s->valend; i++)
			if (s->val[i] != '0')
				s->cl_nonzero = 1;
		break;
	case HL_ENCODING:
		if (s->te_seen)
			break;
		s->te_seen = 1;
		s->chunked = !s->valover && s->valend == 7 &&
		    evutil_ascii_strncasecmp(s->val, "chunked", 7) == 0;
		break;
	default:
		break;
	}
}

static void
http_scan_eol(struct http_scan *s)
{
	if (s->phase == HS_FIRSTLINE) {
		s->body_method = http_scan_body_method(s);
		s->phase = HS_HEADERS;
	} else if (s->col == 0)
		s->phase = HS_DONE;
	else
		http_scan_header(s);
	http_scan_line_reset(s);
}

/* Feeds n bytes of the request; stops at the end of its header block. */
static void
http_scan(struct http_scan *s, const unsigned char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n && s->phase != HS_DONE; i++) {
		unsigned char	ch = p[i];

		s->nbytes++;
		if (ch == '\n') {	/* evhttp drops a CR before it */
			http_scan_eol(s);
			continue;
		}
		if (s->cr) {		/* that CR was not the end */
			s->cr = 0;
			if (!s->nul)
				http_scan_char(s, '\r');
		}
		if (ch == '\r')
			s->cr = 1;
		else if (ch == '\0')
			s->nul = 1;
		else if (!s->nul)
			http_scan_char(s, ch);
	}
}

/* Scans buf from offset to its end, or to the end of the header block. */
static void
http_scan_buffer(struct http_conn *c, struct evbuffer *buf, size_t offset)
{
	struct evbuffer_ptr	ptr;
	struct evbuffer_iovec	v[8];
	int			i, n;

	while (c->scan.phase != HS_DONE && offset < evbuffer_get_length(buf)) {
		if (evbuffer_ptr_set(buf, &ptr, offset, EVBUFFER_PTR_SET) == -1)
			return;
		if ((n = evbuffer_peek(buf, -1, &ptr, v, 8)) <= 0)
			return;
		for (i = 0; i < n && i < 8 && c->scan.phase != HS_DONE; i++) {
			http_scan(&c->scan, v[i].iov_base, v[i].iov_len);
			offset += v[i].iov_len;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Connections.                                                        */

/* The evhttp connection, or NULL once evhttp has freed it:
 * bufferevent_free() clears the callbacks, and a live evhttp connection
 * always has its error callback, with itself as the argument. */
static struct evhttp_connection *
http_conn_evcon(const struct http_conn *c)
{
	bufferevent_event_cb	 eventcb = NULL;
	void			*arg = NULL;

	if (c->state == HC_LINGER)
		return NULL;
	bufferevent_getcb(c->bev, NULL, NULL, &eventcb, &arg);
	return eventcb == NULL ? NULL : arg;
}

/* evhttp has freed it and we have not taken it over yet. */
static int
http_conn_gone(const struct http_conn *c)
{
	return c->state != HC_LINGER && http_conn_evcon(c) == NULL;
}

static size_t
http_hash_slot(const struct bufferevent *bev)
{
	uint64_t	h = (uint64_t)(uintptr_t)bev;

	h *= UINT64_C(0x9e3779b97f4a7c15);
	return (size_t)(h >> 32) & hs.hashmask;
}

static void
http_hash_del(struct http_conn *c)
{
	struct http_conn	**pp;

	for (pp = &hs.hash[http_hash_slot(c->bev)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	c->hnext = NULL;
}

int
http_conn_hint(struct evhttp_request *req)
{
	struct http_conn	*c = http_conn_of(req);

	return c != NULL ? c->hint : -1;
}

void
http_conn_set_hint(struct evhttp_request *req, int hint)
{
	struct http_conn	*c = http_conn_of(req);

	if (c != NULL)
		c->hint = hint;
}

/* The record of the connection a request came on; NULL if uncounted. */
static struct http_conn *
http_conn_of(struct evhttp_request *req)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;
	struct http_conn		*c;

	if ((evcon = evhttp_request_get_connection(req)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL)
		return NULL;
	for (c = hs.hash[http_hash_slot(bev)]; c != NULL; c = c->hnext)
		if (c->bev == bev)
			return c;
	return NULL;
}

static void
http_update_pause(void)
{
	char	more[HTTP_RATELOG_MORE];
	int	i, pause;

	pause = hs.nconns >= hs.max_conns || hs.backoff;
	if (pause == hs.paused || hs.draining)
		return;
	for (i = 0; i < hs.nbound; i++) {
		struct evconnlistener *l =
		    evhttp_bound_socket_get_listener(hs.bound[i]);

		if (pause)
			evconnlistener_disable(l);
		else
			evconnlistener_enable(l);
	}
	hs.paused = pause;
	if (pause && !hs.backoff && http_log_due(&hs.cap_log, more))
		log_warnx("%ld connections open (maxConnections): not "
		    "accepting until one closes%s", hs.nconns, more);
}

/*
 * accept() failed with an error that does not go away by itself (EMFILE,
 * ENFILE, ENOBUFS, ENOMEM): the listening socket stays readable, and
 * retrying at once would spin. Pause every listener for a moment, as
 * memcached does.
 */
static void
http_accept_error_cb(struct evconnlistener *l, void *arg)
{
	char	more[HTTP_RATELOG_MORE];
	int	err = EVUTIL_SOCKET_ERROR();

	stats_reject(STATS_ACCEPT_PAUSED);
	if (http_log_due(&hs.accept_log, more))
		log_warnx("cannot accept a connection: %s; not accepting for "
		    "%d ms%s", evutil_socket_error_to_string(err),
		    HTTP_ACCEPT_PAUSE_MS, more);
	if (hs.backoff)
		return;
	hs.backoff = 1;
	http_update_pause();
	http_event_add_ms(hs.backoff_ev, HTTP_ACCEPT_PAUSE_MS);
}

static void
http_backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	hs.backoff = 0;
	http_update_pause();
}

/*
 * A new connection: evhttp asks us for its bufferevent. This is the only
 * hook 2.1.12 gives at accept time; it has no reliable one at close time
 * (its close callback is skipped in some states), so we keep a reference
 * and notice the close in http_inbuf_cb(), the timer or http_sweep_cb().
 * evhttp shuts the socket down for writing when it frees the connection,
 * so the client sees the close at once; the descriptor itself is closed
 * when we drop our reference.
 */
static struct bufferevent *
http_bevcb(struct event_base *base, void *arg)
{
	struct bufferevent	*bev;
	struct http_conn	*c;
	size_t			 slot;

	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return NULL;
	bufferevent_setwatermark(bev, EV_READ, 0, hs.read_max);
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->timer = evtimer_new(base, http_conn_timer_cb, c)) == NULL) {
		free(c);
		/* Uncounted and untimed, still served. */
		evbuffer_add_cb(bufferevent_get_output(bev), http_outbuf_cb,
		    NULL);
		return bev;
	}
	evbuffer_add_cb(bufferevent_get_input(bev), http_inbuf_cb, c);
	evbuffer_add_cb(bufferevent_get_output(bev), http_outbuf_cb, c);
	bufferevent_incref(bev);
	c->bev = bev;
	c->hint = -1;
	c->state = HC_HEAD;
	http_scan_reset(&c->scan);
	c->prev = NULL;
	c->next = hs.conns;
	if (hs.conns != NULL)
		hs.conns->prev = c;
	hs.conns = c;
	slot = http_hash_slot(bev);
	c->hnext = hs.hash[slot];
	hs.hash[slot] = c;
	hs.nconns++;
	/* A connection's first request is timed from the accept, so one
	 * that sends nothing is closed too. The timer also runs at once, once
	 * evhttp has made the connection, to set its close callback. */
	http_conn_arm(c, HD_HEADER, hs.cfg->header_timeout_ms);
	c->setup = 1;
	event_active(c->timer, EV_TIMEOUT, 1);
	http_update_pause();
	return bev;
}

/*
 * evhttp is freeing the connection: take it over as soon as it is done.
 * Only a hint (2.1.12 skips this callback in some states; the sweep
 * catches those), but it gives a slot back at once rather than at the
 * next sweep.
 */
static void
http_conn_closecb(struct evhttp_connection *evcon, void *arg)
{
	struct http_conn	*c = arg;

	if (!hs.exiting && c->state != HC_LINGER)
		event_active(c->timer, EV_TIMEOUT, 1);
}

static void
http_conn_arm(struct http_conn *c, enum http_deadline what, int ms)
{
	c->deadline_of = what;
	c->deadline = http_now_ms() + ms;
	http_event_add_ms(c->timer, ms);
}

/*
 * The scanner has moved on: start the header clock at a request's first
 * byte; at the end of its headers start the body clock, and refuse its
 * body when the token is not valid (see DESIGN).
 */
static void
http_conn_update(struct http_conn *c)
{
	struct http_scan		*s = &c->scan;
	struct evhttp_connection	*evcon;

	if (c->state != HC_HEAD)
		return;
	if (s->phase != HS_DONE) {
		if (s->nbytes > 0 && c->deadline_of == HD_NONE)
			http_conn_arm(c, HD_HEADER, hs.cfg->header_timeout_ms);
		return;
	}
	c->state = HC_BODY;
	http_conn_arm(c, HD_BODY, hs.cfg->body_timeout_ms);
	if (s->auth == HA_OK || !s->body_method ||
	    !(s->chunked || s->cl_nonzero))
		return;
	if ((evcon = http_conn_evcon(c)) == NULL)
		return;
	evhttp_connection_set_max_body_size(evcon, 0);
	stats_reject(STATS_EARLY_401);
	c->refused = 1;
	c->check = 1;
	event_active(c->timer, EV_TIMEOUT, 1);
}

/*
 * Bytes arrived, before evhttp's read callback sees them: the last
 * n_added bytes of buf are new.
 */
static void
http_inbuf_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct http_conn	*c = arg;
	size_t			 len;

	if (info->n_added == 0 || c->state == HC_LINGER)
		return;
	if (http_conn_gone(c)) {
		http_conn_linger(c, HTTP_LINGER_MS);
		return;
	}
	if (c->answered) {
		/* evhttp is writing an error page and will close: whatever
		 * comes now is never read. */
		evbuffer_drain(buf, evbuffer_get_length(buf));
		return;
	}
	len = evbuffer_get_length(buf);
	http_scan_buffer(c, buf, len > info->n_added ? len - info->n_added : 0);
	http_conn_update(c);
}

/* The request reached http_gencb(): the next one starts. */
static void
http_conn_request(struct http_conn *c, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);

	event_del(c->timer);
	c->deadline_of = HD_NONE;
	c->check = 0;
	if (c->setup) {
		c->setup = 0;
		evhttp_connection_set_closecb(evcon, http_conn_closecb, c);
	}
	if (c->refused) {
		evhttp_connection_set_max_body_size(evcon,
		    (ev_ssize_t)hs.cfg->max_body_bytes);
		c->refused = 0;
	}
	c->state = HC_BUSY;
	evhttp_request_set_on_complete_cb(req, http_request_done_cb, c);
	/* Every byte evhttp has left is the next request's. */
	http_scan_reset(&c->scan);
	http_scan_buffer(c, bufferevent_get_input(c->bev), 0);
}

/* The reply has been written: evhttp reads the next request (or frees
 * the connection right after this). */
static void
http_request_done_cb(struct evhttp_request *req, void *arg)
{
	struct http_conn	*c = arg;

	if (c->state != HC_BUSY)
		return;
	c->state = HC_HEAD;
	http_conn_update(c);
}

/*
 * A reply on the socket itself, for when evhttp has no request to answer.
 * What evhttp has not written yet (a 100 Continue) goes first; to a client
 * that does not read, nothing.
 */
static void
http_conn_write_now(struct http_conn *c, int status, const char *headers,
    const char *body)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev), *msg;
	evutil_socket_t	 fd = bufferevent_getfd(c->bev);

	if (fd == -1)
		return;
	if (evbuffer_get_length(out) > 0)
		evbuffer_write(out, fd);
	if (evbuffer_get_length(out) > 0 || (msg = evbuffer_new()) == NULL)
		return;
	http_format_close(msg, status, headers, body);
	evbuffer_write(msg, fd);
	evbuffer_free(msg);
}

/* The refusal check (see DESIGN). 0 when it answered. */
static int
http_conn_refuse(struct http_conn *c)
{
	struct evhttp_connection	*evcon;
	char				 id[REQID_MAX + 1], hdr[256];

	if (!c->refused || c->answered || c->state != HC_BODY ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0 ||
	    (evcon = http_conn_evcon(c)) == NULL)
		return -1;
	reqid_make(id);
	log_debug("%s: 401 before the body (request %s)", __func__, id);
	http_count_unrouted(c, 401);
	http_audit_refusal(c, id);
	snprintf(hdr, sizeof(hdr), "WWW-Authenticate: Bearer\r\n"
	    "X-Request-Id: %s\r\n", id);
	http_conn_write_now(c, 401, hdr, http_unauthorized);
	evhttp_connection_free(evcon);
	http_conn_linger(c, HTTP_LINGER_MS);
	return 0;
}

/* headerTimeoutMs or bodyTimeoutMs has passed. */
static void
http_conn_expire(struct http_conn *c)
{
	struct evhttp_connection	*evcon = http_conn_evcon(c);
	char				 body[160], id[REQID_MAX + 1], hdr[192];
	int				 head = c->deadline_of == HD_HEADER;

	snprintf(body, sizeof(body), "{\"error\":\"Request Timeout - the "
	    "request %s did not arrive within %s (%d ms)\"}",
	    head ? "headers" : "body",
	    head ? "headerTimeoutMs" : "bodyTimeoutMs",
	    head ? hs.cfg->header_timeout_ms : hs.cfg->body_timeout_ms);
	reqid_make(id);
	log_debug("%s: 408, the request %s took too long (request %s)",
	    __func__, head ? "headers" : "body", id);
	stats_reject(head ? STATS_HEADER_TIMEOUT : STATS_BODY_TIMEOUT);
	http_count_unrouted(c, 408);
	c->deadline_of = HD_NONE;
	snprintf(hdr, sizeof(hdr), "X-Request-Id: %s\r\n", id);
	http_conn_write_now(c, 408, hdr, body);
	if (evcon != NULL)
		evhttp_connection_free(evcon);
	/* No lingering: a slow client must not keep its slot any longer. */
	http_conn_linger(c, 0);
}

/*
 * evhttp has made the connection (it has its socket): the close callback,
 * and no Nagle delay (a reply over one write would otherwise wait for the
 * client's delayed ACK, 40 ms), and larger reads and writes for large
 * bodies than bufferevent's 16 KiB.
 */
static void
http_conn_setup(struct http_conn *c)
{
	evutil_socket_t	fd = bufferevent_getfd(c->bev);
	int		one = 1;

	c->setup = 0;
	evhttp_connection_set_closecb(http_conn_evcon(c), http_conn_closecb,
	    c);
	if (fd != -1 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) == -1 && errno != EOPNOTSUPP)
		log_debug("%s: TCP_NODELAY: %s", __func__, strerror(errno));
	bufferevent_set_max_single_read(c->bev, HTTP_IO_MAX);
	bufferevent_set_max_single_write(c->bev, HTTP_IO_MAX);
}

static void
http_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn	*c = arg;
	double			 left;

	if (c->state == HC_LINGER)
		return;
	if (http_conn_gone(c)) {
		http_conn_linger(c, HTTP_LINGER_MS);
		return;
	}
	if (c->setup)
		http_conn_setup(c);
	if (c->check) {
		c->check = 0;
		if (http_conn_refuse(c) == 0)
			return;
	}
	if (c->deadline_of == HD_NONE)
		return;
	left = c->deadline - http_now_ms();
	if (left > 0) {
		http_event_add_ms(c->timer, left);
		return;
	}
	http_conn_expire(c);
}

/*
 * evhttp has freed the connection (and shut it down for writing). If it
 * was still reading, read and discard what the client sends for at most
 * ms, so that it reads our answer rather than a reset; else, or with ms
 * 0, close at once.
 */
static void
http_conn_linger(struct http_conn *c, int ms)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	evutil_socket_t	 fd = bufferevent_getfd(c->bev);
	int		 reading = bufferevent_get_enabled(c->bev) & EV_READ;

	c->state = HC_LINGER;
	c->deadline_of = HD_NONE;
	c->check = 0;
	event_del(c->timer);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
	evbuffer_drain(in, evbuffer_get_length(in));
	if (!reading || ms <= 0 || fd == -1 || hs.exiting ||
	    (c->linger = event_new(hs.base, fd, EV_READ, http_linger_cb, c))
	    == NULL) {
		http_conn_close(c);
		return;
	}
	c->deadline = http_now_ms() + ms;
	http_event_add_ms(c->linger, ms);
}

static void
http_linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn	*c = arg;
	char			 buf[16384];
	ssize_t			 n = 0;
	double			 left;
	int			 i;

	for (i = 0; i < 4 && (what & EV_READ); i++)
		if ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) <= 0)
			break;
	left = c->deadline - http_now_ms();
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR) || left <= 0) {
		http_conn_close(c);
		return;
	}
	http_event_add_ms(c->linger, left);
}

/* Forget a connection evhttp has freed; its slot is free again. */
static void
http_conn_close(struct http_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		hs.conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	http_hash_del(c);
	http_conn_free(c);
	hs.nconns--;
	if (!hs.exiting)
		http_update_pause();
}

static void
http_conn_free(struct http_conn *c)
{
	evbuffer_remove_cb(bufferevent_get_input(c->bev), http_inbuf_cb, c);
	evbuffer_remove_cb(bufferevent_get_output(c->bev), http_outbuf_cb, c);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	if (c->linger != NULL)
		event_free(c->linger);
	event_free(c->timer);
	bufferevent_decref(c->bev);
	free(c);
}

/* Every HTTP_SWEEP_MS: take over the connections evhttp has freed. */
static void
http_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn	*c, *next;
	int			 i;

	for (c = hs.conns; c != NULL; c = next) {
		next = c->next;
		if (http_conn_gone(c))
			http_conn_linger(c, HTTP_LINGER_MS);
	}
	for (i = 0; i < hs.nlimiters; i++)
		ratelimit_sweep(hs.limiters[i], http_now_ms());
	if (!hs.exiting)
		http_update_pause();
}

void
http_sweep_ratelimit(struct ratelimit *rl)
{
	if (rl != NULL && hs.nlimiters < 4)
		hs.limiters[hs.nlimiters++] = rl;
}

/*
 * The status of the status line at p (n bytes), as evhttp writes it:
 * "HTTP/%d.%d %d", the version echoed from the request, so "HTTP/-1.2"
 * too (evhttp accepts a negative major version). -1 if it is not one.
 */
static int
http_status_of(const char *p, size_t n)
{
	size_t	i = 5, digits;
	int	part;

	if (n < 5 || memcmp(p, "HTTP/", 5) != 0)
		return -1;
	for (part = 0; part < 2; part++) {
		if (i < n && p[i] == '-')
			i++;
		for (digits = 0; i < n && p[i] >= '0' && p[i] <= '9'; i++)
			digits++;
		if (digits == 0 || i == n || p[i] != (part == 0 ? '.' : ' '))
			return -1;
		i++;
	}
	if (n - i < 3)
		return -1;
	for (digits = 0; digits < 3; digits++)
		if (p[i + digits] < '0' || p[i + digits] > '9')
			return -1;
	return (p[i] - '0') * 100 + (p[i + 1] - '0') * 10 + (p[i + 2] - '0');
}

/* The offset of the last status line within the HTTP_HEAD_MAX bytes
 * before end in buf, with its status; -1 if none. */
static ev_ssize_t
http_status_line(struct evbuffer *buf, ev_ssize_t end, int *status)
{
	struct evbuffer_ptr	 from;
	char			 win[HTTP_HEAD_MAX];
	ev_ssize_t		 first = end > HTTP_HEAD_MAX ? end -
				    HTTP_HEAD_MAX : 0, n, i;

	if (evbuffer_ptr_set(buf, &from, (size_t)first, EVBUFFER_PTR_SET) == -1)
		return -1;
	n = evbuffer_copyout_from(buf, &from, win, (size_t)(end - first));
	if (n != end - first)
		return -1;
	for (i = n - 5; i >= 0; i--)
		if ((*status = http_status_of(win + i, (size_t)(n - i))) != -1)
			return first + i;
	return -1;
}

/*
 * libevent answers malformed requests and oversized bodies or headers with
 * a fixed HTML page written straight into the connection's output buffer.
 * Replace such a response with a JSON one, status kept; the 413 of a
 * request refused for its token becomes our 401. evhttp closes the
 * connection after each such page.
 */
static void
http_outbuf_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	static const char	 marker[] = "\r\n\r\n<HTML><HEAD>\n<TITLE>";
	struct http_conn	*c = arg;
	struct evbuffer_ptr	 at, start;
	ev_ssize_t		 pos;
	size_t			 len;
	int			 status, frozen;
	char			 marker_copy[1];

	/* libevent adds its page's body in one piece of a few hundred bytes;
	 * our own replies can be megabytes, not to be searched. */
	if (info->n_added == 0 || info->n_added > HTTP_PAGE_MAX)
		return;
	len = evbuffer_get_length(buf);
	if (evbuffer_ptr_set(buf, &start, len > info->n_added + 4 ?
	    len - info->n_added - 4 : 0, EVBUFFER_PTR_SET) == -1)
		return;
	at = evbuffer_search(buf, marker, sizeof(marker) - 1, &start);
	if (at.pos == -1)
		return;
	/* The bufferevent freezes the start of its output buffer while it
	 * does not write (as between a keep-alive connection's responses),
	 * and a frozen start refuses every copy and removal. */
	frozen = evbuffer_copyout(buf, marker_copy, 1) == -1;
	if (frozen)
		evbuffer_unfreeze(buf, 1);
	/* The response starts at the last status line before the marker. */
	if ((pos = http_status_line(buf, at.pos, &status)) != -1)
		http_rewrite_page(c, buf, pos, status);
	if (frozen)
		evbuffer_freeze(buf, 1);
}

/* The page of libevent's at pos in buf, with its status, becomes ours. */
static void
http_rewrite_page(struct http_conn *c, struct evbuffer *buf, ev_ssize_t pos,
    int status)
{
	struct evbuffer		*keep;
	char			 body[256], id[REQID_MAX + 1];
	char			 headers[256];
	const char		*msg;

	switch (status) {
	case 413:
		msg = "Payload Too Large - the request body or headers exceed "
		    "the configured limit";
		break;
	case 400:
		msg = "Bad Request - malformed HTTP request";
		break;
	case 501:
	case 405:
		status = 405;
		msg = "Method Not Allowed";
		break;
	default:
		msg = http_reason(status);
		break;
	}
	snprintf(body, sizeof(body), "{\"error\":\"%s\"}", msg);
	reqid_make(id);
	snprintf(headers, sizeof(headers), "X-Request-Id: %s\r\n", id);
	if (c != NULL) {
		c->answered = 1;
		if (c->refused && status == 413) {
			log_debug("%s: 401 before the body (request %s)",
			    __func__, id);
			status = 401;
			snprintf(headers, sizeof(headers), "WWW-Authenticate: "
			    "Bearer\r\nX-Request-Id: %s\r\n", id);
			snprintf(body, sizeof(body), "%s", http_unauthorized);
			http_audit_refusal(c, id);
		}
	}
	http_count_unrouted(c, status);
	if ((keep = evbuffer_new()) == NULL)
		return;
	evbuffer_remove_buffer(buf, keep, (size_t)pos);
	evbuffer_drain(buf, evbuffer_get_length(buf));
	evbuffer_add_buffer(buf, keep);
	evbuffer_free(keep);
	http_format_close(buf, status, headers, body);
}

void
http_add_route(const char *path, int methods, http_handler handler,
    void *arg)
{
	if (hs.nroutes == HTTP_MAX_ROUTES)
		fatalx("%s: too many routes", __func__);
	hs.routes[hs.nroutes].path = path;
	hs.routes[hs.nroutes].methods = methods;
	hs.routes[hs.nroutes].handler = handler;
	hs.routes[hs.nroutes].arg = arg;
	hs.nroutes++;
}

/* "GET /x", "DELETE /sessions/{id}": the i-th route's entries, added to
 * arr. */
static void
http_route_names(json_object *arr, const struct http_route *r)
{
	static const struct { int bit; const char *name; } ms[] = {
		{ HTTP_M_GET, "GET" }, { HTTP_M_POST, "POST" },
		{ HTTP_M_DELETE, "DELETE" }
	};
	char	buf[160];
	size_t	i;

	for (i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		if (r->methods & ms[i].bit) {
			snprintf(buf, sizeof(buf), "%s %s%s", ms[i].name,
			    r->path, (r->methods & HTTP_R_PREFIX) ? "{id}" : "");
			json_object_array_add(arr, json_object_new_string(buf));
		}
}

static void
http_not_found(struct evhttp_request *req, int status)
{
	json_object	*o, *routes;
	int		 i;

	o = json_object_new_object();
	routes = json_object_new_array();
	for (i = 0; i < hs.nroutes; i++)
		http_route_names(routes, &hs.routes[i]);
	json_object_object_add(o, "error", json_object_new_string(
	    status == 405 ? "Method Not Allowed" : "Not Found"));
	json_object_object_add(o, "validRoutes", routes);
	http_reply_json(req, status, o, 0);
}

/* Whether route r serves path. */
static int
http_route_match(const struct http_route *r, const char *path)
{
	size_t	n;

	if (!(r->methods & HTTP_R_PREFIX))
		return strcmp(path, r->path) == 0;
	n = strlen(r->path);
	return strncmp(path, r->path, n) == 0 && path[n] != '\0';
}

/* The Allow header of a 405. */
static const char *
http_allow(int methods)
{
	static char	buf[32];

	snprintf(buf, sizeof(buf), "%s%s%s%s%s",
	    (methods & HTTP_M_GET) ? "GET, HEAD" : "",
	    (methods & HTTP_M_GET) && (methods & (HTTP_M_POST |
	    HTTP_M_DELETE)) ? ", " : "", (methods & HTTP_M_POST) ? "POST" : "",
	    (methods & HTTP_M_POST) && (methods & HTTP_M_DELETE) ? ", " : "",
	    (methods & HTTP_M_DELETE) ? "DELETE" : "");
	return buf;
}

/* A session's token on a route for the daemon token only. */
static void
http_forbidden(struct evhttp_request *req, const struct auth_caller *caller)
{
	struct audit_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.event = "rejected";
	ev.reason = "admin_route";
	ev.status = 403;
	http_audit(req, caller, &ev);
	http_reply_error(req, 403, "Forbidden - this route needs the "
	    "daemon's token; a session's token may use POST /, GET "
	    "/mcp/tools and GET /mcp/calls only", 0);
}

/* ------------------------------------------------------------------ */
/* What is known of a request: its id, its peer, its clock.            */

static struct http_reqinfo *
http_info(struct evhttp_request *req)
{
	struct http_conn	*c = http_conn_of(req);

	return c != NULL ? &c->ri : &hs.lone;
}

/* "addr:port" ("[addr]:port" for IPv6) of the connection's peer;
 * "unix" on a Unix socket (its peers have no address). */
static void
http_peer(struct evhttp_connection *evcon, char *out, size_t len)
{
	const struct sockaddr	*sa;
	char			*addr = NULL;
	ev_uint16_t		 port = 0;

	if (evcon != NULL && (sa = evhttp_connection_get_addr(evcon)) != NULL &&
	    sa->sa_family == AF_UNIX) {
		snprintf(out, len, "unix");
		return;
	}
	if (evcon != NULL)
		evhttp_connection_get_peer(evcon, &addr, &port);
	if (addr == NULL)
		snprintf(out, len, "unknown");
	else
		snprintf(out, len, strchr(addr, ':') != NULL ? "[%s]:%u" :
		    "%s:%u", addr, (unsigned)port);
}

static enum stats_method
http_stats_method(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
		return STATS_GET;
	case EVHTTP_REQ_POST:
		return STATS_POST;
	case EVHTTP_REQ_HEAD:
		return STATS_HEAD;
	default:
		return STATS_OTHER_METHOD;
	}
}

/* The method of a request evhttp never handed us, as scanned. */
static enum stats_method
http_scan_method(const struct http_scan *s)
{
	static const char *const names[] = { "GET", "POST", "HEAD" };
	size_t	i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (s->method_done && s->methodlen == strlen(names[i]) &&
		    memcmp(s->method, names[i], s->methodlen) == 0)
			return (enum stats_method)i;
	return STATS_OTHER_METHOD;
}

/* A request has reached http_gencb(): its clock, its counters' labels
 * and its id (the client's, when sane; X-Request-Id on every reply). */
static void
http_request_begin(struct http_conn *c, struct evhttp_request *req,
    const char *path)
{
	struct http_reqinfo	*ri = c != NULL ? &c->ri : &hs.lone;
	const char		*id;

	ri->t_arrived = http_now_ms();
	ri->method = http_stats_method(evhttp_request_get_command(req));
	ri->endpoint = stats_endpoint_of(path);
	id = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "X-Request-Id");
	if (id != NULL && reqid_valid(id, strlen(id)))
		snprintf(ri->id, sizeof(ri->id), "%s", id);
	else
		reqid_make(ri->id);
	if (c == NULL || ri->peer[0] == '\0')
		http_peer(evhttp_request_get_connection(req), ri->peer,
		    sizeof(ri->peer));
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "X-Request-Id", ri->id);
}

/* An answer evhttp never saw (ours on the socket, or a rewritten error
 * page): counted without a duration, for the endpoint "other". */
static void
http_count_unrouted(struct http_conn *c, int status)
{
	stats_http(c != NULL ? http_scan_method(&c->scan) : STATS_OTHER_METHOD,
	    status, STATS_EP_OTHER, -1);
	if (status == 401)
		stats_auth_failure();
}

static void
http_unauthorized_reply(struct evhttp_request *req)
{
	struct audit_event	ev;

	stats_auth_failure();
	memset(&ev, 0, sizeof(ev));
	ev.event = "auth_failure";
	ev.status = 401;
	ev.error = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization") == NULL ? "no Authorization header" :
	    "invalid bearer token";
	http_audit(req, NULL, &ev);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "WWW-Authenticate", "Bearer");
	http_reply(req, 401, http_unauthorized, sizeof(http_unauthorized) - 1,
	    0);
}

/* An auth failure refused before evhttp handed us the request. */
static void
http_audit_refusal(struct http_conn *c, const char *id)
{
	struct audit_event	ev;
	char			peer[64];

	http_peer(http_conn_evcon(c), peer, sizeof(peer));
	memset(&ev, 0, sizeof(ev));
	ev.event = "auth_failure";
	ev.request_id = id;
	ev.client = peer;
	ev.status = 401;
	ev.latency_ms = -1;
	ev.error = "invalid or missing bearer token (body refused unread)";
	audit_log(&ev);
}

const char *
http_request_id(struct evhttp_request *req)
{
	return http_info(req)->id;
}

double
http_request_age_ms(struct evhttp_request *req)
{
	return http_now_ms() - http_info(req)->t_arrived;
}

void
http_audit(struct evhttp_request *req, const struct auth_caller *caller,
    struct audit_event *ev)
{
	struct http_reqinfo	*ri = http_info(req);

	ev->request_id = ri->id;
	ev->client = ri->peer;
	ev->caller = caller != NULL ? caller->id : NULL;
	ev->latency_ms = http_now_ms() - ri->t_arrived;
	audit_log(ev);
}

static void
http_gencb(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri		*uri;
	const struct auth_caller	*caller;
	const struct http_route		*r;
	const char			*path;
	struct http_conn		*c;
	int				 method, i, allowed = 0;

	if ((c = http_conn_of(req)) != NULL)
		http_conn_request(c, req);
	atomic_fetch_add(&hs.inflight, 1);
	uri = evhttp_request_get_evhttp_uri(req);
	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (path == NULL || *path == '\0')
		path = "/";
	http_request_begin(c, req, path);
	if (hs.draining) {
		http_reply_error(req, 503,
		    "Service Unavailable - server is shutting down", 1);
		return;
	}
	caller = auth_check(hs.auth, evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Authorization"),
	    http_now_ms());
	if (caller == NULL) {
		http_unauthorized_reply(req);
		return;
	}
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_HEAD:
		method = HTTP_M_GET;
		break;
	case EVHTTP_REQ_POST:
		method = HTTP_M_POST;
		break;
	case EVHTTP_REQ_DELETE:
		method = HTTP_M_DELETE;
		break;
	default:
		method = 0;
		break;
	}
	for (i = 0; i < hs.nroutes; i++) {
		r = &hs.routes[i];
		if (!http_route_match(r, path))
			continue;
		allowed |= r->methods;
		if (!(r->methods & method))
			continue;
		if (!caller->admin && !(r->methods & HTTP_R_SANDBOX))
			http_forbidden(req, caller);
		else
			r->handler(req, caller, r->arg);
		return;
	}
	if (allowed != 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", http_allow(allowed));
		http_not_found(req, 405);
		return;
	}
	http_not_found(req, 404);
}

static void
http_free_body(const void *data, size_t len, void *arg)
{
	free((void *)(uintptr_t)data);
}

static void
http_send(struct evhttp_request *req, int status, int retry_after)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	struct http_reqinfo	*ri = http_info(req);
	char			 buf[32];

	if (evhttp_find_header(h, "Content-Type") == NULL)
		evhttp_add_header(h, "Content-Type", "application/json");
	stats_http(ri->method, status, ri->endpoint,
	    (http_now_ms() - ri->t_arrived) / 1000);
	/* Every 503 and 429 says when to come back. */
	if ((status == 503 || status == 429) && retry_after <= 0)
		retry_after = 1;
	if (retry_after > 0) {
		snprintf(buf, sizeof(buf), "%d", retry_after);
		evhttp_add_header(h, "Retry-After", buf);
	}
	if (hs.draining)
		evhttp_add_header(h, "Connection", "close");
	evhttp_send_reply(req, status, http_reason(status), NULL);
	atomic_fetch_sub(&hs.inflight, 1);
	if (hs.draining)
		http_maybe_finish_drain();
}

void
http_reply(struct evhttp_request *req, int status, const char *body,
    size_t len, int retry_after)
{
	evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	http_send(req, status, retry_after);
}

void
http_reply_take(struct evhttp_request *req, int status, char *body,
    size_t len, int retry_after)
{
	if (len < 4096) {
		evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
		free(body);
	} else if (evbuffer_add_reference(evhttp_request_get_output_buffer(req),
	    body, len, http_free_body, NULL) == -1)
		free(body);
	http_send(req, status, retry_after);
}

void
http_reply_buffer(struct evhttp_request *req, int status, struct evbuffer *buf,
    int retry_after)
{
	evbuffer_add_buffer(evhttp_request_get_output_buffer(req), buf);
	http_send(req, status, retry_after);
}

struct event_base *
http_base(void)
{
	return hs.base;
}

double
http_now_ms(void)
{
	return monotime_ms();
}

int
http_rate_limited(struct evhttp_request *req, struct ratelimit *rl,
    const struct auth_caller *caller)
{
	struct audit_event	 ev;
	json_object		*o;
	char			 window[32];
	int			 retry;

	if (rl == NULL || ratelimit_take(rl, caller->name, http_now_ms(),
	    &retry))
		return 0;
	stats_rate_limited(http_info(req)->endpoint);
	memset(&ev, 0, sizeof(ev));
	ev.event = "rejected";
	ev.reason = "rate_limit";
	ev.status = 429;
	http_audit(req, caller, &ev);
	o = json_object_new_object();
	json_object_object_add(o, "error",
	    json_object_new_string("Rate limit exceeded"));
	json_object_object_add(o, "retryAfter", json_object_new_int(retry));
	json_object_object_add(o, "limit",
	    json_object_new_int(ratelimit_requests(rl)));
	snprintf(window, sizeof(window), "%ds", ratelimit_window(rl));
	json_object_object_add(o, "window", json_object_new_string(window));
	http_reply_json(req, 429, o, retry);
	return 1;
}

void
http_reply_json(struct evhttp_request *req, int status, json_object *obj,
    int retry_after)
{
	size_t		 len;
	const char	*s;

	s = json_object_to_json_string_length(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	http_reply(req, status, s, len, retry_after);
	json_object_put(obj);
}

void
http_reply_error(struct evhttp_request *req, int status, const char *msg,
    int retry_after)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	http_reply_json(req, status, o, retry_after);
}

void
http_pending_add(struct http_pending *p, struct evhttp_request *req)
{
	p->req = req;
	p->abandoned = 0;
	p->prev = NULL;
	p->next = hs.pending;
	if (hs.pending != NULL)
		hs.pending->prev = p;
	hs.pending = p;
}

struct evhttp_request *
http_pending_remove(struct http_pending *p)
{
	if (p->abandoned)
		return NULL;
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		hs.pending = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
	return p->req;
}

long
http_inflight(void)
{
	return atomic_load(&hs.inflight);
}

long
http_connections(void)
{
	return hs.nconns;
}

int
http_draining(void)
{
	return hs.draining;
}

double
http_uptime_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return ts_ms(&hs.started, &now);
}

/* Nothing in flight: wait for every reply to leave, then leave the loop. */
static void
http_maybe_finish_drain(void)
{
	struct timeval	tv = { 0, 0 };

	if (atomic_load(&hs.inflight) > 0 || hs.exiting)
		return;
	hs.exiting = 1;
	clock_gettime(CLOCK_MONOTONIC, &hs.flush_start);
	if (hs.drain_ev != NULL)
		event_del(hs.drain_ev);
	event_add(hs.flush_ev, &tv);
}

/*
 * Wait (at most HTTP_FLUSH_MAX_MS) until no live connection has output
 * left to write, so that no reply is cut off by the exit.
 */
static void
http_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval		 tv = { 0, 10 * 1000 };
	struct timespec		 now;
	struct http_conn	*c;

	clock_gettime(CLOCK_MONOTONIC, &now);
	for (c = hs.conns; c != NULL; c = c->next)
		if (http_conn_evcon(c) != NULL && evbuffer_get_length(
		    bufferevent_get_output(c->bev)) > 0)
			break;
	if (c != NULL && ts_ms(&hs.flush_start, &now) < HTTP_FLUSH_MAX_MS) {
		event_add(hs.flush_ev, &tv);
		return;
	}
	event_base_loopexit(hs.base, NULL);
}

static void
http_drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_pending	*p, *next;
	long			 n = 0;

	for (p = hs.pending; p != NULL; p = next) {
		next = p->next;
		p->prev = p->next = NULL;
		p->abandoned = 1;
		http_reply_error(p->req, 503, "Service Unavailable - server is "
		    "shutting down (drain timeout)", 0);
		n++;
	}
	hs.pending = NULL;
	log_warnx("drain timeout: answered %ld unfinished request%s with 503",
	    n, n == 1 ? "" : "s");
	/* Anything not pending (a request without a handler yet) is gone
	 * with its connection. */
	atomic_store(&hs.inflight, 0);
	http_maybe_finish_drain();
}

void
http_drain(int timeout_ms)
{
	struct timeval	tv;
	int		i;

	if (hs.draining)
		return;
	hs.draining = 1;
	for (i = 0; i < hs.nbound; i++)
		evhttp_del_accept_socket(hs.http, hs.bound[i]);
	hs.nbound = 0;
	log_info("draining: %ld request%s in flight, timeout %d ms",
	    http_inflight(), http_inflight() == 1 ? "" : "s", timeout_ms);
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	hs.drain_ev = evtimer_new(hs.base, http_drain_timeout_cb, NULL);
	if (hs.drain_ev == NULL)
		fatalx("%s: evtimer_new", __func__);
	evtimer_add(hs.drain_ev, &tv);
	http_maybe_finish_drain();
}

/* evhttp takes fd (and closes it when the listener goes). */
static int
http_accept(int fd)
{
	struct evhttp_bound_socket	*b;

	if (hs.nbound == HTTP_MAX_LISTENERS)
		return -1;
	if ((b = evhttp_accept_socket_with_handle(hs.http, fd)) == NULL) {
		log_warnx("cannot accept connections on descriptor %d", fd);
		return -1;
	}
	evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(b),
	    http_accept_error_cb);
	hs.bound[hs.nbound++] = b;
	return 0;
}

int
http_listen_add(int fd)
{
	if (hs.draining || http_accept(fd) == -1)
		return -1;
	if (hs.paused)
		evconnlistener_disable(evhttp_bound_socket_get_listener(
		    hs.bound[hs.nbound - 1]));
	return 0;
}

void
http_listen_remove(int fd)
{
	int	i;

	for (i = 0; i < hs.nbound; i++) {
		if (evhttp_bound_socket_get_fd(hs.bound[i]) != fd)
			continue;
		evhttp_del_accept_socket(hs.http, hs.bound[i]);
		hs.bound[i] = hs.bound[--hs.nbound];
		return;
	}
}

/*
 * Raise the soft descriptor limit to the hard one. Returns how many
 * connections the descriptors allow beside reserved_fds and the nfds
 * listeners (at least 1, LONG_MAX without a limit); *limit is the limit.
 */
static long
http_fd_limit(int reserved_fds, int nfds, unsigned long long *limit)
{
	struct rlimit	rl;
	rlim_t		soft;

	*limit = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit RLIMIT_NOFILE");
		return LONG_MAX;
	}
	soft = rl.rlim_cur;
	if (rl.rlim_cur != rl.rlim_max && rl.rlim_max != RLIM_INFINITY) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			log_warn("cannot raise RLIMIT_NOFILE from %llu to %llu",
			    (unsigned long long)soft,
			    (unsigned long long)rl.rlim_max);
			rl.rlim_cur = soft;
		}
	}
	if (rl.rlim_cur == RLIM_INFINITY) {
		log_info("RLIMIT_NOFILE is unlimited");
		return LONG_MAX;
	}
	*limit = (unsigned long long)rl.rlim_cur;
	if (rl.rlim_cur != soft)
		log_info("RLIMIT_NOFILE raised from %llu to %llu (the hard "
		    "limit)", (unsigned long long)soft, *limit);
	else
		log_info("RLIMIT_NOFILE is %llu (the hard limit is %llu)",
		    *limit, (unsigned long long)rl.rlim_max);
	if (*limit > (unsigned long long)LONG_MAX / 2)
		return LONG_MAX;
	if ((long)*limit - reserved_fds - nfds < 1)
		return 1;
	return (long)*limit - reserved_fds - nfds;
}

int
http_init(struct event_base *base, const struct config *cfg, const int *fds,
    int nfds, const struct auth *auth, int reserved_fds)
{
	long			 fd_conns;
	struct timeval		 tv;
	unsigned long long	 limit;
	size_t			 nslots;
	int			 i;

	memset(&hs, 0, sizeof(hs));
	hs.base = base;
	hs.cfg = cfg;
	hs.auth = auth;
	clock_gettime(CLOCK_MONOTONIC, &hs.started);
	event_set_log_callback(log_libevent);

	if (nfds < 1 || nfds > HTTP_MAX_LISTENERS) {
		log_warnx("%d listening sockets: expected 1 to %d", nfds,
		    HTTP_MAX_LISTENERS);
		return -1;
	}
	hs.max_conns = cfg->max_connections;
	fd_conns = http_fd_limit(reserved_fds, nfds, &limit);
	hs.fd_conns = fd_conns;
	if (fd_conns < hs.max_conns) {
		log_warnx("maxConnections %d lowered to %ld: RLIMIT_NOFILE is "
		    "%llu", cfg->max_connections, fd_conns, limit);
		hs.max_conns = fd_conns;
	}
	for (nslots = 64; nslots < (size_t)hs.max_conns && nslots < 65536;
	    nslots *= 2)
		;
	if ((hs.hash = calloc(nslots, sizeof(*hs.hash))) == NULL)
		return -1;
	hs.hashmask = nslots - 1;
	hs.read_max = cfg->max_header_bytes + cfg->max_body_bytes +
	    HTTP_READ_SLACK;

	if ((hs.http = evhttp_new(base)) == NULL)
		goto fail;
	evhttp_set_max_headers_size(hs.http, (ev_ssize_t)cfg->max_header_bytes);
	evhttp_set_max_body_size(hs.http, (ev_ssize_t)cfg->max_body_bytes);
	tv.tv_sec = cfg->idle_timeout_ms / 1000;
	tv.tv_usec = (cfg->idle_timeout_ms % 1000) * 1000;
	evhttp_set_timeout_tv(hs.http, &tv);
	evhttp_set_allowed_methods(hs.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_gencb(hs.http, http_gencb, NULL);
	evhttp_set_bevcb(hs.http, http_bevcb, NULL);
	/* evhttp takes an absolute-form request ("GET http://HOST/ ...")
	 * for a host it does not know as a proxy request and closes the
	 * connection after the answer (it reads Proxy-Connection, not
	 * Connection). Deno's Unix socket client sends such requests to
	 * the dummy host of our clients (HTTP_UNIX_HOST): keep-alive. */
	if (evhttp_add_server_alias(hs.http, HTTP_UNIX_HOST) == -1)
		goto fail;

	for (i = 0; i < nfds; i++)
		if (http_accept(fds[i]) == -1)
			goto fail;

	hs.sweep_ev = event_new(base, -1, EV_PERSIST, http_sweep_cb, NULL);
	hs.flush_ev = evtimer_new(base, http_flush_cb, NULL);
	hs.backoff_ev = evtimer_new(base, http_backoff_cb, NULL);
	if (hs.sweep_ev == NULL || hs.flush_ev == NULL ||
	    hs.backoff_ev == NULL)
		goto fail;
	tv.tv_sec = HTTP_SWEEP_MS / 1000;
	tv.tv_usec = (HTTP_SWEEP_MS % 1000) * 1000;
	event_add(hs.sweep_ev, &tv);
	return 0;
fail:
	http_free();
	return -1;
}

/*
 * A reload: cfg (held by the caller until the next call or http_free())
 * gives the limits from now on. Timeouts and the listeners' pause apply at
 * once; libevent copies the size limits and the idle timeout into a
 * connection when it is accepted, so those apply to new connections.
 */
void
http_reconfigure(const struct config *cfg)
{
	struct timeval	tv;

	hs.cfg = cfg;
	hs.max_conns = cfg->max_connections < hs.fd_conns ?
	    cfg->max_connections : hs.fd_conns;
	if (hs.max_conns < cfg->max_connections)
		log_warnx("maxConnections %d lowered to %ld: RLIMIT_NOFILE",
		    cfg->max_connections, hs.max_conns);
	hs.read_max = cfg->max_header_bytes + cfg->max_body_bytes +
	    HTTP_READ_SLACK;
	evhttp_set_max_headers_size(hs.http, (ev_ssize_t)cfg->max_header_bytes);
	evhttp_set_max_body_size(hs.http, (ev_ssize_t)cfg->max_body_bytes);
	tv.tv_sec = cfg->idle_timeout_ms / 1000;
	tv.tv_usec = (cfg->idle_timeout_ms % 1000) * 1000;
	evhttp_set_timeout_tv(hs.http, &tv);
	http_update_pause();
}

void
http_free(void)
{
	struct http_conn	*c, *next;

	hs.exiting = 1;
	if (hs.http != NULL)
		evhttp_free(hs.http);	/* runs the close callbacks */
	hs.http = NULL;
	/* Every connection is gone now: drop our references. */
	for (c = hs.conns; c != NULL; c = next) {
		next = c->next;
		http_conn_free(c);
	}
	hs.conns = NULL;
	hs.nconns = 0;
	free(hs.hash);
	hs.hash = NULL;
	if (hs.sweep_ev != NULL)
		event_free(hs.sweep_ev);
	if (hs.flush_ev != NULL)
		event_free(hs.flush_ev);
	if (hs.drain_ev != NULL)
		event_free(hs.drain_ev);
	if (hs.backoff_ev != NULL)
		event_free(hs.backoff_ev);
	hs.sweep_ev = hs.flush_ev = hs.drain_ev = hs.backoff_ev = NULL;
	log_libevent_flush();
}
