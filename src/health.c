/*
 * health.c: GET /health - liveness and per-server state, answered at once
 * from the loop thread (registry_health() reads atomics and small state
 * under each server's mutex; nothing waits for a worker). 200 when the
 * daemon serves and every enabled server is ready with its circuit
 * breaker closed, else 503 with the same body, "degraded" naming the
 * servers that are not ready and why.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>

#include "cache.h"
#include "health.h"
#include "http.h"
#include "log.h"
#include "stats.h"
#include "pool.h"
#include "registry.h"
#include "snapshot.h"
#include "version.h"

static void	health_handle(struct evhttp_request *,
		    const struct auth_caller *, void *);
static void	health_config(json_object *);

static struct pool	*health_pool;
static struct registry	*health_registry;
static struct cache	*health_cache;

/* A ready server whose breaker is not closed: its degraded entry's
 * state and reason (new objects), else 0. */
static int
health_breaker(json_object *srv, json_object **state, json_object **why)
{
	json_object	*b, *v, *n;
	char		 buf[96];

	if (!json_object_object_get_ex(srv, "breaker", &b) || b == NULL ||
	    !json_object_object_get_ex(b, "state", &v) ||
	    strcmp(json_object_get_string(v), "closed") == 0)
		return 0;
	n = NULL;
	json_object_object_get_ex(b, "failures", &n);
	snprintf(buf, sizeof(buf), "breaker_%s", json_object_get_string(v));
	*state = json_object_new_string(buf);
	snprintf(buf, sizeof(buf), "circuit breaker %s after %d failures",
	    strcmp(json_object_get_string(v), "open") == 0 ? "open" :
	    "half-open", json_object_get_int(n));
	*why = json_object_new_string(buf);
	return 1;
}

/* The enabled servers that are not ready (or whose circuit breaker is not
 * closed), and why: [{"server": name, "state": state, "reason": lastError
 * or the state}, ...]. */
static json_object *
health_degraded(json_object *servers)
{
	json_object	*list, *d, *v, *why, *state;

	list = json_object_new_array();
	json_object_object_foreach(servers, name, srv) {
		if (!json_object_object_get_ex(srv, "enabled", &v) ||
		    !json_object_get_boolean(v) ||
		    !json_object_object_get_ex(srv, "state", &v))
			continue;
		if (strcmp(json_object_get_string(v), "ready") == 0) {
			if (!health_breaker(srv, &state, &why))
				continue;
		} else {
			if (!json_object_object_get_ex(srv, "lastError",
			    &why) || why == NULL)
				why = v;
			state = json_object_get(v);
			json_object_get(why);
		}
		d = json_object_new_object();
		json_object_object_add(d, "server",
		    json_object_new_string(name));
		json_object_object_add(d, "state", state);
		json_object_object_add(d, "reason", why);
		json_object_array_add(list, d);
	}
	return list;
}

/* "config": {"generation": N, "loaded": "<UTC time>"} (reloads). */
static void
health_config(json_object *o)
{
	const struct snapshot	*snap = snapshot_current();
	json_object		*c;
	struct timespec		 ts;
	char			 stamp[LOG_TIMESTAMP_LEN];

	if (snap == NULL)
		return;
	ts.tv_sec = snap->loaded;
	ts.tv_nsec = 0;
	log_timestamp(&ts, stamp);
	c = json_object_new_object();
	json_object_object_add(c, "generation",
	    json_object_new_int64((int64_t)snap->generation));
	json_object_object_add(c, "loaded", json_object_new_string(stamp));
	json_object_object_add(o, "config", c);
}

static void
health_handle(struct evhttp_request *req, const struct auth_caller *caller,
    void *arg)
{
	json_object	*o, *servers, *degraded;
	struct timespec	 ts;
	char		 stamp[LOG_TIMESTAMP_LEN];
	int		 healthy;

	clock_gettime(CLOCK_REALTIME, &ts);
	log_timestamp(&ts, stamp);
	servers = registry_health(health_registry);
	degraded = health_degraded(servers);
	healthy = !http_draining() && json_object_array_length(degraded) == 0;
	o = json_object_new_object();
	json_object_object_add(o, "healthy", json_object_new_boolean(healthy));
	json_object_object_add(o, "draining",
	    json_object_new_boolean(http_draining()));
	json_object_object_add(o, "degraded", degraded);
	json_object_object_add(o, "timestamp", json_object_new_string(stamp));
	json_object_object_add(o, "uptime",
	    json_object_new_int64((int64_t)http_uptime_ms()));
	json_object_object_add(o, "version",
	    json_object_new_string(MCP_PROXYD_VERSION));
	health_config(o);
	json_object_object_add(o, "inflight",
	    json_object_new_int64(http_inflight()));
	json_object_object_add(o, "connections",
	    json_object_new_int64(http_connections()));
	json_object_object_add(o, "queued",
	    json_object_new_int(pool_queued(health_pool)));
	json_object_object_add(o, "workers",
	    json_object_new_int(pool_nworkers(health_pool)));
	json_object_object_add(o, "allServersReady",
	    json_object_new_boolean(registry_all_ready(health_registry)));
	json_object_object_add(o, "unvalidatedTools", json_object_new_int64(
	    (int64_t)registry_unvalidated(health_registry)));
	json_object_object_add(o, "rejected", stats_rejects_json());
	if (health_cache != NULL)
		json_object_object_add(o, "schemaCache",
		    cache_stats(health_cache));
	json_object_object_add(o, "servers", servers);
	http_reply_json(req, healthy ? 200 : 503, o, 0);
}

void
health_register(struct pool *pool, struct registry *reg, struct cache *cache)
{
	health_pool = pool;
	health_registry = reg;
	health_cache = cache;
	http_add_route("/health", HTTP_M_GET, health_handle, NULL);
}
