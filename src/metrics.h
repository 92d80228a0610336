/*
 * metrics.h: counters of what the daemon refused and why, one per bound
 * that a caller or a child can hit. Any thread (relaxed atomics); a leaf
 * module that calls nothing else. /health shows them under "rejected".
 */
#ifndef METRICS_H
#define METRICS_H

#include <json-c/json.h>

enum metrics_reject {
	METRICS_QUEUE_FULL = 0,		/* queueSize: 503 */
	METRICS_TOO_COSTLY,		/* validation budget: 400 */
	METRICS_MAX_QUEUED,		/* maxQueued: 503 */
	METRICS_STDIN_FULL,		/* maxBufferedBytes: child failed */
	METRICS_NEVER_SENT,		/* timed out before it was written */
	METRICS_NO_TOOL_LIST,		/* no tool list in startTimeoutMs */
	METRICS_EARLY_401,		/* refused before its body was read */
	METRICS_HEADER_TIMEOUT,		/* headerTimeoutMs: 408 */
	METRICS_BODY_TIMEOUT,		/* bodyTimeoutMs: 408 */
	METRICS_ACCEPT_PAUSED,		/* accept() out of descriptors */
	METRICS_NREJECT
};

void		 metrics_reject(enum metrics_reject);
long		 metrics_rejected(enum metrics_reject);
/* {"queueFull":N,...}: a new object. */
json_object	*metrics_rejects_json(void);

#endif
