/*
 * calllog.h: the tool calls of one caller (a session, or the whole
 * daemon): the tool names in call order (the last CALLLOG_MAX_CALLS, the
 * code-executor-MCP proxy's getToolCalls) and a summary per tool in
 * first-call order (its ToolCallSummaryEntry fields). Pure code; a
 * calllog belongs to its caller (the loop thread, for the daemon).
 *
 * Memory is bounded: the call order is a ring of small indexes into the
 * summary, grown as calls come (at most CALLLOG_MAX_CALLS), and the
 * summary holds at most CALLLOG_MAX_TOOLS names; the calls of any name
 * beyond are summed under CALLLOG_OTHER.
 */
#ifndef CALLLOG_H
#define CALLLOG_H

#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#define CALLLOG_MAX_CALLS	10000
#define CALLLOG_MAX_TOOLS	1000
#define CALLLOG_OTHER		"_other"

struct calllog;

struct calllog	*calllog_new(void);
void		 calllog_free(struct calllog *);
/* One call of tool (its full name, copied) that ended ok or not after ms,
 * at when (CLOCK_REALTIME); error (may be NULL) is the last error kept. */
void		 calllog_record(struct calllog *, const char *tool, int ok,
		    double ms, const char *error, const struct timespec *when);
/* Calls recorded so far (not only the last CALLLOG_MAX_CALLS). */
long		 calllog_count(const struct calllog *);
/* {"calls":[names...],"truncated":N,"summary":[{toolName, callCount,
 * successCount, errorCount, totalDurationMs, averageDurationMs,
 * lastCallDurationMs, lastCallStatus ("success" or "error"),
 * lastErrorMessage (absent without one), lastCalledAt}, ...]}: a new
 * object; NULL on ENOMEM. */
json_object	*calllog_json(const struct calllog *);

#endif
