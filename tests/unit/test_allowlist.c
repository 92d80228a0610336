/*
 * test_allowlist.c: unit tests for the tool name allowlist
 * (src/allowlist.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "allowlist.h"
#include "unit.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static struct allowlist *make(const char *const *, size_t);
static double	now(void);
static Suite	*allowlist_suite(void);

/*
 * Build a list from string literals (the API takes char *, as struct config
 * has them); the copies given to allowlist_new() are wiped and freed right
 * after, so the tests also check that the list keeps its own copies.
 */
static struct allowlist *
make(const char *const *patterns, size_t n)
{
	struct allowlist	*al;
	char			**copy;
	size_t			 i;

	copy = calloc(n + 1, sizeof(*copy));
	ck_assert_ptr_nonnull(copy);
	for (i = 0; i < n; i++) {
		copy[i] = strdup(patterns[i]);
		ck_assert_ptr_nonnull(copy[i]);
	}
	al = allowlist_new(n == 0 ? NULL : copy, n);
	for (i = 0; i < n; i++) {
		memset(copy[i], '#', strlen(copy[i]));
		free(copy[i]);
	}
	free(copy);
	ck_assert_ptr_nonnull(al);
	ck_assert_uint_eq(allowlist_count(al), n);
	for (i = 0; i < n; i++)
		ck_assert_str_eq(allowlist_pattern(al, i), patterns[i]);
	return al;
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(test_exact)
{
	const char *const	 p[] = { "mcp__fs__read_file",
	    "mcp__git__status", "mcp__fs__write_file" };
	struct allowlist	*al = make(p, NELEM(p));

	ck_assert_int_eq(allowlist_match(al, "mcp__fs__read_file"), 1);
	ck_assert_int_eq(allowlist_match(al, "mcp__fs__write_file"), 1);
	ck_assert_int_eq(allowlist_match(al, "mcp__git__status"), 1);
	ck_assert_int_eq(allowlist_match(al, "mcp__fs__read_fil"), 0);
	ck_assert_int_eq(allowlist_match(al, "mcp__fs__read_file_x"), 0);
	ck_assert_int_eq(allowlist_match(al, "mcp__fs__list"), 0);
	ck_assert_int_eq(allowlist_match(al, ""), 0);
	ck_assert_int_eq(allowlist_match(al, NULL), 0);
	/* Patterns come back in the order given, not sorted. */
	ck_assert_str_eq(allowlist_pattern(al, 0), "mcp__fs__read_file");
	ck_assert_str_eq(allowlist_pattern(al, 1), "mcp__git__status");
	ck_assert_str_eq(allowlist_pattern(al, 2), "mcp__fs__write_file");
	ck_assert_ptr_null(allowlist_pattern(al, 3));
	allowlist_free(al);
}
END_TEST

START_TEST(test_copies)
{
	char			 buf[] = "mcp__a__b";
	char			*p[] = { buf };
	struct allowlist	*al = allowlist_new(p, 1);

	ck_assert_ptr_nonnull(al);
	ck_assert_ptr_ne(allowlist_pattern(al, 0), buf);
	buf[0] = 'X';
	ck_assert_int_eq(allowlist_match(al, "mcp__a__b"), 1);
	ck_assert_int_eq(allowlist_match(al, "Xcp__a__b"), 0);
	allowlist_free(al);
}
END_TEST

START_TEST(test_prefix_glob)
{
	const char *const	 p[] = { "mcp__fs__*" };
	struct allowlist	*al = make(p, NELEM(p));

	ck_assert_int_eq(allowlist_match(al, "mcp__fs__read_file"), 1);
	ck_assert_int_eq(allowlist_match(al, "mcp__fs__"), 1);
	ck_assert_int_eq(allowlist_match(al, "mcp__fs__a__b"), 1);
	ck_assert_int_eq(allowlist_match(al, "mcp__fs_"), 0);
	ck_assert_int_eq(allowlist_match(al, "mcp__fsx__read"), 0);
	ck_assert_int_eq(allowlist_match(al, "xmcp__fs__read"), 0);
	ck_assert_int_eq(allowlist_match(al, "mcp__git__status"), 0);
	allowlist_free(al);
}
END_TEST

/* A glob that starts "mcp__" is matched server part to server, tool part
 * to tool: no star reaches across the "__" that ends a server name. */
START_TEST(test_parsed)
{
	const char *const	 p[] = { "mcp__x_*", "mcp__*__read_*",
	    "mcp__de*o__e*" };
	struct allowlist	*al = make(p, NELEM(p));

	ck_assert_int_eq(allowlist_match(al, "mcp__x__tool"), 0);
	ck_assert_int_eq(allowlist_match(al, "mcp__x___tool"), 0);
	ck_assert_int_eq(allowlist_match(al, "mcp__x_y__tool"), 1);
	ck_assert_int_eq(allowlist_match(al, "mcp__fs__read_file"), 1);
	ck_assert_int_eq(allowlist_match(al, "mcp__fs__write_file"), 0);
	ck_assert_int_eq(allowlist_match(al, "mcp__fs__x__read_y"), 0);
	ck_assert_int_eq(allowlist_match(al, "mcp__demo__echo"), 1);
	ck_assert_int_eq(allowlist_match(al, "mcp__deo__e"), 1);
	ck_assert_int_eq(allowlist_match(al, "mcp__demo__add"), 0);
	ck_assert_int_eq(allowlist_match(al, "mcp__de__mo__echo"), 0);
	/* As the session check uses it: a narrower pattern as a name. */
	ck_assert_int_eq(allowlist_match(al, "mcp__x_a*"), 1);
	ck_assert_int_eq(allowlist_match(al, "mcp__x*"), 0);
	ck_assert_int_eq(allowlist_match(al, "mcp__*__read_a*"), 1);
	ck_assert_int_eq(allowlist_match(al, "mcp__*__*"), 0);
	allowlist_free(al);
}
END_TEST

START_TEST(test_middle_and_multiple_stars)
{
	const char *const	 p[] = { "mcp__*__read", "a*b*c", "x**y",
	    "*_end" };
	struct allowlist	*al = make(p, NELEM(p));

	ck_assert_int_eq(allowlist_match(al, "mcp__fs__read"), 1);
	ck_assert_int_eq(allowlist_match(al, "mcp____read"), 1);
	/* Server "a", tool "b__read": not the tool "read". */
	ck_assert_int_eq(allowlist_match(al, "mcp__a__b__read"), 0);
	ck_assert_int_eq(allowlist_match(al, "mcp__fs__read_file"), 0);
	ck_assert_int_eq(allowlist_match(al, "mcp__fs__reap"), 0);
	ck_assert_int_eq(allowlist_match(al, "abc"), 1);
	ck_assert_int_eq(allowlist_match(al, "aXbYc"), 1);
	ck_assert_int_eq(allowlist_match(al, "abcbc"), 1);
	ck_assert_int_eq(allowlist_match(al, "abcb"), 0);
	ck_assert_int_eq(allowlist_match(al, "acb"), 0);
	ck_assert_int_eq(allowlist_match(al, "xy"), 1);
	ck_assert_int_eq(allowlist_match(al, "x__y"), 1);
	ck_assert_int_eq(allowlist_match(al, "x__yz"), 0);
	ck_assert_int_eq(allowlist_match(al, "_end"), 1);
	ck_assert_int_eq(allowlist_match(al, "the_end_end"), 1);
	ck_assert_int_eq(allowlist_match(al, "the_end_"), 0);
	allowlist_free(al);
}
END_TEST

START_TEST(test_star_alone)
{
	const char *const	 p[] = { "*" };
	const char *const	 p2[] = { "**" };
	struct allowlist	*al = make(p, NELEM(p));

	ck_assert_int_eq(allowlist_match(al, "anything"), 1);
	ck_assert_int_eq(allowlist_match(al, ""), 1);
	ck_assert_int_eq(allowlist_match(al, "mcp__x__y"), 1);
	ck_assert_int_eq(allowlist_match(al, NULL), 0);
	allowlist_free(al);
	al = make(p2, NELEM(p2));
	ck_assert_int_eq(allowlist_match(al, "z"), 1);
	allowlist_free(al);
}
END_TEST

START_TEST(test_empty_list)
{
	struct allowlist	*al;
	const char *const	 p[] = { "" };

	al = make(NULL, 0);
	ck_assert_int_eq(allowlist_match(al, "mcp__fs__read_file"), 0);
	ck_assert_int_eq(allowlist_match(al, ""), 0);
	ck_assert_int_eq(allowlist_match(al, "*"), 0);
	ck_assert_ptr_null(allowlist_pattern(al, 0));
	allowlist_free(al);
	/* An empty pattern matches only the empty name. */
	al = make(p, 1);
	ck_assert_int_eq(allowlist_match(al, ""), 1);
	ck_assert_int_eq(allowlist_match(al, "a"), 0);
	allowlist_free(al);
	ck_assert_int_eq(allowlist_match(NULL, "a"), 0);
	ck_assert_uint_eq(allowlist_count(NULL), 0);
	allowlist_free(NULL);
}
END_TEST

START_TEST(test_star_matches_empty)
{
	const char *const	 p[] = { "mcp__fs__*", "*tool", "pre*post" };
	struct allowlist	*al = make(p, NELEM(p));

	ck_assert_int_eq(allowlist_match(al, "mcp__fs__"), 1);
	ck_assert_int_eq(allowlist_match(al, "tool"), 1);
	ck_assert_int_eq(allowlist_match(al, "prepost"), 1);
	ck_assert_int_eq(allowlist_match(al, "prepos"), 0);
	ck_assert_int_eq(allowlist_match(al, "prpost"), 0);
	allowlist_free(al);
}
END_TEST

START_TEST(test_no_other_metacharacters)
{
	const char *const	 p[] = { "tool[1]", "a?c", "x.y", "b\\*" };
	struct allowlist	*al = make(p, NELEM(p));

	ck_assert_int_eq(allowlist_match(al, "tool[1]"), 1);
	ck_assert_int_eq(allowlist_match(al, "tool1"), 0);
	ck_assert_int_eq(allowlist_match(al, "a?c"), 1);
	ck_assert_int_eq(allowlist_match(al, "abc"), 0);
	ck_assert_int_eq(allowlist_match(al, "x.y"), 1);
	ck_assert_int_eq(allowlist_match(al, "xzy"), 0);
	/* Backslash does not escape: "b\*" is "b\" then a star. */
	ck_assert_int_eq(allowlist_match(al, "b\\"), 1);
	ck_assert_int_eq(allowlist_match(al, "b\\zzz"), 1);
	ck_assert_int_eq(allowlist_match(al, "b*"), 0);
	allowlist_free(al);
}
END_TEST

START_TEST(test_case_sensitive)
{
	const char *const	 p[] = { "mcp__FS__Read", "mcp__git__*" };
	struct allowlist	*al = make(p, NELEM(p));

	ck_assert_int_eq(allowlist_match(al, "mcp__FS__Read"), 1);
	ck_assert_int_eq(allowlist_match(al, "mcp__fs__read"), 0);
	ck_assert_int_eq(allowlist_match(al, "MCP__FS__READ"), 0);
	ck_assert_int_eq(allowlist_match(al, "mcp__git__log"), 1);
	ck_assert_int_eq(allowlist_match(al, "mcp__GIT__log"), 0);
	allowlist_free(al);
}
END_TEST

START_TEST(test_pathological)
{
	const char *const	 p[] = { "*a*a*a*a*a*a*b", "*aaaaaaaaaaaaaaaab",
	    "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*c" };
	struct allowlist	*al = make(p, NELEM(p));
	char			*s;
	size_t			 n = 200000;
	double			 t0;

	s = malloc(n + 2);
	ck_assert_ptr_nonnull(s);
	memset(s, 'a', n);
	s[n] = '\0';
	t0 = now();
	ck_assert_int_eq(allowlist_match(al, s), 0);
	s[n] = 'b';
	s[n + 1] = '\0';
	ck_assert_int_eq(allowlist_match(al, s), 1);
	/* A naive backtracking matcher takes hours here. */
	ck_assert_msg(now() - t0 < 2.0, "took %.3f s", now() - t0);
	free(s);
	allowlist_free(al);
}
END_TEST

START_TEST(test_long_list)
{
	struct allowlist	*al;
	char			**p, name[64];
	size_t			 i, n = 20000;
	double			 t0;

	p = calloc(n + 1, sizeof(*p));
	ck_assert_ptr_nonnull(p);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "mcp__s%zu__tool_%zu", i % 97, i);
		p[i] = strdup(name);
		ck_assert_ptr_nonnull(p[i]);
	}
	p[n] = strdup("mcp__glob__*");
	al = allowlist_new(p, n + 1);
	ck_assert_ptr_nonnull(al);
	t0 = now();
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "mcp__s%zu__tool_%zu", i % 97, i);
		ck_assert_int_eq(allowlist_match(al, name), 1);
		snprintf(name, sizeof(name), "mcp__s%zu__tool_%zu",
		    (i + 1) % 97, i);
		ck_assert_int_eq(allowlist_match(al, name), 0);
	}
	ck_assert_int_eq(allowlist_match(al, "mcp__glob__x"), 1);
	ck_assert_msg(now() - t0 < 5.0, "took %.3f s", now() - t0);
	ck_assert_str_eq(allowlist_pattern(al, 5), p[5]);
	ck_assert_str_eq(allowlist_pattern(al, n), "mcp__glob__*");
	allowlist_free(al);
	for (i = 0; i <= n; i++)
		free(p[i]);
	free(p);
}
END_TEST

START_TEST(test_null_pattern)
{
	char	 a[] = "a";
	char	*p[] = { a, NULL };

	ck_assert_ptr_null(allowlist_new(p, 2));
}
END_TEST

static Suite *
allowlist_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("allowlist");
	tc = tcase_create("match");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_exact);
	tcase_add_test(tc, test_copies);
	tcase_add_test(tc, test_prefix_glob);
	tcase_add_test(tc, test_middle_and_multiple_stars);
	tcase_add_test(tc, test_parsed);
	tcase_add_test(tc, test_star_alone);
	tcase_add_test(tc, test_empty_list);
	tcase_add_test(tc, test_star_matches_empty);
	tcase_add_test(tc, test_no_other_metacharacters);
	tcase_add_test(tc, test_case_sensitive);
	tcase_add_test(tc, test_pathological);
	tcase_add_test(tc, test_long_list);
	tcase_add_test(tc, test_null_pattern);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(allowlist_suite());
}
