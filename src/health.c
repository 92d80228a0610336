/*
 * health.c: GET /health - liveness and per-server state, answered at once
 * from the loop thread (registry_health() reads atomics and small state
 * under each server's mutex; nothing waits for a worker).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>

#include "cache.h"
#include "health.h"
#include "http.h"
#include "metrics.h"
#include "pool.h"
#include "registry.h"
#include "version.h"

static void	health_handle(struct evhttp_request *,
		    const struct auth_caller *, void *);

static struct pool	*health_pool;
static struct registry	*health_registry;
static struct cache	*health_cache;

static void
health_handle(struct evhttp_request *req, const struct auth_caller *caller,
    void *arg)
{
	json_object	*o, *servers;
	struct timespec	 ts;
	struct tm	 tm;
	char		 stamp[64];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + strlen(stamp), sizeof(stamp) - strlen(stamp),
	    ".%03ldZ", ts.tv_nsec / 1000000);

	o = json_object_new_object();
	json_object_object_add(o, "healthy",
	    json_object_new_boolean(!http_draining()));
	json_object_object_add(o, "timestamp", json_object_new_string(stamp));
	json_object_object_add(o, "uptime",
	    json_object_new_int64((int64_t)http_uptime_ms()));
	json_object_object_add(o, "version",
	    json_object_new_string(MCP_PROXYD_VERSION));
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
	json_object_object_add(o, "rejected", metrics_rejects_json());
	if (health_cache != NULL)
		json_object_object_add(o, "schemaCache",
		    cache_stats(health_cache));
	servers = registry_health(health_registry);
	json_object_object_add(o, "servers", servers);
	http_reply_json(req, 200, o, 0);
}

void
health_register(struct pool *pool, struct registry *reg, struct cache *cache)
{
	health_pool = pool;
	health_registry = reg;
	health_cache = cache;
	http_add_route("/health", HTTP_M_GET, health_handle, NULL);
}
