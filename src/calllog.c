/*
 * calllog.c: the tool calls of one caller (see calllog.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calllog.h"
#include "log.h"

#define CALLLOG_ERROR_MAX	512	/* bytes of the last error kept */
#define CALLLOG_RING_MIN	16

struct calllog_tool {
	char		*name;
	long		 calls;
	long		 ok;
	double		 total_ms;
	double		 last_ms;
	int		 last_ok;
	char		*last_error;
	struct timespec	 last_at;
};

struct calllog {
	struct calllog_tool	*tools;		/* first-call order */
	size_t			 ntools;
	size_t			 tools_cap;
	uint16_t		*ring;		/* indexes into tools */
	size_t			 ring_cap;
	size_t			 next;		/* where the next call goes */
	long			 count;		/* calls ever recorded */
};

static struct calllog_tool *calllog_tool(struct calllog *, const char *,
		    size_t *);
static int	calllog_ring_put(struct calllog *, size_t);
static json_object *calllog_tool_json(const struct calllog_tool *);

struct calllog *
calllog_new(void)
{
	return calloc(1, sizeof(struct calllog));
}

void
calllog_free(struct calllog *cl)
{
	size_t	i;

	if (cl == NULL)
		return;
	for (i = 0; i < cl->ntools; i++) {
		free(cl->tools[i].name);
		free(cl->tools[i].last_error);
	}
	free(cl->tools);
	free(cl->ring);
	free(cl);
}

/* The entry of name (made if new; CALLLOG_OTHER once the summary is
 * full), and its index; NULL on ENOMEM. */
static struct calllog_tool *
calllog_tool(struct calllog *cl, const char *name, size_t *index)
{
	struct calllog_tool	*t;
	size_t			 i, cap;

	for (i = 0; i < cl->ntools; i++)
		if (strcmp(cl->tools[i].name, name) == 0) {
			*index = i;
			return &cl->tools[i];
		}
	if (cl->ntools >= CALLLOG_MAX_TOOLS && strcmp(name, CALLLOG_OTHER) != 0)
		return calllog_tool(cl, CALLLOG_OTHER, index);
	if (cl->ntools == cl->tools_cap) {
		cap = cl->tools_cap == 0 ? 8 : cl->tools_cap * 2;
		if ((t = reallocarray(cl->tools, cap, sizeof(*t))) == NULL)
			return NULL;
		cl->tools = t;
		cl->tools_cap = cap;
	}
	t = &cl->tools[cl->ntools];
	memset(t, 0, sizeof(*t));
	if ((t->name = strdup(name)) == NULL)
		return NULL;
	*index = cl->ntools++;
	return t;
}

/* The ring grows as calls come, up to CALLLOG_MAX_CALLS; then the oldest
 * call makes room. */
static int
calllog_ring_put(struct calllog *cl, size_t index)
{
	uint16_t	*r;
	size_t		 cap;

	if (cl->next == cl->ring_cap && cl->ring_cap < CALLLOG_MAX_CALLS) {
		cap = cl->ring_cap == 0 ? CALLLOG_RING_MIN : cl->ring_cap * 2;
		if (cap > CALLLOG_MAX_CALLS)
			cap = CALLLOG_MAX_CALLS;
		if ((r = reallocarray(cl->ring, cap, sizeof(*r))) == NULL)
			return -1;
		cl->ring = r;
		cl->ring_cap = cap;
	}
	if (cl->next == cl->ring_cap)
		cl->next = 0;
	cl->ring[cl->next++] = (uint16_t)index;
	return 0;
}

void
calllog_record(struct calllog *cl, const char *tool, int ok, double ms,
    const char *error, const struct timespec *when)
{
	struct calllog_tool	*t;
	size_t			 index;

	if ((t = calllog_tool(cl, tool, &index)) == NULL ||
	    calllog_ring_put(cl, index) == -1) {
		log_warnx("%s: out of memory", __func__);
		return;
	}
	cl->count++;
	t->calls++;
	t->ok += ok != 0;
	t->total_ms += ms;
	t->last_ms = ms;
	t->last_ok = ok != 0;
	t->last_at = *when;
	if (!ok && error != NULL) {
		free(t->last_error);
		t->last_error = strndup(error, CALLLOG_ERROR_MAX);
	}
}

long
calllog_count(const struct calllog *cl)
{
	return cl->count;
}

static json_object *
calllog_tool_json(const struct calllog_tool *t)
{
	json_object	*o = json_object_new_object();
	char		 stamp[LOG_TIMESTAMP_LEN];

	json_object_object_add(o, "toolName", json_object_new_string(t->name));
	json_object_object_add(o, "callCount", json_object_new_int64(t->calls));
	json_object_object_add(o, "successCount",
	    json_object_new_int64(t->ok));
	json_object_object_add(o, "errorCount",
	    json_object_new_int64(t->calls - t->ok));
	json_object_object_add(o, "totalDurationMs",
	    json_object_new_double(t->total_ms));
	json_object_object_add(o, "averageDurationMs", json_object_new_double(
	    t->calls > 0 ? t->total_ms / (double)t->calls : 0));
	json_object_object_add(o, "lastCallDurationMs",
	    json_object_new_double(t->last_ms));
	json_object_object_add(o, "lastCallStatus",
	    json_object_new_string(t->last_ok ? "success" : "error"));
	if (t->last_error != NULL)
		json_object_object_add(o, "lastErrorMessage",
		    json_object_new_string(t->last_error));
	log_timestamp(&t->last_at, stamp);
	json_object_object_add(o, "lastCalledAt",
	    json_object_new_string(stamp));
	return o;
}

json_object *
calllog_json(const struct calllog *cl)
{
	json_object	*o, *calls, *summary;
	size_t		 i, n, start;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	calls = json_object_new_array();
	/* Oldest first: once the ring is full it starts at next. */
	n = cl->count < (long)cl->ring_cap ? (size_t)cl->count : cl->ring_cap;
	start = n == cl->ring_cap && n == CALLLOG_MAX_CALLS ? cl->next : 0;
	for (i = 0; i < n; i++)
		json_object_array_add(calls, json_object_new_string(
		    cl->tools[cl->ring[(start + i) % cl->ring_cap]].name));
	summary = json_object_new_array();
	for (i = 0; i < cl->ntools; i++)
		json_object_array_add(summary, calllog_tool_json(&cl->tools[i]));
	json_object_object_add(o, "calls", calls);
	json_object_object_add(o, "truncated",
	    json_object_new_int64(cl->count - (long)n));
	json_object_object_add(o, "summary", summary);
	return o;
}
