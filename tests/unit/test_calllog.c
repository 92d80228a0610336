/*
 * test_calllog.c: the call log of a caller (calllog.c).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "calllog.h"
#include "unit.h"

static const struct timespec when = { 1764620000, 123000000 };

static json_object *
member(json_object *o, const char *key)
{
	json_object	*v = NULL;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s", key);
	return v;
}

START_TEST(test_summary)
{
	struct calllog	*cl = calllog_new();
	json_object	*o, *calls, *sum, *e;

	ck_assert_ptr_nonnull(cl);
	calllog_record(cl, "mcp__a__x", 1, 2.0, NULL, &when);
	calllog_record(cl, "mcp__b__y", 0, 5.0, "boom", &when);
	calllog_record(cl, "mcp__a__x", 0, 4.0, "bad", &when);
	calllog_record(cl, "mcp__a__x", 1, 6.0, NULL, &when);
	ck_assert_int_eq(calllog_count(cl), 4);
	o = calllog_json(cl);
	calls = member(o, "calls");
	ck_assert_int_eq(json_object_array_length(calls), 4);
	ck_assert_str_eq(json_object_get_string(
	    json_object_array_get_idx(calls, 1)), "mcp__b__y");
	ck_assert_int_eq(json_object_get_int(member(o, "truncated")), 0);
	sum = member(o, "summary");
	ck_assert_int_eq(json_object_array_length(sum), 2);
	/* First-call order; the last error stays after a success. */
	e = json_object_array_get_idx(sum, 0);
	ck_assert_str_eq(json_object_get_string(member(e, "toolName")),
	    "mcp__a__x");
	ck_assert_int_eq(json_object_get_int(member(e, "callCount")), 3);
	ck_assert_int_eq(json_object_get_int(member(e, "successCount")), 2);
	ck_assert_int_eq(json_object_get_int(member(e, "errorCount")), 1);
	ck_assert(json_object_get_double(member(e, "totalDurationMs")) == 12.0);
	ck_assert(json_object_get_double(member(e, "averageDurationMs")) ==
	    4.0);
	ck_assert(json_object_get_double(member(e, "lastCallDurationMs")) ==
	    6.0);
	ck_assert_str_eq(json_object_get_string(member(e, "lastCallStatus")),
	    "success");
	ck_assert_str_eq(json_object_get_string(member(e,
	    "lastErrorMessage")), "bad");
	ck_assert_str_eq(json_object_get_string(member(e, "lastCalledAt")),
	    "2025-12-01T20:13:20.123Z");
	e = json_object_array_get_idx(sum, 1);
	ck_assert_str_eq(json_object_get_string(member(e, "lastCallStatus")),
	    "error");
	json_object_put(o);
	calllog_free(cl);
}
END_TEST

/* The last 10,000 names, oldest first, and how many were left out. */
START_TEST(test_ring)
{
	struct calllog	*cl = calllog_new();
	json_object	*o, *calls;
	char		 name[32];
	int		 i;

	for (i = 0; i < CALLLOG_MAX_CALLS + 25; i++) {
		snprintf(name, sizeof(name), "t%d", i % 7);
		calllog_record(cl, name, 1, 1.0, NULL, &when);
	}
	o = calllog_json(cl);
	calls = member(o, "calls");
	ck_assert_int_eq(json_object_array_length(calls), CALLLOG_MAX_CALLS);
	ck_assert_int_eq(json_object_get_int(member(o, "truncated")), 25);
	/* Call 25 is the oldest kept: t(25 % 7) = t4; the newest t(10024 %
	 * 7) = t0. */
	ck_assert_str_eq(json_object_get_string(
	    json_object_array_get_idx(calls, 0)), "t4");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(
	    calls, CALLLOG_MAX_CALLS - 1)), "t0");
	json_object_put(o);
	calllog_free(cl);
}
END_TEST

/* At most CALLLOG_MAX_TOOLS names; the rest are summed as _other. */
START_TEST(test_tool_cap)
{
	struct calllog	*cl = calllog_new();
	json_object	*o, *sum, *e;
	char		 name[32];
	int		 i;

	for (i = 0; i < CALLLOG_MAX_TOOLS + 3; i++) {
		snprintf(name, sizeof(name), "tool%d", i);
		calllog_record(cl, name, 1, 1.0, NULL, &when);
	}
	calllog_record(cl, "tool0", 1, 1.0, NULL, &when);
	o = calllog_json(cl);
	sum = member(o, "summary");
	ck_assert_int_eq(json_object_array_length(sum), CALLLOG_MAX_TOOLS + 1);
	e = json_object_array_get_idx(sum, CALLLOG_MAX_TOOLS);
	ck_assert_str_eq(json_object_get_string(member(e, "toolName")),
	    CALLLOG_OTHER);
	ck_assert_int_eq(json_object_get_int(member(e, "callCount")), 3);
	e = json_object_array_get_idx(sum, 0);
	ck_assert_int_eq(json_object_get_int(member(e, "callCount")), 2);
	json_object_put(o);
	calllog_free(cl);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("calllog");
	TCase	*tc = tcase_create("calllog");

	tcase_add_test(tc, test_summary);
	tcase_add_test(tc, test_ring);
	tcase_add_test(tc, test_tool_cap);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
