/* test_ratelimit.c: token buckets and the discovery query parser. */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "discovery.h"
#include "ratelimit.h"
#include "unit.h"

START_TEST(test_bucket)
{
	struct ratelimit	*rl = ratelimit_new(30, 60);
	int			 i, retry;

	for (i = 0; i < 30; i++)
		ck_assert_int_eq(ratelimit_take(rl, "a", 1000.0, &retry), 1);
	ck_assert_int_eq(ratelimit_take(rl, "a", 1000.0, &retry), 0);
	ck_assert_int_eq(retry, 2);	/* one token per 2 s */
	/* another caller has its own budget */
	ck_assert_int_eq(ratelimit_take(rl, "b", 1000.0, &retry), 1);
	/* 2 s later one token is back, and only one */
	ck_assert_int_eq(ratelimit_take(rl, "a", 3000.0, &retry), 1);
	ck_assert_int_eq(ratelimit_take(rl, "a", 3000.0, &retry), 0);
	ck_assert_int_eq(ratelimit_buckets(rl), 2);
	/* idle callers are freed once their bucket is full again */
	/* at 30 s "b" (one token short since 1 s) is full, "a" is not */
	ratelimit_sweep(rl, 30000.0);
	ck_assert_int_eq(ratelimit_buckets(rl), 1);
	ratelimit_sweep(rl, 1000000.0);
	ck_assert_int_eq(ratelimit_buckets(rl), 0);
	ck_assert_int_eq(ratelimit_take(rl, "a", 1000001.0, &retry), 1);
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_unlimited_and_bad)
{
	struct ratelimit	*rl = ratelimit_new(0, 60);
	int			 i, retry;

	for (i = 0; i < 10000; i++)
		ck_assert_int_eq(ratelimit_take(rl, "a", 0.0, &retry), 1);
	ck_assert_int_eq(ratelimit_buckets(rl), 0);
	ratelimit_free(rl);
	ck_assert_ptr_null(ratelimit_new(5, 0));
	ck_assert_ptr_null(ratelimit_new(-1, 10));
}
END_TEST

/* A reload: the same limit keeps the buckets, a new one empties them. */
START_TEST(test_set)
{
	struct ratelimit	*rl = ratelimit_new(2, 60);
	int			 retry;

	ck_assert_int_eq(ratelimit_take(rl, "a", 0.0, &retry), 1);
	ck_assert_int_eq(ratelimit_take(rl, "a", 0.0, &retry), 1);
	ck_assert_int_eq(ratelimit_set(rl, 2, 60), 0);
	ck_assert_int_eq(ratelimit_take(rl, "a", 0.0, &retry), 0);
	ck_assert_int_eq(ratelimit_set(rl, 3, 60), 0);
	ck_assert_int_eq(ratelimit_buckets(rl), 0);
	ck_assert_int_eq(ratelimit_requests(rl), 3);
	ck_assert_int_eq(ratelimit_take(rl, "a", 0.0, &retry), 1);
	ck_assert_int_eq(ratelimit_set(rl, 0, 60), 0);
	ck_assert_int_eq(ratelimit_buckets(rl), 0);
	ck_assert_int_eq(ratelimit_take(rl, "a", 0.0, &retry), 1);
	ck_assert_int_eq(ratelimit_set(rl, 1, 0), -1);
	ck_assert_int_eq(ratelimit_requests(rl), 0);
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_query_ok)
{
	char		**kw, *bad;
	const char	 *msg;

	ck_assert_int_eq(discovery_parse_query("q=File&q=read+dir&x=1&q=",
	    &kw, &msg, &bad), 0);
	ck_assert_str_eq(kw[0], "file");
	ck_assert_str_eq(kw[1], "read dir");
	ck_assert_ptr_null(kw[2]);
	ck_assert_int_eq(discovery_match("mcp__fs__list_dir list a file", kw),
	    1);
	ck_assert_int_eq(discovery_match("mcp__x__echo echoes", kw), 0);
	discovery_free_keywords(kw);
	ck_assert_int_eq(discovery_parse_query("q=a%20b_c-d", &kw, &msg, &bad),
	    0);
	ck_assert_str_eq(kw[0], "a b_c-d");
	discovery_free_keywords(kw);
	ck_assert_int_eq(discovery_parse_query(NULL, &kw, &msg, &bad), 0);
	ck_assert_ptr_null(kw[0]);
	ck_assert_int_eq(discovery_match("anything", kw), 1);
	discovery_free_keywords(kw);
}
END_TEST

START_TEST(test_query_bad)
{
	char		**kw, *bad, q[256];
	const char	 *msg;

	memset(q, 0, sizeof(q));
	strcpy(q, "q=");
	memset(q + 2, 'a', 101);
	ck_assert_int_eq(discovery_parse_query(q, &kw, &msg, &bad), -1);
	ck_assert_str_eq(msg, "Search query too long (max 100 characters)");
	ck_assert_int_eq((int)strlen(bad), 101);
	free(bad);
	q[2 + 100] = '\0';
	ck_assert_int_eq(discovery_parse_query(q, &kw, &msg, &bad), 0);
	discovery_free_keywords(kw);
	ck_assert_int_eq(discovery_parse_query("q=ok&q=a%3Bb", &kw, &msg,
	    &bad), -1);
	ck_assert(strncmp(msg, "Invalid characters", 18) == 0);
	ck_assert_str_eq(bad, "a;b");
	free(bad);
	ck_assert_int_eq(discovery_parse_query("q=%C3%A9t%C3%A9", &kw, &msg,
	    &bad), -1);
	free(bad);
	ck_assert_int_eq(discovery_parse_query("q=a%00b", &kw, &msg, &bad),
	    -1);
	free(bad);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("ratelimit");
	TCase	*tc = tcase_create("ratelimit");

	tcase_add_test(tc, test_bucket);
	tcase_add_test(tc, test_unlimited_and_bad);
	tcase_add_test(tc, test_set);
	tcase_add_test(tc, test_query_ok);
	tcase_add_test(tc, test_query_bad);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
