/*
 * test_toolname.c: the grammar of tool names (toolname.c), as a hostile
 * sandbox would try it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toolname.h"
#include "unit.h"

/* 0 or -1 from toolname_parse() of the first len bytes of s. */
static int
parse(const char *s, size_t len, struct toolname *tn, char *err)
{
	return toolname_parse(s, len, tn, err, 512);
}

START_TEST(test_good)
{
	static const char *const good[] = {
		"mcp__demo__echo", "mcp__a__b", "mcp__my-server__get-tiny-image",
		"mcp__fs_2__read_text_file", "mcp__x__a.b_c-d",
		"mcp__x___leading_underscore_tool", "mcp__x__a__b",
	};
	struct toolname	tn;
	char		err[512];
	size_t		i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(parse(good[i], strlen(good[i]), &tn, err) == 0,
		    "%s: %s", good[i], err);
	parse("mcp__fs_2__read_text_file", 25, &tn, err);
	ck_assert_int_eq(tn.server_len, 4);
	ck_assert(strncmp(tn.server, "fs_2", 4) == 0);
	ck_assert_str_eq(tn.tool, "read_text_file");
	/* The first "__" ends the server: one reading only. */
	parse("mcp__x___t", 10, &tn, err);
	ck_assert_int_eq(tn.server_len, 1);
	ck_assert_str_eq(tn.tool, "_t");
}
END_TEST

START_TEST(test_bad)
{
	static const struct {
		const char	*name;
		const char	*why;
	} bad[] = {
		{ "mcp__demo__echo ", "a space" },
		{ " mcp__demo__echo", "a space" },
		{ "mcp__demo__ec ho", "a space" },
		{ "mcp__demo__echo\t", "control character" },
		{ "mcp__demo__\xc3\xa9", "non-ASCII" },
		{ "mcp__demo__echo;rm", "tool part" },
		{ "mcp__demo__e/x", "tool part" },
		{ "mcp__demo__", "tool part" },
		{ "mcp__de.mo__echo", "server part" },
		{ "mcp____echo", "expected" },
		{ "mcp___x__echo", "may not start" },
		{ "mcp__demo", "expected" },
		{ "demo__echo", "expected" },
		{ "", "expected" },
	};
	struct toolname	tn;
	char		err[512];
	size_t		i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse(bad[i].name, strlen(bad[i].name), &tn,
		    err) == -1, "accepted '%s'", bad[i].name);
		ck_assert_msg(strstr(err, bad[i].why) != NULL, "'%s': %s",
		    bad[i].name, err);
		ck_assert(strncmp(err, "Invalid toolName '", 18) == 0);
	}
}
END_TEST

/* "mcp__demo__echo\u0000" as JSON gives: C would see mcp__demo__echo. */
START_TEST(test_nul)
{
	struct toolname	tn;
	char		err[512];

	ck_assert_int_eq(parse("mcp__demo__echo\0x", 17, &tn, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "NUL"));
	ck_assert_int_eq(parse("mcp__demo__echo", 16, &tn, err), -1);
}
END_TEST

/* A name of 100,000 bytes: refused, and quoted in 200 bytes at most. */
START_TEST(test_long)
{
	struct toolname	tn;
	char		err[512], *name;
	size_t		n = 100000;

	name = malloc(n + 1);
	ck_assert_ptr_nonnull(name);
	memcpy(name, "mcp__demo__", 11);
	memset(name + 11, 'x', n - 11);
	name[n] = '\0';
	ck_assert_int_eq(parse(name, n, &tn, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "longer than 256"));
	ck_assert_uint_le(strlen(err), TOOLNAME_QUOTE_MAX + 100);
	ck_assert_ptr_nonnull(strstr(err, "xxx...'"));
	/* 128 bytes of tool part are fine, 129 are not. */
	name[11 + 128] = '\0';
	ck_assert_int_eq(parse(name, 11 + 128, &tn, err), 0);
	name[11 + 128] = 'x';
	name[11 + 129] = '\0';
	ck_assert_int_eq(parse(name, 11 + 129, &tn, err), -1);
	free(name);
}
END_TEST

START_TEST(test_quote)
{
	char	out[TOOLNAME_QUOTE_MAX + 8], in[300];

	/* A 2-byte UTF-8 character across the cut is not split. */
	memset(in, 'a', sizeof(in));
	in[199] = '\xc3';
	in[200] = '\xa9';
	toolname_quote(in, sizeof(in), out, sizeof(out));
	ck_assert_uint_eq(strlen(out), 199 + 3);
	ck_assert_str_eq(out + 199, "...");
	toolname_quote("a\nb", 3, out, sizeof(out));
	ck_assert_str_eq(out, "a?b");
}
END_TEST

START_TEST(test_server_names)
{
	ck_assert(toolname_server_ok("demo"));
	ck_assert(toolname_server_ok("my_server-2"));
	ck_assert(!toolname_server_ok("x_"));
	ck_assert(!toolname_server_ok("_x"));
	ck_assert(!toolname_server_ok("a__b"));
	ck_assert(!toolname_server_ok(""));
	ck_assert(!toolname_server_ok("a.b"));
	ck_assert(toolname_tool_ok("get-tiny-image"));
	ck_assert(!toolname_tool_ok("odd\"name\\"));
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("toolname");
	TCase	*tc = tcase_create("toolname");

	tcase_add_test(tc, test_good);
	tcase_add_test(tc, test_bad);
	tcase_add_test(tc, test_nul);
	tcase_add_test(tc, test_long);
	tcase_add_test(tc, test_quote);
	tcase_add_test(tc, test_server_names);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
