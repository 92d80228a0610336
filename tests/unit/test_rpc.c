/*
 * test_rpc.c: unit tests for the NDJSON framer and the JSON-RPC 2.0
 * parser and encoders (src/rpc.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "rpc.h"
#include "unit.h"

#define MAX_LINES	64

struct collect {
	char	*lines[MAX_LINES];
	size_t	 lens[MAX_LINES];
	size_t	 nlines;
	size_t	 overflows[MAX_LINES];
	size_t	 noverflows;
};

static void	collect_line(void *, char *, size_t);
static void	collect_overflow(void *, size_t);
static void	collect_free(struct collect *);
static void	feed_split(const char *, size_t, size_t, size_t,
		    struct collect *);
static int	parse(const char *, struct rpc_msg *, char *, size_t);
static void	parse_fails(const char *, size_t, const char *);
static Suite	*rpc_suite(void);

static void
collect_line(void *arg, char *line, size_t len)
{
	struct collect	*c = arg;

	ck_assert_uint_lt(c->nlines, MAX_LINES);
	ck_assert_uint_eq(strlen(line), len);
	c->lines[c->nlines] = strdup(line);
	ck_assert_ptr_nonnull(c->lines[c->nlines]);
	c->lens[c->nlines++] = len;
	/* The callee may scribble on the line. */
	memset(line, 'Z', len);
}

static void
collect_overflow(void *arg, size_t total)
{
	struct collect	*c = arg;

	ck_assert_uint_lt(c->noverflows, MAX_LINES);
	c->overflows[c->noverflows++] = total;
}

static void
collect_free(struct collect *c)
{
	size_t	i;

	for (i = 0; i < c->nlines; i++)
		free(c->lines[i]);
	memset(c, 0, sizeof(*c));
}

/* Feed data in two reads split at cut, the second in chunks of step. */
static void
feed_split(const char *data, size_t n, size_t cut, size_t step,
    struct collect *c)
{
	struct rpc_framer	f;
	size_t			i, k;

	rpc_framer_init(&f, 64);
	ck_assert_int_eq(rpc_framer_feed(&f, data, cut, collect_line,
	    collect_overflow, c), 0);
	for (i = cut; i < n; i += k) {
		k = n - i < step ? n - i : step;
		ck_assert_int_eq(rpc_framer_feed(&f, data + i, k,
		    collect_line, collect_overflow, c), 0);
	}
	ck_assert_uint_le(f.cap, 64 + 2);
	rpc_framer_free(&f);
}

START_TEST(test_framer_every_split)
{
	static const char	 in[] = "{\"a\":1}\n{\"b\":\"x\\ny\"}\r\n\n\r\n"
	    "{\"c\":3}\n";
	struct collect		 c;
	size_t			 cut;

	for (cut = 0; cut <= sizeof(in) - 1; cut++) {
		memset(&c, 0, sizeof(c));
		feed_split(in, sizeof(in) - 1, cut, sizeof(in), &c);
		ck_assert_uint_eq(c.nlines, 3);
		ck_assert_str_eq(c.lines[0], "{\"a\":1}");
		ck_assert_str_eq(c.lines[1], "{\"b\":\"x\\ny\"}");
		ck_assert_str_eq(c.lines[2], "{\"c\":3}");
		ck_assert_uint_eq(c.noverflows, 0);
		collect_free(&c);
	}
	/* One byte per read. */
	memset(&c, 0, sizeof(c));
	feed_split(in, sizeof(in) - 1, 0, 1, &c);
	ck_assert_uint_eq(c.nlines, 3);
	ck_assert_str_eq(c.lines[1], "{\"b\":\"x\\ny\"}");
	collect_free(&c);
}
END_TEST

START_TEST(test_framer_many_lines_one_read)
{
	static const char	 in[] = "one\ntwo\r\nthree\nfour\n\n\nfive";
	struct rpc_framer	 f;
	struct collect		 c;

	memset(&c, 0, sizeof(c));
	rpc_framer_init(&f, 100);
	rpc_framer_feed(&f, in, sizeof(in) - 1, collect_line,
	    collect_overflow, &c);
	ck_assert_uint_eq(c.nlines, 4);
	ck_assert_str_eq(c.lines[0], "one");
	ck_assert_str_eq(c.lines[1], "two");
	ck_assert_uint_eq(c.lens[1], 3);
	ck_assert_str_eq(c.lines[2], "three");
	ck_assert_str_eq(c.lines[3], "four");
	/* "five" waits for its newline. */
	ck_assert_uint_eq(rpc_framer_pending(&f), 4);
	rpc_framer_feed(&f, "\n", 1, collect_line, collect_overflow, &c);
	ck_assert_uint_eq(c.nlines, 5);
	ck_assert_str_eq(c.lines[4], "five");
	ck_assert_uint_eq(rpc_framer_pending(&f), 0);
	ck_assert_uint_eq(c.noverflows, 0);
	rpc_framer_free(&f);
	collect_free(&c);
}
END_TEST

START_TEST(test_framer_cr_handling)
{
	static const char	 in[] = "\r\n\r\r\na\rb\r\n";
	struct rpc_framer	 f;
	struct collect		 c;

	memset(&c, 0, sizeof(c));
	rpc_framer_init(&f, 100);
	rpc_framer_feed(&f, in, sizeof(in) - 1, collect_line,
	    collect_overflow, &c);
	/* Only one trailing \r is stripped; inner ones stay. */
	ck_assert_uint_eq(c.nlines, 2);
	ck_assert_str_eq(c.lines[0], "\r");
	ck_assert_str_eq(c.lines[1], "a\rb");
	rpc_framer_free(&f);
	collect_free(&c);
}
END_TEST

START_TEST(test_framer_overlong_then_good)
{
	struct rpc_framer	 f;
	struct collect		 c;
	char			 big[1000];
	size_t			 i, k;
	const size_t		 max = 16;

	memset(&c, 0, sizeof(c));
	memset(big, 'x', sizeof(big));
	rpc_framer_init(&f, max);
	/* Start with a short piece so part of the line is buffered. */
	rpc_framer_feed(&f, big, 10, collect_line, collect_overflow, &c);
	ck_assert_uint_eq(rpc_framer_pending(&f), 10);
	for (i = 10; i < sizeof(big); i += k) {
		k = sizeof(big) - i < 7 ? sizeof(big) - i : 7;
		rpc_framer_feed(&f, big + i, k, collect_line,
		    collect_overflow, &c);
		ck_assert_uint_le(f.cap, max + 2);
		ck_assert_uint_eq(c.noverflows, 0);
	}
	ck_assert_uint_eq(rpc_framer_pending(&f), sizeof(big));
	rpc_framer_feed(&f, "\ngood\n", 6, collect_line, collect_overflow, &c);
	ck_assert_uint_eq(c.noverflows, 1);
	ck_assert_uint_eq(c.overflows[0], sizeof(big));
	ck_assert_uint_eq(c.nlines, 1);
	ck_assert_str_eq(c.lines[0], "good");
	ck_assert_uint_le(f.cap, max + 2);

	/* Overlong and good line in a single read. */
	rpc_framer_feed(&f, big, 40, collect_line, collect_overflow, &c);
	rpc_framer_feed(&f, "\r\nnext\n", 7, collect_line, collect_overflow,
	    &c);
	ck_assert_uint_eq(c.noverflows, 2);
	ck_assert_uint_eq(c.overflows[1], 41);
	ck_assert_uint_eq(c.nlines, 2);
	ck_assert_str_eq(c.lines[1], "next");
	ck_assert_uint_le(f.cap, max + 2);
	rpc_framer_free(&f);
	collect_free(&c);
}
END_TEST

START_TEST(test_framer_exact_max)
{
	struct rpc_framer	 f;
	struct collect		 c;
	char			 line[20];
	const size_t		 max = 16;

	memset(&c, 0, sizeof(c));
	rpc_framer_init(&f, max);

	/* Exactly max bytes: delivered. */
	memset(line, 'a', max);
	line[max] = '\n';
	rpc_framer_feed(&f, line, max + 1, collect_line, collect_overflow,
	    &c);
	ck_assert_uint_eq(c.nlines, 1);
	ck_assert_uint_eq(c.lens[0], max);
	ck_assert_uint_eq(c.noverflows, 0);

	/* max bytes plus "\r\n": still delivered, without the \r. */
	memset(line, 'b', max);
	line[max] = '\r';
	line[max + 1] = '\n';
	rpc_framer_feed(&f, line, 3, collect_line, collect_overflow, &c);
	rpc_framer_feed(&f, line + 3, max - 1, collect_line,
	    collect_overflow, &c);
	ck_assert_uint_eq(c.nlines, 2);
	ck_assert_uint_eq(c.lens[1], max);
	ck_assert_int_eq(c.lines[1][max - 1], 'b');
	ck_assert_uint_eq(c.noverflows, 0);

	/* max + 1 bytes: overflow, seen only at the newline. */
	memset(line, 'c', max + 1);
	line[max + 1] = '\n';
	rpc_framer_feed(&f, line, max + 1, collect_line, collect_overflow,
	    &c);
	ck_assert_uint_eq(c.noverflows, 0);
	rpc_framer_feed(&f, line + max + 1, 1, collect_line,
	    collect_overflow, &c);
	ck_assert_uint_eq(c.noverflows, 1);
	ck_assert_uint_eq(c.overflows[0], max + 1);
	ck_assert_uint_eq(c.nlines, 2);

	/* max + 2 bytes: overflow. */
	memset(line, 'd', max + 2);
	line[max + 2] = '\n';
	rpc_framer_feed(&f, line, max + 3, collect_line, collect_overflow,
	    &c);
	ck_assert_uint_eq(c.noverflows, 2);
	ck_assert_uint_eq(c.overflows[1], max + 2);
	ck_assert_uint_le(f.cap, max + 2);

	/* And the framer is still in sync. */
	rpc_framer_feed(&f, "ok\n", 3, collect_line, collect_overflow, &c);
	ck_assert_uint_eq(c.nlines, 3);
	ck_assert_str_eq(c.lines[2], "ok");
	rpc_framer_free(&f);
	collect_free(&c);
}
END_TEST

START_TEST(test_framer_null_callbacks)
{
	struct rpc_framer	f;

	rpc_framer_init(&f, 4);
	ck_assert_int_eq(rpc_framer_feed(&f, "abcdefgh\nab\n", 12, NULL, NULL,
	    NULL), 0);
	ck_assert_uint_eq(rpc_framer_pending(&f), 0);
	rpc_framer_free(&f);
	ck_assert_ptr_null(f.buf);
}
END_TEST

static int
parse(const char *line, struct rpc_msg *msg, char *err, size_t errlen)
{
	return rpc_parse_line(line, strlen(line), msg, err, errlen);
}

/* The line must be rejected with a reason containing want. */
static void
parse_fails(const char *line, size_t len, const char *want)
{
	struct rpc_msg	msg;
	char		err[256];

	err[0] = '\0';
	ck_assert_msg(rpc_parse_line(line, len, &msg, err, sizeof(err)) == -1,
	    "accepted: %s", line);
	ck_assert_ptr_null(msg.root);
	ck_assert_msg(strstr(err, want) != NULL,
	    "line %s: reason \"%s\", wanted \"%s\"", line, err, want);
}

START_TEST(test_parse_kinds)
{
	struct rpc_msg	msg;
	char		err[256];

	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"x\"}}", &msg, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(msg.kind, RPC_REQUEST);
	ck_assert_str_eq(msg.method, "tools/call");
	ck_assert_int_eq(msg.id_is_int, 1);
	ck_assert_int_eq(msg.id_int, 7);
	ck_assert_ptr_nonnull(msg.params);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(
	    msg.params, "name")), "x");
	rpc_msg_free(&msg);
	ck_assert_ptr_null(msg.root);

	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/tools/list_changed\"}", &msg, err, sizeof(err)),
	    0);
	ck_assert_int_eq(msg.kind, RPC_NOTIFICATION);
	ck_assert_str_eq(msg.method, "notifications/tools/list_changed");
	ck_assert_ptr_null(msg.id);
	ck_assert_ptr_null(msg.params);
	rpc_msg_free(&msg);

	ck_assert_int_eq(parse("  {\"id\":3,\"result\":{\"tools\":[]},"
	    "\"jsonrpc\":\"2.0\"}  ", &msg, err, sizeof(err)), 0);
	ck_assert_int_eq(msg.kind, RPC_RESULT);
	ck_assert_int_eq(msg.id_int, 3);
	ck_assert_ptr_null(msg.method);
	ck_assert(json_object_is_type(msg.result, json_type_object));
	rpc_msg_free(&msg);

	/* A null result is a result. */
	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":null}",
	    &msg, err, sizeof(err)), 0);
	ck_assert_int_eq(msg.kind, RPC_RESULT);
	ck_assert_ptr_null(msg.result);
	rpc_msg_free(&msg);

	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":"
	    "{\"code\":-32601,\"message\":\"Method not found\",\"data\":"
	    "{\"m\":\"x\"}}}", &msg, err, sizeof(err)), 0);
	ck_assert_int_eq(msg.kind, RPC_ERROR);
	ck_assert_int_eq(msg.id_int, 5);
	ck_assert_int_eq(msg.err_code, RPC_METHOD_NOT_FOUND);
	ck_assert_str_eq(msg.err_message, "Method not found");
	ck_assert(json_object_is_type(msg.err_data, json_type_object));
	rpc_msg_free(&msg);

	/* Error without message (nor data): message is "". */
	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":6,\"error\":"
	    "{\"code\":1}}", &msg, err, sizeof(err)), 0);
	ck_assert_int_eq(msg.kind, RPC_ERROR);
	ck_assert_int_eq(msg.err_code, 1);
	ck_assert_ptr_nonnull(msg.err_message);
	ck_assert_str_eq(msg.err_message, "");
	ck_assert_ptr_null(msg.err_data);
	rpc_msg_free(&msg);

	/* Params may be an array; null counts as absent. */
	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"method\":\"m\","
	    "\"params\":[1,2]}", &msg, err, sizeof(err)), 0);
	ck_assert(json_object_is_type(msg.params, json_type_array));
	rpc_msg_free(&msg);
	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"method\":\"m\","
	    "\"params\":null,\"id\":\"r\"}", &msg, err, sizeof(err)), 0);
	ck_assert_int_eq(msg.kind, RPC_REQUEST);
	ck_assert_ptr_null(msg.params);
	rpc_msg_free(&msg);
}
END_TEST

START_TEST(test_parse_ids)
{
	static const struct {
		const char	*id;
		int		 is_int;
		int64_t		 value;
	} ok[] = {
		{ "0", 1, 0 },
		{ "-1", 1, -1 },
		{ "-0", 1, 0 },
		{ "9223372036854775807", 1, INT64_MAX },
		{ "-9223372036854775808", 1, INT64_MIN },
		{ "9223372036854775808", 0, 0 },
		{ "\"abc\"", 0, 0 },
		{ "\"\"", 0, 0 },
		{ "\"42\"", 0, 0 },
	};
	static const char *bad_request[] = {
		"null", "1.5", "1.0", "1e3", "{}", "{\"a\":1}", "[]", "[1]",
		"true", "false",
	};
	static const struct {
		const char	*line;
		const char	*reason;
	} bad_response[] = {
		{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}",
		    "result without id" },
		{ "{\"jsonrpc\":\"2.0\",\"result\":{}}", "result without id" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":{},\"result\":{}}",
		    "invalid response id" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":true,\"result\":{}}",
		    "invalid response id" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":[1],\"error\":{\"code\":1}}",
		    "invalid response id" },
		{ "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1}}",
		    "error without id" },
	};
	struct rpc_msg	 msg;
	char		 line[256], err[256];
	size_t		 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		/* As a request, a result and an error. */
		snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%s,"
		    "\"method\":\"ping\"}", ok[i].id);
		ck_assert_msg(parse(line, &msg, err, sizeof(err)) == 0,
		    "%s: %s", line, err);
		ck_assert_int_eq(msg.kind, RPC_REQUEST);
		ck_assert_int_eq(msg.id_is_int, ok[i].is_int);
		ck_assert(msg.id_int == ok[i].value);
		ck_assert_ptr_nonnull(msg.id);
		if (ok[i].id[0] == '"')
			ck_assert(json_object_is_type(msg.id,
			    json_type_string));
		rpc_msg_free(&msg);

		snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%s,"
		    "\"result\":{}}", ok[i].id);
		ck_assert_int_eq(parse(line, &msg, err, sizeof(err)), 0);
		ck_assert_int_eq(msg.kind, RPC_RESULT);
		ck_assert_int_eq(msg.id_is_int, ok[i].is_int);
		ck_assert(msg.id_int == ok[i].value);
		rpc_msg_free(&msg);

		snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%s,"
		    "\"error\":{\"code\":-1,\"message\":\"m\"}}", ok[i].id);
		ck_assert_int_eq(parse(line, &msg, err, sizeof(err)), 0);
		ck_assert_int_eq(msg.kind, RPC_ERROR);
		ck_assert_int_eq(msg.id_is_int, ok[i].is_int);
		rpc_msg_free(&msg);
	}
	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":\"\","
	    "\"method\":\"x\"}", &msg, err, sizeof(err)), 0);
	ck_assert_str_eq(json_object_get_string(msg.id), "");
	rpc_msg_free(&msg);

	for (i = 0; i < sizeof(bad_request) / sizeof(bad_request[0]); i++) {
		snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%s,"
		    "\"method\":\"ping\"}", bad_request[i]);
		parse_fails(line, strlen(line), "request id");
	}

	/* A float id is an id in a response, just not an int. */
	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"result\":1}",
	    &msg, err, sizeof(err)), 0);
	ck_assert_int_eq(msg.kind, RPC_RESULT);
	ck_assert_int_eq(msg.id_is_int, 0);
	ck_assert(json_object_is_type(msg.id, json_type_double));
	rpc_msg_free(&msg);

	/* null id: fine in an error, not in a result. */
	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
	    "{\"code\":-32700,\"message\":\"Parse error\"}}", &msg, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(msg.kind, RPC_ERROR);
	ck_assert_ptr_null(msg.id);
	ck_assert_int_eq(msg.id_is_int, 0);
	ck_assert_int_eq(msg.err_code, RPC_PARSE_ERROR);
	rpc_msg_free(&msg);
	for (i = 0; i < sizeof(bad_response) / sizeof(bad_response[0]); i++)
		parse_fails(bad_response[i].line, strlen(bad_response[i].line),
		    bad_response[i].reason);
}
END_TEST

START_TEST(test_parse_rejects)
{
	static const struct {
		const char	*line;
		const char	*reason;
	} bad[] = {
		{ "hello", "not JSON" },
		{ "{", "not JSON" },
		{ "", "not JSON" },
		{ "   ", "not JSON" },
		{ "{\"jsonrpc\":\"2.0\",}", "not JSON" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":01,\"result\":1}", "not JSON" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1} x",
		    "trailing bytes after JSON" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1}{}",
		    "trailing bytes after JSON" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1}\t ,",
		    "trailing bytes after JSON" },
		{ "[{\"jsonrpc\":\"2.0\",\"method\":\"m\"}]",
		    "batch arrays are not supported" },
		{ "[]", "batch arrays are not supported" },
		{ "123", "not a JSON-RPC 2.0 message" },
		{ "\"str\"", "not a JSON-RPC 2.0 message" },
		{ "null", "not a JSON-RPC 2.0 message" },
		{ "{}", "not a JSON-RPC 2.0 message" },
		{ "{\"id\":1,\"method\":\"m\"}", "not a JSON-RPC 2.0 message" },
		{ "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"m\"}",
		    "not a JSON-RPC 2.0 message" },
		{ "{\"jsonrpc\":2.0,\"id\":1,\"method\":\"m\"}",
		    "not a JSON-RPC 2.0 message" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1}",
		    "not a JSON-RPC 2.0 message" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}",
		    "method is not a string" },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":\"s\"}",
		    "params is not an object or array" },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":3}",
		    "params is not an object or array" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1,\"error\":"
		    "{\"code\":1}}", "both result and error" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"bad\"}",
		    "error is not an object" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":"
		    "{\"message\":\"m\"}}", "error.code is not an integer" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":\"1\"}}",
		    "error.code is not an integer" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1.5}}",
		    "error.code is not an integer" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":"
		    "4294967296}}", "error.code out of range" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1,"
		    "\"message\":7}}", "error.message is not a string" },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":"
		    "{\"a\":\"x\x01y\"}}", "not JSON" },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\x1b\"x\":1}",
		    "not JSON" },
	};
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_fails(bad[i].line, strlen(bad[i].line), bad[i].reason);
	/* A NUL byte inside the line. */
	{
		static const char	nul1[] = "{\"jsonrpc\":\"2.0\","
		    "\"method\":\"m\"}\0x";
		static const char	nul2[] = "{\"jsonrpc\":\"2.0\","
		    "\"method\":\"m\0\"}";

		parse_fails(nul1, sizeof(nul1) - 1, "not JSON");
		parse_fails(nul2, sizeof(nul2) - 1, "not JSON");
	}
	/* err may be NULL. */
	{
		struct rpc_msg	msg;

		ck_assert_int_eq(rpc_parse_line("x", 1, &msg, NULL, 0), -1);
	}
}
END_TEST

START_TEST(test_parse_utf8)
{
	static const char *bad[] = {
		"\xff",			/* never valid */
		"\xc0\xaf",		/* overlong "/" */
		"\xe0\x80\xaf",		/* overlong "/" */
		"\xed\xa0\x80",		/* surrogate U+D800 */
		"\xf4\x90\x80\x80",	/* above U+10FFFF */
		"\xf8\x88\x80\x80\x80",	/* five bytes */
		"\xe2\x82",		/* truncated */
		"\x80",			/* lone continuation */
		"a\xc3",		/* truncated at the end of a string */
	};
	static const char *good[] = {
		"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
		"\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "\\u00e9\\ud83d\\ude00",
	};
	struct rpc_msg	 msg;
	char		 line[256], err[256];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"method\":"
		    "\"m\",\"params\":{\"s\":\"%s\"}}", bad[i]);
		parse_fails(line, strlen(line), "invalid UTF-8");
		ck_assert_int_eq(rpc_utf8_valid(bad[i], strlen(bad[i])), 0);
	}
	/* Invalid UTF-8 in a member name too. */
	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"method\":\"m\","
	    "\"\xfe\":1}");
	parse_fails(line, strlen(line), "invalid UTF-8");

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"method\":"
		    "\"m\",\"params\":{\"s\":\"%s\"}}", good[i]);
		ck_assert_msg(parse(line, &msg, err, sizeof(err)) == 0,
		    "%s: %s", line, err);
		rpc_msg_free(&msg);
	}
	ck_assert_int_eq(rpc_utf8_valid("\xf0\x9f\x98\x80 plain ascii text "
	    "longer than eight bytes \xc3\xa9", 48), 1);
	ck_assert_int_eq(rpc_utf8_valid("tab\tand\x01 control", 16), 1);
	ck_assert_int_eq(rpc_utf8_valid("eight by\xff", 9), 0);
	ck_assert_int_eq(rpc_utf8_valid("", 0), 1);
}
END_TEST

START_TEST(test_parse_depth)
{
	char		 line[512];
	struct rpc_msg	 msg;
	char		 err[256];
	size_t		 o, i;
	int		 depth;

	/* params nested depth levels below the envelope. */
	for (depth = 60; depth <= 70; depth += 10) {
		o = (size_t)snprintf(line, sizeof(line),
		    "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":");
		for (i = 0; i < (size_t)depth; i++)
			line[o++] = '[';
		for (i = 0; i < (size_t)depth; i++)
			line[o++] = ']';
		line[o++] = '}';
		line[o] = '\0';
		if (depth < RPC_MAX_DEPTH) {
			ck_assert_msg(rpc_parse_line(line, o, &msg, err,
			    sizeof(err)) == 0, "%s", err);
			rpc_msg_free(&msg);
		} else
			parse_fails(line, o, "nested");
	}
}
END_TEST

START_TEST(test_encode_request_roundtrip)
{
	static const char	 text[] = "h\xc3\xa9llo \xe2\x9c\x93 "
	    "\xf0\x9f\x98\x80 \"q\" \\ / </script> \n\t\x01 end";
	json_object		*params, *args, *name;
	struct rpc_msg		 msg;
	char			*line, *before, err[256];
	size_t			 len;

	params = json_object_new_object();
	args = json_object_new_object();
	json_object_object_add(args, "text", json_object_new_string(text));
	json_object_object_add(args, "path", json_object_new_string(
	    "/etc/hosts"));
	json_object_object_add(params, "name", json_object_new_string(
	    "read/file"));
	json_object_object_add(params, "arguments", args);
	before = strdup(json_object_to_json_string(params));

	line = rpc_encode_request(42, "tools/call", params, &len);
	ck_assert_ptr_nonnull(line);
	ck_assert_uint_eq(len, strlen(line));
	ck_assert_int_eq(line[len - 1], '\n');
	ck_assert_ptr_eq(strchr(line, '\n'), line + len - 1);
	/* "/" is not escaped; nothing but the final newline is raw. */
	ck_assert_ptr_nonnull(strstr(line, "\"/etc/hosts\""));
	ck_assert_ptr_nonnull(strstr(line, "\"read/file\""));
	ck_assert_ptr_null(strstr(line, "\\/"));
	ck_assert_int_eq(rpc_utf8_valid(line, len), 1);

	ck_assert_msg(rpc_parse_line(line, len, &msg, err, sizeof(err)) == 0,
	    "%s: %s", line, err);
	ck_assert_int_eq(msg.kind, RPC_REQUEST);
	ck_assert_int_eq(msg.id_is_int, 1);
	ck_assert_int_eq(msg.id_int, 42);
	ck_assert_str_eq(msg.method, "tools/call");
	ck_assert(json_object_equal(msg.params, params));
	name = json_object_object_get(json_object_object_get(msg.params,
	    "arguments"), "text");
	ck_assert_str_eq(json_object_get_string(name), text);
	rpc_msg_free(&msg);
	free(line);

	/* The caller's object is unchanged and still has one reference. */
	ck_assert_str_eq(json_object_to_json_string(params), before);
	free(before);
	ck_assert_int_eq(json_object_put(params), 1);
}
END_TEST

START_TEST(test_encode_request_ids_and_method)
{
	static const int64_t	 ids[] = { 0, 1, -1, INT64_MAX, INT64_MIN };
	static const char	 method[] = "we\"ird\\me\nth\x01od\x1f/\x7f"
	    "\b\f\r\t\xc3\xa9";
	struct rpc_msg		 msg;
	char			*line, err[256];
	size_t			 i, len;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		line = rpc_encode_request(ids[i], method, NULL, &len);
		ck_assert_ptr_nonnull(line);
		ck_assert_uint_eq(len, strlen(line));
		ck_assert_ptr_nonnull(strstr(line, "th\\u0001od\\u001f/"));
		ck_assert_ptr_null(strstr(line, "params"));
		ck_assert_ptr_eq(strchr(line, '\n'), line + len - 1);
		ck_assert_msg(rpc_parse_line(line, len, &msg, err,
		    sizeof(err)) == 0, "%s: %s", line, err);
		ck_assert_int_eq(msg.kind, RPC_REQUEST);
		ck_assert_int_eq(msg.id_is_int, 1);
		ck_assert(msg.id_int == ids[i]);
		ck_assert_str_eq(msg.method, method);
		ck_assert_ptr_null(msg.params);
		rpc_msg_free(&msg);
		free(line);
	}
	line = rpc_encode_request(1, "m", NULL, &len);
	ck_assert_str_eq(line, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"m\"}\n");
	free(line);
	ck_assert_ptr_null(rpc_encode_request(1, NULL, NULL, &len));
}
END_TEST

START_TEST(test_encode_notification)
{
	json_object	*params;
	struct rpc_msg	 msg;
	char		*line, err[256];
	size_t		 len;

	params = json_object_new_object();
	json_object_object_add(params, "requestId", json_object_new_int64(9));
	json_object_object_add(params, "reason", json_object_new_string(
	    "timed out / 60 s"));
	line = rpc_encode_notification("notifications/cancelled", params,
	    &len);
	ck_assert_ptr_nonnull(line);
	ck_assert_ptr_eq(strchr(line, '\n'), line + len - 1);
	ck_assert_int_eq(rpc_parse_line(line, len, &msg, err, sizeof(err)),
	    0);
	ck_assert_int_eq(msg.kind, RPC_NOTIFICATION);
	ck_assert_str_eq(msg.method, "notifications/cancelled");
	ck_assert(json_object_equal(msg.params, params));
	ck_assert_ptr_null(msg.id);
	rpc_msg_free(&msg);
	free(line);
	ck_assert_int_eq(json_object_put(params), 1);

	line = rpc_encode_notification("notifications/initialized", NULL,
	    &len);
	ck_assert_str_eq(line, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/initialized\"}\n");
	ck_assert_uint_eq(len, strlen(line));
	free(line);
}
END_TEST

START_TEST(test_encode_result)
{
	static const char *ids[] = { "7", "\"abc/\xc3\xa9\"", "\"\"", "1.5",
	    "-9223372036854775808" };
	struct rpc_msg	 req, msg;
	json_object	*result;
	char		 in[256], *line, err[256];
	size_t		 i, len;

	result = json_object_new_object();
	json_object_object_add(result, "roots", json_object_new_array());
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		/* Echo the id of a request we received (1.5 as a result). */
		snprintf(in, sizeof(in), "{\"jsonrpc\":\"2.0\",\"id\":%s,"
		    "\"result\":0}", ids[i]);
		ck_assert_int_eq(parse(in, &req, err, sizeof(err)), 0);
		line = rpc_encode_result(req.id, result, &len);
		ck_assert_ptr_nonnull(line);
		ck_assert_ptr_eq(strchr(line, '\n'), line + len - 1);
		ck_assert_msg(rpc_parse_line(line, len, &msg, err,
		    sizeof(err)) == 0, "%s: %s", line, err);
		ck_assert_int_eq(msg.kind, RPC_RESULT);
		ck_assert(json_object_equal(msg.id, req.id));
		ck_assert_int_eq(msg.id_is_int, req.id_is_int);
		ck_assert(json_object_equal(msg.result, result));
		rpc_msg_free(&msg);
		rpc_msg_free(&req);
		free(line);
	}
	ck_assert_int_eq(json_object_put(result), 1);

	/* No result: {}. */
	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":\"p1\","
	    "\"method\":\"ping\"}", &req, err, sizeof(err)), 0);
	line = rpc_encode_result(req.id, NULL, &len);
	ck_assert_str_eq(line, "{\"jsonrpc\":\"2.0\",\"id\":\"p1\","
	    "\"result\":{}}\n");
	ck_assert_uint_eq(len, strlen(line));
	free(line);
	rpc_msg_free(&req);
}
END_TEST

START_TEST(test_encode_error)
{
	struct rpc_msg	 msg;
	json_object	*id;
	char		*line, err[256];
	size_t		 len;

	id = json_object_new_string("req-1");
	line = rpc_encode_error(id, RPC_METHOD_NOT_FOUND,
	    "Method not found: \"sampling/createMessage\" \xe2\x9c\x97", &len);
	ck_assert_ptr_nonnull(line);
	ck_assert_ptr_eq(strchr(line, '\n'), line + len - 1);
	ck_assert_int_eq(rpc_parse_line(line, len, &msg, err, sizeof(err)),
	    0);
	ck_assert_int_eq(msg.kind, RPC_ERROR);
	ck_assert(json_object_equal(msg.id, id));
	ck_assert_int_eq(msg.err_code, -32601);
	ck_assert_str_eq(msg.err_message,
	    "Method not found: \"sampling/createMessage\" \xe2\x9c\x97");
	ck_assert_ptr_null(msg.err_data);
	rpc_msg_free(&msg);
	free(line);
	ck_assert_int_eq(json_object_put(id), 1);

	/* null id, NULL message. */
	line = rpc_encode_error(NULL, RPC_PARSE_ERROR, NULL, &len);
	ck_assert_str_eq(line, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
	    "{\"code\":-32700,\"message\":\"\"}}\n");
	ck_assert_int_eq(rpc_parse_line(line, len, &msg, err, sizeof(err)),
	    0);
	ck_assert_int_eq(msg.kind, RPC_ERROR);
	ck_assert_ptr_null(msg.id);
	ck_assert_str_eq(msg.err_message, "");
	rpc_msg_free(&msg);
	free(line);

	id = json_object_new_int64(INT64_MAX);
	line = rpc_encode_error(id, -2147483647 - 1, "min", &len);
	ck_assert_int_eq(rpc_parse_line(line, len, &msg, err, sizeof(err)),
	    0);
	ck_assert_int_eq(msg.err_code, -2147483647 - 1);
	ck_assert(msg.id_int == INT64_MAX);
	rpc_msg_free(&msg);
	free(line);
	json_object_put(id);
}
END_TEST

/* Feed encoded lines through the framer, as a child's stdout would. */
START_TEST(test_encode_then_frame)
{
	struct rpc_framer	 f;
	struct collect		 c;
	struct rpc_msg		 msg;
	char			*a, *b, buf[256], err[256];
	size_t			 la, lb, i;

	memset(&c, 0, sizeof(c));
	a = rpc_encode_request(1, "tools/list", NULL, &la);
	b = rpc_encode_notification("n/x", NULL, &lb);
	ck_assert_uint_lt(la + lb, sizeof(buf));
	memcpy(buf, a, la);
	memcpy(buf + la, b, lb);
	rpc_framer_init(&f, 1024);
	for (i = 0; i < la + lb; i += 3)
		rpc_framer_feed(&f, buf + i, la + lb - i < 3 ? la + lb - i : 3,
		    collect_line, collect_overflow, &c);
	ck_assert_uint_eq(c.nlines, 2);
	ck_assert_int_eq(rpc_parse_line(c.lines[0], c.lens[0], &msg, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(msg.kind, RPC_REQUEST);
	rpc_msg_free(&msg);
	ck_assert_int_eq(rpc_parse_line(c.lines[1], c.lens[1], &msg, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(msg.kind, RPC_NOTIFICATION);
	rpc_msg_free(&msg);
	rpc_framer_free(&f);
	collect_free(&c);
	free(a);
	free(b);
}
END_TEST

static Suite *
rpc_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("rpc");
	tc = tcase_create("framer");
	tcase_add_test(tc, test_framer_every_split);
	tcase_add_test(tc, test_framer_many_lines_one_read);
	tcase_add_test(tc, test_framer_cr_handling);
	tcase_add_test(tc, test_framer_overlong_then_good);
	tcase_add_test(tc, test_framer_exact_max);
	tcase_add_test(tc, test_framer_null_callbacks);
	suite_add_tcase(s, tc);
	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_kinds);
	tcase_add_test(tc, test_parse_ids);
	tcase_add_test(tc, test_parse_rejects);
	tcase_add_test(tc, test_parse_utf8);
	tcase_add_test(tc, test_parse_depth);
	suite_add_tcase(s, tc);
	tc = tcase_create("encode");
	tcase_add_test(tc, test_encode_request_roundtrip);
	tcase_add_test(tc, test_encode_request_ids_and_method);
	tcase_add_test(tc, test_encode_notification);
	tcase_add_test(tc, test_encode_result);
	tcase_add_test(tc, test_encode_error);
	tcase_add_test(tc, test_encode_then_frame);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(rpc_suite());
}
