/*
 * test_stats.c: the counters of GET /metrics and their text (stats.c),
 * and request ids (reqid.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "config.h"
#include "reqid.h"
#include "stats.h"
#include "unit.h"

/* The rendered text, NUL-terminated, malloc'd. */
static char *
render(void)
{
	struct evbuffer	*b = evbuffer_new();
	size_t		 len;
	char		*s;

	ck_assert_ptr_nonnull(b);
	stats_render(b);
	len = evbuffer_get_length(b);
	s = malloc(len + 1);
	ck_assert_ptr_nonnull(s);
	evbuffer_remove(b, s, len);
	s[len] = '\0';
	evbuffer_free(b);
	return s;
}

/* A configuration with the given server names (only what stats reads). */
static struct config *
config_of(const char *const *names, size_t n)
{
	struct config	*cfg = calloc(1, sizeof(*cfg));
	size_t		 i;

	ck_assert_ptr_nonnull(cfg);
	cfg->servers = calloc(n, sizeof(*cfg->servers));
	ck_assert_ptr_nonnull(cfg->servers);
	for (i = 0; i < n; i++)
		cfg->servers[i].name = strdup(names[i]);
	cfg->nservers = n;
	return cfg;
}

static void
config_of_free(struct config *cfg)
{
	size_t	i;

	for (i = 0; i < cfg->nservers; i++)
		free(cfg->servers[i].name);
	free(cfg->servers);
	free(cfg);
}

START_TEST(test_escaping)
{
	static const char *const names[] = { "a\"b\\c\nd", "plain" };
	struct config	*cfg = config_of(names, 2);
	char		*t;

	ck_assert_int_eq(stats_init(cfg), 0);
	stats_call(0, "t\"1", 200, 0, 0.002, 0.001);
	stats_call(1, NULL, 404, 0, 0.001, -1);
	t = render();
	ck_assert_msg(strstr(t, "mcp_tool_calls_total{server=\"a\\\"b\\\\c\\nd\","
	    "tool=\"t\\\"1\",outcome=\"ok\"} 1\n") != NULL, "%s", t);
	ck_assert_msg(strstr(t, "mcp_tool_call_duration_seconds_count{server="
	    "\"a\\\"b\\\\c\\nd\"} 1\n") != NULL, "%s", t);
	/* A call to a tool that does not exist: timed, never a series. */
	ck_assert(strstr(t, "server=\"plain\",tool=") == NULL);
	ck_assert(strstr(t, "mcp_tool_call_duration_seconds_count{server="
	    "\"plain\"} 1\n") != NULL);
	free(t);
	stats_free();
	config_of_free(cfg);
}
END_TEST

START_TEST(test_histogram)
{
	static const char *const names[] = { "s" };
	struct config	*cfg = config_of(names, 1);
	char		*t;

	ck_assert_int_eq(stats_init(cfg), 0);
	stats_call(0, "x", 200, 0, 0.00005, 0.00005);	/* first bucket */
	stats_call(0, "x", 504, 0, 0.003, 0.0004);
	stats_call(0, "x", 200, 0, 100.0, -1);		/* beyond the last */
	t = render();
	ck_assert_msg(strstr(t, "mcp_tool_call_duration_seconds_bucket{"
	    "server=\"s\",le=\"0.0001\"} 1\n") != NULL, "%s", t);
	ck_assert(strstr(t, "mcp_tool_call_duration_seconds_bucket{"
	    "server=\"s\",le=\"0.005\"} 2\n") != NULL);
	ck_assert(strstr(t, "mcp_tool_call_duration_seconds_bucket{"
	    "server=\"s\",le=\"60\"} 2\n") != NULL);
	ck_assert(strstr(t, "mcp_tool_call_duration_seconds_bucket{"
	    "server=\"s\",le=\"+Inf\"} 3\n") != NULL);
	ck_assert(strstr(t, "mcp_tool_call_duration_seconds_count{"
	    "server=\"s\"} 3\n") != NULL);
	/* Two waited; the third never reached the server. */
	ck_assert(strstr(t, "pool_queue_wait_seconds_count 2\n") != NULL);
	ck_assert(strstr(t, "pool_queue_wait_seconds_bucket{le=\"0.0005\"} "
	    "2\n") != NULL);
	ck_assert(strstr(t, "outcome=\"timeout\"} 1\n") != NULL);
	ck_assert(strstr(t, "outcome=\"ok\"} 2\n") != NULL);
	free(t);
	stats_free();
	config_of_free(cfg);
}
END_TEST

/* A server that renames its tools without end gets 1000 tool series,
 * then one "_other". */
START_TEST(test_tool_cap)
{
	static const char *const names[] = { "churn" };
	struct config	*cfg = config_of(names, 1);
	char		 tool[32], *t, *p;
	int		 i, n = 0;

	ck_assert_int_eq(stats_init(cfg), 0);
	for (i = 0; i < 1005; i++) {
		snprintf(tool, sizeof(tool), "t%d", i);
		stats_call(0, tool, 200, 0, 0.001, -1);
	}
	stats_call(0, "t3", 200, 0, 0.001, -1);
	t = render();
	for (p = t; (p = strstr(p, "mcp_tool_calls_total{")) != NULL; p++)
		n++;
	ck_assert_int_eq(n, 1001);
	ck_assert(strstr(t, "tool=\"_other\",outcome=\"ok\"} 5\n") != NULL);
	ck_assert(strstr(t, "tool=\"t3\",outcome=\"ok\"} 2\n") != NULL);
	ck_assert(strstr(t, "tool=\"t1004\"") == NULL);
	free(t);
	stats_free();
	config_of_free(cfg);
}
END_TEST

START_TEST(test_outcomes)
{
	ck_assert_int_eq(stats_outcome_of(200), STATS_OK);
	ck_assert_int_eq(stats_outcome_of(422), STATS_TOOL_ERROR);
	ck_assert_int_eq(stats_outcome_of(504), STATS_TIMEOUT);
	ck_assert_int_eq(stats_outcome_of(502), STATS_SERVER_ERROR);
	ck_assert_int_eq(stats_outcome_of(500), STATS_SERVER_ERROR);
	ck_assert_int_eq(stats_outcome_of(400), STATS_REJECTED);
	ck_assert_int_eq(stats_outcome_of(403), STATS_REJECTED);
	ck_assert_int_eq(stats_outcome_of(429), STATS_OVERLOADED);
	ck_assert_int_eq(stats_outcome_of(503), STATS_OVERLOADED);
	ck_assert_int_eq(stats_endpoint_of("/"), STATS_EP_EXEC);
	ck_assert_int_eq(stats_endpoint_of("/metrics"), STATS_EP_METRICS);
	ck_assert_int_eq(stats_endpoint_of("/metrics/x"), STATS_EP_OTHER);
	ck_assert_int_eq(stats_endpoint_of(NULL), STATS_EP_OTHER);
}
END_TEST

START_TEST(test_http_counts)
{
	static const char *const names[] = { "s" };
	struct config	*cfg = config_of(names, 1);
	char		*t;

	ck_assert_int_eq(stats_init(cfg), 0);
	stats_http(STATS_POST, 200, STATS_EP_EXEC, 0.001);
	stats_http(STATS_POST, 200, STATS_EP_EXEC, 0.002);
	stats_http(STATS_OTHER_METHOD, 408, STATS_EP_OTHER, -1);
	stats_rate_limited(STATS_EP_TOOLS);
	stats_auth_failure();
	t = render();
	ck_assert(strstr(t, "http_requests_total{method=\"POST\",status=\"200\""
	    "} 2\n") != NULL);
	ck_assert(strstr(t, "http_requests_total{method=\"OTHER\",status="
	    "\"408\"} 1\n") != NULL);
	/* Without a duration, no histogram series. */
	ck_assert(strstr(t, "method=\"OTHER\",endpoint=") == NULL);
	ck_assert(strstr(t, "http_request_duration_seconds_count{method="
	    "\"POST\",endpoint=\"/\"} 2\n") != NULL);
	ck_assert(strstr(t, "rate_limited_total{endpoint=\"/mcp/tools\"} 1\n")
	    != NULL);
	ck_assert(strstr(t, "auth_failures_total 1\n") != NULL);
	free(t);
	stats_free();
	config_of_free(cfg);
}
END_TEST

START_TEST(test_reqid)
{
	char	a[REQID_MAX + 1], b[REQID_MAX + 1], big[REQID_MAX + 2];
	size_t	i;

	ck_assert(reqid_valid("abc.DEF_1:2-3", 13));
	ck_assert(!reqid_valid("a b", 3));
	ck_assert(!reqid_valid("a\"b", 3));
	ck_assert(!reqid_valid("", 0));
	ck_assert(!reqid_valid(NULL, 0));
	memset(big, 'x', sizeof(big));
	ck_assert(reqid_valid(big, REQID_MAX));
	ck_assert(!reqid_valid(big, REQID_MAX + 1));
	reqid_make(a);
	reqid_make(b);
	ck_assert_uint_eq(strlen(a), 16);
	ck_assert_str_ne(a, b);
	for (i = 0; i < 16; i++)
		ck_assert(strchr("0123456789abcdef", a[i]) != NULL);
	ck_assert(reqid_valid(a, strlen(a)));
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("stats");
	TCase	*tc = tcase_create("stats");

	tcase_add_test(tc, test_escaping);
	tcase_add_test(tc, test_histogram);
	tcase_add_test(tc, test_tool_cap);
	tcase_add_test(tc, test_outcomes);
	tcase_add_test(tc, test_http_counts);
	tcase_add_test(tc, test_reqid);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
