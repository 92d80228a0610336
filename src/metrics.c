/*
 * metrics.c: GET /metrics. The counters and histograms that stats.c keeps
 * (fed on the loop thread from the one reply path), then the gauges read
 * at scrape time: the servers' state (atomics), the schema cache's
 * counters (atomics), the audit log's, the HTTP side's and the process's.
 * A scrape runs on the loop thread and takes no lock that a call waits on.
 */
#include <sys/resource.h>
#include <sys/time.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "audit.h"
#include "cache.h"
#include "http.h"
#include "metrics.h"
#include "pool.h"
#include "registry.h"
#include "server.h"
#include "session.h"
#include "stats.h"

#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

static void	metrics_handle(struct evhttp_request *,
		    const struct auth_caller *, void *);
static void	metrics_servers(struct evbuffer *);
static long	metrics_server_value(const struct server_stats *, int);
static void	metrics_server_family(struct evbuffer *, const char *,
		    const char *, const char *, int);
static void	metrics_gauges(struct evbuffer *);
static void	metrics_cache(struct evbuffer *);
static void	metrics_sessions(struct evbuffer *);
static void	metrics_process(struct evbuffer *);
static double	metrics_start_time(void);
static long	metrics_open_fds(void);

static struct pool	*metrics_pool;
static struct registry	*metrics_registry;
static struct cache	*metrics_cache_p;
static double		 metrics_started;	/* Unix time, seconds */

void
metrics_register(struct pool *pool, struct registry *reg, struct cache *cache)
{
	metrics_pool = pool;
	metrics_registry = reg;
	metrics_cache_p = cache;
	metrics_started = metrics_start_time();
	http_add_route("/metrics", HTTP_M_GET, metrics_handle, NULL);
}

static void
metrics_handle(struct evhttp_request *req, const struct auth_caller *caller,
    void *arg)
{
	struct evbuffer	*b;

	if ((b = evbuffer_new()) == NULL) {
		http_reply_error(req, 500, "out of memory", 0);
		return;
	}
	stats_render(b);
	metrics_servers(b);
	metrics_gauges(b);
	metrics_cache(b);
	metrics_sessions(b);
	metrics_process(b);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", METRICS_CONTENT_TYPE);
	http_reply_buffer(req, 200, b, 0);
	evbuffer_free(b);
}

/* The number of one per-server family (see metrics_servers()). */
static long
metrics_server_value(const struct server_stats *st, int which)
{
	switch (which) {
	case 0:
		return st->up;
	case 1:
		return st->restarts;
	case 2:
		return st->inflight;
	case 3:
		return st->queued;
	case 4:
		return (long)st->tools;
	case 5:
		return st->breaker_state;
	case 6:
		return st->breaker_opens;
	default:
		return st->hung;
	}
}

/* One per-server family: which picks the number. */
static void
metrics_server_family(struct evbuffer *b, const char *name, const char *type,
    const char *help, int which)
{
	struct server_stats	st;
	size_t			i;
	long			v;

	stats_family(b, name, type, help);
	for (i = 0; i < registry_nservers(metrics_registry); i++) {
		if (!registry_live(metrics_registry, i))
			continue;
		registry_server_stats(metrics_registry, i, &st);
		v = metrics_server_value(&st, which);
		evbuffer_add_printf(b, "%s{server=\"", name);
		stats_label_value(b, registry_server_name(metrics_registry,
		    i));
		evbuffer_add_printf(b, "\"} %ld\n", v);
	}
}

static void
metrics_servers(struct evbuffer *b)
{
	metrics_server_family(b, "mcp_server_up", "gauge",
	    "1 when an instance of the MCP server is ready.", 0);
	metrics_server_family(b, "mcp_server_restarts_total", "counter",
	    "Restarts of the MCP server's instances.", 1);
	metrics_server_family(b, "mcp_server_inflight", "gauge",
	    "Calls sent to the MCP server and not answered yet.", 2);
	metrics_server_family(b, "mcp_server_queued", "gauge",
	    "Calls waiting for a ready instance or a free slot.", 3);
	metrics_server_family(b, "mcp_tools", "gauge",
	    "Tools the MCP server lists.", 4);
	metrics_server_family(b, "mcp_server_breaker_state", "gauge",
	    "The MCP server's circuit breaker: 0 closed, 1 half-open, "
	    "2 open.", 5);
	metrics_server_family(b, "mcp_server_breaker_opens_total", "counter",
	    "Times the MCP server's circuit breaker opened.", 6);
	metrics_server_family(b, "mcp_server_hung_total", "counter",
	    "Instances of the MCP server found not responding (silent with "
	    "calls pending, a ping unanswered) and restarted.", 7);
}

static void
metrics_gauges(struct evbuffer *b)
{
	struct server_stats	st;
	size_t			i;
	long			inflight = 0, queued = 0;

	for (i = 0; i < registry_nservers(metrics_registry); i++) {
		registry_server_stats(metrics_registry, i, &st);
		inflight += st.inflight;
		queued += st.queued;
	}
	stats_family(b, "pool_active_connections", "gauge",
	    "Tool calls in flight to the MCP servers.");
	evbuffer_add_printf(b, "pool_active_connections %ld\n", inflight);
	stats_family(b, "pool_queue_depth", "gauge",
	    "Tool calls waiting: for a worker, or for a server's instance.");
	evbuffer_add_printf(b, "pool_queue_depth %ld\n",
	    (long)pool_queued(metrics_pool) + queued);
	stats_family(b, "pool_workers", "gauge", "Worker threads.");
	evbuffer_add_printf(b, "pool_workers %d\n",
	    pool_nworkers(metrics_pool));
	stats_family(b, "http_inflight_requests", "gauge",
	    "HTTP requests received and not answered yet.");
	evbuffer_add_printf(b, "http_inflight_requests %ld\n",
	    http_inflight());
	stats_family(b, "http_connections", "gauge",
	    "Open HTTP connections (counted against maxConnections).");
	evbuffer_add_printf(b, "http_connections %ld\n", http_connections());
	stats_family(b, "audit_lines_written_total", "counter",
	    "Audit log lines written.");
	evbuffer_add_printf(b, "audit_lines_written_total %ld\n",
	    audit_written());
	stats_family(b, "audit_lines_dropped_total", "counter",
	    "Audit log lines dropped: the writer could not keep up, or "
	    "could not write them.");
	evbuffer_add_printf(b, "audit_lines_dropped_total %ld\n",
	    audit_dropped());
}

static void
metrics_cache(struct evbuffer *b)
{
	struct cache_counters	n;

	memset(&n, 0, sizeof(n));
	if (metrics_cache_p != NULL)
		cache_counters(metrics_cache_p, &n);
	stats_family(b, "cache_hits_total", "counter",
	    "Tool lists served from the cache at start, by cache.");
	evbuffer_add_printf(b, "cache_hits_total{cache_type=\"schema\"} "
	    "%ld\n", n.hits);
	stats_family(b, "cache_misses_total", "counter",
	    "Tool lists not found in the cache at start, by cache.");
	evbuffer_add_printf(b, "cache_misses_total{cache_type=\"schema\"} "
	    "%ld\n", n.misses);
	stats_family(b, "schema_cache_writes_total", "counter",
	    "Writes of the schema cache file.");
	evbuffer_add_printf(b, "schema_cache_writes_total %ld\n", n.writes);
	stats_family(b, "schema_cache_write_errors_total", "counter",
	    "Writes of the schema cache file that failed.");
	evbuffer_add_printf(b, "schema_cache_write_errors_total %ld\n",
	    n.write_errors);
}

static void
metrics_sessions(struct evbuffer *b)
{
	struct session_counts	n;

	session_counts(&n);
	stats_family(b, "sessions_active", "gauge",
	    "Sessions whose token works now.");
	evbuffer_add_printf(b, "sessions_active %ld\n", n.active);
	stats_family(b, "sessions_created_total", "counter",
	    "Sessions created.");
	evbuffer_add_printf(b, "sessions_created_total %ld\n", n.created);
	stats_family(b, "sessions_expired_total", "counter",
	    "Sessions that reached their ttlSeconds.");
	evbuffer_add_printf(b, "sessions_expired_total %ld\n", n.expired);
	stats_family(b, "sessions_revoked_total", "counter",
	    "Sessions revoked by DELETE /sessions/{id}.");
	evbuffer_add_printf(b, "sessions_revoked_total %ld\n", n.revoked);
}

/* ------------------------------------------------------------ process */

/* The process's start, from /proc/self/stat and the boot time. */
static double
metrics_start_time(void)
{
	FILE			*f;
	char			 buf[1024], *p;
	unsigned long long	 start = 0, btime = 0;
	int			 i;

	if ((f = fopen("/proc/self/stat", "r")) != NULL) {
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		/* Field 22, counted after the command's closing ')'. */
		if (p != NULL && (p = strrchr(buf, ')')) != NULL)
			for (i = 2; i < 22 && p != NULL; i++)
				p = strchr(p + 1, ' ');
		if (p != NULL)
			start = strtoull(p + 1, NULL, 10);
	}
	if ((f = fopen("/proc/stat", "r")) != NULL) {
		while (fgets(buf, sizeof(buf), f) != NULL)
			if (sscanf(buf, "btime %llu", &btime) == 1)
				break;
		fclose(f);
	}
	if (btime == 0 || start == 0)
		return (double)time(NULL);
	return (double)btime + (double)start / (double)sysconf(_SC_CLK_TCK);
}

static long
metrics_open_fds(void)
{
	DIR		*d;
	struct dirent	*e;
	long		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;		/* not the directory's own descriptor */
}

static void
metrics_process(struct evbuffer *b)
{
	struct rusage		ru;
	struct rlimit		rl;
	unsigned long long	vsize = 0, rss = 0;
	FILE			*f;
	double			cpu = 0;
	long			page = sysconf(_SC_PAGESIZE);

	if ((f = fopen("/proc/self/statm", "r")) != NULL) {
		if (fscanf(f, "%llu %llu", &vsize, &rss) != 2)
			vsize = rss = 0;
		fclose(f);
	}
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		rl.rlim_cur = 0;
	stats_family(b, "process_cpu_seconds_total", "counter",
	    "User and system CPU time spent, in seconds.");
	evbuffer_add_printf(b, "process_cpu_seconds_total %.6f\n", cpu);
	stats_family(b, "process_resident_memory_bytes", "gauge",
	    "Resident memory size in bytes.");
	evbuffer_add_printf(b, "process_resident_memory_bytes %llu\n",
	    rss * (unsigned long long)page);
	stats_family(b, "process_virtual_memory_bytes", "gauge",
	    "Virtual memory size in bytes.");
	evbuffer_add_printf(b, "process_virtual_memory_bytes %llu\n",
	    vsize * (unsigned long long)page);
	stats_family(b, "process_open_fds", "gauge",
	    "Open file descriptors.");
	evbuffer_add_printf(b, "process_open_fds %ld\n", metrics_open_fds());
	stats_family(b, "process_max_fds", "gauge",
	    "The limit on open file descriptors.");
	evbuffer_add_printf(b, "process_max_fds %llu\n",
	    (unsigned long long)rl.rlim_cur);
	stats_family(b, "process_start_time_seconds", "gauge",
	    "Start time of the process since the Unix epoch, in seconds.");
	evbuffer_add_printf(b, "process_start_time_seconds %.2f\n",
	    metrics_started);
}
