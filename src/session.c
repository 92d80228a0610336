/*
 * session.c: the sessions (see session.h). Loop thread only.
 *
 * A session is held by the table while it lives and by each call it has
 * in flight; revoking or expiring it takes it out of the table and out of
 * auth's (its token stops working at once) and drops the table's hold; it
 * is freed when the last call is answered.
 */
#include <sys/random.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "allowlist.h"
#include "audit.h"
#include "auth.h"
#include "calllog.h"
#include "config.h"
#include "log.h"
#include "monotime.h"
#include "ratelimit.h"
#include "session.h"
#include "stats.h"

#define SESSION_ID_BYTES	8	/* 16 hex digits */
#define SESSION_HASH		1024	/* buckets by id */
#define SESSION_REAP_MS		1000

struct session {
	struct auth_caller	 caller;	/* its name is the id */
	char			 label[SESSION_LABEL_MAX + 1];
	struct allowlist	*allow;
	struct ratelimit	*rl;		/* its own limit, or NULL */
	int			 max_concurrent;
	int			 rate_requests;
	int			 rate_window_s;
	int			 inflight;
	int			 refs;		/* the table, and each call */
	struct timespec		 created;	/* CLOCK_REALTIME */
	struct timespec		 expires;
	struct calllog		*log;
	struct session		*prev, *next;	/* the live ones */
	struct session		*idnext;	/* by id */
};

static struct {
	struct auth		*auth;
	const struct allowlist	*daemon_allow;
	int			 max;
	struct session		*head;
	struct session		*byid[SESSION_HASH];
	long			 n;
	long			 created, expired, revoked;
	struct calllog		*all;		/* every caller's calls */
	struct event		*reap_ev;
} ss;

static int	 session_new_id(char *, size_t);
static size_t	 session_slot(const char *);
static int	 session_within(const struct session_params *, char *, size_t);
static struct session *session_build(const struct session_params *,
		    char token[65]);
static void	 session_link(struct session *);
static void	 session_unlink(struct session *);
static void	 session_end(struct session *, const char *);
static void	 session_release(struct session *);
static void	 session_destroy(struct session *);
static void	 session_reap_cb(evutil_socket_t, short, void *);
static void	 session_audit(const struct session *, const char *);

int
session_init(struct event_base *base, struct auth *auth,
    const struct config *cfg, const struct allowlist *daemon_allow)
{
	struct timeval	tv = { SESSION_REAP_MS / 1000, 0 };

	memset(&ss, 0, sizeof(ss));
	ss.auth = auth;
	ss.daemon_allow = daemon_allow;
	ss.max = cfg->max_sessions;
	if ((ss.all = calllog_new()) == NULL)
		return -1;
	if (base != NULL && ((ss.reap_ev = event_new(base, -1, EV_PERSIST,
	    session_reap_cb, NULL)) == NULL || event_add(ss.reap_ev, &tv) ==
	    -1))
		return -1;
	return 0;
}

void
session_reconfigure(const struct config *cfg,
    const struct allowlist *daemon_allow)
{
	ss.daemon_allow = daemon_allow;
	ss.max = cfg->max_sessions;
}

void
session_free_all(void)
{
	struct session	*s;

	while ((s = ss.head) != NULL) {
		session_unlink(s);
		session_destroy(s);
	}
	if (ss.reap_ev != NULL)
		event_free(ss.reap_ev);
	calllog_free(ss.all);
	memset(&ss, 0, sizeof(ss));
}

/* ------------------------------------------------------------ the table */

static size_t
session_slot(const char *id)
{
	uint32_t	h = 2166136261u;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % SESSION_HASH;
}

static void
session_link(struct session *s)
{
	size_t	slot = session_slot(s->caller.name);

	s->prev = NULL;
	s->next = ss.head;
	if (ss.head != NULL)
		ss.head->prev = s;
	ss.head = s;
	s->idnext = ss.byid[slot];
	ss.byid[slot] = s;
	ss.n++;
}

static void
session_unlink(struct session *s)
{
	struct session	**pp;

	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		ss.head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	for (pp = &ss.byid[session_slot(s->caller.name)]; *pp != NULL;
	    pp = &(*pp)->idnext)
		if (*pp == s) {
			*pp = s->idnext;
			break;
		}
	auth_remove(ss.auth, &s->caller);
	ss.n--;
}

struct session *
session_find(const char *id)
{
	struct session	*s;

	for (s = ss.byid[session_slot(id)]; s != NULL; s = s->idnext)
		if (strcmp(s->caller.name, id) == 0)
			return s;
	return NULL;
}

/* ---------------------------------------------------------- creating */

static int
session_new_id(char *out, size_t len)
{
	unsigned char	raw[SESSION_ID_BYTES];
	size_t		i;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -1;
	for (i = 0; i < sizeof(raw) && 2 * i + 2 < len; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

/* 0 when every pattern asked for is within the daemon's allowedTools (a
 * daemon glob matching the pattern as a string covers every name the
 * pattern matches: "*" in a tool name never is a literal character);
 * else -1 with the others named in err. */
static int
session_within(const struct session_params *p, char *err, size_t errlen)
{
	size_t	i, n = 0, len;
	int	w;

	for (i = 0; i < p->ntools; i++) {
		if (allowlist_match(ss.daemon_allow, p->tools[i]))
			continue;
		len = strlen(err);
		w = snprintf(err + len, errlen - len, "%s'%s'", n++ == 0 ?
		    "allowedTools beyond the daemon's allowedTools: " : ", ",
		    p->tools[i]);
		if (w < 0 || (size_t)w >= errlen - len)
			break;
	}
	return n == 0 ? 0 : -1;
}

static struct session *
session_build(const struct session_params *p, char token[65])
{
	struct session	*s;
	char		**pats = p->tools;
	size_t		  i, n = p->ntools;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if (pats == NULL) {
		n = allowlist_count(ss.daemon_allow);
		if ((pats = calloc(n + 1, sizeof(*pats))) == NULL)
			goto fail;
		for (i = 0; i < n; i++)
			pats[i] = (char *)(uintptr_t)allowlist_pattern(
			    ss.daemon_allow, i);
	}
	s->allow = allowlist_new(pats, n);
	if (pats != p->tools)
		free(pats);
	if (s->allow == NULL || (s->log = calllog_new()) == NULL ||
	    (p->rate_requests > 0 && (s->rl = ratelimit_new(p->rate_requests,
	    p->rate_window_s)) == NULL) ||
	    session_new_id(s->caller.name, sizeof(s->caller.name)) == -1 ||
	    auth_token_generate(token) == -1)
		goto fail;
	snprintf(s->label, sizeof(s->label), "%s", p->label);
	s->max_concurrent = p->max_concurrent;
	s->rate_requests = p->rate_requests;
	s->rate_window_s = p->rate_window_s;
	auth_digest(token, s->caller.digest);
	s->caller.session = s;
	s->caller.expires_ms = monotime_ms() + 1000.0 * p->ttl_s;
	clock_gettime(CLOCK_REALTIME, &s->created);
	s->expires = s->created;
	s->expires.tv_sec += p->ttl_s;
	return s;
 fail:
	session_destroy(s);
	return NULL;
}

struct session *
session_create(const struct session_params *p, char token[65], int *status,
    char *err, size_t errlen)
{
	struct session	*s;

	err[0] = '\0';
	if (session_within(p, err, errlen) == -1) {
		*status = 403;
		return NULL;
	}
	if (ss.n >= ss.max) {
		*status = 503;
		if (ss.max == 0)
			snprintf(err, errlen, "Service Unavailable - sessions "
			    "are disabled (maxSessions is 0)");
		else {
			stats_reject(STATS_MAX_SESSIONS);
			snprintf(err, errlen, "Service Unavailable - %ld "
			    "sessions exist (maxSessions); revoke one or wait "
			    "for one to expire", ss.n);
		}
		return NULL;
	}
	if ((s = session_build(p, token)) == NULL ||
	    auth_add(ss.auth, &s->caller) == -1) {
		session_destroy(s);
		explicit_bzero(token, 65);
		*status = 500;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->refs = 1;
	session_link(s);
	ss.created++;
	session_audit(s, "session_created");
	return s;
}

/* ------------------------------------------------------------- ending */

static void
session_audit(const struct session *s, const char *event)
{
	struct audit_event	 ev;
	json_object		*label = json_object_new_string(s->label);
	char			 extra[SESSION_LABEL_MAX * 6 + 160];

	snprintf(extra, sizeof(extra), "\"sessionId\":\"%s\",\"label\":%s,"
	    "\"calls\":%ld", s->caller.name, json_object_to_json_string_ext(
	    label, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	    calllog_count(s->log));
	json_object_put(label);
	memset(&ev, 0, sizeof(ev));
	ev.event = event;
	ev.caller = s->caller.id;
	ev.latency_ms = -1;
	ev.extra = extra;
	audit_log(&ev);
}

/* Out of the table and of auth: its token stops working now. */
static void
session_end(struct session *s, const char *event)
{
	session_unlink(s);
	session_audit(s, event);
	session_release(s);
}

void
session_revoke(struct session *s)
{
	ss.revoked++;
	session_end(s, "session_revoked");
}

static void
session_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s, *next;
	double		 now = monotime_ms();

	for (s = ss.head; s != NULL; s = next) {
		next = s->next;
		if (now >= s->caller.expires_ms) {
			ss.expired++;
			session_end(s, "session_expired");
		}
	}
}

static void
session_release(struct session *s)
{
	if (--s->refs == 0)
		session_destroy(s);
}

static void
session_destroy(struct session *s)
{
	if (s == NULL)
		return;
	allowlist_free(s->allow);
	ratelimit_free(s->rl);
	calllog_free(s->log);
	explicit_bzero(s->caller.digest, sizeof(s->caller.digest));
	free(s);
}

/* ------------------------------------------------------------- callers */

const struct allowlist *
session_allowlist(const struct auth_caller *c)
{
	return c->session != NULL ? c->session->allow : ss.daemon_allow;
}

struct ratelimit *
session_ratelimit(const struct auth_caller *c)
{
	return c->session != NULL ? c->session->rl : NULL;
}

int
session_max_concurrent(const struct auth_caller *c)
{
	return c->session != NULL ? c->session->max_concurrent : 0;
}

void
session_hold(const struct auth_caller *c)
{
	if (c->session != NULL)
		c->session->refs++;
}

void
session_drop(const struct auth_caller *c)
{
	if (c->session != NULL)
		session_release(c->session);
}

int
session_enter(const struct auth_caller *c)
{
	struct session	*s = c->session;

	if (s == NULL)
		return 0;
	if (s->max_concurrent > 0 && s->inflight >= s->max_concurrent)
		return -1;
	s->inflight++;
	s->refs++;
	return 0;
}

void
session_leave(const struct auth_caller *c, const char *tool, int status,
    double ms, const char *error)
{
	struct session	*s = c->session;
	struct timespec	 now;

	if (tool != NULL) {
		clock_gettime(CLOCK_REALTIME, &now);
		calllog_record(ss.all, tool, status == 200, ms, error, &now);
		if (s != NULL)
			calllog_record(s->log, tool, status == 200, ms, error,
			    &now);
	}
	if (s == NULL)
		return;
	s->inflight--;
	session_release(s);
}

/* ---------------------------------------------------------------- JSON */

json_object *
session_json(const struct session *s, int with_calls)
{
	json_object	*o = json_object_new_object(), *tools, *calls;
	char		 stamp[LOG_TIMESTAMP_LEN];
	size_t		 i;

	json_object_object_add(o, "sessionId",
	    json_object_new_string(s->caller.name));
	json_object_object_add(o, "label", json_object_new_string(s->label));
	log_timestamp(&s->created, stamp);
	json_object_object_add(o, "createdAt", json_object_new_string(stamp));
	log_timestamp(&s->expires, stamp);
	json_object_object_add(o, "expiresAt", json_object_new_string(stamp));
	tools = json_object_new_array();
	for (i = 0; i < allowlist_count(s->allow); i++)
		json_object_array_add(tools, json_object_new_string(
		    allowlist_pattern(s->allow, i)));
	json_object_object_add(o, "allowedTools", tools);
	json_object_object_add(o, "maxConcurrent",
	    json_object_new_int(s->max_concurrent));
	if (s->rl != NULL) {
		json_object *rl = json_object_new_object();

		json_object_object_add(rl, "requests",
		    json_object_new_int(s->rate_requests));
		json_object_object_add(rl, "windowSeconds",
		    json_object_new_int(s->rate_window_s));
		json_object_object_add(o, "rateLimit", rl);
	}
	json_object_object_add(o, "inflight", json_object_new_int(s->inflight));
	json_object_object_add(o, "callCount",
	    json_object_new_int64(calllog_count(s->log)));
	if (with_calls && (calls = calllog_json(s->log)) != NULL) {
		json_object_object_foreach(calls, k, v)
			json_object_object_add(o, k, json_object_get(v));
		json_object_put(calls);
	}
	return o;
}

json_object *
session_list_json(void)
{
	json_object	*arr = json_object_new_array();
	struct session	*s;

	for (s = ss.head; s != NULL; s = s->next)
		json_object_array_add(arr, session_json(s, 0));
	return arr;
}

json_object *
session_calls_json(const struct auth_caller *c)
{
	return calllog_json(c->session != NULL ? c->session->log : ss.all);
}

void
session_counts(struct session_counts *n)
{
	n->active = ss.n;
	n->created = ss.created;
	n->expired = ss.expired;
	n->revoked = ss.revoked;
}
