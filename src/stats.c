/*
 * stats.c: the counters of stats.h and their text exposition.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "config.h"
#include "stats.h"

#define STATS_MAX_STATUS	600
#define STATS_TOOL_HASH		64
/* Tool series per server, at most (a server that renames its tools again
 * and again must not grow the counters without end); the calls of the
 * tools beyond are counted under the tool label STATS_OTHER_TOOL. */
#define STATS_MAX_TOOLS		1000
#define STATS_OTHER_TOOL	"_other"
#define STATS_NBOUNDS		16	/* the longest list of bounds */

/* Buckets: the original's 0.01 .. 5 s and finer ones down to 0.1 ms (we
 * are much faster); tool calls go on to a minute. */
static const double stats_http_bounds[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5,
	1, 2, 5
};
static const double stats_call_bounds[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5,
	1, 2, 5, 10, 30, 60
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

struct stats_hist {
	uint64_t	bucket[STATS_NBOUNDS];	/* not cumulative */
	uint64_t	count;
	double		sum;
};

struct stats_tool {
	struct stats_tool	*next;
	char			*name;
	uint64_t		 outcome[STATS_NOUTCOMES];
	uint64_t		 validation_failures;
};

struct stats_server {
	const char		*name;
	char			*own;		/* name, when added later */
	struct stats_tool	*tools[STATS_TOOL_HASH];
	size_t			 ntools;
	struct stats_hist	 duration;
};

static const char *const stats_reject_names[STATS_NREJECT] = {
	"queueFull", "tooCostly", "maxQueued", "stdinFull", "neverSent",
	"noToolList", "earlyUnauthorized", "headerTimeout", "bodyTimeout",
	"acceptPaused", "sessionBusy", "maxSessions", "breakerOpen"
};
/* The same reasons as Prometheus label values. */
static const char *const stats_reject_labels[STATS_NREJECT] = {
	"queue_full", "too_costly", "max_queued", "stdin_full", "never_sent",
	"no_tool_list", "early_unauthorized", "header_timeout", "body_timeout",
	"accept_paused", "session_busy", "max_sessions", "breaker_open"
};
static const char *const stats_method_names[STATS_NMETHODS] = {
	"GET", "POST", "HEAD", "OTHER"
};
static const char *const stats_endpoint_names[STATS_NENDPOINTS] = {
	"/", "/mcp/tools", "/health", "/metrics", "other"
};
static const char *const stats_outcome_names[STATS_NOUTCOMES] = {
	"ok", "tool_error", "timeout", "server_error", "rejected", "overloaded"
};

static atomic_long		 stats_rejects[STATS_NREJECT];
static uint64_t			 stats_requests[STATS_NMETHODS][STATS_MAX_STATUS];
static struct stats_hist	 stats_http_dur[STATS_NMETHODS][STATS_NENDPOINTS];
static uint64_t			 stats_rate_limits[STATS_NENDPOINTS];
static uint64_t			 stats_auth_failures;
static uint64_t			 stats_reloads[2];	/* failed, ok */
static unsigned long		 stats_cfg_gen;
static time_t			 stats_cfg_loaded;
static struct stats_hist	 stats_queue_wait;
static struct stats_server	*stats_servers;
static size_t			 stats_nservers;

static void	 stats_observe(struct stats_hist *, const double *, size_t,
		    double);
static void	 stats_hist_render(struct evbuffer *, const char *,
		    const char *, const struct stats_hist *, const double *,
		    size_t);
static struct stats_tool *stats_tool(struct stats_server *, const char *);
static void	 stats_render_config(struct evbuffer *);

/* ------------------------------------------------------------ refusals */

void
stats_reject(enum stats_reject r)
{
	if (r < STATS_NREJECT)
		atomic_fetch_add_explicit(&stats_rejects[r], 1,
		    memory_order_relaxed);
}

long
stats_rejected(enum stats_reject r)
{
	if (r >= STATS_NREJECT)
		return 0;
	return atomic_load_explicit(&stats_rejects[r], memory_order_relaxed);
}

json_object *
stats_rejects_json(void)
{
	json_object	*o;
	int		 i;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	for (i = 0; i < STATS_NREJECT; i++)
		json_object_object_add(o, stats_reject_names[i],
		    json_object_new_int64(stats_rejected(
		    (enum stats_reject)i)));
	return o;
}

/* ---------------------------------------------------------------- HTTP */

static void
stats_observe(struct stats_hist *h, const double *bounds, size_t n, double v)
{
	size_t	i;

	for (i = 0; i < n && v > bounds[i]; i++)
		;
	if (i < n)
		h->bucket[i]++;
	h->count++;
	h->sum += v;
}

void
stats_http(enum stats_method m, int status, enum stats_endpoint ep,
    double seconds)
{
	if (m >= STATS_NMETHODS)
		m = STATS_OTHER_METHOD;
	if (ep >= STATS_NENDPOINTS)
		ep = STATS_EP_OTHER;
	if (status >= 100 && status < STATS_MAX_STATUS)
		stats_requests[m][status]++;
	if (seconds >= 0)
		stats_observe(&stats_http_dur[m][ep], stats_http_bounds,
		    NELEM(stats_http_bounds), seconds);
}

void
stats_rate_limited(enum stats_endpoint ep)
{
	if (ep < STATS_NENDPOINTS)
		stats_rate_limits[ep]++;
}

void
stats_auth_failure(void)
{
	stats_auth_failures++;
}

enum stats_endpoint
stats_endpoint_of(const char *path)
{
	int	i;

	for (i = 0; i < STATS_EP_OTHER; i++)
		if (path != NULL && strcmp(path, stats_endpoint_names[i]) == 0)
			return (enum stats_endpoint)i;
	return STATS_EP_OTHER;
}

enum stats_outcome
stats_outcome_of(int status)
{
	switch (status) {
	case 422:
		return STATS_TOOL_ERROR;
	case 504:
		return STATS_TIMEOUT;
	case 400:
	case 403:
	case 404:
		return STATS_REJECTED;
	case 429:
	case 503:
		return STATS_OVERLOADED;
	default:
		return status >= 200 && status < 300 ? STATS_OK :
		    STATS_SERVER_ERROR;
	}
}

/* ---------------------------------------------------------- tool calls */

int
stats_init(const struct config *cfg)
{
	size_t	i;

	if ((stats_servers = calloc(cfg->nservers + 1,
	    sizeof(*stats_servers))) == NULL)
		return -1;
	for (i = 0; i < cfg->nservers; i++)
		stats_servers[i].name = cfg->servers[i].name;
	stats_nservers = cfg->nservers;
	return 0;
}

int
stats_add_server(const char *name, size_t *index)
{
	struct stats_server	*n;
	size_t			 i;

	for (i = 0; i < stats_nservers; i++)
		if (strcmp(stats_servers[i].name, name) == 0) {
			*index = i;
			return 0;
		}
	if ((n = reallocarray(stats_servers, stats_nservers + 1,
	    sizeof(*n))) == NULL)
		return -1;
	stats_servers = n;
	memset(&n[i], 0, sizeof(n[i]));
	if ((n[i].own = strdup(name)) == NULL)
		return -1;
	n[i].name = n[i].own;
	stats_nservers++;
	*index = i;
	return 0;
}

void
stats_free(void)
{
	struct stats_tool	*t, *next;
	size_t			 i, b;

	for (i = 0; i < stats_nservers; i++)
		for (b = 0; b < STATS_TOOL_HASH; b++)
			for (t = stats_servers[i].tools[b]; t != NULL;
			    t = next) {
				next = t->next;
				free(t->name);
				free(t);
			}
	for (i = 0; i < stats_nservers; i++)
		free(stats_servers[i].own);
	free(stats_servers);
	stats_servers = NULL;
	stats_nservers = 0;
	memset(stats_requests, 0, sizeof(stats_requests));
	memset(stats_http_dur, 0, sizeof(stats_http_dur));
	memset(stats_rate_limits, 0, sizeof(stats_rate_limits));
	memset(&stats_queue_wait, 0, sizeof(stats_queue_wait));
	stats_auth_failures = 0;
}

static struct stats_tool *
stats_tool(struct stats_server *s, const char *name)
{
	struct stats_tool	*t;
	uint32_t		 h = 2166136261u;
	const char		*p;

	for (p = name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (t = s->tools[h % STATS_TOOL_HASH]; t != NULL; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	if (s->ntools >= STATS_MAX_TOOLS && strcmp(name, STATS_OTHER_TOOL) != 0)
		return stats_tool(s, STATS_OTHER_TOOL);
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->name = strdup(name)) == NULL) {
		free(t);
		return NULL;
	}
	t->next = s->tools[h % STATS_TOOL_HASH];
	s->tools[h % STATS_TOOL_HASH] = t;
	s->ntools++;
	return t;
}

void
stats_call(size_t server, const char *tool, int status, int validation_failed,
    double seconds, double queue_wait)
{
	struct stats_server	*s;
	struct stats_tool	*t;

	if (server >= stats_nservers)
		return;
	s = &stats_servers[server];
	stats_observe(&s->duration, stats_call_bounds, NELEM(stats_call_bounds),
	    seconds);
	if (queue_wait >= 0)
		stats_observe(&stats_queue_wait, stats_call_bounds,
		    NELEM(stats_call_bounds), queue_wait);
	if (tool == NULL || (t = stats_tool(s, tool)) == NULL)
		return;
	t->outcome[stats_outcome_of(status)]++;
	if (validation_failed)
		t->validation_failures++;
}

/* ----------------------------------------------------------- rendering */

/* A label value with \, " and newline escaped as the format requires. */
void
stats_label_value(struct evbuffer *b, const char *s)
{
	const char	*p;

	for (p = s; *p != '\0'; p++) {
		if (*p == '\\')
			evbuffer_add(b, "\\\\", 2);
		else if (*p == '"')
			evbuffer_add(b, "\\\"", 2);
		else if (*p == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, p, 1);
	}
}

void
stats_family(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

/* One histogram's lines; labels is "a=\"x\"," or "" (already escaped). */
static void
stats_hist_render(struct evbuffer *b, const char *name, const char *labels,
    const struct stats_hist *h, const double *bounds, size_t n)
{
	uint64_t	cum = 0;
	size_t		i;
	int		ll = labels[0] != '\0' ? (int)strlen(labels) - 1 : 0;

	for (i = 0; i < n; i++) {
		cum += h->bucket[i];
		evbuffer_add_printf(b, "%s_bucket{%sle=\"%g\"} %llu\n", name,
		    labels, bounds[i], (unsigned long long)cum);
	}
	evbuffer_add_printf(b, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels,
	    (unsigned long long)h->count);
	if (ll == 0) {
		evbuffer_add_printf(b, "%s_sum %.9g\n%s_count %llu\n", name,
		    h->sum, name, (unsigned long long)h->count);
		return;
	}
	evbuffer_add_printf(b, "%s_sum{%.*s} %.9g\n", name, ll, labels, h->sum);
	evbuffer_add_printf(b, "%s_count{%.*s} %llu\n", name, ll, labels,
	    (unsigned long long)h->count);
}

static void
stats_render_http(struct evbuffer *b)
{
	char	labels[96];
	int	m, st, ep;

	stats_family(b, "http_requests_total", "counter",
	    "HTTP requests answered, by method and status.");
	for (m = 0; m < STATS_NMETHODS; m++)
		for (st = 0; st < STATS_MAX_STATUS; st++)
			if (stats_requests[m][st] > 0)
				evbuffer_add_printf(b, "http_requests_total{"
				    "method=\"%s\",status=\"%d\"} %llu\n",
				    stats_method_names[m], st,
				    (unsigned long long)stats_requests[m][st]);
	stats_family(b, "http_request_duration_seconds", "histogram",
	    "Time from a request's arrival (headers and body read) to its "
	    "reply.");
	for (m = 0; m < STATS_NMETHODS; m++)
		for (ep = 0; ep < STATS_NENDPOINTS; ep++) {
			if (stats_http_dur[m][ep].count == 0)
				continue;
			snprintf(labels, sizeof(labels), "method=\"%s\","
			    "endpoint=\"%s\",", stats_method_names[m],
			    stats_endpoint_names[ep]);
			stats_hist_render(b, "http_request_duration_seconds",
			    labels, &stats_http_dur[m][ep], stats_http_bounds,
			    NELEM(stats_http_bounds));
		}
	stats_family(b, "rate_limited_total", "counter",
	    "Requests answered 429 by a rate limit, by endpoint.");
	for (ep = 0; ep < STATS_NENDPOINTS; ep++)
		if (ep == STATS_EP_EXEC || ep == STATS_EP_TOOLS ||
		    stats_rate_limits[ep] > 0)
			evbuffer_add_printf(b, "rate_limited_total{endpoint="
			    "\"%s\"} %llu\n", stats_endpoint_names[ep],
			    (unsigned long long)stats_rate_limits[ep]);
	stats_family(b, "auth_failures_total", "counter",
	    "Requests answered 401: no valid bearer token.");
	evbuffer_add_printf(b, "auth_failures_total %llu\n",
	    (unsigned long long)stats_auth_failures);
}

static void
stats_render_rejects(struct evbuffer *b)
{
	int	i;

	stats_family(b, "requests_rejected_total", "counter",
	    "Requests refused, or work dropped, because a bound was hit, by "
	    "reason.");
	for (i = 0; i < STATS_NREJECT; i++)
		evbuffer_add_printf(b, "requests_rejected_total{reason=\"%s\"} "
		    "%ld\n", stats_reject_labels[i],
		    stats_rejected((enum stats_reject)i));
}

/* mcp_tool_calls_total or validation_failures_total of one server. */
static void
stats_render_tools(struct evbuffer *b, const struct stats_server *s,
    int validation)
{
	const struct stats_tool	*t;
	size_t			 h;
	int			 o;

	for (h = 0; h < STATS_TOOL_HASH; h++)
		for (t = s->tools[h]; t != NULL; t = t->next) {
			for (o = 0; o < STATS_NOUTCOMES && !validation; o++) {
				if (t->outcome[o] == 0)
					continue;
				evbuffer_add_printf(b, "mcp_tool_calls_total{"
				    "server=\"");
				stats_label_value(b, s->name);
				evbuffer_add_printf(b, "\",tool=\"");
				stats_label_value(b, t->name);
				evbuffer_add_printf(b, "\",outcome=\"%s\"} "
				    "%llu\n", stats_outcome_names[o],
				    (unsigned long long)t->outcome[o]);
			}
			if (!validation || t->validation_failures == 0)
				continue;
			evbuffer_add_printf(b, "validation_failures_total{"
			    "server=\"");
			stats_label_value(b, s->name);
			evbuffer_add_printf(b, "\",tool=\"");
			stats_label_value(b, t->name);
			evbuffer_add_printf(b, "\"} %llu\n",
			    (unsigned long long)t->validation_failures);
		}
}

static void
stats_render_calls(struct evbuffer *b)
{
	struct evbuffer	*lab;
	char		 labels[256];
	size_t		 i;

	stats_family(b, "mcp_tool_calls_total", "counter",
	    "Tool calls by server, tool and outcome (ok, tool_error, timeout, "
	    "server_error, rejected, overloaded); only tools the server "
	    "lists.");
	for (i = 0; i < stats_nservers; i++)
		stats_render_tools(b, &stats_servers[i], 0);
	stats_family(b, "validation_failures_total", "counter",
	    "Tool calls whose arguments failed the tool's input schema.");
	for (i = 0; i < stats_nservers; i++)
		stats_render_tools(b, &stats_servers[i], 1);
	stats_family(b, "mcp_tool_call_duration_seconds", "histogram",
	    "Time from a call's arrival to its answer, by server.");
	for (i = 0; i < stats_nservers; i++) {
		if (stats_servers[i].duration.count == 0 ||
		    (lab = evbuffer_new()) == NULL)
			continue;
		evbuffer_add_printf(lab, "server=\"");
		stats_label_value(lab, stats_servers[i].name);
		evbuffer_add_printf(lab, "\",");
		evbuffer_add(lab, "", 1);
		snprintf(labels, sizeof(labels), "%s",
		    (const char *)evbuffer_pullup(lab, -1));
		evbuffer_free(lab);
		stats_hist_render(b, "mcp_tool_call_duration_seconds", labels,
		    &stats_servers[i].duration, stats_call_bounds,
		    NELEM(stats_call_bounds));
	}
	stats_family(b, "pool_queue_wait_seconds", "histogram",
	    "Time from a call's arrival until its line was handed to an MCP "
	    "server (parsing, validation, the worker queues and the server's "
	    "own queue).");
	stats_hist_render(b, "pool_queue_wait_seconds", "", &stats_queue_wait,
	    stats_call_bounds, NELEM(stats_call_bounds));
}

void
stats_config(unsigned long gen, time_t loaded)
{
	stats_cfg_gen = gen;
	stats_cfg_loaded = loaded;
}

void
stats_reload(int ok)
{
	stats_reloads[ok != 0]++;
}

static void
stats_render_config(struct evbuffer *b)
{
	stats_family(b, "config_reloads_total", "counter",
	    "Configuration reloads (SIGHUP) by result: ok (applied) or "
	    "failed (rejected, the old configuration kept).");
	evbuffer_add_printf(b, "config_reloads_total{result=\"ok\"} %llu\n"
	    "config_reloads_total{result=\"failed\"} %llu\n",
	    (unsigned long long)stats_reloads[1],
	    (unsigned long long)stats_reloads[0]);
	stats_family(b, "config_last_reload_success_timestamp_seconds",
	    "gauge", "When the configuration in force was loaded (start or "
	    "the last applied reload), Unix time.");
	evbuffer_add_printf(b, "config_last_reload_success_timestamp_seconds "
	    "%lld\n", (long long)stats_cfg_loaded);
	stats_family(b, "config_generation", "gauge",
	    "The configuration in force: 1 at start, one more per applied "
	    "reload.");
	evbuffer_add_printf(b, "config_generation %lu\n", stats_cfg_gen);
}

void
stats_render(struct evbuffer *b)
{
	stats_render_config(b);
	stats_render_http(b);
	stats_render_rejects(b);
	stats_render_calls(b);
}
