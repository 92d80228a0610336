/*
 * session.h: sessions - one daemon, many sandboxes. The daemon token (the
 * admin) creates a session for each sandbox: a caller with a token of its
 * own (only its SHA-256 is kept, in auth's table), an allowlist within the
 * daemon's, its own rate buckets (and its own limit when it asks), a cap
 * on its concurrent calls and its call log. A session ends when it expires
 * (a timer reaps it) or is revoked; a call it has in flight completes,
 * holding the session until then. Sessions live in memory only.
 *
 * Threads: the loop thread only, except that the allowlist returned by
 * session_allowlist() is immutable and may be read by the thread that
 * checks a call while the call holds its session (session_enter() until
 * session_leave()).
 */
#ifndef SESSION_H
#define SESSION_H

#include <stddef.h>

#include <json-c/json.h>

struct allowlist;
struct auth;
struct auth_caller;
struct config;
struct event_base;
struct ratelimit;
struct session;

#define SESSION_LABEL_MAX	128
#define SESSION_TTL_MAX		(7 * 24 * 3600)
#define SESSION_TTL_DEFAULT	3600

/* What POST /sessions asks for (see sessionapi.c). */
struct session_params {
	char		**tools;	/* NULL: the daemon's allowedTools */
	size_t		  ntools;
	int		  ttl_s;
	char		  label[SESSION_LABEL_MAX + 1];
	int		  rate_requests;	/* 0: the daemon's limit */
	int		  rate_window_s;
	int		  max_concurrent;	/* 0: no cap of its own */
};

/* At start: sessions are added to auth, bounded by cfg's maxSessions,
 * and must lie within daemon_allow; a timer on base reaps the expired. */
int		 session_init(struct event_base *, struct auth *,
		    const struct config *, const struct allowlist *daemon_allow);
/* Loop thread, a reload: maxSessions and the daemon's allowlist from now
 * on (held by the caller until the next call or session_free_all()).
 * Sessions keep their own allowlists; a call is checked against the
 * daemon's too (exec.c), so a narrower one applies to them at once. */
void		 session_reconfigure(const struct config *,
		    const struct allowlist *daemon_allow);
/* At exit, after the last call has been answered. */
void		 session_free_all(void);

/*
 * A new session; its token (64 hex digits) in token. NULL with an HTTP
 * status and a message in err when it cannot be made: 403 when it asks
 * for tools beyond the daemon's allowedTools (the patterns named in err),
 * 503 at maxSessions, 500 out of memory.
 */
struct session	*session_create(const struct session_params *,
		    char token[65], int *status, char *err, size_t errlen);
/* By id; NULL when there is none (expired and revoked ones are gone). */
struct session	*session_find(const char *id);
/* Ends it now: its token stops working; its calls in flight complete. */
void		 session_revoke(struct session *);

/* For the caller a request came with (the daemon token: NULL session). */
const struct allowlist *session_allowlist(const struct auth_caller *);
/* The session's own limiter for POST /, or NULL: the daemon's. */
struct ratelimit *session_ratelimit(const struct auth_caller *);
/* A call starts: -1 when the session is at its maxConcurrent (nothing
 * held); else the session is held until session_leave(). */
int		 session_enter(const struct auth_caller *);
/* The call ended (tool: its toolName, NULL when it had none). */
void		 session_leave(const struct auth_caller *, const char *tool,
		    int status, double ms, const char *error);
/* Keeps a caller's record valid across a wait (a discovery waiting for
 * tool lists) without counting a call. */
void		 session_hold(const struct auth_caller *);
void		 session_drop(const struct auth_caller *);
/* Its maxConcurrent (0: none). */
int		 session_max_concurrent(const struct auth_caller *);

/* JSON for the API: one session (with its calls when asked), all of them
 * (no tokens, ever), and the calls GET /mcp/calls shows a caller (its
 * own, or every caller's for the daemon token). New objects. */
json_object	*session_json(const struct session *, int with_calls);
json_object	*session_list_json(void);
json_object	*session_calls_json(const struct auth_caller *);

/* For GET /metrics. */
struct session_counts {
	long	active;
	long	created;
	long	expired;
	long	revoked;
};
void		 session_counts(struct session_counts *);

#endif
