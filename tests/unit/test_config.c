/*
 * test_config.c: unit tests for the configuration loader (src/config.c):
 * every key, its defaults, its range and type checks, and the exact text
 * of each kind of error message.
 */

#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "config.h"
#include "unit.h"

#define NAME	"t.json"

/* An integer key, where it lands, and its bounds. */
struct int_key {
	const char	*key;
	int64_t		 min;
	int64_t		 max;
	int		 is_size;	/* size_t field, else int */
	size_t		 offset;	/* in struct config */
};

#define TOP(f)	offsetof(struct config, f)

static const struct int_key top_int_keys[] = {
	{ "workers", 1, 1024, 0, TOP(workers) },
	{ "queueSize", 1, 1000000, 0, TOP(queue_size) },
	{ "drainTimeoutMs", 0, 3600000, 0, TOP(drain_timeout_ms) },
	{ "maxBodyBytes", 1024, 1073741824, 1, TOP(max_body_bytes) },
	{ "maxHeaderBytes", 1024, 1048576, 1, TOP(max_header_bytes) },
	{ "maxConnections", 1, 1000000, 0, TOP(max_connections) },
	{ "idleTimeoutMs", 100, 86400000, 0, TOP(idle_timeout_ms) },
	{ "headerTimeoutMs", 100, 3600000, 0, TOP(header_timeout_ms) },
	{ "bodyTimeoutMs", 100, 86400000, 0, TOP(body_timeout_ms) },
	{ "maxMessageBytes", 1024, 1073741824, 1, TOP(max_message_bytes) },
	{ "startTimeoutMs", 100, 600000, 0, TOP(start_timeout_ms) },
	{ "discoveryTimeoutMs", 0, 60000, 0, TOP(discovery_timeout_ms) },
	{ "schemaCacheTtlSeconds", 0, 31536000, 0, TOP(schema_cache_ttl_s) },
	{ "unresponsiveMs", 0, 86400000, 0, TOP(unresponsive_ms) },
	{ "pingTimeoutMs", 10, 600000, 0, TOP(ping_timeout_ms) },
};

#define SRV(f)	offsetof(struct config_server, f)

static const struct int_key server_int_keys[] = {
	{ "timeoutMs", 1, 86400000, 0, SRV(timeout_ms) },
	{ "maxConcurrent", 1, 100000, 0, SRV(max_concurrent) },
	{ "instances", 1, 64, 0, SRV(instances) },
	{ "maxQueued", 0, 1000000, 0, SRV(max_queued) },
	{ "maxBufferedBytes", 65536, 4294967296LL, 1, SRV(max_buffered_bytes) },
	{ "unresponsiveMs", 0, 86400000, 0, SRV(unresponsive_ms) },
	{ "pingTimeoutMs", 10, 600000, 0, SRV(ping_timeout_ms) },
};

static struct config	*parse_ok(const char *);
static void		 parse_err(const char *, const char *);
static void		 parse_err_has(const char *, const char *);
static int64_t		 field_value(const void *, const struct int_key *);
static char		*write_temp(const char *, size_t);
static Suite		*config_suite(void);

static char	 err[CONFIG_ERR_MAX];

static struct config *
parse_ok(const char *text)
{
	struct config	*cf;

	cf = config_parse(text, NAME, err, sizeof(err));
	ck_assert_msg(cf != NULL, "config_parse(%s) failed: %s", text, err);
	return cf;
}

/* The parse fails with exactly this message. */
static void
parse_err(const char *text, const char *expect)
{
	struct config	*cf;

	strcpy(err, "(untouched)");
	cf = config_parse(text, NAME, err, sizeof(err));
	ck_assert_msg(cf == NULL, "config_parse(%s) succeeded", text);
	ck_assert_str_eq(err, expect);
}

/* The parse fails with a message that starts with "t.json: " and has sub. */
static void
parse_err_has(const char *text, const char *sub)
{
	struct config	*cf;

	strcpy(err, "(untouched)");
	cf = config_parse(text, NAME, err, sizeof(err));
	ck_assert_msg(cf == NULL, "config_parse(%s) succeeded", text);
	ck_assert_msg(strncmp(err, NAME ": ", strlen(NAME) + 2) == 0,
	    "message \"%s\" does not start with the file name", err);
	ck_assert_msg(strstr(err, sub) != NULL,
	    "message \"%s\" lacks \"%s\" (input %s)", err, sub, text);
}

static int64_t
field_value(const void *base, const struct int_key *k)
{
	const char	*p = (const char *)base + k->offset;

	if (k->is_size)
		return (int64_t)*(const size_t *)(const void *)p;
	return *(const int *)(const void *)p;
}

/* A temporary file holding len bytes of data; the caller unlinks it. */
static char *
write_temp(const char *data, size_t len)
{
	const char	*dir = getenv("TMPDIR");
	char		*path;
	FILE		*fp;
	int		 fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	ck_assert_int_ne(asprintf(&path, "%s/test_config.XXXXXX", dir), -1);
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_ptr_nonnull(fp = fdopen(fd, "w"));
	ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
	return path;
}

START_TEST(test_empty_defaults)
{
	struct config	*cf = parse_ok("{}");

	ck_assert_str_eq(cf->path, NAME);
	ck_assert_ptr_null(cf->listen);
	ck_assert_uint_eq(cf->nlisten, 0);
	ck_assert_int_eq(cf->socket_mode, 0660);
	ck_assert_ptr_null(cf->socket_group);
	ck_assert_uint_eq(cf->socket_gid, (gid_t)-1);
	ck_assert_ptr_null(cf->auth_token_file);
	ck_assert_ptr_nonnull(cf->allowed_tools);
	ck_assert_ptr_null(cf->allowed_tools[0]);
	ck_assert_uint_eq(cf->nallowed_tools, 0);
	ck_assert_int_eq(cf->workers, 0);
	ck_assert_int_eq(cf->queue_size, CONFIG_DEFAULT_QUEUE_SIZE);
	ck_assert_int_eq(cf->drain_timeout_ms, CONFIG_DEFAULT_DRAIN_TIMEOUT_MS);
	ck_assert_uint_eq(cf->max_body_bytes, CONFIG_DEFAULT_MAX_BODY_BYTES);
	ck_assert_uint_eq(cf->max_header_bytes,
	    CONFIG_DEFAULT_MAX_HEADER_BYTES);
	ck_assert_int_eq(cf->max_connections, CONFIG_DEFAULT_MAX_CONNECTIONS);
	ck_assert_int_eq(cf->idle_timeout_ms, CONFIG_DEFAULT_IDLE_TIMEOUT_MS);
	ck_assert_uint_eq(cf->max_message_bytes,
	    CONFIG_DEFAULT_MAX_MESSAGE_BYTES);
	ck_assert_int_eq(cf->start_timeout_ms, CONFIG_DEFAULT_START_TIMEOUT_MS);
	ck_assert_int_eq(cf->discovery_timeout_ms,
	    CONFIG_DEFAULT_DISCOVERY_TIMEOUT_MS);
	ck_assert_int_eq(cf->discovery_respects_allowlist, 0);
	ck_assert_int_eq(cf->rate_discovery.requests, 30);
	ck_assert_int_eq(cf->rate_discovery.window_s, 60);
	ck_assert_int_eq(cf->rate_execute.requests, 0);
	ck_assert_int_eq(cf->rate_execute.window_s, 60);
	ck_assert_ptr_null(cf->schema_cache_path);
	ck_assert_int_eq(cf->schema_cache_ttl_s,
	    CONFIG_DEFAULT_SCHEMA_CACHE_TTL_S);
	ck_assert_uint_eq(cf->nservers, 0);
	config_free(cf);

	/* Whitespace around the object is fine; so is an empty server map. */
	cf = parse_ok(" \n\t{ \"mcpServers\" : { } }\r\n");
	ck_assert_uint_eq(cf->nservers, 0);
	config_free(cf);
}
END_TEST

START_TEST(test_all_top_keys)
{
	struct config	*cf = parse_ok("{"
	    "\"$comment\": \"all keys\","
	    "\"listen\": \"0.0.0.0:8080\","
	    "\"authTokenFile\": \"/etc/mcp-proxyd/token\","
	    "\"allowedTools\": [\"mcp__demo__echo\", \"mcp__fs__*\"],"
	    "\"workers\": 8,"
	    "\"queueSize\": 99,"
	    "\"drainTimeoutMs\": 1234,"
	    "\"maxBodyBytes\": 2048,"
	    "\"maxHeaderBytes\": 4096,"
	    "\"maxConnections\": 17,"
	    "\"idleTimeoutMs\": 150,"
	    "\"headerTimeoutMs\": 250,"
	    "\"bodyTimeoutMs\": 350,"
	    "\"maxMessageBytes\": 65536,"
	    "\"startTimeoutMs\": 2500,"
	    "\"discoveryTimeoutMs\": 0,"
	    "\"discoveryRespectsAllowlist\": true,"
	    "\"ioThread\": true,"
	    "\"rateLimits\": {\"discovery\": {\"requests\": 5, "
	    "\"windowSeconds\": 10}, \"execute\": {\"requests\": 100, "
	    "\"windowSeconds\": 3600}},"
	    "\"schemaCachePath\": \"/var/cache/mcp-proxyd/schemas.json\","
	    "\"schemaCacheTtlSeconds\": 0,"
	    "\"mcpServers\": {}"
	    "}");

	ck_assert_uint_eq(cf->nlisten, 1);
	ck_assert_str_eq(cf->listen[0], "0.0.0.0:8080");
	ck_assert_str_eq(cf->auth_token_file, "/etc/mcp-proxyd/token");
	ck_assert_uint_eq(cf->nallowed_tools, 2);
	ck_assert_str_eq(cf->allowed_tools[0], "mcp__demo__echo");
	ck_assert_str_eq(cf->allowed_tools[1], "mcp__fs__*");
	ck_assert_ptr_null(cf->allowed_tools[2]);
	ck_assert_int_eq(cf->workers, 8);
	ck_assert_int_eq(cf->queue_size, 99);
	ck_assert_int_eq(cf->drain_timeout_ms, 1234);
	ck_assert_uint_eq(cf->max_body_bytes, 2048);
	ck_assert_uint_eq(cf->max_header_bytes, 4096);
	ck_assert_int_eq(cf->max_connections, 17);
	ck_assert_int_eq(cf->idle_timeout_ms, 150);
	ck_assert_uint_eq(cf->max_message_bytes, 65536);
	ck_assert_int_eq(cf->start_timeout_ms, 2500);
	ck_assert_int_eq(cf->discovery_timeout_ms, 0);
	ck_assert_int_eq(cf->discovery_respects_allowlist, 1);
	ck_assert_int_eq(cf->header_timeout_ms, 250);
	ck_assert_int_eq(cf->body_timeout_ms, 350);
	ck_assert_ptr_nonnull(cf->warnings);
	ck_assert_ptr_nonnull(strstr(cf->warnings[0], "ioThread: obsolete "
	    "key, ignored"));
	ck_assert_ptr_null(cf->warnings[1]);
	ck_assert_int_eq(cf->rate_discovery.requests, 5);
	ck_assert_int_eq(cf->rate_discovery.window_s, 10);
	ck_assert_int_eq(cf->rate_execute.requests, 100);
	ck_assert_int_eq(cf->rate_execute.window_s, 3600);
	ck_assert_str_eq(cf->schema_cache_path,
	    "/var/cache/mcp-proxyd/schemas.json");
	ck_assert_int_eq(cf->schema_cache_ttl_s, 0);
	config_free(cf);

	cf = parse_ok("{\"discoveryRespectsAllowlist\": false}");
	ck_assert_int_eq(cf->discovery_respects_allowlist, 0);
	ck_assert_int_eq(cf->header_timeout_ms, 10000);
	ck_assert_int_eq(cf->body_timeout_ms, 30000);
	ck_assert_ptr_null(cf->warnings);
	config_free(cf);
}
END_TEST

/* Each integer key: both bounds accepted and stored, one beyond refused. */
START_TEST(test_top_int_ranges)
{
	const struct int_key	*k = &top_int_keys[_i];
	struct config		*cf;
	char			 text[256], expect[512];

	snprintf(text, sizeof(text), "{\"%s\": %" PRId64 "}", k->key, k->min);
	cf = parse_ok(text);
	ck_assert_int_eq(field_value(cf, k), k->min);
	config_free(cf);

	snprintf(text, sizeof(text), "{\"%s\": %" PRId64 "}", k->key, k->max);
	cf = parse_ok(text);
	ck_assert_int_eq(field_value(cf, k), k->max);
	config_free(cf);

	snprintf(text, sizeof(text), "{\"%s\": %" PRId64 "}", k->key,
	    k->min - 1);
	snprintf(expect, sizeof(expect), NAME ": %s: %" PRId64
	    " is out of range (%" PRId64 "..%" PRId64 ")", k->key, k->min - 1,
	    k->min, k->max);
	parse_err(text, expect);

	snprintf(text, sizeof(text), "{\"%s\": %" PRId64 "}", k->key,
	    k->max + 1);
	snprintf(expect, sizeof(expect), NAME ": %s: %" PRId64
	    " is out of range (%" PRId64 "..%" PRId64 ")", k->key, k->max + 1,
	    k->min, k->max);
	parse_err(text, expect);

	/* Strict integers: no fractions, no strings, no booleans. */
	snprintf(text, sizeof(text), "{\"%s\": 1.5}", k->key);
	snprintf(expect, sizeof(expect), NAME ": %s: expected integer, got 1.5",
	    k->key);
	parse_err(text, expect);
	snprintf(text, sizeof(text), "{\"%s\": \"%" PRId64 "\"}", k->key,
	    k->max);
	snprintf(expect, sizeof(expect),
	    NAME ": %s: expected integer, got string", k->key);
	parse_err(text, expect);
}
END_TEST

START_TEST(test_server_int_ranges)
{
	const struct int_key	*k = &server_int_keys[_i];
	struct config		*cf;
	char			 text[256], expect[512];

	snprintf(text, sizeof(text), "{\"mcpServers\": {\"s\": {\"command\": "
	    "\"x\", \"%s\": %" PRId64 "}}}", k->key, k->min);
	cf = parse_ok(text);
	ck_assert_int_eq(field_value(&cf->servers[0], k), k->min);
	config_free(cf);

	snprintf(text, sizeof(text), "{\"mcpServers\": {\"s\": {\"command\": "
	    "\"x\", \"%s\": %" PRId64 "}}}", k->key, k->max);
	cf = parse_ok(text);
	ck_assert_int_eq(field_value(&cf->servers[0], k), k->max);
	config_free(cf);

	snprintf(text, sizeof(text), "{\"mcpServers\": {\"s\": {\"command\": "
	    "\"x\", \"%s\": %" PRId64 "}}}", k->key, k->min - 1);
	snprintf(expect, sizeof(expect), NAME ": mcpServers.s.%s: %" PRId64
	    " is out of range (%" PRId64 "..%" PRId64 ")", k->key, k->min - 1,
	    k->min, k->max);
	parse_err(text, expect);

	snprintf(text, sizeof(text), "{\"mcpServers\": {\"s\": {\"command\": "
	    "\"x\", \"%s\": %" PRId64 "}}}", k->key, k->max + 1);
	snprintf(expect, sizeof(expect), NAME ": mcpServers.s.%s: %" PRId64
	    " is out of range (%" PRId64 "..%" PRId64 ")", k->key, k->max + 1,
	    k->min, k->max);
	parse_err(text, expect);

	snprintf(text, sizeof(text), "{\"mcpServers\": {\"s\": {\"command\": "
	    "\"x\", \"%s\": 2.0}}}", k->key);
	snprintf(expect, sizeof(expect), NAME ": mcpServers.s.%s: expected "
	    "integer, got 2.0", k->key);
	parse_err(text, expect);
}
END_TEST

START_TEST(test_int_edges)
{
	/* The examples of the documentation, word for word. */
	parse_err("{\"workers\": 0}",
	    NAME ": workers: 0 is out of range (1..1024)");
	parse_err("{\"workers\": \"5\"}",
	    NAME ": workers: expected integer, got string");
	parse_err("{\"workers\": 5e0}",
	    NAME ": workers: expected integer, got 5e0");
	parse_err("{\"workers\": true}",
	    NAME ": workers: expected integer, got boolean");
	parse_err("{\"workers\": null}",
	    NAME ": workers: expected integer, got null");
	parse_err("{\"workers\": [4]}",
	    NAME ": workers: expected integer, got array");
	/* Beyond 64 bits json-c saturates: still out of range. */
	parse_err_has("{\"queueSize\": 99999999999999999999}",
	    "queueSize: 18446744073709551615 is out of range (1..1000000)");
	parse_err_has("{\"queueSize\": -99999999999999999999}",
	    "is out of range (1..1000000)");
	parse_err("{\"drainTimeoutMs\": -1}",
	    NAME ": drainTimeoutMs: -1 is out of range (0..3600000)");
}
END_TEST

START_TEST(test_rate_limits)
{
	struct config	*cf;

	/* A partial object keeps the other defaults. */
	cf = parse_ok("{\"rateLimits\": {\"discovery\": {\"requests\": 0}}}");
	ck_assert_int_eq(cf->rate_discovery.requests, 0);
	ck_assert_int_eq(cf->rate_discovery.window_s, 60);
	ck_assert_int_eq(cf->rate_execute.requests, 0);
	ck_assert_int_eq(cf->rate_execute.window_s, 60);
	config_free(cf);

	cf = parse_ok("{\"rateLimits\": {\"execute\": {\"windowSeconds\": 1,"
	    "\"requests\": 1000000}}}");
	ck_assert_int_eq(cf->rate_discovery.requests, 30);
	ck_assert_int_eq(cf->rate_execute.requests, 1000000);
	ck_assert_int_eq(cf->rate_execute.window_s, 1);
	config_free(cf);

	cf = parse_ok("{\"rateLimits\": {\"execute\": {\"windowSeconds\": "
	    "86400}, \"discovery\": {}}}");
	ck_assert_int_eq(cf->rate_execute.window_s, 86400);
	config_free(cf);

	parse_err("{\"rateLimits\": {\"execute\": {\"windowSeconds\": 0}}}",
	    NAME ": rateLimits.execute.windowSeconds: 0 is out of range "
	    "(1..86400)");
	parse_err("{\"rateLimits\": {\"execute\": {\"windowSeconds\": 86401}}}",
	    NAME ": rateLimits.execute.windowSeconds: 86401 is out of range "
	    "(1..86400)");
	parse_err("{\"rateLimits\": {\"discovery\": {\"requests\": -1}}}",
	    NAME ": rateLimits.discovery.requests: -1 is out of range "
	    "(0..1000000)");
	parse_err("{\"rateLimits\": {\"discovery\": {\"requests\": 1000001}}}",
	    NAME ": rateLimits.discovery.requests: 1000001 is out of range "
	    "(0..1000000)");
	parse_err("{\"rateLimits\": {\"discovery\": {\"request\": 5}}}",
	    NAME ": rateLimits.discovery: unknown key \"request\" "
	    "(did you mean \"requests\"?)");
	parse_err("{\"rateLimits\": {\"discover\": {}}}",
	    NAME ": rateLimits: unknown key \"discover\" "
	    "(did you mean \"discovery\"?)");
	parse_err("{\"rateLimits\": {\"execute\": 5}}",
	    NAME ": rateLimits.execute: expected object, got integer");
	parse_err("{\"rateLimits\": []}",
	    NAME ": rateLimits: expected object, got array");
}
END_TEST

START_TEST(test_strings_and_bools)
{
	parse_err("{\"authTokenFile\": 5}",
	    NAME ": authTokenFile: expected string, got integer");
	parse_err("{\"authTokenFile\": \"\"}",
	    NAME ": authTokenFile: must not be empty");
	parse_err("{\"schemaCachePath\": false}",
	    NAME ": schemaCachePath: expected string, got boolean");
	parse_err("{\"schemaCachePath\": \"\"}",
	    NAME ": schemaCachePath: must not be empty");
	parse_err("{\"listen\": 8080}",
	    NAME ": listen: expected string, got integer");
	parse_err("{\"discoveryRespectsAllowlist\": 1}",
	    NAME ": discoveryRespectsAllowlist: expected boolean, got integer");
	parse_err("{\"discoveryRespectsAllowlist\": \"true\"}",
	    NAME ": discoveryRespectsAllowlist: expected boolean, got string");
	parse_err("{\"$comment\": 1}",
	    NAME ": $comment: expected string, got integer");
	parse_err("{\"$comment\": [\"a\"]}",
	    NAME ": $comment: expected string, got array");
	parse_err("{\"mcpServers\": []}",
	    NAME ": mcpServers: expected object, got array");
	/* A NUL inside a string cannot reach a C string unnoticed. */
	parse_err("{\"authTokenFile\": \"/a\\u0000b\"}",
	    NAME ": authTokenFile: string contains a NUL character");
}
END_TEST

START_TEST(test_listen)
{
	static const char *const good[] = {
		"127.0.0.1:0", "0.0.0.0:65535", "localhost:8080",
		"[::1]:8080", "[::]:0", "[2001:db8::1]:443",
		"[::ffff:127.0.0.1]:1", "unix:/run/mcp-proxyd/mcp.sock",
	};
	static const struct {
		const char	*value;
		const char	*why;
	} bad[] = {
		{ "127.0.0.1", "expected host:port" },
		{ "127.0.0.1:", "the port is missing" },
		{ ":8080", "the host is missing" },
		{ "::1:8080", "an IPv6 address must be in brackets" },
		{ "[::1]8080", "after the address" },
		{ "[::1:8080", "missing" },
		{ "[]:80", "not a valid IPv6 address" },
		{ "[1.2.3.4]:80", "not a valid IPv6 address" },
		{ "example.com:80", "the host must be an IPv4 address" },
		{ "256.1.1.1:80", "the host must be an IPv4 address" },
		{ "1.2.3:80", "the host must be an IPv4 address" },
		{ "localhost:65536", "the port must be a number from 0 to 65535" },
		{ "localhost:100000", "the port must be a number" },
		{ "localhost:-1", "the port must be a number" },
		{ "localhost:80a", "the port must be a number" },
		{ "localhost: 80", "the port must be a number" },
		{ "unix:", "must be absolute" },
		{ "unix:run/mcp.sock", "must be absolute" },
		{ "unix:/run/", "must name a file" },
		{ "/run/mcp.sock", "expected host:port or unix:/path" },
	};
	struct config	*cf;
	char		 text[256];
	size_t		 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), "{\"listen\": \"%s\"}", good[i]);
		cf = parse_ok(text);
		ck_assert_uint_eq(cf->nlisten, 1);
		ck_assert_str_eq(cf->listen[0], good[i]);
		config_free(cf);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "{\"listen\": \"%s\"}",
		    bad[i].value);
		parse_err_has(text, "listen: \"");
		ck_assert_msg(strstr(err, bad[i].value) != NULL, "%s", err);
		ck_assert_msg(strstr(err, bad[i].why) != NULL,
		    "\"%s\" lacks \"%s\"", err, bad[i].why);
	}
	parse_err("{\"listen\": \"[::1]8080\"}", NAME ": listen: \"[::1]8080\": "
	    "expected \":port\" after the address");
	parse_err("{\"listen\": \"::1:8080\"}", NAME ": listen: \"::1:8080\": "
	    "an IPv6 address must be in brackets, as in [::1]:8080");
}
END_TEST

START_TEST(test_listen_array)
{
	struct config	*cf;
	char		 text[512], path[200];
	size_t		 i;

	cf = parse_ok("{\"listen\": [\"127.0.0.1:0\", \"unix:/run/a.sock\", "
	    "\"[::1]:8080\"]}");
	ck_assert_uint_eq(cf->nlisten, 3);
	ck_assert_str_eq(cf->listen[0], "127.0.0.1:0");
	ck_assert_str_eq(cf->listen[1], "unix:/run/a.sock");
	ck_assert_str_eq(cf->listen[2], "[::1]:8080");
	config_free(cf);
	parse_err("{\"listen\": []}", NAME ": listen: expected a string or an "
	    "array of 1 to 16 strings, got 0");
	snprintf(text, sizeof(text), "{\"listen\": [");
	for (i = 0; i < 17; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
		    "%s\"127.0.0.1:%zu\"", i > 0 ? "," : "", 8000 + i);
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "]}");
	parse_err(text, NAME ": listen: expected a string or an array of 1 "
	    "to 16 strings, got 17");
	parse_err("{\"listen\": [\"127.0.0.1:0\", 5]}",
	    NAME ": listen[1]: expected string, got integer");
	parse_err_has("{\"listen\": [\"127.0.0.1:0\", \"unix:x\"]}",
	    NAME ": listen[1]: \"unix:x\": a Unix socket path must be "
	    "absolute");
	/* sun_path holds 107 bytes and the NUL. */
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[107] = '\0';
	snprintf(text, sizeof(text), "{\"listen\": \"unix:%s\"}", path);
	cf = parse_ok(text);
	config_free(cf);
	path[107] = 'a';
	path[108] = '\0';
	snprintf(text, sizeof(text), "{\"listen\": \"unix:%s\"}", path);
	parse_err_has(text, "the Unix socket path is 108 bytes long, at most "
	    "107 fit in a socket address");
}
END_TEST

START_TEST(test_socket_mode_group)
{
	struct config	*cf;

	cf = parse_ok("{\"socketMode\": \"0600\", \"socketGroup\": \"0\"}");
	ck_assert_int_eq(cf->socket_mode, 0600);
	ck_assert_uint_eq(cf->socket_gid, 0);
	config_free(cf);
	cf = parse_ok("{\"socketMode\": \"777\", \"socketGroup\": \"root\"}");
	ck_assert_int_eq(cf->socket_mode, 0777);
	ck_assert_str_eq(cf->socket_group, "root");
	ck_assert_uint_eq(cf->socket_gid, 0);
	config_free(cf);
	parse_err("{\"socketMode\": 660}", NAME ": socketMode: expected a "
	    "string of octal digits such as \"0660\", got integer");
	parse_err("{\"socketMode\": \"0680\"}", NAME ": socketMode: \"0680\": "
	    "expected octal digits from \"0\" to \"0777\", such as \"0660\"");
	parse_err_has("{\"socketMode\": \"1777\"}", "socketMode: \"1777\"");
	parse_err_has("{\"socketMode\": \"\"}", "socketMode: \"\"");
	parse_err("{\"socketGroup\": \"no-such-group-mcp\"}",
	    NAME ": socketGroup: \"no-such-group-mcp\": no such group");
	parse_err("{\"socketGroup\": \"\"}",
	    NAME ": socketGroup: must not be empty");
	parse_err_has("{\"socketGroup\": \"99999999999\"}",
	    "not a valid gid");
}
END_TEST

START_TEST(test_allowed_tools)
{
	struct config	*cf;

	cf = parse_ok("{\"allowedTools\": [\"mcp__b__x\", \"*\", "
	    "\"mcp__a__*\", \"mcp__a__tool__with__underscores\", "
	    "\"mcp__a__x\"]}");
	ck_assert_uint_eq(cf->nallowed_tools, 5);
	ck_assert_str_eq(cf->allowed_tools[0], "mcp__b__x");
	ck_assert_str_eq(cf->allowed_tools[1], "*");
	ck_assert_str_eq(cf->allowed_tools[2], "mcp__a__*");
	ck_assert_str_eq(cf->allowed_tools[3],
	    "mcp__a__tool__with__underscores");
	ck_assert_str_eq(cf->allowed_tools[4], "mcp__a__x");
	ck_assert_ptr_null(cf->allowed_tools[5]);
	config_free(cf);

	cf = parse_ok("{\"allowedTools\": []}");
	ck_assert_uint_eq(cf->nallowed_tools, 0);
	ck_assert_ptr_nonnull(cf->allowed_tools);
	ck_assert_ptr_null(cf->allowed_tools[0]);
	config_free(cf);

	parse_err("{\"allowedTools\": \"mcp__a__b\"}",
	    NAME ": allowedTools: expected array, got string");
	parse_err("{\"allowedTools\": [\"mcp__a__b\", 7]}",
	    NAME ": allowedTools[1]: expected string, got integer");
	parse_err("{\"allowedTools\": [\"\"]}",
	    NAME ": allowedTools[0]: must not be empty");
	parse_err("{\"allowedTools\": [\"mcp__a__b\", \"read_file\"]}",
	    NAME ": allowedTools[1]: \"read_file\" is neither a tool name "
	    "mcp__server__tool nor a pattern with \"*\"");
	parse_err_has("{\"allowedTools\": [\"mcp__demo\"]}",
	    "allowedTools[0]: \"mcp__demo\" is neither");
	parse_err_has("{\"allowedTools\": [\"mcp__demo__\"]}",
	    "allowedTools[0]: \"mcp__demo__\" is neither");
	parse_err_has("{\"allowedTools\": [\"mcp____x\"]}",
	    "allowedTools[0]: \"mcp____x\" is neither");
	parse_err_has("{\"allowedTools\": [\"mcp_demo_echo\"]}",
	    "allowedTools[0]: \"mcp_demo_echo\" is neither");
}
END_TEST

START_TEST(test_server_full)
{
	struct config		*cf;
	struct config_server	*s;

	cf = parse_ok("{\"mcpServers\": {\"fs-1\": {"
	    "\"$comment\": \"a comment\","
	    "\"type\": \"stdio\","
	    "\"command\": \"npx\","
	    "\"args\": [\"-y\", \"@modelcontextprotocol/server-filesystem\", "
	    "\"\", \"/srv\"],"
	    "\"env\": {\"Z_LAST\": \"z\", \"A_FIRST\": \"\", \"_u1\": \"v=w\"},"
	    "\"cwd\": \"/srv\","
	    "\"inheritEnv\": true,"
	    "\"timeoutMs\": 1000,"
	    "\"toolTimeouts\": {\"read_file\": 5, \"write.file\": 86400000},"
	    "\"maxConcurrent\": 3,"
	    "\"instances\": 2,"
	    "\"disabled\": true"
	    "}}}");
	ck_assert_uint_eq(cf->nservers, 1);
	s = &cf->servers[0];
	ck_assert_str_eq(s->name, "fs-1");
	ck_assert_str_eq(s->command, "npx");
	ck_assert_uint_eq(s->nargs, 4);
	ck_assert_str_eq(s->args[0], "-y");
	ck_assert_str_eq(s->args[1], "@modelcontextprotocol/server-filesystem");
	ck_assert_str_eq(s->args[2], "");
	ck_assert_str_eq(s->args[3], "/srv");
	ck_assert_ptr_null(s->args[4]);
	ck_assert_uint_eq(s->nenv, 3);
	ck_assert_str_eq(s->env[0].key, "Z_LAST");
	ck_assert_str_eq(s->env[0].value, "z");
	ck_assert_str_eq(s->env[1].key, "A_FIRST");
	ck_assert_str_eq(s->env[1].value, "");
	ck_assert_str_eq(s->env[2].key, "_u1");
	ck_assert_str_eq(s->env[2].value, "v=w");
	ck_assert_str_eq(s->cwd, "/srv");
	ck_assert_int_eq(s->inherit_env, 1);
	ck_assert_int_eq(s->timeout_ms, 1000);
	ck_assert_uint_eq(s->ntool_timeouts, 2);
	ck_assert_str_eq(s->tool_timeouts[0].tool, "read_file");
	ck_assert_int_eq(s->tool_timeouts[0].timeout_ms, 5);
	ck_assert_str_eq(s->tool_timeouts[1].tool, "write.file");
	ck_assert_int_eq(s->tool_timeouts[1].timeout_ms, 86400000);
	ck_assert_int_eq(s->max_concurrent, 3);
	ck_assert_int_eq(s->instances, 2);
	ck_assert_int_eq(s->disabled, 1);
	config_free(cf);
}
END_TEST

START_TEST(test_server_defaults)
{
	struct config		*cf;
	struct config_server	*s;

	cf = parse_ok("{\"mcpServers\": {\"demo\": {\"command\": "
	    "\"./src/mcp-demo-server\"}}}");
	ck_assert_uint_eq(cf->nservers, 1);
	s = &cf->servers[0];
	ck_assert_str_eq(s->name, "demo");
	/* A relative command is kept as written. */
	ck_assert_str_eq(s->command, "./src/mcp-demo-server");
	ck_assert_ptr_nonnull(s->args);
	ck_assert_ptr_null(s->args[0]);
	ck_assert_uint_eq(s->nargs, 0);
	ck_assert_uint_eq(s->nenv, 0);
	ck_assert_ptr_null(s->cwd);
	ck_assert_int_eq(s->inherit_env, 0);
	ck_assert_int_eq(s->timeout_ms, CONFIG_DEFAULT_SERVER_TIMEOUT_MS);
	ck_assert_uint_eq(s->ntool_timeouts, 0);
	ck_assert_int_eq(s->max_concurrent, CONFIG_DEFAULT_MAX_CONCURRENT);
	ck_assert_int_eq(s->instances, 1);
	ck_assert_int_eq(s->disabled, 0);
	ck_assert_int_eq(s->unresponsive_ms,
	    2 * CONFIG_DEFAULT_SERVER_TIMEOUT_MS);
	ck_assert_int_eq(s->ping_timeout_ms, CONFIG_DEFAULT_PING_TIMEOUT_MS);
	ck_assert_int_eq(s->breaker.enabled, 1);
	ck_assert_int_eq(s->breaker.failures, CONFIG_DEFAULT_BREAKER_FAILURES);
	ck_assert_int_eq(s->breaker.open_ms, CONFIG_DEFAULT_BREAKER_OPEN_MS);
	config_free(cf);

	cf = parse_ok("{\"mcpServers\": {\"d\": {\"command\": \"x\", "
	    "\"args\": [], \"env\": {}, \"toolTimeouts\": {}, "
	    "\"inheritEnv\": false, \"disabled\": false}}}");
	s = &cf->servers[0];
	ck_assert_ptr_nonnull(s->args);
	ck_assert_ptr_null(s->args[0]);
	ck_assert_uint_eq(s->nenv, 0);
	ck_assert_uint_eq(s->ntool_timeouts, 0);
	ck_assert_int_eq(s->inherit_env, 0);
	ck_assert_int_eq(s->disabled, 0);
	config_free(cf);
}
END_TEST

/* Servers, args, env and allowedTools keep the order of the file. */
START_TEST(test_order)
{
	struct config	*cf;
	char		 want[16];
	size_t		 i;

	cf = parse_ok("{\"mcpServers\": {"
	    "\"zeta\": {\"command\": \"z\"},"
	    "\"alpha\": {\"command\": \"a\", \"args\": [\"9\", \"8\", \"7\", "
	    "\"6\", \"5\", \"4\", \"3\", \"2\", \"1\", \"0\", \"--flag\"]},"
	    "\"mid\": {\"command\": \"m\"}"
	    "}}");
	ck_assert_uint_eq(cf->nservers, 3);
	ck_assert_str_eq(cf->servers[0].name, "zeta");
	ck_assert_str_eq(cf->servers[0].command, "z");
	ck_assert_str_eq(cf->servers[1].name, "alpha");
	ck_assert_str_eq(cf->servers[2].name, "mid");
	ck_assert_uint_eq(cf->servers[1].nargs, 11);
	for (i = 0; i < 10; i++) {
		snprintf(want, sizeof(want), "%zu", 9 - i);
		ck_assert_str_eq(cf->servers[1].args[i], want);
	}
	ck_assert_str_eq(cf->servers[1].args[10], "--flag");
	ck_assert_ptr_null(cf->servers[1].args[11]);
	config_free(cf);
}
END_TEST

/* unresponsiveMs, pingTimeoutMs and breaker: a server's own value, else
 * the top-level one (before or after mcpServers), else the default. */
START_TEST(test_hung_and_breaker)
{
	struct config		*cf;
	struct config_server	*s;

	cf = parse_ok("{\"mcpServers\": {"
	    "\"a\": {\"command\": \"x\", \"timeoutMs\": 400},"
	    "\"b\": {\"command\": \"x\", \"unresponsiveMs\": 0, "
	    "\"pingTimeoutMs\": 100, \"breaker\": {\"openMs\": 1000}},"
	    "\"c\": {\"command\": \"x\", \"breaker\": true},"
	    "\"d\": {\"command\": \"x\", \"breaker\": false}},"
	    "\"unresponsiveMs\": 9000, \"pingTimeoutMs\": 700, "
	    "\"breaker\": {\"failures\": 3}}");
	s = &cf->servers[0];
	ck_assert_int_eq(s->unresponsive_ms, 9000);
	ck_assert_int_eq(s->ping_timeout_ms, 700);
	ck_assert_int_eq(s->breaker.enabled, 1);
	ck_assert_int_eq(s->breaker.failures, 3);
	ck_assert_int_eq(s->breaker.open_ms, CONFIG_DEFAULT_BREAKER_OPEN_MS);
	s = &cf->servers[1];
	ck_assert_int_eq(s->unresponsive_ms, 0);
	ck_assert_int_eq(s->ping_timeout_ms, 100);
	ck_assert_int_eq(s->breaker.enabled, 1);
	ck_assert_int_eq(s->breaker.failures, 3);
	ck_assert_int_eq(s->breaker.open_ms, 1000);
	ck_assert_int_eq(cf->servers[2].breaker.enabled, 1);
	ck_assert_int_eq(cf->servers[2].breaker.failures, 3);
	ck_assert_int_eq(cf->servers[3].breaker.enabled, 0);
	config_free(cf);

	/* Off at the top: on again in a server that asks, with its keys. */
	cf = parse_ok("{\"breaker\": false, \"mcpServers\": {"
	    "\"a\": {\"command\": \"x\", \"timeoutMs\": 400},"
	    "\"b\": {\"command\": \"x\", \"breaker\": {\"failures\": 1}}}}");
	ck_assert_int_eq(cf->servers[0].breaker.enabled, 0);
	ck_assert_int_eq(cf->servers[0].unresponsive_ms, 800);
	ck_assert_int_eq(cf->servers[1].breaker.enabled, 1);
	ck_assert_int_eq(cf->servers[1].breaker.failures, 1);
	ck_assert_int_eq(cf->servers[1].breaker.open_ms,
	    CONFIG_DEFAULT_BREAKER_OPEN_MS);
	config_free(cf);

	parse_err("{\"breaker\": 5}",
	    NAME ": breaker: expected boolean or object, got integer");
	parse_err("{\"mcpServers\": {\"s\": {\"command\": \"x\", "
	    "\"breaker\": \"on\"}}}",
	    NAME ": mcpServers.s.breaker: expected boolean or object, got "
	    "string");
	parse_err("{\"mcpServers\": {\"s\": {\"command\": \"x\", "
	    "\"breaker\": {\"failures\": 0}}}}",
	    NAME ": mcpServers.s.breaker.failures: 0 is out of range "
	    "(1..1000)");
	parse_err("{\"breaker\": {\"openMs\": 3600001}}",
	    NAME ": breaker.openMs: 3600001 is out of range (100..3600000)");
	parse_err("{\"breaker\": {\"openMs\": 99.5}}",
	    NAME ": breaker.openMs: expected integer, got 99.5");
	parse_err("{\"mcpServers\": {\"s\": {\"command\": \"x\", "
	    "\"breaker\": {\"failure\": 3}}}}",
	    NAME ": mcpServers.s.breaker: unknown key \"failure\" (did you "
	    "mean \"failures\"?)");
}
END_TEST

START_TEST(test_server_errors)
{
	parse_err("{\"mcpServers\": {\"demo\": {\"command\": \"x\", "
	    "\"args\": [\"a\", 1]}}}",
	    NAME ": mcpServers.demo.args[1]: expected string, got integer");
	parse_err("{\"mcpServers\": {\"demo\": {\"command\": \"x\", "
	    "\"args\": \"-v\"}}}",
	    NAME ": mcpServers.demo.args: expected array, got string");
	parse_err("{\"mcpServers\": {\"demo\": {}}}",
	    NAME ": mcpServers.demo: missing required key \"command\"");
	parse_err("{\"mcpServers\": {\"demo\": {\"args\": []}}}",
	    NAME ": mcpServers.demo: missing required key \"command\"");
	parse_err("{\"mcpServers\": {\"demo\": {\"command\": \"\"}}}",
	    NAME ": mcpServers.demo.command: must not be empty");
	parse_err("{\"mcpServers\": {\"demo\": {\"command\": [\"x\"]}}}",
	    NAME ": mcpServers.demo.command: expected string, got array");
	parse_err("{\"mcpServers\": {\"demo\": \"x\"}}",
	    NAME ": mcpServers.demo: expected object, got string");
	parse_err("{\"mcpServers\": {\"demo\": {\"command\": \"x\", "
	    "\"cwd\": \"\"}}}",
	    NAME ": mcpServers.demo.cwd: must not be empty");
	parse_err("{\"mcpServers\": {\"demo\": {\"command\": \"x\", "
	    "\"inheritEnv\": \"yes\"}}}",
	    NAME ": mcpServers.demo.inheritEnv: expected boolean, got string");
	parse_err("{\"mcpServers\": {\"demo\": {\"command\": \"x\", "
	    "\"disabled\": 0}}}",
	    NAME ": mcpServers.demo.disabled: expected boolean, got integer");
	parse_err("{\"mcpServers\": {\"demo\": {\"command\": \"x\", "
	    "\"$comment\": {}}}}",
	    NAME ": mcpServers.demo.$comment: expected string, got object");
	parse_err("{\"mcpServers\": {\"demo\": {\"command\": \"x\", "
	    "\"toolTimeouts\": {\"t\": \"5\"}}}}",
	    NAME ": mcpServers.demo.toolTimeouts.t: expected integer, got "
	    "string");
	parse_err("{\"mcpServers\": {\"demo\": {\"command\": \"x\", "
	    "\"toolTimeouts\": {\"a.b\": 0}}}}",
	    NAME ": mcpServers.demo.toolTimeouts[\"a.b\"]: 0 is out of range "
	    "(1..86400000)");
	parse_err("{\"mcpServers\": {\"demo\": {\"command\": \"x\", "
	    "\"toolTimeouts\": {\"\": 5}}}}",
	    NAME ": mcpServers.demo.toolTimeouts[\"\"]: empty tool name");
	parse_err("{\"mcpServers\": {\"demo\": {\"command\": \"x\", "
	    "\"toolTimeouts\": [5]}}}",
	    NAME ": mcpServers.demo.toolTimeouts: expected object, got array");
	/* The first error in file order is the one reported. */
	parse_err("{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	    "\"instances\": 0}, \"b\": {}}}",
	    NAME ": mcpServers.a.instances: 0 is out of range (1..64)");
}
END_TEST

START_TEST(test_server_names)
{
	static const char *const bad[] = {
		"", "a__b", "__x", "a b", "a.b", "a/b", "caf\xc3\xa9", "a:b",
		"x\\\"y", "_", "x_", "_x",
	};
	struct config	*cf;
	char		 text[512], name65[66];
	size_t		 i;

	cf = parse_ok("{\"mcpServers\": {\"a\": {\"command\": \"x\"}, "
	    "\"Z_9-x\": {\"command\": \"x\"}, \"9\": {\"command\": \"x\"}, "
	    "\"-\": {\"command\": \"x\"}, \"a_b-c\": {\"command\": \"x\"}}}");
	ck_assert_uint_eq(cf->nservers, 5);
	ck_assert_str_eq(cf->servers[1].name, "Z_9-x");
	config_free(cf);

	memset(name65, 'n', 65);
	name65[65] = '\0';
	snprintf(text, sizeof(text), "{\"mcpServers\": {\"%.64s\": "
	    "{\"command\": \"x\"}}}", name65);
	cf = parse_ok(text);
	ck_assert_uint_eq(strlen(cf->servers[0].name), 64);
	config_free(cf);
	snprintf(text, sizeof(text), "{\"mcpServers\": {\"%s\": "
	    "{\"command\": \"x\"}}}", name65);
	parse_err_has(text, "invalid server name");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "{\"mcpServers\": {\"%s\": "
		    "{\"command\": \"x\"}}}", bad[i]);
		parse_err_has(text, "invalid server name");
	}
	parse_err("{\"mcpServers\": {\"a__b\": {\"command\": \"x\"}}}",
	    NAME ": mcpServers.a__b: invalid server name \"a__b\" (1 to 64 of "
	    "A-Z a-z 0-9 _ -, without \"__\" and not starting or ending with "
	    "\"_\": mcp__<server>__<tool> must have one reading)");
	parse_err("{\"mcpServers\": {\"my server\": {\"command\": \"x\"}}}",
	    NAME ": mcpServers[\"my server\"]: invalid server name "
	    "\"my server\" (1 to 64 of A-Z a-z 0-9 _ -, without \"__\" and not "
	    "starting or ending with \"_\": mcp__<server>__<tool> must have "
	    "one reading)");
}
END_TEST

START_TEST(test_env)
{
	static const char *const bad[] = {
		"1A", "A-B", "", "A B", "A=B", "\\u00e9", "a.b",
	};
	struct config	*cf;
	char		 text[256];
	size_t		 i;

	cf = parse_ok("{\"mcpServers\": {\"s\": {\"command\": \"x\", \"env\": "
	    "{\"_\": \"1\", \"a1\": \"2\", \"PATH\": \"/bin\"}}}}");
	ck_assert_uint_eq(cf->servers[0].nenv, 3);
	ck_assert_str_eq(cf->servers[0].env[0].key, "_");
	ck_assert_str_eq(cf->servers[0].env[2].key, "PATH");
	ck_assert_str_eq(cf->servers[0].env[2].value, "/bin");
	config_free(cf);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "{\"mcpServers\": {\"s\": "
		    "{\"command\": \"x\", \"env\": {\"%s\": \"v\"}}}}", bad[i]);
		parse_err_has(text, "invalid environment variable name");
	}
	parse_err("{\"mcpServers\": {\"s\": {\"command\": \"x\", "
	    "\"env\": {\"1A\": \"v\"}}}}",
	    NAME ": mcpServers.s.env.1A: invalid environment variable name "
	    "\"1A\" (expected [A-Za-z_][A-Za-z0-9_]*)");
	parse_err("{\"mcpServers\": {\"s\": {\"command\": \"x\", "
	    "\"env\": {\"PORT\": 8080}}}}",
	    NAME ": mcpServers.s.env.PORT: expected string, got integer");
	parse_err("{\"mcpServers\": {\"s\": {\"command\": \"x\", "
	    "\"env\": {\"K\": \"a\\u0000b\"}}}}",
	    NAME ": mcpServers.s.env.K: string contains a NUL character");
	parse_err("{\"mcpServers\": {\"s\": {\"command\": \"x\", "
	    "\"env\": [\"A=b\"]}}}",
	    NAME ": mcpServers.s.env: expected object, got array");
}
END_TEST

START_TEST(test_server_type)
{
	struct config	*cf;

	cf = parse_ok("{\"mcpServers\": {\"s\": {\"type\": \"stdio\", "
	    "\"command\": \"x\"}}}");
	ck_assert_uint_eq(cf->nservers, 1);
	config_free(cf);

	/* Checked before the keys a remote server has and we do not know. */
	parse_err("{\"mcpServers\": {\"s\": {\"url\": \"https://x/sse\", "
	    "\"type\": \"sse\"}}}",
	    NAME ": mcpServers.s.type: remote servers are not supported yet "
	    "(type \"sse\")");
	parse_err("{\"mcpServers\": {\"s\": {\"type\": \"http\", "
	    "\"url\": \"https://x/mcp\", \"headers\": {}}}}",
	    NAME ": mcpServers.s.type: remote servers are not supported yet "
	    "(type \"http\")");
	parse_err("{\"mcpServers\": {\"s\": {\"url\": \"https://x/mcp\"}}}",
	    NAME ": mcpServers.s.url: remote servers are not supported yet");
	parse_err("{\"mcpServers\": {\"s\": {\"type\": \"ws\", "
	    "\"command\": \"x\"}}}",
	    NAME ": mcpServers.s.type: unknown server type \"ws\" (only "
	    "\"stdio\" is supported)");
	parse_err("{\"mcpServers\": {\"s\": {\"type\": 1, "
	    "\"command\": \"x\"}}}",
	    NAME ": mcpServers.s.type: expected string, got integer");
}
END_TEST

START_TEST(test_unknown_keys)
{
	parse_err("{\"alowedTools\": []}",
	    NAME ": unknown key \"alowedTools\" (did you mean "
	    "\"allowedTools\"?)");
	/* Swapped letters, wrong case, two edits. */
	parse_err("{\"wokrers\": 4}",
	    NAME ": unknown key \"wokrers\" (did you mean \"workers\"?)");
	parse_err("{\"Workers\": 4}",
	    NAME ": unknown key \"Workers\" (did you mean \"workers\"?)");
	parse_err("{\"MAXBODYBYTES\": 4}",
	    NAME ": unknown key \"MAXBODYBYTES\" (did you mean "
	    "\"maxBodyBytes\"?)");
	parse_err("{\"mcpServer\": {}}",
	    NAME ": unknown key \"mcpServer\" (did you mean \"mcpServers\"?)");
	parse_err("{\"comment\": \"x\"}",
	    NAME ": unknown key \"comment\" (did you mean \"$comment\"?)");
	parse_err("{\"queue\": 4}", NAME ": unknown key \"queue\"");
	parse_err("{\"//\": \"a comment\"}", NAME ": unknown key \"//\"");
	parse_err("{\"globalShortcut\": \"x\"}",
	    NAME ": unknown key \"globalShortcut\"");
	parse_err("{\"a\\nb\": 1}", NAME ": unknown key \"a\\u000ab\"");
	parse_err("{\"mcpServers\": {\"demo\": {\"comand\": \"x\"}}}",
	    NAME ": mcpServers.demo: unknown key \"comand\" (did you mean "
	    "\"command\"?)");
	parse_err("{\"mcpServers\": {\"demo\": {\"command\": \"x\", "
	    "\"enviroment\": {}}}}",
	    NAME ": mcpServers.demo: unknown key \"enviroment\"");
	parse_err("{\"mcpServers\": {\"demo\": {\"command\": \"x\", "
	    "\"timeout\": 5}}}",
	    NAME ": mcpServers.demo: unknown key \"timeout\" (did you mean "
	    "\"timeoutMs\"?)");
	parse_err("{\"mcpServers\": {\"demo\": {\"command\": \"x\", "
	    "\"timeoutMS\": 5}}}",
	    NAME ": mcpServers.demo: unknown key \"timeoutMS\" (did you mean "
	    "\"timeoutMs\"?)");
	/* $comment is accepted at the top and per server, nowhere else. */
	parse_err("{\"rateLimits\": {\"$comment\": \"x\"}}",
	    NAME ": rateLimits: unknown key \"$comment\"");
	/* A very long unknown key is quoted short. */
	parse_err_has("{\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxx\": 1}", "...\"");
}
END_TEST

/*
 * Keys with control characters are quoted with escapes, cut short, and
 * never past the end of the buffer, whatever the alignment of the escapes.
 */
START_TEST(test_quoting)
{
	char	 key[256], text[512];
	size_t	 plain, i, o;

	for (plain = 0; plain <= 12; plain++) {
		o = 0;
		for (i = 0; i < plain; i++)
			key[o++] = 'k';
		for (i = 0; i < 30; i++) {
			memcpy(key + o, "\\u0001", 6);
			o += 6;
		}
		key[o] = '\0';

		snprintf(text, sizeof(text), "{\"%s\": 1}", key);
		parse_err_has(text, "unknown key \"");
		ck_assert_ptr_nonnull(strstr(err, "\\u0001"));
		ck_assert_ptr_nonnull(strstr(err, "...\""));

		snprintf(text, sizeof(text), "{\"mcpServers\": {\"a\": "
		    "{\"command\": \"x\", \"toolTimeouts\": {\"%s\": 0}}}}", key);
		parse_err_has(text, "mcpServers.a.toolTimeouts[\"");
		ck_assert_ptr_nonnull(strstr(err, "...\"]: 0 is out of range"));
	}
}
END_TEST

START_TEST(test_duplicates)
{
	struct config	*cf;

	parse_err("{\"mcpServers\": {\n"
	    "  \"demo\": {\"command\": \"a\"},\n"
	    "  \"other\": {\"command\": \"b\"},\n"
	    "  \"demo\": {\"command\": \"c\"}\n"
	    "}}",
	    NAME ": mcpServers: duplicate key \"demo\" (line 4)");
	parse_err("{\"workers\": 1, \"workers\": 2}",
	    NAME ": duplicate key \"workers\" (line 1)");
	parse_err("{\"mcpServers\": {\"d\": {\"command\": \"x\", \"env\": "
	    "{\"A\": \"1\", \"A\": \"2\"}}}}",
	    NAME ": mcpServers.d.env: duplicate key \"A\" (line 1)");
	/* Escapes are decoded before keys are compared. */
	parse_err("{\"mcpServers\": {\"demo\": {\"command\": \"a\"}, "
	    "\"\\u0064emo\": {\"command\": \"b\"}}}",
	    NAME ": mcpServers: duplicate key \"demo\" (line 1)");
	/* Inside arrays too, with the index in the path. */
	parse_err("{\"allowedTools\": [\"mcp__a__b\", {\"k\": 1, \"k\": 2}]}",
	    NAME ": allowedTools[1]: duplicate key \"k\" (line 1)");
	/* The same key in different objects is no duplicate. */
	cf = parse_ok("{\"mcpServers\": {\"a\": {\"command\": \"x\", "
	    "\"env\": {\"command\": \"y\"}}, \"b\": {\"command\": \"x\"}}}");
	ck_assert_uint_eq(cf->nservers, 2);
	ck_assert_str_eq(cf->servers[0].env[0].key, "command");
	config_free(cf);
	/* Keys differing only in case are different keys. */
	cf = parse_ok("{\"mcpServers\": {\"a\": {\"command\": \"x\"}, "
	    "\"A\": {\"command\": \"x\"}}}");
	ck_assert_uint_eq(cf->nservers, 2);
	config_free(cf);
}
END_TEST

START_TEST(test_bad_json)
{
	parse_err("{\"workers\": 1,\n \"queueSize\": 2,\n}",
	    NAME ": line 3, column 1: invalid JSON: unexpected character");
	parse_err("{\"a\": [1, 2,]}",
	    NAME ": line 1, column 13: invalid JSON: unexpected character");
	parse_err("{\n  \"workers\" 4\n}",
	    NAME ": line 2, column 13: invalid JSON: object property name "
	    "separator ':' expected");
	/* Columns count characters, not bytes. */
	parse_err("{\"$comment\": \"\xc3\xa9\xc3\xa9\", x}",
	    NAME ": line 1, column 20: invalid JSON: quoted object property "
	    "name expected");
	parse_err("{\"workers\": 4",
	    NAME ": line 1, column 14: invalid JSON: unexpected end of data");
	parse_err("{\"a\": \"unterminated",
	    NAME ": line 1, column 20: invalid JSON: unexpected end of data");
	parse_err("{\"workers\": 4} {}",
	    NAME ": line 1, column 16: invalid JSON: unexpected character");
	parse_err("/* comment */ {}",
	    NAME ": line 1, column 1: invalid JSON: unexpected character");
	parse_err("{\"workers\": 4 // four\n}",
	    NAME ": line 1, column 15: invalid JSON: object value separator "
	    "',' expected");
	parse_err("{\"$comment\": \"\xff\"}",
	    NAME ": line 1, column 15: invalid JSON: invalid utf-8 string");
	/* What json-c's strict mode still lets through. */
	parse_err("{'workers': 4}",
	    NAME ": line 1, column 2: invalid JSON: single-quoted string "
	    "(JSON needs double quotes)");
	parse_err("{\"drainTimeoutMs\": NaN}",
	    NAME ": line 1, column 20: invalid JSON: not a JSON value (NaN "
	    "and Infinity are not allowed)");
	parse_err("{\n\"drainTimeoutMs\": -Infinity}",
	    NAME ": line 2, column 19: invalid JSON: not a JSON value (NaN "
	    "and Infinity are not allowed)");
	/* Not an object, or nothing at all. */
	parse_err("[]", NAME ": expected a JSON object at the top level, got "
	    "array");
	parse_err("42", NAME ": expected a JSON object at the top level, got "
	    "integer");
	parse_err("\"x\"", NAME ": expected a JSON object at the top level, "
	    "got string");
	parse_err("", NAME ": file is empty (expected a JSON object such as "
	    "{\"mcpServers\": {}})");
	parse_err(" \n\t ", NAME ": file is empty (expected a JSON object "
	    "such as {\"mcpServers\": {}})");
}
END_TEST

START_TEST(test_tool_timeout)
{
	struct config		*cf;
	struct config_server	*s;

	cf = parse_ok("{\"mcpServers\": {"
	    "\"a\": {\"command\": \"x\", \"timeoutMs\": 700, "
	    "\"toolTimeouts\": {\"slow\": 90000, \"fast\": 10}},"
	    "\"b\": {\"command\": \"x\"}}}");
	s = &cf->servers[0];
	ck_assert_int_eq(config_tool_timeout(s, "slow"), 90000);
	ck_assert_int_eq(config_tool_timeout(s, "fast"), 10);
	ck_assert_int_eq(config_tool_timeout(s, "other"), 700);
	ck_assert_int_eq(config_tool_timeout(s, "SLOW"), 700);
	ck_assert_int_eq(config_tool_timeout(s, "slo"), 700);
	ck_assert_int_eq(config_tool_timeout(s, ""), 700);
	ck_assert_int_eq(config_tool_timeout(s, NULL), 700);
	s = &cf->servers[1];
	ck_assert_int_eq(config_tool_timeout(s, "slow"),
	    CONFIG_DEFAULT_SERVER_TIMEOUT_MS);
	config_free(cf);
}
END_TEST

START_TEST(test_load)
{
	static const char good[] = "\xef\xbb\xbf{\"workers\": 3, "
	    "\"mcpServers\": {\"demo\": {\"command\": \"/bin/true\"}}}\n";
	struct config	*cf;
	const char	*dir;
	char		*path, expect[1024];
	char		*big;
	size_t		 n;

	/* A good file, with a byte order mark. */
	path = write_temp(good, sizeof(good) - 1);
	cf = config_load(path, err, sizeof(err));
	ck_assert_msg(cf != NULL, "%s", err);
	ck_assert_str_eq(cf->path, path);
	ck_assert_int_eq(cf->workers, 3);
	ck_assert_str_eq(cf->servers[0].command, "/bin/true");
	config_free(cf);
	unlink(path);
	free(path);

	/* Errors name the file. */
	path = write_temp("{\"workers\": 0}", 14);
	ck_assert_ptr_null(config_load(path, err, sizeof(err)));
	snprintf(expect, sizeof(expect),
	    "%s: workers: 0 is out of range (1..1024)", path);
	ck_assert_str_eq(err, expect);
	unlink(path);

	/* The file is gone now. */
	ck_assert_ptr_null(config_load(path, err, sizeof(err)));
	snprintf(expect, sizeof(expect),
	    "%s: cannot read: No such file or directory", path);
	ck_assert_str_eq(err, expect);
	free(path);

	/* A NUL byte in the middle. */
	path = write_temp("{\n\"a\0\": 1}", 10);
	ck_assert_ptr_null(config_load(path, err, sizeof(err)));
	snprintf(expect, sizeof(expect),
	    "%s: line 2, column 3: invalid JSON: NUL byte", path);
	ck_assert_str_eq(err, expect);
	unlink(path);
	free(path);

	/* An empty file. */
	path = write_temp("", 0);
	ck_assert_ptr_null(config_load(path, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, ": file is empty"));
	unlink(path);
	free(path);

	/* A directory. */
	dir = getenv("TMPDIR");
	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	ck_assert_ptr_null(config_load(dir, err, sizeof(err)));
	snprintf(expect, sizeof(expect), "%s: cannot read: Is a directory",
	    dir);
	ck_assert_str_eq(err, expect);

	/*
	 * Exactly 16 MiB is read (and parsed); one byte more is refused
	 * before parsing.
	 */
	n = 16 * 1024 * 1024;
	ck_assert_ptr_nonnull(big = malloc(n + 1));
	memset(big, ' ', n + 1);
	memcpy(big, "{\"workers\": 7}", 14);
	path = write_temp(big, n);
	cf = config_load(path, err, sizeof(err));
	ck_assert_msg(cf != NULL, "%s", err);
	ck_assert_int_eq(cf->workers, 7);
	config_free(cf);
	unlink(path);
	free(path);
	path = write_temp(big, n + 1);
	ck_assert_ptr_null(config_load(path, err, sizeof(err)));
	snprintf(expect, sizeof(expect), "%s: file is larger than 16 MiB",
	    path);
	ck_assert_str_eq(err, expect);
	unlink(path);
	free(path);
	free(big);

	ck_assert_ptr_null(config_load(NULL, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "no configuration file"));
}
END_TEST

/* A short or missing error buffer is never overrun. */
START_TEST(test_err_buffer)
{
	char	 small[12];

	memset(small, 'X', sizeof(small));
	ck_assert_ptr_null(config_parse("{\"workers\": 0}", NAME, small, 8));
	ck_assert_str_eq(small, "t.json:");
	ck_assert_int_eq(small[8], 'X');
	ck_assert_ptr_null(config_parse("{\"workers\": 0}", NAME, NULL, 0));
	ck_assert_ptr_null(config_parse(NULL, NAME, err, sizeof(err)));
	ck_assert_ptr_null(config_load("/nonexistent/x.json", NULL, 0));
	/* Success clears the buffer. */
	strcpy(err, "stale");
	config_free(parse_ok("{}"));
	ck_assert_str_eq(err, "");
	config_free(NULL);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("config");

	tc = tcase_create("keys");
	tcase_add_test(tc, test_empty_defaults);
	tcase_add_test(tc, test_all_top_keys);
	tcase_add_loop_test(tc, test_top_int_ranges, 0,
	    sizeof(top_int_keys) / sizeof(top_int_keys[0]));
	tcase_add_loop_test(tc, test_server_int_ranges, 0,
	    sizeof(server_int_keys) / sizeof(server_int_keys[0]));
	tcase_add_test(tc, test_int_edges);
	tcase_add_test(tc, test_rate_limits);
	tcase_add_test(tc, test_strings_and_bools);
	tcase_add_test(tc, test_listen);
	tcase_add_test(tc, test_listen_array);
	tcase_add_test(tc, test_socket_mode_group);
	tcase_add_test(tc, test_allowed_tools);
	suite_add_tcase(s, tc);

	tc = tcase_create("servers");
	tcase_add_test(tc, test_server_full);
	tcase_add_test(tc, test_server_defaults);
	tcase_add_test(tc, test_order);
	tcase_add_test(tc, test_server_errors);
	tcase_add_test(tc, test_server_names);
	tcase_add_test(tc, test_env);
	tcase_add_test(tc, test_server_type);
	tcase_add_test(tc, test_tool_timeout);
	tcase_add_test(tc, test_hung_and_breaker);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_unknown_keys);
	tcase_add_test(tc, test_quoting);
	tcase_add_test(tc, test_duplicates);
	tcase_add_test(tc, test_bad_json);
	tcase_add_test(tc, test_err_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_load);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return unit_run(config_suite());
}
