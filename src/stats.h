/*
 * stats.h: the daemon's counters and histograms, rendered for GET /metrics
 * (Prometheus text format 0.0.4) by metrics.c. A leaf module: it calls no
 * other module of the daemon.
 *
 * Threads. The refusal counters (stats_reject) may be fed from any thread
 * (relaxed atomics). Everything else is fed and read on the loop thread
 * only: every HTTP request and every tool call ends there, in the one
 * reply path, so those counters need no atomics and a scrape (also on the
 * loop thread) takes no lock that a call waits on.
 */
#ifndef STATS_H
#define STATS_H

#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

struct config;
struct evbuffer;

enum stats_reject {
	STATS_QUEUE_FULL = 0,		/* queueSize: 503 */
	STATS_TOO_COSTLY,		/* validation budget: 400 */
	STATS_MAX_QUEUED,		/* maxQueued: 503 */
	STATS_STDIN_FULL,		/* maxBufferedBytes: child failed */
	STATS_NEVER_SENT,		/* timed out before it was written */
	STATS_NO_TOOL_LIST,		/* no tool list in startTimeoutMs */
	STATS_EARLY_401,		/* refused before its body was read */
	STATS_HEADER_TIMEOUT,		/* headerTimeoutMs: 408 */
	STATS_BODY_TIMEOUT,		/* bodyTimeoutMs: 408 */
	STATS_ACCEPT_PAUSED,		/* accept() out of descriptors */
	STATS_SESSION_BUSY,		/* a session's maxConcurrent: 429 */
	STATS_MAX_SESSIONS,		/* maxSessions: 503 */
	STATS_BREAKER_OPEN,		/* circuit breaker open: 503 */
	STATS_NREJECT
};

/* Any thread. */
void		 stats_reject(enum stats_reject);
long		 stats_rejected(enum stats_reject);
/* {"queueFull":N,...}: a new object. */
json_object	*stats_rejects_json(void);

enum stats_method {
	STATS_GET = 0, STATS_POST, STATS_HEAD, STATS_OTHER_METHOD,
	STATS_NMETHODS
};

enum stats_endpoint {
	STATS_EP_EXEC = 0,		/* POST / */
	STATS_EP_TOOLS,			/* /mcp/tools */
	STATS_EP_HEALTH,		/* /health */
	STATS_EP_METRICS,		/* /metrics */
	STATS_EP_OTHER,
	STATS_NENDPOINTS
};

/* The outcome of a tool call, from its HTTP status. */
enum stats_outcome {
	STATS_OK = 0,			/* 2xx */
	STATS_TOOL_ERROR,		/* 422: isError */
	STATS_TIMEOUT,			/* 504 */
	STATS_SERVER_ERROR,		/* 502, 500 */
	STATS_REJECTED,			/* 400, 403, 404 */
	STATS_OVERLOADED,		/* 429, 503 */
	STATS_NOUTCOMES
};

/* Loop thread. Every HTTP answer, however it was made (seconds < 0: its
 * duration is not known, as for libevent's own error pages). */
void		 stats_http(enum stats_method, int status, enum stats_endpoint,
		    double seconds);
void		 stats_rate_limited(enum stats_endpoint);
void		 stats_auth_failure(void);
enum stats_endpoint stats_endpoint_of(const char *path);
enum stats_outcome stats_outcome_of(int status);

/* Loop thread: a tool call ended with status after seconds, having waited
 * queue_wait seconds before its line was handed to the server (< 0: it
 * never was). tool is the name as the server knows it when the tool is in
 * the server's list, NULL otherwise (no series for a tool that does not
 * exist). server indexes the servers of the configuration. */
void		 stats_call(size_t server, const char *tool, int status,
		    int validation_failed, double seconds, double queue_wait);

/* Loop thread: the configuration in force is generation gen, loaded at
 * Unix time loaded (at start and after each applied reload); a reload
 * ended (ok: applied, else rejected). */
void		 stats_config(unsigned long gen, time_t loaded);
void		 stats_reload(int ok);

/* Loop thread, at start: the servers of cfg, which must outlive the
 * counters (stats_free()). */
int		 stats_init(const struct config *cfg);
void		 stats_free(void);
/* Loop thread, a reload: the counters of server name (those it had, when
 * a server of that name was counted before); its index in *index. */
int		 stats_add_server(const char *name, size_t *index);

/* Loop thread: appends the families kept here, in the text format. */
void		 stats_render(struct evbuffer *);
/* Helpers for the renderer of the other families (metrics.c). */
void		 stats_label_value(struct evbuffer *, const char *);
void		 stats_family(struct evbuffer *, const char *name,
		    const char *type, const char *help);

#endif
