/*
 * http.h: the evhttp front end. Everything here runs on the loop thread
 * only (evhttp is not thread-safe).
 *
 * Every request is counted in flight when it arrives and must be answered
 * exactly once through http_reply*(), the one place that sends, counts and
 * finishes a drain. A handler that answers later (after a worker or a
 * server) registers a struct http_pending so that a drain that times out
 * can answer it and mark it abandoned; the late result is then dropped.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stdatomic.h>
#include <stddef.h>

#include <json-c/json.h>

struct audit_event;
struct auth;
struct auth_caller;
struct config;
struct event_base;
struct evbuffer;
struct evhttp_request;
struct ratelimit;

enum http_method_mask {
	HTTP_M_GET = 1 << 0,		/* GET and HEAD */
	HTTP_M_POST = 1 << 1,
	HTTP_M_DELETE = 1 << 2,
	/* Not methods: how a route matches and who may use it. */
	HTTP_R_PREFIX = 1 << 8,		/* path is a prefix: "/sessions/" */
	HTTP_R_SANDBOX = 1 << 9		/* session tokens may use it too; the
					   others need the daemon token */
};

typedef void (*http_handler)(struct evhttp_request *,
    const struct auth_caller *, void *);

struct http_pending {
	struct evhttp_request	*req;
	struct http_pending	*prev;
	struct http_pending	*next;
	int			 abandoned;	/* answered by the drain */
};

/* Serves the listening sockets fds[0..nfds-1] (listen.c made them; evhttp
 * closes each one it took when the listener goes). Returns 0, or
 * -1 with a message. Also routes libevent's log through log.c, raises the
 * soft RLIMIT_NOFILE to the hard limit and lowers maxConnections (with a
 * warning) so that the connections leave reserved_fds descriptors and the
 * listeners to the rest of the daemon (children's pipes, eventfds,
 * epoll). */
int	http_init(struct event_base *, const struct config *, const int *fds,
	    int nfds, const struct auth *, int reserved_fds);
void	http_add_route(const char *path, int methods, http_handler, void *arg);
/* Loop thread, a reload: accept connections on one more listening socket
 * (evhttp takes fd; 0 or -1), or no longer on fd (evhttp closes it). The
 * descriptor budget stays the one of the start. */
int	http_listen_add(int fd);
void	http_listen_remove(int fd);
/* Loop thread, a reload: the limits and timeouts of cfg from now on (cfg
 * outlives its use here: the caller holds it until the next call). */
void	http_reconfigure(const struct config *);
void	http_free(void);

/* Replies. body is copied; http_reply_take() takes a malloc'd body. */
void	http_reply(struct evhttp_request *, int status, const char *body,
	    size_t len, int retry_after);
void	http_reply_take(struct evhttp_request *, int status, char *body,
	    size_t len, int retry_after);
/* Moves the contents of buf (an evbuffer) into the reply. */
void	http_reply_buffer(struct evhttp_request *, int status,
	    struct evbuffer *buf, int retry_after);
/* Consumes obj (json_object_put). */
void	http_reply_json(struct evhttp_request *, int status, json_object *obj,
	    int retry_after);
/* {"error": msg} */
void	http_reply_error(struct evhttp_request *, int status, const char *msg,
	    int retry_after);

/* Takes a token from rl for the caller; when none is left answers 429
 * {"error":"Rate limit exceeded","retryAfter":s,"limit":N,"window":"Ws"}
 * with Retry-After (counted, and audited as rejected) and returns 1. */
int	http_rate_limited(struct evhttp_request *, struct ratelimit *,
	    const struct auth_caller *);
/* The request's id (see reqid.h): valid until its reply. */
const char *http_request_id(struct evhttp_request *);
/* Milliseconds since the request arrived (http_gencb()). */
double	http_request_age_ms(struct evhttp_request *);
/* Fills ev's requestId, client (the peer's address), caller (its public
 * id; caller may be NULL) and latencyMs (since the request arrived), and
 * writes it to the audit log. */
void	http_audit(struct evhttp_request *, const struct auth_caller *,
	    struct audit_event *);
/* The loop thread's event base. */
struct event_base *http_base(void);
/* Sweeps rl's idle buckets every second (at most 4 limiters). */
void	http_sweep_ratelimit(struct ratelimit *);
/* Milliseconds on the monotonic clock. */
double	http_now_ms(void);

/* A number a handler keeps with the request's connection for its next
 * request (exec: the worker that owned the last call's MCP server
 * instance); -1 until set. */
int	http_conn_hint(struct evhttp_request *);
void	http_conn_set_hint(struct evhttp_request *, int);

/* Deferred answers. */
void	http_pending_add(struct http_pending *, struct evhttp_request *);
/* Removes it; returns its request, or NULL when the drain abandoned it. */
struct evhttp_request *http_pending_remove(struct http_pending *);

/* Graceful drain: stop accepting, answer new requests 503, and exit the
 * loop once nothing is in flight and every reply is flushed, or after
 * timeout_ms (then every pending request is answered 503 first). */
void	http_drain(int timeout_ms);
int	http_draining(void);
long	http_inflight(void);
/* Connections open now (counted for maxConnections, lingering ones
 * too). */
long	http_connections(void);
/* Seconds since start, for /health. */
double	http_uptime_ms(void);

#endif
