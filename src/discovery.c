/*
 * discovery.c: GET /mcp/tools - the tools agents may look for, without
 * loading every schema into their context.
 *
 * The answer comes from the servers' published toolsets, never from the
 * servers themselves. A server that has never listed its tools (still
 * starting, or failed) is waited for at most discoveryTimeoutMs, by a timer
 * on the loop thread (never a blocking wait); then the answer carries what
 * there is and a "warnings" list naming the servers left out.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "allowlist.h"
#include "audit.h"
#include "auth.h"
#include "config.h"
#include "discovery.h"
#include "http.h"
#include "log.h"
#include "ratelimit.h"
#include "registry.h"
#include "session.h"
#include "snapshot.h"
#include "toolset.h"

#define DISC_MAX_QUERY		100
#define DISC_MAX_KEYWORDS	32
#define DISC_POLL_MS		20

struct disc_wait {
	struct http_pending	 hp;
	struct event		*ev;
	char			**keywords;
	const struct auth_caller *caller;
	int			 only_allowed;	/* ?allowed=true */
	double			 deadline;
	struct disc_wait	*prev;
	struct disc_wait	*next;
};

static void	disc_handle(struct evhttp_request *, const struct auth_caller *,
		    void *);
static int	disc_missing(void);
static void	disc_answer(struct evhttp_request *, const struct auth_caller *,
		    char **, int);
static int	disc_allowed_param(const char *);
static void	disc_audit(struct evhttp_request *, const struct auth_caller *,
		    char **, int, int, const char *);
static void	disc_poll_cb(evutil_socket_t, short, void *);
static void	disc_wait_free(struct disc_wait *);

static struct registry		*disc_registry;
static const struct config	*disc_live;	/* the settings in force */
static struct ratelimit		*disc_rl;
static struct disc_wait		*disc_waits;
static struct event_base	*disc_base;

void
discovery_free_keywords(char **kw)
{
	char	**p;

	if (kw == NULL)
		return;
	for (p = kw; *p != NULL; p++)
		free(*p);
	free(kw);
}

int
discovery_parse_query(const char *query, char ***out, const char **msg,
    char **bad)
{
	char		**kw = NULL, *copy = NULL, *part, *save = NULL, *val;
	size_t		 n = 0, vlen, i;

	*out = NULL;
	*bad = NULL;
	*msg = NULL;
	if ((kw = calloc(DISC_MAX_KEYWORDS + 1, sizeof(*kw))) == NULL)
		goto nomem;
	if (query == NULL || *query == '\0') {
		*out = kw;
		return 0;
	}
	if ((copy = strdup(query)) == NULL)
		goto nomem;
	for (part = strtok_r(copy, "&", &save); part != NULL;
	    part = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(part, '=');

		if (eq == NULL || (size_t)(eq - part) != 1 || part[0] != 'q')
			continue;	/* other parameters are ignored */
		val = evhttp_uridecode(eq + 1, 1, &vlen);
		if (val == NULL)
			goto nomem;
		if (vlen == 0) {	/* an empty q is ignored */
			free(val);
			continue;
		}
		if (vlen > DISC_MAX_QUERY) {
			*msg = "Search query too long (max 100 characters)";
			*bad = val;
			goto fail;
		}
		for (i = 0; i < vlen; i++) {
			unsigned char c = (unsigned char)val[i];

			if (!isalnum(c) && c != ' ' && c != '-' && c != '_')
				break;
		}
		if (i < vlen) {
			*msg = "Invalid characters in search query (allowed: "
			    "alphanumeric, spaces, hyphens, underscores)";
			*bad = val;
			goto fail;
		}
		if (n == DISC_MAX_KEYWORDS) {
			*msg = "Too many search queries (max 32)";
			*bad = val;
			goto fail;
		}
		for (i = 0; i < vlen; i++)
			val[i] = (char)tolower((unsigned char)val[i]);
		kw[n++] = val;
	}
	free(copy);
	*out = kw;
	return 0;
nomem:
	*msg = "out of memory";
fail:
	free(copy);
	discovery_free_keywords(kw);
	return -1;
}

int
discovery_match(const char *haystack, char *const *keywords)
{
	if (keywords == NULL || keywords[0] == NULL)
		return 1;
	for (; *keywords != NULL; keywords++)
		if (strstr(haystack, *keywords) != NULL)
			return 1;
	return 0;
}

/* Number of enabled servers without a toolset. */
static int
disc_missing(void)
{
	size_t		 s;
	int		 n = 0;
	struct toolset	*ts;

	for (s = 0; s < registry_nservers(disc_registry); s++) {
		if (!registry_enabled(disc_registry, s))
			continue;
		if ((ts = registry_toolset(disc_registry, s)) == NULL)
			n++;
		else
			toolset_release(ts);
	}
	return n;
}

/* The audit line of a discovery request, with the original's members
 * (action, endpoint, searchTerms, resultsCount, clientId). */
static void
disc_audit(struct evhttp_request *req, const struct auth_caller *caller,
    char **keywords, int status, int results, const char *error)
{
	struct audit_event	 ev;
	json_object		*terms;
	char			 extra[4096];
	size_t			 i;

	terms = json_object_new_array();
	for (i = 0; keywords != NULL && keywords[i] != NULL; i++)
		json_object_array_add(terms,
		    json_object_new_string(keywords[i]));
	snprintf(extra, sizeof(extra), "\"action\":\"discover\",\"endpoint\":"
	    "\"/mcp/tools\",\"searchTerms\":%s,\"resultsCount\":%d,"
	    "\"clientId\":\"%s\"", json_object_to_json_string_ext(terms,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), results,
	    caller != NULL ? caller->id : "");
	json_object_put(terms);
	memset(&ev, 0, sizeof(ev));
	ev.event = "discovery";
	ev.status = status;
	ev.error = error;
	ev.extra = extra;
	http_audit(req, caller, &ev);
}

static void
disc_answer(struct evhttp_request *req, const struct auth_caller *caller,
    char **keywords, int only_allowed)
{
	struct evbuffer	*buf = evbuffer_new();
	struct toolset	*ts;
	const struct tool *t;
	size_t		 s, i;
	int		 first = 1, nwarn = 0, nresults = 0;
	const struct allowlist *allow = session_allowlist(caller);
	const struct allowlist *daemon = snapshot_current()->allow;
	json_object	*warnings = json_object_new_array();
	char		 msg[256];

	if (buf == NULL) {
		json_object_put(warnings);
		http_reply_error(req, 500, "out of memory", 0);
		return;
	}
	evbuffer_add(buf, "{\"tools\":[", 10);
	for (s = 0; s < registry_nservers(disc_registry); s++) {
		if (!registry_enabled(disc_registry, s))
			continue;
		if ((ts = registry_toolset(disc_registry, s)) == NULL) {
			snprintf(msg, sizeof(msg), "server '%s' has not listed "
			    "its tools yet (starting or failed): its tools are "
			    "left out", registry_server_name(disc_registry, s));
			json_object_array_add(warnings,
			    json_object_new_string(msg));
			nwarn++;
			continue;
		}
		for (i = 0; i < toolset_count(ts); i++) {
			t = toolset_tool(ts, i);
			if (!discovery_match(t->search_text, keywords))
				continue;
			if ((only_allowed ||
			    disc_live->discovery_respects_allowlist) &&
			    (!allowlist_match(allow, t->full_name) ||
			    (daemon != allow &&
			    !allowlist_match(daemon, t->full_name))))
				continue;
			if (!first)
				evbuffer_add(buf, ",", 1);
			evbuffer_add(buf, t->json, strlen(t->json));
			first = 0;
			nresults++;
		}
		toolset_release(ts);
	}
	evbuffer_add(buf, "]", 1);
	if (nwarn > 0) {
		const char *w = json_object_to_json_string_ext(warnings,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

		evbuffer_add_printf(buf, ",\"warnings\":%s", w);
	}
	evbuffer_add(buf, "}", 1);
	json_object_put(warnings);
	disc_audit(req, caller, keywords, 200, nresults, NULL);
	http_reply_buffer(req, 200, buf, 0);
	evbuffer_free(buf);
}

static void
disc_wait_free(struct disc_wait *w)
{
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		disc_waits = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	if (w->ev != NULL)
		event_free(w->ev);
	discovery_free_keywords(w->keywords);
	if (w->caller != NULL)
		session_drop(w->caller);
	free(w);
}

static void
disc_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct disc_wait	*w = arg;
	struct evhttp_request	*req;
	struct timeval		 tv = { 0, DISC_POLL_MS * 1000 };

	if (w->hp.abandoned) {		/* the drain answered it */
		disc_wait_free(w);
		return;
	}
	if (disc_missing() > 0 && http_now_ms() < w->deadline) {
		evtimer_add(w->ev, &tv);
		return;
	}
	req = http_pending_remove(&w->hp);
	if (req != NULL)
		disc_answer(req, w->caller, w->keywords, w->only_allowed);
	disc_wait_free(w);
}

/* allowed=true: 1; allowed=false or none: 0; another value: -1. */
static int
disc_allowed_param(const char *query)
{
	const char	*p = query, *end;
	int		 v = 0;

	while (p != NULL && *p != '\0') {
		end = strchr(p, '&');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) >= 8 && strncmp(p, "allowed=", 8) == 0) {
			if ((size_t)(end - p) == 12 &&
			    strncmp(p + 8, "true", 4) == 0)
				v = 1;
			else if ((size_t)(end - p) == 13 &&
			    strncmp(p + 8, "false", 5) == 0)
				v = 0;
			else
				return -1;
		}
		p = *end == '&' ? end + 1 : end;
	}
	return v;
}

static void
disc_handle(struct evhttp_request *req, const struct auth_caller *caller,
    void *arg)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	char			**keywords, *bad;
	const char		 *msg;
	struct disc_wait	 *w;
	struct timeval		  tv = { 0, DISC_POLL_MS * 1000 };
	int			  only_allowed;

	/* The rate limit comes before any other work. */
	if (http_rate_limited(req, disc_rl, caller))
		return;
	if ((only_allowed = disc_allowed_param(uri != NULL ?
	    evhttp_uri_get_query(uri) : NULL)) == -1) {
		msg = "Invalid allowed parameter (allowed=true lists only the "
		    "tools this token may call)";
		disc_audit(req, caller, NULL, 400, 0, msg);
		http_reply_error(req, 400, msg, 0);
		return;
	}
	if (discovery_parse_query(uri != NULL ? evhttp_uri_get_query(uri) :
	    NULL, &keywords, &msg, &bad) == -1) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "error", json_object_new_string(msg));
		if (bad != NULL)
			json_object_object_add(o, "query",
			    json_object_new_string(bad));
		free(bad);
		disc_audit(req, caller, NULL, 400, 0, msg);
		http_reply_json(req, 400, o, 0);
		return;
	}
	if (disc_live->discovery_timeout_ms == 0 || disc_missing() == 0) {
		disc_answer(req, caller, keywords, only_allowed);
		discovery_free_keywords(keywords);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->ev = evtimer_new(disc_base, disc_poll_cb, w)) == NULL) {
		free(w);
		disc_answer(req, caller, keywords, only_allowed);
		discovery_free_keywords(keywords);
		return;
	}
	w->keywords = keywords;
	w->only_allowed = only_allowed;
	w->caller = caller;
	session_hold(caller);
	w->deadline = http_now_ms() + disc_live->discovery_timeout_ms;
	w->next = disc_waits;
	if (disc_waits != NULL)
		disc_waits->prev = w;
	disc_waits = w;
	http_pending_add(&w->hp, req);
	evtimer_add(w->ev, &tv);
}

void
discovery_register(struct registry *reg, const struct config *cfg)
{
	disc_registry = reg;
	disc_live = cfg;
	disc_base = http_base();
	disc_rl = NULL;
	if (cfg->rate_discovery.requests > 0 &&
	    (disc_rl = ratelimit_new(cfg->rate_discovery.requests,
	    cfg->rate_discovery.window_s)) == NULL)
		fatalx("%s: cannot create the rate limiter", __func__);
	http_sweep_ratelimit(disc_rl);
	http_add_route("/mcp/tools", HTTP_M_GET | HTTP_R_SANDBOX, disc_handle,
	    NULL);
}

void
discovery_reconfigure(const struct config *cfg)
{
	disc_live = cfg;
	if (disc_rl == NULL && cfg->rate_discovery.requests > 0) {
		disc_rl = ratelimit_new(cfg->rate_discovery.requests,
		    cfg->rate_discovery.window_s);
		if (disc_rl == NULL)
			log_warnx("%s: cannot create the rate limiter: "
			    "rateLimits.discovery not applied", __func__);
		http_sweep_ratelimit(disc_rl);
	} else if (disc_rl != NULL)
		(void)ratelimit_set(disc_rl, cfg->rate_discovery.requests,
		    cfg->rate_discovery.window_s);
}

void
discovery_free(void)
{
	while (disc_waits != NULL) {
		if (!disc_waits->hp.abandoned)
			http_pending_remove(&disc_waits->hp);
		disc_wait_free(disc_waits);
	}
	ratelimit_free(disc_rl);
	disc_rl = NULL;
}
