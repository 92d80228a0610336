/*
 * test_schema.c: unit tests for the JSON Schema validator (src/schema.c):
 * verdicts, every error's path and message, the error cap, both drafts,
 * references and cycles, unsupported keywords, the validation budgets
 * (steps, patterns, CPU) and the compile budget, and concurrent use of one
 * compiled schema.
 */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "schema.h"
#include "unit.h"

#define NTHREADS	4
#define NROUNDS		2000

static struct schema	*compile(const char *);
static struct schema	*compile_draft(const char *, enum schema_draft);
static int		 check(const struct schema *, const char *,
			    struct schema_result *);
static int		 valid(const struct schema *, const char *);
static void		 expect_error(const struct schema_result *, size_t,
			    const char *, const char *);
static void		 expect_only(const struct schema *, const char *,
			    const char *, const char *);
static json_object	*int_array(int, int);
static void		 expect_only_json(const struct schema *, json_object *,
			    const char *, const char *);
static void		 expect_costly(const struct schema *, json_object *,
			    const struct schema_limits *, int, const char *,
			    const char *);
static void		*thread_main(void *);
static Suite		*schema_suite(void);

/* Compile from text; the json-c tree is released at once (nothing kept). */
static struct schema *
compile_draft(const char *text, enum schema_draft draft)
{
	json_object	*root;
	struct schema	*s;
	char		 err[256];

	root = json_tokener_parse(text);
	ck_assert_msg(root != NULL || strcmp(text, "null") == 0,
	    "bad test schema: %s", text);
	s = schema_compile_draft(root, draft, err, sizeof(err));
	ck_assert_msg(s != NULL, "schema %s did not compile: %s", text, err);
	json_object_put(root);
	return s;
}

static struct schema *
compile(const char *text)
{
	return compile_draft(text, SCHEMA_DRAFT_AUTO);
}

/* Validate text; the verdict reported must agree with the quiet one. */
static int
check(const struct schema *s, const char *text, struct schema_result *res)
{
	json_object	*inst;
	int		 v, quiet;

	inst = json_tokener_parse(text);
	ck_assert_msg(inst != NULL || strcmp(text, "null") == 0,
	    "bad test instance: %s", text);
	v = schema_validate(s, inst, res);
	quiet = schema_validate(s, inst, NULL);
	ck_assert_int_eq(v, quiet);
	if (res != NULL)
		ck_assert_int_eq(v == 0, res->nerrors > 0);
	json_object_put(inst);
	return v;
}

static int
valid(const struct schema *s, const char *text)
{
	struct schema_result	 res;
	int			 v;

	memset(&res, 0, sizeof(res));
	v = check(s, text, &res);
	schema_result_free(&res);
	return v;
}

static void
expect_error(const struct schema_result *res, size_t i, const char *path,
    const char *message)
{
	ck_assert_msg(i < res->nerrors, "error %zu missing (%zu errors)", i,
	    res->nerrors);
	ck_assert_str_eq(res->errors[i].path, path);
	ck_assert_str_eq(res->errors[i].message, message);
}

/* text is invalid with exactly one error, at path, saying message. */
static void
expect_only(const struct schema *s, const char *text, const char *path,
    const char *message)
{
	struct schema_result	 res;

	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(check(s, text, &res), 0);
	ck_assert_msg(res.nerrors == 1, "%s: %zu errors, first %s: %s", text,
	    res.nerrors, res.errors[0].path, res.errors[0].message);
	expect_error(&res, 0, path, message);
	ck_assert_int_eq(res.truncated, 0);
	schema_result_free(&res);
}

/* [first, first + 1, ..., first + n - 1] */
static json_object *
int_array(int first, int n)
{
	json_object	*arr = json_object_new_array();
	int		 i;

	for (i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_int(first + i));
	return arr;
}

/* As expect_only(), for an instance built in the test. */
static void
expect_only_json(const struct schema *s, json_object *inst, const char *path,
    const char *message)
{
	struct schema_result	 res;

	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(schema_validate(s, inst, &res), 0);
	ck_assert_int_eq(schema_validate(s, inst, NULL), 0);
	ck_assert_msg(res.nerrors == 1, "%zu errors, first %s: %s",
	    res.nerrors, res.errors[0].path, res.errors[0].message);
	expect_error(&res, 0, path, message);
	ck_assert_int_eq(res.truncated, 0);
	schema_result_free(&res);
}

/*
 * inst is too costly under lim: invalid with exactly one error, at path,
 * saying message; quietly too, with used telling which budget ran out.
 */
static void
expect_costly(const struct schema *s, json_object *inst,
    const struct schema_limits *lim, int costly, const char *path,
    const char *message)
{
	struct schema_result	 res;
	struct schema_usage	 used;
	size_t			 n;

	memset(&res, 0, sizeof(res));
	memset(&used, 0xff, sizeof(used));
	ck_assert_int_eq(schema_validate_limits(s, inst, &res, lim, &used), 0);
	ck_assert_int_eq(res.too_costly, costly);
	ck_assert_int_eq(used.too_costly, costly);
	ck_assert_msg(res.nerrors == 1, "%zu errors, first %s: %s",
	    res.nerrors, res.errors[0].path, res.errors[0].message);
	if ((n = strlen(path)) > 0 && path[n - 1] == '*') {
		/* Where a CPU budget runs out depends on the machine. */
		ck_assert_msg(strncmp(res.errors[0].path, path, n - 1) == 0,
		    "path %s, want %s", res.errors[0].path, path);
		ck_assert_str_eq(res.errors[0].message, message);
	} else
		expect_error(&res, 0, path, message);
	ck_assert_int_eq(res.truncated, 0);
	schema_result_free(&res);
	ck_assert_int_eq(res.too_costly, 0);

	memset(&used, 0, sizeof(used));
	ck_assert_int_eq(schema_validate_limits(s, inst, NULL, lim, &used), 0);
	ck_assert_int_eq(used.too_costly, costly);
}

static const char *const mcp_schema =
    "{\"type\":\"object\","
    "\"properties\":{"
    "\"query\":{\"type\":\"string\",\"minLength\":1},\"b\":{},"
    "\"count\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100},"
    "\"mode\":{\"enum\":[\"a\",\"b\"]},"
    "\"slug\":{\"type\":\"string\",\"pattern\":\"^[a-z]+$\"},"
    "\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
    "\"properties\":{\"name\":{\"type\":\"string\"}},"
    "\"required\":[\"name\"]}}},"
    "\"required\":[\"query\",\"b\"],"
    "\"additionalProperties\":false}";

START_TEST(test_mcp_valid)
{
	struct schema	*s = compile(mcp_schema);

	ck_assert(valid(s, "{\"query\":\"x\",\"b\":1}"));
	ck_assert(!valid(s, "{\"query\":\"x\",\"b\":1,\"c\":2}"));
	schema_free(s);
	s = compile("{\"type\":\"object\",\"properties\":{"
	    "\"query\":{\"type\":\"string\"},\"count\":{\"type\":\"integer\"}},"
	    "\"required\":[\"query\"]}");
	ck_assert(valid(s, "{\"query\":\"x\"}"));
	ck_assert(valid(s, "{\"query\":\"x\",\"count\":3,\"other\":[1]}"));
	ck_assert(!valid(s, "{\"count\":3}"));
	ck_assert(!valid(s, "[]"));
	schema_free(s);
}
END_TEST

START_TEST(test_required_message)
{
	struct schema	*s = compile("{\"required\":[\"a\",\"b\"]}");

	expect_only(s, "{\"a\":1}", "", "missing required property \"b\"");
	ck_assert(valid(s, "{\"a\":1,\"b\":null}"));
	ck_assert(valid(s, "\"not an object\""));
	schema_free(s);
}
END_TEST

START_TEST(test_type_message)
{
	struct schema	*s = compile(mcp_schema);

	expect_only(s, "{\"query\":\"q\",\"b\":0,\"count\":\"3\"}", "/count",
	    "expected integer, got string \"3\"");
	expect_only(s, "{\"query\":\"q\",\"b\":0,\"count\":2.5}", "/count",
	    "expected integer, got number 2.5");
	expect_only(s, "{\"query\":null,\"b\":0}", "/query",
	    "expected string, got null");
	schema_free(s);
	s = compile("{\"type\":[\"string\",\"null\",\"boolean\"]}");
	expect_only(s, "{\"a\":[1,true]}", "",
	    "expected null, boolean or string, got object {\"a\":[1,true]}");
	ck_assert(valid(s, "null"));
	ck_assert(valid(s, "false"));
	schema_free(s);
}
END_TEST

START_TEST(test_integer_one_point_zero)
{
	struct schema	*s = compile("{\"type\":\"integer\"}");

	ck_assert(valid(s, "1"));
	ck_assert(valid(s, "1.0"));
	ck_assert(valid(s, "-0.0"));
	ck_assert(valid(s, "1e3"));
	ck_assert(!valid(s, "1.5"));
	ck_assert(!valid(s, "\"1\""));
	schema_free(s);
	s = compile("{\"type\":\"number\"}");
	ck_assert(valid(s, "1"));
	ck_assert(valid(s, "1.5"));
	ck_assert(!valid(s, "true"));
	schema_free(s);
}
END_TEST

START_TEST(test_enum_const_messages)
{
	struct schema	*s = compile(mcp_schema);

	expect_only(s, "{\"query\":\"q\",\"b\":0,\"mode\":\"c\"}", "/mode",
	    "must be one of [\"a\",\"b\"]");
	schema_free(s);
	s = compile("{\"const\":{\"k\":[1,\"x\"]}}");
	expect_only(s, "{\"k\":[1]}", "", "must be equal to {\"k\":[1,\"x\"]}");
	schema_free(s);
}
END_TEST

START_TEST(test_json_equality)
{
	struct schema	*s;

	s = compile("{\"enum\":[1,{\"a\":1,\"b\":[2,3]},null]}");
	ck_assert(valid(s, "1.0"));
	ck_assert(valid(s, "{\"b\":[2,3.0],\"a\":1.0}"));
	ck_assert(valid(s, "null"));
	ck_assert(!valid(s, "{\"b\":[3,2],\"a\":1}"));
	ck_assert(!valid(s, "{\"a\":1}"));
	ck_assert(!valid(s, "{\"a\":1,\"b\":[2,3],\"c\":0}"));
	ck_assert(!valid(s, "true"));
	ck_assert(!valid(s, "\"1\""));
	schema_free(s);
	s = compile("{\"const\":false}");
	ck_assert(valid(s, "false"));
	ck_assert(!valid(s, "0"));
	ck_assert(!valid(s, "null"));
	schema_free(s);
	s = compile("{\"const\":9007199254740993}");
	ck_assert(valid(s, "9007199254740993"));
	ck_assert(!valid(s, "9007199254740992"));
	schema_free(s);
}
END_TEST

START_TEST(test_unique_items)
{
	struct schema		*s = compile("{\"uniqueItems\":true}");

	ck_assert(valid(s, "[1,2,\"1\",[1],{\"a\":1}]"));
	expect_only(s, "[0,1,1.0]", "", "items must be unique (items 1 and 2 "
	    "are equal)");
	expect_only(s, "[{\"a\":1,\"b\":2},{\"b\":2,\"a\":1}]", "",
	    "items must be unique (items 0 and 1 are equal)");
	ck_assert(valid(s, "[[1,2],[2,1]]"));
	schema_free(s);
}
END_TEST

/* Past a few items uniqueItems hashes: the same verdicts, in linear time. */
START_TEST(test_unique_items_hashed)
{
	struct schema		*s = compile("{\"uniqueItems\":true}");
	struct schema_limits	 lim = { .steps = 50000 };
	struct schema_usage	 used;
	json_object		*arr, *o;
	unsigned long		 steps3000;
	int			 i;

	/* 3000 different ints: O(n^2) would take 4.5 million comparisons */
	arr = int_array(0, 3000);
	ck_assert_int_eq(schema_validate_limits(s, arr, NULL, &lim, &used), 1);
	steps3000 = used.steps;
	ck_assert_uint_lt(steps3000, 4 * 3000);
	json_object_put(arr);
	arr = int_array(0, 6000);
	ck_assert_int_eq(schema_validate_limits(s, arr, NULL, &lim, &used), 1);
	ck_assert_uint_lt(used.steps, 2 * steps3000 + 3000);
	json_object_put(arr);

	/* 1 and 1.0; the first item repeated, and the lower index first */
	arr = int_array(0, 100);
	json_object_array_put_idx(arr, 57, json_object_new_double(1.0));
	json_object_array_put_idx(arr, 80, json_object_new_int(2));
	expect_only_json(s, arr, "", "items must be unique (items 1 and 57 "
	    "are equal)");
	json_object_put(arr);

	/* objects in another key order, nested arrays and numbers */
	arr = json_object_new_array();
	for (i = 0; i < 20; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "a", json_object_new_int(i));
		json_object_object_add(o, "b", int_array(i, 2));
		json_object_array_add(arr, o);
	}
	ck_assert(schema_validate(s, arr, NULL));
	json_object_array_add(arr, json_tokener_parse("{\"b\":[5,6.0],"
	    "\"a\":5.0}"));
	expect_only_json(s, arr, "", "items must be unique (items 5 and 20 "
	    "are equal)");
	json_object_put(arr);
	arr = json_tokener_parse("[[1,[2,[3]]],[1,[2,[4]]],[[1],2],[1,2],"
	    "[2,1],{\"a\":[1]},{\"a\":[1],\"b\":null},{\"b\":[1]},"
	    "\"x\",\"x\\u0000\",\"y\",true,false,null,0,-1,0.5,[],{},"
	    "\"\",[null],[false]]");
	ck_assert(schema_validate(s, arr, NULL));
	json_object_array_add(arr, json_tokener_parse("[1,[2.0,[3]]]"));
	expect_only_json(s, arr, "", "items must be unique (items 0 and 22 "
	    "are equal)");
	json_object_put(arr);

	/* a NaN is equal to any number for json_eq(): hashed or not alike */
	for (i = 8; i <= 40; i += 32) {
		arr = int_array(1, i);
		json_object_array_add(arr, json_object_new_double(NAN));
		ck_assert(!schema_validate(s, arr, NULL));
		json_object_put(arr);
	}
	schema_free(s);
}
END_TEST

START_TEST(test_number_messages)
{
	struct schema	*s = compile(mcp_schema);

	expect_only(s, "{\"query\":\"q\",\"b\":0,\"count\":0}", "/count",
	    "must be >= 1");
	expect_only(s, "{\"query\":\"q\",\"b\":0,\"count\":101}", "/count",
	    "must be <= 100");
	schema_free(s);
	s = compile("{\"exclusiveMinimum\":0.5,\"exclusiveMaximum\":2}");
	expect_only(s, "0.5", "", "must be > 0.5");
	expect_only(s, "2", "", "must be < 2");
	ck_assert(valid(s, "1.9999"));
	schema_free(s);
	s = compile("{\"multipleOf\":2}");
	expect_only(s, "7", "", "must be a multiple of 2");
	ck_assert(valid(s, "8.0"));
	schema_free(s);
	s = compile("{\"multipleOf\":0.0001}");
	ck_assert(valid(s, "0.0075"));
	ck_assert(!valid(s, "0.00751"));
	schema_free(s);
}
END_TEST

START_TEST(test_pattern)
{
	struct schema	*s = compile(mcp_schema);

	expect_only(s, "{\"query\":\"q\",\"b\":0,\"slug\":\"Abc\"}", "/slug",
	    "must match pattern \"^[a-z]+$\"");
	expect_only(s, "{\"query\":\"q\",\"b\":0,\"slug\":\"abc\\n\"}", "/slug",
	    "must match pattern \"^[a-z]+$\"");
	schema_free(s);
	/* unanchored search, Unicode aware */
	s = compile("{\"pattern\":\"b+\"}");
	ck_assert(valid(s, "\"abbbc\""));
	ck_assert(!valid(s, "\"ac\""));
	ck_assert(valid(s, "12"));	/* not a string: ignored */
	schema_free(s);
	s = compile("{\"pattern\":\"^.{2}$\"}");
	ck_assert(valid(s, "\"\xc3\xa9\xe6\x97\xa5\""));	/* two code points */
	schema_free(s);
	s = compile("{\"pattern\":\"^\\\\d+$\"}");
	ck_assert(valid(s, "\"123\""));
	ck_assert(!valid(s, "\"\xe0\xa7\xa8\""));	/* BENGALI DIGIT TWO */
	schema_free(s);
}
END_TEST

/* The same verdicts from PCRE2's interpreter as from its JIT. */
START_TEST(test_pattern_interpreted)
{
	struct schema	*s;
	int		 jit = schema_set_jit(0);

	s = compile(mcp_schema);
	expect_only(s, "{\"query\":\"q\",\"b\":0,\"slug\":\"Abc\"}", "/slug",
	    "must match pattern \"^[a-z]+$\"");
	ck_assert(valid(s, "{\"query\":\"q\",\"b\":0,\"slug\":\"abc\"}"));
	schema_free(s);
	s = compile("{\"pattern\":\"^.{2}$\"}");
	ck_assert(valid(s, "\"\xc3\xa9\xe6\x97\xa5\""));
	ck_assert(!valid(s, "\"abc\""));
	schema_free(s);
	s = compile("{\"patternProperties\":{\"^x-\":{\"type\":\"integer\"}},"
	    "\"propertyNames\":{\"pattern\":\"^[a-z-]+$\"}}");
	ck_assert(valid(s, "{\"x-a\":1,\"b\":\"s\"}"));
	expect_only(s, "{\"x-a\":\"1\"}", "/x-a",
	    "expected integer, got string \"1\"");
	ck_assert(!valid(s, "{\"B\":1}"));
	schema_free(s);
	ck_assert_int_eq(schema_set_jit(jit), 0);
}
END_TEST

/* "^(a|aa)+$" backtracks without end on "aaa...ab": stopped at once. */
START_TEST(test_pattern_costly)
{
	struct schema		*s;
	struct schema_limits	 lim = { .match_limit = 10000000,
				    .cpu_us = 1000 };
	json_object		*inst = json_object_new_object();
	json_object		*arr = json_object_new_array();
	json_object		*inst2 = json_object_new_object();
	json_object		*arr2 = json_object_new_array();
	char			 str[42];
	int			 i, jit, saved = schema_set_jit(1);

	memset(str, 'a', 40);
	str[40] = 'b';
	str[41] = '\0';
	for (i = 0; i < 60; i++)
		json_object_array_add(arr, json_object_new_string(str));
	json_object_object_add(inst, "xs", arr);
	/* 26 a's: 1.6 ms with PCRE2's JIT, 22 ms without, on a small VM */
	str[26] = 'b';
	str[27] = '\0';
	for (i = 0; i < 60; i++)
		json_object_array_add(arr2, json_object_new_string(str));
	json_object_object_add(inst2, "xs", arr2);
	for (jit = 1; jit >= 0; jit--) {
		schema_set_jit(jit);
		s = compile("{\"type\":\"object\",\"properties\":{\"xs\":"
		    "{\"items\":{\"type\":\"string\","
		    "\"pattern\":\"^(a|aa)+$\"}}}}");
		/* the match limit */
		expect_costly(s, inst, NULL, SCHEMA_COSTLY_PATTERN, "/xs/0",
		    "the arguments are too costly to validate (a pattern "
		    "needed more than 100000 backtracking steps)");
		schema_free(s);
		/*
		 * Matches, but only after much backtracking: under a larger
		 * match limit the CPU clock, read after each match, stops it
		 * (the first match is not counted).
		 */
		s = compile("{\"type\":\"object\",\"properties\":{\"xs\":"
		    "{\"items\":{\"pattern\":\"^((a|aa)+$|a)\"}}}}");
		expect_costly(s, inst2, &lim, SCHEMA_COSTLY_CPU, "/xs/*",
		    "the arguments are too costly to validate (more than 1 "
		    "ms of CPU)");
		schema_free(s);
	}
	json_object_put(inst);
	json_object_put(inst2);
	schema_set_jit(saved);
}
END_TEST

/* Backtracking memory: the heap limit, or the JIT stack. */
START_TEST(test_pattern_memory)
{
	struct schema	*s;
	json_object	*inst;
	char		*buf;
	size_t		 len = 1000000;
	int		 jit, saved = schema_set_jit(1);

	buf = malloc(len + 1);
	ck_assert_ptr_nonnull(buf);
	memset(buf, 'a', len);
	buf[len] = '\0';
	for (jit = 1; jit >= 0; jit--) {
		schema_set_jit(jit);
		s = compile("{\"pattern\":\"^(a|b)*$\"}");
		/* a long string is fine, only a very long one is not */
		inst = json_object_new_string_len(buf, 5000);
		ck_assert(schema_validate(s, inst, NULL));
		json_object_put(inst);
		inst = json_object_new_string_len(buf, (int)len);
		expect_costly(s, inst, NULL, SCHEMA_COSTLY_PATTERN, "",
		    "the arguments are too costly to validate (a pattern "
		    "needed more than 4096 KiB of memory)");
		json_object_put(inst);
		schema_free(s);
	}
	free(buf);
	schema_set_jit(saved);
}
END_TEST

/* A giant pattern fails to compile, with a message. */
START_TEST(test_pattern_too_long)
{
	json_object	*root;
	struct schema	*s;
	char		*pat, err[256];
	int		 i;

	pat = malloc(70001);
	ck_assert_ptr_nonnull(pat);
	memset(pat, 'a', 70000);
	pat[70000] = '\0';
	root = json_object_new_object();
	json_object_object_add(root, "pattern", json_object_new_string(pat));
	s = schema_compile(root, err, sizeof(err));
	ck_assert_ptr_null(s);
	ck_assert_str_eq(err, "/pattern: invalid regular expression at offset "
	    "0: pattern string is longer than the limit set by the "
	    "application");
	/* \s grows in translation: the limit is on what PCRE2 compiles */
	for (i = 0; i < 3000; i++)
		memcpy(pat + 2 * i, "\\s", 2);
	pat[6000] = '\0';
	json_object_object_add(root, "pattern", json_object_new_string(pat));
	ck_assert_ptr_null(schema_compile(root, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "longer than the limit"));
	json_object_put(root);
	free(pat);
}
END_TEST

START_TEST(test_nested_paths)
{
	struct schema	*s = compile(mcp_schema);

	expect_only(s, "{\"query\":\"q\",\"b\":0,\"items\":[{\"name\":\"a\"},"
	    "{\"name\":5}]}", "/items/1/name", "expected string, got number 5");
	expect_only(s, "{\"query\":\"q\",\"b\":0,\"items\":[{}]}", "/items/0",
	    "missing required property \"name\"");
	expect_only(s, "{\"query\":\"q\",\"b\":0,\"items\":{}}", "/items",
	    "expected array, got object {}");
	schema_free(s);
}
END_TEST

START_TEST(test_every_error)
{
	struct schema		*s = compile(mcp_schema);
	struct schema_result	 res;
	size_t			 i;
	int			 seen[3] = { 0, 0, 0 };

	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(check(s, "{\"b\":0,\"query\":\"\",\"x\":1,"
	    "\"items\":[{\"name\":1}]}", &res), 0);
	ck_assert_uint_eq(res.nerrors, 3);
	for (i = 0; i < res.nerrors; i++) {
		if (strcmp(res.errors[i].path, "/query") == 0 &&
		    strcmp(res.errors[i].message,
		    "must be at least 1 character long (got 0)") == 0)
			seen[0]++;
		if (strcmp(res.errors[i].path, "") == 0 &&
		    strcmp(res.errors[i].message,
		    "unexpected property \"x\"") == 0)
			seen[1]++;
		if (strcmp(res.errors[i].path, "/items/0/name") == 0 &&
		    strcmp(res.errors[i].message,
		    "expected string, got number 1") == 0)
			seen[2]++;
	}
	ck_assert_int_eq(seen[0], 1);
	ck_assert_int_eq(seen[1], 1);
	ck_assert_int_eq(seen[2], 1);
	schema_result_free(&res);
	schema_free(s);
}
END_TEST

START_TEST(test_additional_properties)
{
	struct schema	*s = compile("{\"properties\":{\"a\":{}},"
	    "\"patternProperties\":{\"^x-\":{\"type\":\"string\"}},"
	    "\"additionalProperties\":false}");

	ck_assert(valid(s, "{\"a\":1,\"x-y\":\"s\"}"));
	expect_only(s, "{\"x-y\":1}", "/x-y", "expected string, got number 1");
	expect_only(s, "{\"a\":1,\"x\":2}", "", "unexpected property \"x\"");
	schema_free(s);
	s = compile("{\"additionalProperties\":{\"type\":\"number\"}}");
	expect_only(s, "{\"a\":1,\"b\":\"2\"}", "/b",
	    "expected number, got string \"2\"");
	schema_free(s);
}
END_TEST

START_TEST(test_path_escaping)
{
	struct schema	*s = compile("{\"additionalProperties\":"
	    "{\"type\":\"integer\"}}");

	expect_only(s, "{\"a/b\":\"x\"}", "/a~1b",
	    "expected integer, got string \"x\"");
	expect_only(s, "{\"m~n\":\"x\"}", "/m~0n",
	    "expected integer, got string \"x\"");
	schema_free(s);
}
END_TEST

START_TEST(test_one_of_any_of)
{
	struct schema		*s;
	struct schema_result	 res;

	s = compile("{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}");
	ck_assert(valid(s, "1"));
	ck_assert(valid(s, "2.5"));
	expect_only(s, "3", "", "must match exactly one schema in oneOf "
	    "(matched 2)");
	schema_free(s);

	s = compile("{\"properties\":{\"v\":{\"anyOf\":[{\"type\":\"string\"},"
	    "{\"type\":\"integer\"}]}}}");
	expect_only(s, "{\"v\":1.5}", "/v",
	    "must match at least one schema in anyOf");
	schema_free(s);

	/* the branch the instance was meant for adds its errors */
	s = compile("{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"object\","
	    "\"properties\":{\"n\":{\"type\":\"integer\"}}}]}");
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(check(s, "{\"n\":\"x\"}", &res), 0);
	ck_assert_uint_eq(res.nerrors, 2);
	expect_error(&res, 0, "", "must match at least one schema in anyOf");
	expect_error(&res, 1, "/n", "expected integer, got string \"x\"");
	schema_result_free(&res);
	schema_free(s);

	s = compile("{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}");
	expect_only(s, "3", "", "must match exactly one schema in oneOf "
	    "(matched 0)");
	schema_free(s);
}
END_TEST

START_TEST(test_not_if_then_else)
{
	struct schema	*s;

	s = compile("{\"not\":{\"type\":\"string\"}}");
	ck_assert(valid(s, "1"));
	expect_only(s, "\"s\"", "", "must not match the schema in \"not\"");
	schema_free(s);
	s = compile("{\"if\":{\"properties\":{\"kind\":{\"const\":\"a\"}}},"
	    "\"then\":{\"required\":[\"x\"]},\"else\":{\"required\":[\"y\"]}}");
	ck_assert(valid(s, "{\"kind\":\"a\",\"x\":1}"));
	ck_assert(valid(s, "{\"kind\":\"b\",\"y\":1}"));
	expect_only(s, "{\"kind\":\"a\",\"y\":1}", "",
	    "missing required property \"x\"");
	expect_only(s, "{\"kind\":\"b\",\"x\":1}", "",
	    "missing required property \"y\"");
	ck_assert(valid(s, "{\"x\":1}"));	/* no kind: "if" holds */
	schema_free(s);
}
END_TEST

START_TEST(test_error_cap)
{
	struct schema		*s = compile("{\"items\":{\"type\":\"string\"}}");
	struct schema_result	 res;
	json_object		*arr;
	int			 i;

	arr = json_object_new_array();
	for (i = 0; i < 100; i++)
		json_object_array_add(arr, json_object_new_int(i));
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(schema_validate(s, arr, &res), 0);
	ck_assert_uint_eq(res.nerrors, SCHEMA_MAX_ERRORS);
	ck_assert_int_eq(res.truncated, 1);
	expect_error(&res, 0, "/0", "expected string, got number 0");
	expect_error(&res, 63, "/63", "expected string, got number 63");
	schema_result_free(&res);
	ck_assert_ptr_null(res.errors);
	ck_assert_int_eq(schema_validate(s, arr, NULL), 0);
	json_object_put(arr);

	/* exactly 64 errors: not truncated */
	arr = json_object_new_array();
	for (i = 0; i < 64; i++)
		json_object_array_add(arr, json_object_new_int(i));
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(schema_validate(s, arr, &res), 0);
	ck_assert_uint_eq(res.nerrors, 64);
	ck_assert_int_eq(res.truncated, 0);
	schema_result_free(&res);
	json_object_put(arr);
	schema_free(s);
}
END_TEST

START_TEST(test_preview_truncated)
{
	struct schema		*s = compile("{\"type\":\"integer\"}");
	struct schema_result	 res;
	char			 text[256];

	snprintf(text, sizeof(text), "\"%0100d\"", 0);
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(check(s, text, &res), 0);
	ck_assert_uint_eq(res.nerrors, 1);
	ck_assert_ptr_nonnull(strstr(res.errors[0].message, "..."));
	ck_assert_uint_lt(strlen(res.errors[0].message), 80);
	ck_assert(strncmp(res.errors[0].message,
	    "expected integer, got string \"0000", 34) == 0);
	schema_result_free(&res);
	schema_free(s);
}
END_TEST

START_TEST(test_items_draft07)
{
	const char	*text = "{\"$schema\":"
	    "\"http://json-schema.org/draft-07/schema#\","
	    "\"items\":[{\"type\":\"integer\"},{\"type\":\"string\"}],"
	    "\"additionalItems\":false,\"prefixItems\":[{\"type\":\"null\"}]}";
	struct schema	*s = compile(text);

	ck_assert(valid(s, "[1,\"a\"]"));
	ck_assert(valid(s, "[1]"));
	expect_only(s, "[1,2]", "/1", "expected string, got number 2");
	expect_only(s, "[1,\"a\",3]", "/2",
	    "no value is allowed here (the schema is false)");
	schema_free(s);

	/* items as one schema: additionalItems means nothing */
	s = compile("{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
	    "\"items\":{\"type\":\"integer\"},\"additionalItems\":false}");
	ck_assert(valid(s, "[1,2,3]"));
	expect_only(s, "[1,\"x\"]", "/1", "expected integer, got string \"x\"");
	schema_free(s);

	/* draft-07 by the caller's choice when $schema is absent */
	s = compile_draft("{\"prefixItems\":[{\"type\":\"null\"}]}",
	    SCHEMA_DRAFT_07);
	ck_assert(valid(s, "[1]"));
	schema_free(s);
}
END_TEST

START_TEST(test_items_2020_12)
{
	struct schema	*s = compile("{\"prefixItems\":[{\"type\":\"integer\"}],"
	    "\"items\":{\"type\":\"string\"}}");

	ck_assert(valid(s, "[1,\"a\",\"b\"]"));
	ck_assert(valid(s, "[]"));
	expect_only(s, "[1,2]", "/1", "expected string, got number 2");
	expect_only(s, "[\"a\"]", "/0", "expected integer, got string \"a\"");
	schema_free(s);

	/* items as an array in a 2020-12 schema: its draft-07 meaning */
	s = compile("{\"items\":[{\"type\":\"integer\"}],"
	    "\"additionalItems\":{\"type\":\"boolean\"}}");
	ck_assert(valid(s, "[1,true,false]"));
	expect_only(s, "[1,2]", "/1", "expected boolean, got number 2");
	schema_free(s);
}
END_TEST

START_TEST(test_contains)
{
	struct schema	*s = compile("{\"contains\":{\"type\":\"integer\"},"
	    "\"minContains\":2,\"maxContains\":3}");

	ck_assert(valid(s, "[1,2,\"a\"]"));
	expect_only(s, "[1,\"a\"]", "", "must contain at least 2 items "
	    "matching the \"contains\" schema (found 1)");
	expect_only(s, "[1,2,3,4]", "", "must contain at most 3 items "
	    "matching the \"contains\" schema (found 4)");
	schema_free(s);
	s = compile("{\"minItems\":1,\"maxItems\":2}");
	expect_only(s, "[]", "", "must have at least 1 item (got 0)");
	expect_only(s, "[1,2,3]", "", "must have at most 2 items (got 3)");
	schema_free(s);
}
END_TEST

START_TEST(test_string_length_code_points)
{
	struct schema	*s = compile("{\"minLength\":2,\"maxLength\":3}");

	ck_assert(valid(s, "\"h\xc3\xa9\""));		/* 2 cp, 3 bytes */
	ck_assert(valid(s, "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\""));
	ck_assert(valid(s, "\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"")); /* 2 emoji */
	expect_only(s, "\"\xf0\x9f\x98\x80\"", "",
	    "must be at least 2 characters long (got 1)");
	expect_only(s, "\"h\xc3\xa9ll\xc3\xb6\"", "",
	    "must be at most 3 characters long (got 5)");
	ck_assert(valid(s, "\"\\u00e9\\u00e9\""));
	schema_free(s);
}
END_TEST

START_TEST(test_object_keywords)
{
	struct schema	*s;

	s = compile("{\"dependentRequired\":{\"a\":[\"b\"]},"
	    "\"minProperties\":1,\"maxProperties\":2}");
	ck_assert(valid(s, "{\"a\":1,\"b\":2}"));
	expect_only(s, "{\"a\":1}", "", "property \"a\" requires property \"b\"");
	expect_only(s, "{}", "", "must have at least 1 property (got 0)");
	expect_only(s, "{\"b\":1,\"c\":2,\"d\":3}", "",
	    "must have at most 2 properties (got 3)");
	schema_free(s);

	s = compile("{\"dependencies\":{\"a\":[\"b\"],"
	    "\"c\":{\"required\":[\"d\"]}}}");
	expect_only(s, "{\"a\":1}", "", "property \"a\" requires property \"b\"");
	expect_only(s, "{\"c\":1}", "", "missing required property \"d\"");
	ck_assert(valid(s, "{\"c\":1,\"d\":1}"));
	schema_free(s);

	s = compile("{\"propertyNames\":{\"pattern\":\"^[a-z]+$\"}}");
	ck_assert(valid(s, "{\"abc\":1}"));
	expect_only(s, "{\"abc\":1,\"A1\":2}", "",
	    "property name \"A1\": must match pattern \"^[a-z]+$\"");
	schema_free(s);
}
END_TEST

START_TEST(test_boolean_and_format)
{
	struct schema	*s;

	s = compile("true");
	ck_assert(valid(s, "{\"anything\":[1]}"));
	schema_free(s);
	s = compile("false");
	expect_only(s, "1", "", "no value is allowed here (the schema is false)");
	schema_free(s);
	s = compile("{\"format\":\"email\",\"x-unknown\":{\"type\":\"null\"}}");
	ck_assert(valid(s, "\"not an email\""));
	schema_free(s);
	s = compile("{\"properties\":{\"a\":false}}");
	expect_only(s, "{\"a\":1}", "/a",
	    "no value is allowed here (the schema is false)");
	schema_free(s);
}
END_TEST

START_TEST(test_refs_local)
{
	struct schema	*s;

	s = compile("{\"$defs\":{\"pos\":{\"type\":\"integer\",\"minimum\":1},"
	    "\"a~b\":{\"type\":\"string\"},\"c/d\":{\"type\":\"null\"},"
	    "\"e%f\":{\"type\":\"boolean\"}},"
	    "\"properties\":{\"n\":{\"$ref\":\"#/$defs/pos\"},"
	    "\"t\":{\"$ref\":\"#/$defs/a~0b\"},\"u\":{\"$ref\":\"#/$defs/c~1d\"},"
	    "\"v\":{\"$ref\":\"#/$defs/e%25f\"}}}");
	ck_assert(valid(s, "{\"n\":3,\"t\":\"x\",\"u\":null,\"v\":true}"));
	expect_only(s, "{\"n\":0}", "/n", "must be >= 1");
	ck_assert(!valid(s, "{\"t\":1}"));
	ck_assert(!valid(s, "{\"u\":1}"));
	ck_assert(!valid(s, "{\"v\":1}"));
	schema_free(s);

	/* draft-07 definitions, and $ref siblings ignored there */
	s = compile("{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
	    "\"definitions\":{\"s\":{\"type\":\"string\"}},"
	    "\"properties\":{\"a\":{\"$ref\":\"#/definitions/s\","
	    "\"maxLength\":1}}}");
	ck_assert(valid(s, "{\"a\":\"long\"}"));
	ck_assert(!valid(s, "{\"a\":1}"));
	schema_free(s);

	/* 2020-12: $ref applies alongside its siblings */
	s = compile("{\"$defs\":{\"s\":{\"type\":\"string\"}},"
	    "\"properties\":{\"a\":{\"$ref\":\"#/$defs/s\",\"maxLength\":1}}}");
	expect_only(s, "{\"a\":\"long\"}", "/a",
	    "must be at most 1 character long (got 4)");
	schema_free(s);
}
END_TEST

START_TEST(test_refs_id)
{
	struct schema	*s;

	s = compile("{\"$id\":\"http://example.com/root.json\","
	    "\"$defs\":{\"item\":{\"$id\":\"item.json\",\"type\":\"string\"},"
	    "\"anch\":{\"$anchor\":\"foo\",\"type\":\"integer\"}},"
	    "\"properties\":{\"i\":{\"$ref\":\"item.json\"},"
	    "\"j\":{\"$ref\":\"#foo\"},"
	    "\"k\":{\"$ref\":\"http://example.com/item.json\"}}}");
	ck_assert(valid(s, "{\"i\":\"x\",\"j\":1,\"k\":\"y\"}"));
	ck_assert(!valid(s, "{\"i\":1}"));
	ck_assert(!valid(s, "{\"j\":\"x\"}"));
	ck_assert(!valid(s, "{\"k\":2}"));
	schema_free(s);

	/* draft-07 "$id": "#foo" is a location-independent identifier */
	s = compile("{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
	    "\"allOf\":[{\"$ref\":\"#foo\"}],"
	    "\"definitions\":{\"A\":{\"$id\":\"#foo\",\"type\":\"integer\"}}}");
	ck_assert(valid(s, "1"));
	ck_assert(!valid(s, "\"a\""));
	schema_free(s);
}
END_TEST

START_TEST(test_ref_cycles)
{
	struct schema		*s;
	struct schema_result	 res;
	json_object		*deep, *o;
	int			 i;

	/* a tree that refers to itself: compiles, validates at any depth */
	s = compile("{\"type\":\"object\",\"properties\":{"
	    "\"value\":{\"type\":\"number\"},"
	    "\"children\":{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}}}");
	ck_assert(valid(s, "{\"value\":1,\"children\":[{\"value\":2,"
	    "\"children\":[{\"value\":3}]}]}"));
	expect_only(s, "{\"children\":[{\"children\":[{\"value\":\"x\"}]}]}",
	    "/children/0/children/0/value", "expected number, got string \"x\"");
	schema_free(s);

	/* no progress: "$ref": "#" on the same value must stop, not overflow */
	s = compile("{\"$ref\":\"#\"}");
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(check(s, "{}", &res), 0);
	ck_assert_uint_eq(res.nerrors, 1);
	ck_assert_str_eq(res.errors[0].path, "");
	ck_assert_ptr_nonnull(strstr(res.errors[0].message, "$ref cycle"));
	schema_result_free(&res);
	schema_free(s);

	/* a cycle inside "not" still makes the value invalid */
	s = compile("{\"not\":{\"$ref\":\"#\"}}");
	expect_only(s, "1", "", "$ref cycle: the schema refers to itself "
	    "without going into the value");
	schema_free(s);
	s = compile("{\"anyOf\":[{\"$ref\":\"#\"},{\"$ref\":\"#\"}]}");
	ck_assert(!valid(s, "[1]"));
	schema_free(s);

	s = compile("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},"
	    "\"b\":{\"allOf\":[{\"$ref\":\"#/$defs/a\"}]}},\"$ref\":\"#/$defs/a\"}");
	ck_assert(!valid(s, "1"));
	schema_free(s);

	/* an instance deeper than the walk allows */
	s = compile("{\"additionalProperties\":{\"$ref\":\"#\"}}");
	deep = json_object_new_object();
	o = deep;
	for (i = 0; i < 100; i++) {
		json_object *c = json_object_new_object();

		json_object_object_add(o, "a", c);
		o = c;
	}
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(schema_validate(s, deep, &res), 0);
	ck_assert_uint_eq(res.nerrors, 1);
	ck_assert_ptr_nonnull(strstr(res.errors[0].message,
	    "nested too deeply"));
	ck_assert_uint_eq(strlen(res.errors[0].path), 2 * 64);
	schema_result_free(&res);
	ck_assert_int_eq(schema_validate(s, deep, NULL), 0);
	json_object_put(deep);
	schema_free(s);
}
END_TEST

/* Branching that doubles at every level of the value: stopped by the budget. */
START_TEST(test_cost_limit)
{
	struct schema		*s;
	struct schema_result	 res;
	json_object		*deep, *o, *c;
	int			 i;

	/* each branch walks the whole rest of the value, then fails */
	s = compile("{\"$defs\":{\"n\":{\"anyOf\":["
	    "{\"allOf\":[{\"properties\":{\"a\":{\"$ref\":\"#/$defs/n\"}}},"
	    "{\"required\":[\"x\"]}]},"
	    "{\"allOf\":[{\"properties\":{\"a\":{\"$ref\":\"#/$defs/n\"}}},"
	    "{\"required\":[\"y\"]}]}]}},\"$ref\":\"#/$defs/n\"}");
	deep = json_object_new_object();
	o = deep;
	for (i = 0; i < 60; i++) {
		c = json_object_new_object();
		json_object_object_add(o, "a", c);
		o = c;
	}
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(schema_validate(s, deep, &res), 0);
	ck_assert_uint_eq(res.nerrors, 1);
	ck_assert_int_ne(res.too_costly, SCHEMA_COSTLY_NO);
	ck_assert_ptr_nonnull(strstr(res.errors[0].message,
	    "the arguments are too costly to validate ("));
	schema_result_free(&res);
	ck_assert_int_eq(schema_validate(s, deep, NULL), 0);
	json_object_put(deep);
	schema_free(s);
}
END_TEST

/* The step budget: where it runs out, the one error, the quiet verdict. */
START_TEST(test_steps_limit)
{
	struct schema		*s;
	struct schema_limits	 lim = { .steps = 50 };
	struct schema_result	 res;
	struct schema_usage	 used;
	json_object		*arr = int_array(0, 100);

	s = compile("{\"items\":{\"type\":\"integer\"}}");
	/* a step for the array, then one per item: the 50th item is over */
	expect_costly(s, arr, &lim, SCHEMA_COSTLY_STEPS, "/49",
	    "the arguments are too costly to validate (more than 50 steps)");
	/*
	 * The errors found before the budget ran out are dropped (and they
	 * cost 32 steps each). Quietly, the first error settles it: invalid,
	 * whatever the budget.
	 */
	json_object_array_put_idx(arr, 3, json_object_new_string("x"));
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(schema_validate_limits(s, arr, &res, &lim, &used), 0);
	ck_assert_int_eq(res.too_costly, SCHEMA_COSTLY_STEPS);
	ck_assert_uint_eq(res.nerrors, 1);
	expect_error(&res, 0, "/17", "the arguments are too costly to "
	    "validate (more than 50 steps)");
	schema_result_free(&res);
	ck_assert_int_eq(schema_validate_limits(s, arr, NULL, &lim, &used), 0);
	ck_assert_int_eq(used.too_costly, SCHEMA_COSTLY_NO);
	json_object_array_put_idx(arr, 3, json_object_new_int(3));

	/* enough steps: valid, and used says how many it took */
	lim.steps = 101;
	memset(&used, 0, sizeof(used));
	ck_assert_int_eq(schema_validate_limits(s, arr, NULL, &lim, &used), 1);
	ck_assert_uint_eq(used.steps, 101);
	ck_assert_int_eq(used.too_costly, SCHEMA_COSTLY_NO);
	/* NULL limits and zero fields are the defaults */
	ck_assert_int_eq(schema_validate_limits(s, arr, NULL, NULL, NULL), 1);
	memset(&lim, 0, sizeof(lim));
	ck_assert_int_eq(schema_validate_limits(s, arr, NULL, &lim, NULL), 1);
	json_object_put(arr);
	schema_free(s);

	/* enum and const pay per node compared */
	s = compile("{\"items\":{\"const\":[1,2,3,4,5,6,7,8,9,10]}}");
	arr = json_tokener_parse("[[1,2,3,4,5,6,7,8,9,10],"
	    "[1,2,3,4,5,6,7,8,9,10]]");
	memset(&used, 0, sizeof(used));
	ck_assert_int_eq(schema_validate_limits(s, arr, NULL, NULL, &used), 1);
	ck_assert_uint_eq(used.steps, 3 + 2 * 11);
	lim.steps = 20;
	expect_costly(s, arr, &lim, SCHEMA_COSTLY_STEPS, "/1",
	    "the arguments are too costly to validate (more than 20 steps)");
	json_object_put(arr);
	schema_free(s);
}
END_TEST

/* The CPU budget: a microsecond is soon spent. */
START_TEST(test_cpu_limit)
{
	struct schema		*s = compile("{\"items\":{\"enum\":"
	    "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\"]}}");
	struct schema_limits	 lim = { .cpu_us = 1 };
	struct schema_result	 res;
	struct schema_usage	 used;
	json_object		*arr = json_object_new_array();
	int			 i;

	/* 1 + 40,000 x 9 steps */
	for (i = 0; i < 40000; i++)
		json_object_array_add(arr, json_object_new_string("h"));
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(schema_validate_limits(s, arr, &res, &lim, &used), 0);
	ck_assert_int_eq(res.too_costly, SCHEMA_COSTLY_CPU);
	ck_assert_int_eq(used.too_costly, SCHEMA_COSTLY_CPU);
	ck_assert_uint_eq(res.nerrors, 1);
	ck_assert_str_eq(res.errors[0].message, "the arguments are too "
	    "costly to validate (more than 1 us of CPU)");
	ck_assert_uint_lt(used.steps, 360001);
	schema_result_free(&res);
	lim.cpu_us = 2000;
	memset(&res, 0, sizeof(res));
	if (schema_validate_limits(s, arr, &res, &lim, &used) == 0)
		ck_assert_str_eq(res.errors[0].message, "the arguments are "
		    "too costly to validate (more than 2 ms of CPU)");
	schema_result_free(&res);
	/* the default steps are enough for it (sanitizers take more CPU) */
	lim.cpu_us = 60000000;
	ck_assert_int_eq(schema_validate_limits(s, arr, NULL, &lim, &used), 1);
	ck_assert_uint_eq(used.steps, 360001);
	json_object_put(arr);
	schema_free(s);
}
END_TEST

/* Compiling charges a budget the caller may share between schemas. */
START_TEST(test_compile_budget)
{
	json_object	*root;
	struct schema	*s;
	unsigned long	 budget, before, used;
	char		 err[256];
	int		 i;

	root = json_tokener_parse(mcp_schema);
	/* a few units are not enough */
	budget = 5;
	memset(err, 0, sizeof(err));
	ck_assert_ptr_null(schema_compile_budget(root, &budget, err,
	    sizeof(err)));
	ck_assert_str_eq(err, "schema too large to compile");
	ck_assert_uint_eq(budget, 0);

	/* enough: the work is taken off, and the same for the same schema */
	budget = before = 1000000;
	s = schema_compile_budget(root, &budget, err, sizeof(err));
	ck_assert_ptr_nonnull(s);
	used = before - budget;
	ck_assert_uint_gt(used, 20);
	ck_assert_uint_lt(used, 2000);
	schema_free(s);
	s = schema_compile_budget(root, &budget, err, sizeof(err));
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(before - budget, 2 * used);
	schema_free(s);

	/* what is left runs out on a later schema */
	budget = used + used / 2;
	s = schema_compile_budget(root, &budget, err, sizeof(err));
	ck_assert_ptr_nonnull(s);
	schema_free(s);
	ck_assert_ptr_null(schema_compile_budget(root, &budget, err,
	    sizeof(err)));
	ck_assert_str_eq(err, "schema too large to compile");
	json_object_put(root);

	/* a big enum is charged per value copied */
	root = json_object_new_object();
	json_object_object_add(root, "enum", int_array(0, 100000));
	budget = 50000;
	ck_assert_ptr_null(schema_compile_budget(root, &budget, err,
	    sizeof(err)));
	ck_assert_str_eq(err, "schema too large to compile");
	s = schema_compile(root, err, sizeof(err));
	ck_assert_ptr_nonnull(s);
	schema_free(s);
	json_object_put(root);

	/* a pattern is charged per byte, and its JIT compiling more */
	root = json_object_new_object();
	json_object_object_add(root, "pattern", json_object_new_string(
	    "^(x*y?){20}$"));
	for (i = 0; i < 2; i++) {
		schema_set_jit(i == 0);
		budget = before;
		s = schema_compile_budget(root, &budget, err, sizeof(err));
		ck_assert_ptr_nonnull(s);
		ck_assert(valid(s, "\"xyxxy\""));
		ck_assert(!valid(s, "\"xz\""));
		schema_free(s);
		if (i == 0)
			used = before - budget;
		else
			ck_assert_uint_lt(before - budget, used);
	}
	schema_set_jit(1);
	json_object_put(root);
}
END_TEST

START_TEST(test_unsupported)
{
	static const char *const bad[] = {
		"{\"unevaluatedProperties\":false}",
		"{\"properties\":{\"a\":{\"unevaluatedItems\":{\"type\":\"x\"}}}}",
		"{\"$dynamicRef\":\"#meta\"}",
		"{\"$recursiveRef\":\"#\"}",
		"{\"$ref\":\"https://example.com/other.json\"}",
		"{\"$ref\":\"#/$defs/missing\"}",
		"{\"$ref\":\"#nowhere\"}",
		"{\"pattern\":\"([a-z\"}",
		"{\"type\":\"float\"}",
		"{\"minimum\":\"1\"}",
		"{\"properties\":{\"a\":3}}",
		"{\"multipleOf\":0}",
		"{\"required\":[1]}",
		"[]",
		"\"string\"",
	};
	json_object	*root;
	struct schema	*s;
	char		 err[256];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		root = json_tokener_parse(bad[i]);
		ck_assert_ptr_nonnull(root);
		err[0] = '\0';
		s = schema_compile(root, err, sizeof(err));
		ck_assert_msg(s == NULL, "%s compiled", bad[i]);
		ck_assert_msg(err[0] != '\0', "%s: no message", bad[i]);
		json_object_put(root);
	}
	root = json_tokener_parse("{\"unevaluatedProperties\":false}");
	s = schema_compile(root, err, sizeof(err));
	ck_assert_ptr_null(s);
	ck_assert_str_eq(err, "/: keyword \"unevaluatedProperties\" is not "
	    "supported");
	json_object_put(root);
	root = json_tokener_parse("{\"$ref\":\"other.json#/x\"}");
	s = schema_compile(root, err, sizeof(err));
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(err, "cannot be resolved"));
	json_object_put(root);
	ck_assert_ptr_null(schema_compile(NULL, err, sizeof(err)));

	/* harmless uses compile; in draft-07 they are unknown keywords */
	s = compile("{\"unevaluatedProperties\":true,\"unevaluatedItems\":{}}");
	schema_free(s);
	s = compile("{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
	    "\"unevaluatedProperties\":false}");
	ck_assert(valid(s, "{\"a\":1}"));
	schema_free(s);
	/* an unused definition with a remote $ref is never reached */
	s = compile("{\"$defs\":{\"x\":{\"$ref\":\"https://e.com/s.json\"}},"
	    "\"type\":\"object\"}");
	ck_assert(valid(s, "{}"));
	schema_free(s);
	/* draft-03 boolean "required" inside a property: ignored */
	s = compile("{\"properties\":{\"a\":{\"required\":true}}}");
	ck_assert(valid(s, "{}"));
	schema_free(s);
}
END_TEST

START_TEST(test_required_optional_lists)
{
	struct schema		*s;
	const char *const	*r, *const *o;

	s = compile("{\"type\":\"object\",\"properties\":{\"z\":{},\"a\":{},"
	    "\"m\":{},\"q\":{}},\"required\":[\"m\",\"z\"]}");
	r = schema_required(s);
	o = schema_optional(s);
	ck_assert_str_eq(r[0], "m");
	ck_assert_str_eq(r[1], "z");
	ck_assert_ptr_null(r[2]);
	ck_assert_str_eq(o[0], "a");
	ck_assert_str_eq(o[1], "q");
	ck_assert_ptr_null(o[2]);
	schema_free(s);

	s = compile("{\"type\":\"string\"}");
	ck_assert_ptr_nonnull(schema_required(s));
	ck_assert_ptr_null(schema_required(s)[0]);
	ck_assert_ptr_null(schema_optional(s)[0]);
	schema_free(s);

	/* zod-to-json-schema style: the root is a $ref to a definition */
	s = compile("{\"$ref\":\"#/definitions/Args\",\"definitions\":{\"Args\":"
	    "{\"type\":\"object\",\"properties\":{\"x\":{},\"y\":{}},"
	    "\"required\":[\"y\"]}},"
	    "\"$schema\":\"http://json-schema.org/draft-07/schema#\"}");
	ck_assert_str_eq(schema_required(s)[0], "y");
	ck_assert_ptr_null(schema_required(s)[1]);
	ck_assert_str_eq(schema_optional(s)[0], "x");
	ck_assert_ptr_null(schema_optional(s)[1]);
	ck_assert(!valid(s, "{\"x\":1}"));
	schema_free(s);
}
END_TEST

START_TEST(test_all_of_collects)
{
	struct schema		*s;
	struct schema_result	 res;

	s = compile("{\"allOf\":[{\"required\":[\"a\"]},"
	    "{\"properties\":{\"b\":{\"type\":\"string\"}}}]}");
	ck_assert(valid(s, "{\"a\":1,\"b\":\"x\"}"));
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(check(s, "{\"b\":2}", &res), 0);
	ck_assert_uint_eq(res.nerrors, 2);
	expect_error(&res, 0, "", "missing required property \"a\"");
	expect_error(&res, 1, "/b", "expected string, got number 2");
	schema_result_free(&res);
	schema_free(s);
}
END_TEST

START_TEST(test_dependent_schemas)
{
	struct schema	*s;

	s = compile("{\"dependentSchemas\":{\"card\":{\"required\":"
	    "[\"cvv\"],\"properties\":{\"cvv\":{\"type\":\"string\"}}}}}");
	ck_assert(valid(s, "{}"));
	ck_assert(valid(s, "{\"cvv\":1}"));
	ck_assert(valid(s, "{\"card\":1,\"cvv\":\"123\"}"));
	expect_only(s, "{\"card\":1}", "", "missing required property \"cvv\"");
	expect_only(s, "{\"card\":1,\"cvv\":1}", "/cvv",
	    "expected string, got number 1");
	schema_free(s);
	/* in draft-07 dependentSchemas is an unknown keyword */
	s = compile_draft("{\"dependentSchemas\":{\"card\":false}}",
	    SCHEMA_DRAFT_07);
	ck_assert(valid(s, "{\"card\":1}"));
	schema_free(s);
}
END_TEST

START_TEST(test_property_names_schema)
{
	struct schema	*s;

	/* not only string keywords: validated as a string instance */
	s = compile("{\"propertyNames\":{\"enum\":[\"a\",\"b\"]}}");
	ck_assert(valid(s, "{\"a\":1,\"b\":2}"));
	expect_only(s, "{\"a\":1,\"c\":2}", "",
	    "property name \"c\": must be one of [\"a\",\"b\"]");
	schema_free(s);
	s = compile("{\"propertyNames\":false}");
	ck_assert(valid(s, "{}"));
	ck_assert(!valid(s, "{\"a\":1}"));
	schema_free(s);
	s = compile("{\"propertyNames\":{\"maxLength\":3}}");
	expect_only(s, "{\"abcd\":1}", "",
	    "property name \"abcd\": must be at most 3 characters long (got 4)");
	schema_free(s);
}
END_TEST

START_TEST(test_compile_messages)
{
	static const struct {
		const char	*schema;
		const char	*message;
	} cases[] = {
		{ "{\"properties\":{\"a\":{\"pattern\":\"(x\"}}}",
		  "/properties/a/pattern: invalid regular expression" },
		{ "{\"items\":{\"$ref\":\"#/$defs/nope\"}}",
		  "/items: $ref \"#/$defs/nope\" points to nothing" },
		{ "{\"$dynamicRef\":\"#x\"}",
		  "/: keyword \"$dynamicRef\" is not supported" },
		{ "{\"allOf\":[{\"minLength\":-1}]}",
		  "/allOf/0/minLength: must be a non-negative integer" },
		{ "{\"anyOf\":{}}", "/anyOf: must be an array of schemas" },
	};
	json_object	*root;
	char		 err[256];
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		root = json_tokener_parse(cases[i].schema);
		ck_assert_ptr_nonnull(root);
		ck_assert_ptr_null(schema_compile(root, err, sizeof(err)));
		ck_assert_msg(strncmp(err, cases[i].message,
		    strlen(cases[i].message)) == 0, "%s: got \"%s\"",
		    cases[i].schema, err);
		json_object_put(root);
	}
	/* a short buffer is cut, not overrun */
	root = json_tokener_parse(cases[0].schema);
	ck_assert_ptr_null(schema_compile(root, err, 8));
	ck_assert_uint_eq(strlen(err), 7);
	ck_assert_ptr_null(schema_compile(root, NULL, 0));
	json_object_put(root);
}
END_TEST

struct thread_arg {
	const struct schema	*s;
	int			 failures;
};

static void *
thread_main(void *p)
{
	struct thread_arg	*arg = p;
	struct schema_result	 res;
	json_object		*good, *bad;
	int			 i;

	/* each thread owns its own instances */
	good = json_tokener_parse("{\"query\":\"q\",\"b\":1,\"count\":5,"
	    "\"slug\":\"abc\",\"mode\":\"a\",\"items\":[{\"name\":\"n\"}]}");
	bad = json_tokener_parse("{\"query\":\"\",\"b\":1,\"count\":500,"
	    "\"slug\":\"ABC\",\"mode\":\"z\",\"items\":[{}]}");
	for (i = 0; i < NROUNDS; i++) {
		if (schema_validate(arg->s, good, NULL) != 1)
			arg->failures++;
		memset(&res, 0, sizeof(res));
		if (schema_validate(arg->s, good, &res) != 1 || res.nerrors != 0)
			arg->failures++;
		schema_result_free(&res);
		memset(&res, 0, sizeof(res));
		if (schema_validate(arg->s, bad, &res) != 0 || res.nerrors != 5)
			arg->failures++;
		else if (strcmp(res.errors[2].path, "/slug") != 0 ||
		    strcmp(res.errors[2].message,
		    "must match pattern \"^[a-z]+$\"") != 0)
			arg->failures++;
		schema_result_free(&res);
	}
	json_object_put(good);
	json_object_put(bad);
	return NULL;
}

START_TEST(test_threads)
{
	struct schema		*s = compile(mcp_schema);
	struct thread_arg	 args[NTHREADS];
	pthread_t		 th[NTHREADS];
	struct schema_result	 res;
	json_object		*bad;
	int			 i;

	/* the order of the five errors, as the threads expect it */
	bad = json_tokener_parse("{\"query\":\"\",\"b\":1,\"count\":500,"
	    "\"slug\":\"ABC\",\"mode\":\"z\",\"items\":[{}]}");
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(schema_validate(s, bad, &res), 0);
	ck_assert_uint_eq(res.nerrors, 5);
	expect_error(&res, 2, "/slug", "must match pattern \"^[a-z]+$\"");
	schema_result_free(&res);
	json_object_put(bad);

	for (i = 0; i < NTHREADS; i++) {
		args[i].s = s;
		args[i].failures = 0;
		ck_assert_int_eq(pthread_create(&th[i], NULL, thread_main,
		    &args[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_int_eq(args[i].failures, 0);
	}
	schema_free(s);
}
END_TEST

static Suite *
schema_suite(void)
{
	Suite	*s = suite_create("schema");
	TCase	*tc;

	tc = tcase_create("keywords");
	tcase_add_test(tc, test_mcp_valid);
	tcase_add_test(tc, test_required_message);
	tcase_add_test(tc, test_type_message);
	tcase_add_test(tc, test_integer_one_point_zero);
	tcase_add_test(tc, test_enum_const_messages);
	tcase_add_test(tc, test_json_equality);
	tcase_add_test(tc, test_unique_items);
	tcase_add_test(tc, test_unique_items_hashed);
	tcase_add_test(tc, test_number_messages);
	tcase_add_test(tc, test_pattern);
	tcase_add_test(tc, test_pattern_interpreted);
	tcase_add_test(tc, test_pattern_costly);
	tcase_add_test(tc, test_pattern_memory);
	tcase_add_test(tc, test_pattern_too_long);
	tcase_add_test(tc, test_nested_paths);
	tcase_add_test(tc, test_every_error);
	tcase_add_test(tc, test_additional_properties);
	tcase_add_test(tc, test_path_escaping);
	tcase_add_test(tc, test_one_of_any_of);
	tcase_add_test(tc, test_not_if_then_else);
	tcase_add_test(tc, test_error_cap);
	tcase_add_test(tc, test_preview_truncated);
	tcase_add_test(tc, test_items_draft07);
	tcase_add_test(tc, test_items_2020_12);
	tcase_add_test(tc, test_contains);
	tcase_add_test(tc, test_string_length_code_points);
	tcase_add_test(tc, test_object_keywords);
	tcase_add_test(tc, test_boolean_and_format);
	tcase_add_test(tc, test_all_of_collects);
	tcase_add_test(tc, test_dependent_schemas);
	tcase_add_test(tc, test_property_names_schema);
	suite_add_tcase(s, tc);

	tc = tcase_create("refs");
	tcase_add_test(tc, test_refs_local);
	tcase_add_test(tc, test_refs_id);
	tcase_add_test(tc, test_ref_cycles);
	tcase_add_test(tc, test_cost_limit);
	tcase_add_test(tc, test_steps_limit);
	tcase_add_test(tc, test_cpu_limit);
	tcase_add_test(tc, test_unsupported);
	tcase_add_test(tc, test_compile_messages);
	tcase_add_test(tc, test_compile_budget);
	tcase_add_test(tc, test_required_optional_lists);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(schema_suite());
}
