/*
 * remote.h: one remote MCP server's transport: MCP Streamable HTTP
 * (2025-11-25) or the older HTTP+SSE transport (2024-11-05), over
 * http:// or https:// (tls.c), on libevent's HTTP client.
 *
 * It moves JSON-RPC messages and knows nothing else of MCP, like proc.c
 * for a child: server.c sends a message with remote_send() and gets
 * what the server sends through hooks. Streamable HTTP: each message is
 * a POST (Accept: application/json, text/event-stream) on a keep-alive
 * connection of a small pool (several in flight); its answer is a JSON
 * body or an event stream whose events are delivered one by one; the
 * session id of a response (Mcp-Session-Id) is kept and sent, with
 * MCP-Protocol-Version once remote_set_version() named it. HTTP+SSE: a
 * GET event stream names the endpoint (its "endpoint" event) to which
 * messages are POSTed, and carries the server's messages.
 *
 * Streamable HTTP's optional GET stream (the server's own requests and
 * notifications) is opened on a connection of its own once a POST of
 * notifications/initialized is accepted; its messages come through the
 * line hook like any other. A server that refuses it (405) has none for
 * the session; one that ends is reopened after 1 s, doubling to 30 s,
 * with Last-Event-ID when the server gave event ids.
 *
 * Bounds: a JSON body or an event longer than max_message is not kept
 * (the overflow hook gets its head) and its connection is closed; at
 * most max_buffered bytes of messages wait for a connection.
 *
 * A struct remote belongs to the thread that runs the event_base given
 * to remote_new() (a worker). Hooks are called only from the event
 * loop, never from inside a remote_*() call; remote_reset() and
 * remote_free() only from outside hooks.
 */
#ifndef REMOTE_H
#define REMOTE_H

#include <stddef.h>

struct event_base;
struct config_server;
struct remote;
struct remote_msg;
struct ssl_ctx_st;

struct remote_hooks {
	/* One message from the server, NUL-terminated, valid during the
	 * call (remote_take_line() keeps it). */
	void	(*line)(void *arg, char *line, size_t len);
	/* A message longer than max_message was dropped; head holds up to
	 * its first REMOTE_HEAD_MAX bytes, total what was seen of it. */
	void	(*overflow)(void *arg, const char *head, size_t headlen,
		    size_t total);
	/* The transport failed (unreachable, TLS refused, 5xx, session
	 * lost, the event stream closed): what says why. Nothing more
	 * comes until remote_reset() and remote_start(). */
	void	(*failed)(void *arg, const char *what);
	/* remote_stop() is done (the session's DELETE answered or not). */
	void	(*stopped)(void *arg);
	/* The server forgot our session and a new one replaced it (the
	 * initialize request replayed): its tools may have changed. */
	void	(*renewed)(void *arg);
};

#define REMOTE_HEAD_MAX	512

/* cs (a remote server's config) and ctx (its TLS context, for https:
 * tls.c; not freed here) must outlive the remote; label names it in log
 * lines and is copied. NULL with a message in err. */
struct remote	*remote_new(struct event_base *, const struct remote_hooks *,
		    void *arg, const char *label, const struct config_server *,
		    struct ssl_ctx_st *ctx, size_t max_message, char *err,
		    size_t errlen);
void		 remote_free(struct remote *);

/* Begins a new session: HTTP+SSE opens its event stream; Streamable HTTP
 * connects with the first message. */
void		 remote_start(struct remote *);
/* Drops every connection, message and the session (no DELETE). */
void		 remote_reset(struct remote *);
/* Ends the session: a DELETE (Streamable HTTP with a session id), then
 * the stopped hook; 0 when there is nothing to wait for (no hook). */
int		 remote_stop(struct remote *);

/* As proc_send(): head and tail copied, body taken; *handle points to
 * the message until it is handed to a connection. -1 (body freed) when
 * more than max_buffered bytes would wait. */
int		 remote_send(struct remote *, const char *head, size_t headlen,
		    char *body, size_t bodylen, const char *tail,
		    size_t taillen, struct remote_msg **handle);
/* Withdraws a message not yet handed to a connection: 0; else -1. */
int		 remote_cancel(struct remote *, struct remote_msg *);
/* Bytes of messages waiting for a connection. */
size_t		 remote_buffered(const struct remote *);
/* Inside the line hook: the message in a malloc'd buffer. */
char		*remote_take_line(struct remote *, char *line, size_t len);
/* The protocol version the server agreed to, for MCP-Protocol-Version. */
void		 remote_set_version(struct remote *, const char *);

#endif
