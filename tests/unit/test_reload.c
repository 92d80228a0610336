/* test_reload.c: what a reload keeps for a restart (reload_pin()). */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "config.h"
#include "reload.h"
#include "unit.h"

static struct config *
parse(const char *text)
{
	char		 err[CONFIG_ERR_MAX];
	struct config	*cfg = config_parse(text, "t.json", err, sizeof(err));

	ck_assert_msg(cfg != NULL, "%s", err);
	return cfg;
}

/* Live keys change, and nothing is pinned. */
START_TEST(test_live)
{
	struct config	*oc = parse("{\"maxBodyBytes\":4096,"
			    "\"allowedTools\":[\"mcp__s__a\"]}");
	struct config	*nc = parse("{\"maxBodyBytes\":8192,"
			    "\"allowedTools\":[\"mcp__s__b\"],\"maxSessions\":3,"
			    "\"rateLimits\":{\"execute\":{\"requests\":5,"
			    "\"windowSeconds\":10}}}");

	ck_assert_int_eq(reload_pin(nc, oc), 0);
	ck_assert_uint_eq(nc->max_body_bytes, 8192);
	ck_assert_int_eq(nc->max_sessions, 3);
	ck_assert_int_eq(nc->rate_execute.requests, 5);
	config_free(nc);
	config_free(oc);
}
END_TEST

/* Restart-only keys keep the running values. */
START_TEST(test_pinned)
{
	struct config	*oc = parse("{\"listen\":\"127.0.0.1:1\","
			    "\"workers\":2,\"authTokenFile\":\"/a\","
			    "\"maxMessageBytes\":100000}");
	struct config	*nc = parse("{\"listen\":\"127.0.0.1:2\","
			    "\"workers\":3,\"maxMessageBytes\":200000,"
			    "\"queueSize\":7,\"breaker\":{\"failures\":9}}");

	ck_assert_int_eq(reload_pin(nc, oc), 6);
	ck_assert_uint_eq(nc->nlisten, 1);
	ck_assert_str_eq(nc->listen[0], "127.0.0.1:1");
	ck_assert_str_eq(nc->auth_token_file, "/a");
	ck_assert_int_eq(nc->workers, 2);
	ck_assert_int_eq(nc->queue_size, oc->queue_size);
	ck_assert_uint_eq(nc->max_message_bytes, 100000);
	ck_assert_int_eq(nc->breaker.failures, oc->breaker.failures);
	config_free(nc);
	config_free(oc);
}
END_TEST

/* auditLog: another file is live; set or unset needs a restart. */
START_TEST(test_audit_log)
{
	struct config	*oc = parse("{\"auditLog\":\"/x\"}");
	struct config	*nc = parse("{\"auditLog\":\"/y\"}");
	struct config	*none = parse("{}");

	ck_assert_int_eq(reload_pin(nc, oc), 0);
	ck_assert_str_eq(nc->audit_log, "/y");
	ck_assert_int_eq(reload_pin(none, oc), 1);
	ck_assert_str_eq(none->audit_log, "/x");
	config_free(none);
	config_free(nc);
	config_free(oc);
}
END_TEST

/* Servers are not pinned; reload_server_eq() tells a changed one. */
START_TEST(test_servers)
{
	struct config	*oc = parse("{\"mcpServers\":{"
			    "\"a\":{\"command\":\"x\"},"
			    "\"b\":{\"command\":\"x\",\"env\":{\"K\":\"1\"}}}}");
	struct config	*nc = parse("{\"mcpServers\":{"
			    "\"b\":{\"command\":\"x\",\"env\":{\"K\":\"1\"}},"
			    "\"a\":{\"command\":\"x\"},"
			    "\"c\":{\"command\":\"x\",\"env\":{\"K\":\"2\"}},"
			    "\"d\":{\"command\":\"x\",\"args\":[\"-v\"]},"
			    "\"e\":{\"command\":\"x\",\"toolTimeouts\":"
			    "{\"t\":5}},"
			    "\"f\":{\"command\":\"x\",\"disabled\":true}}}");

	ck_assert_int_eq(reload_pin(nc, oc), 0);
	ck_assert_int_eq(nc->nservers, 6);
	ck_assert(reload_server_eq(&oc->servers[0], &nc->servers[1]));
	ck_assert(reload_server_eq(&oc->servers[1], &nc->servers[0]));
	ck_assert(!reload_server_eq(&oc->servers[1], &nc->servers[2]));
	ck_assert(!reload_server_eq(&oc->servers[0], &nc->servers[3]));
	ck_assert(!reload_server_eq(&oc->servers[0], &nc->servers[4]));
	ck_assert(!reload_server_eq(&oc->servers[0], &nc->servers[5]));
	config_free(nc);
	config_free(oc);
}
END_TEST

/* A remote server is changed by its URL, a header or a TLS option. */
START_TEST(test_remote_servers)
{
	struct config	*oc = parse("{\"mcpServers\":{"
			    "\"r\":{\"type\":\"http\",\"url\":\"https://h/mcp\","
			    "\"headers\":{\"X-A\":\"1\"}}}}");
	struct config	*nc = parse("{\"mcpServers\":{"
			    "\"r\":{\"type\":\"http\",\"url\":\"https://h/mcp\","
			    "\"headers\":{\"X-A\":\"1\"}},"
			    "\"s\":{\"type\":\"http\",\"url\":\"https://h/mcp2\","
			    "\"headers\":{\"X-A\":\"1\"}},"
			    "\"t\":{\"type\":\"http\",\"url\":\"https://h/mcp\","
			    "\"headers\":{\"X-A\":\"2\"}},"
			    "\"u\":{\"type\":\"http\",\"url\":\"https://h/mcp\","
			    "\"headers\":{\"X-A\":\"1\"},"
			    "\"tls\":{\"insecureSkipVerify\":true}},"
			    "\"v\":{\"type\":\"sse\",\"url\":\"https://h/mcp\","
			    "\"headers\":{\"X-A\":\"1\"}}}}");
	size_t		 i;

	ck_assert(reload_server_eq(&oc->servers[0], &nc->servers[0]));
	for (i = 1; i < 5; i++)
		ck_assert_msg(!reload_server_eq(&oc->servers[0],
		    &nc->servers[i]), "server %s", nc->servers[i].name);
	config_free(nc);
	config_free(oc);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("reload");
	TCase	*tc = tcase_create("reload");

	tcase_add_test(tc, test_live);
	tcase_add_test(tc, test_pinned);
	tcase_add_test(tc, test_audit_log);
	tcase_add_test(tc, test_servers);
	tcase_add_test(tc, test_remote_servers);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
