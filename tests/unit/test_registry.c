/*
 * test_registry.c: the registry and its servers against real child
 * processes (the demo MCP server from $MCP_DEMO_SERVER): start-up,
 * toolsets with pagination, calls and their replies, timeouts, crashes and
 * restarts, noisy and big replies, concurrency, failed starts, list_changed,
 * server-to-client requests, and a shutdown that leaves no process behind.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "pool.h"
#include "registry.h"
#include "reply.h"
#include "rpc.h"
#include "server.h"
#include "toolset.h"
#include "unit.h"

#define MAX_PGIDS	64

struct tcall {
	struct server_call	 sc;
	int			 done;
	int			 ncomplete;
};

static const char	*demo;
static struct config	*cfg;
static struct registry	*reg;
static struct pool	*pool;
static pthread_mutex_t	 tmtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 tcond = PTHREAD_COND_INITIALIZER;
static pid_t		 pgids[MAX_PGIDS];
static int		 npgids;

/* The demo server relative to our cwd ("./..."), when it is below it. */
static const char *
relative_demo(void)
{
	static char	 rel[4096];
	char		 cwd[4096];
	size_t		 n;

	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return demo;
	n = strlen(cwd);
	if (strncmp(demo, cwd, n) != 0 || demo[n] != '/')
		return demo;
	snprintf(rel, sizeof(rel), ".%s", demo + n);
	return rel;
}

static const char *
demo_base(void)
{
	const char	*s = strrchr(demo, '/');

	return s != NULL ? s + 1 : demo;
}

static const char *
demo_dir(void)
{
	static char	 dir[4096];
	const char	*s = strrchr(demo, '/');

	if (s == NULL)
		return ".";
	snprintf(dir, sizeof(dir), "%.*s", (int)(s - demo), demo);
	return dir;
}

static int64_t
ms_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
tcomplete(struct server_call *sc)
{
	struct tcall	*t = (struct tcall *)sc;

	pthread_mutex_lock(&tmtx);
	t->done = 1;
	t->ncomplete++;
	pthread_cond_broadcast(&tcond);
	pthread_mutex_unlock(&tmtx);
}

/* A call that never reached a worker (it had stopped). */
static void
tdone(struct job *j)
{
	struct tcall	*t = (struct tcall *)j;

	pthread_mutex_lock(&tmtx);
	t->done = 1;
	t->sc.status = -1;
	pthread_cond_broadcast(&tcond);
	pthread_mutex_unlock(&tmtx);
}

/* A registry on its own pool, its first start attempts over. */
static struct registry *
start_registry(struct config *c, struct event_base *base, struct pool **pp)
{
	struct registry	*r;
	int64_t		 deadline = ms_now() + 15000;

	/* No ck_assert here: main() calls it outside the tests. */
	if ((*pp = pool_new(base, 2, 1024)) == NULL ||
	    (r = registry_new(c, *pp, NULL)) == NULL ||
	    registry_start(r) == -1) {
		printf("Bail out! cannot start a registry\n");
		exit(EXIT_FAILURE);
	}
	while (!registry_all_started(r) && ms_now() < deadline)
		usleep(10000);
	return r;
}

static void
stop_registry(struct registry *r, struct pool *p)
{
	ck_assert_int_eq(pool_stop(p, registry_stop_worker, r, 15000), 0);
	registry_free(r);
	pool_free(p);
}

static int
sidx(const char *name)
{
	int	i = registry_find_server(reg, name, strlen(name));

	ck_assert_int_ge(i, 0);
	return i;
}

static struct tcall *
tcall_new(const char *server, const char *tool, const char *args,
    int timeout_ms)
{
	struct tcall	*t;
	int		 n;

	t = calloc(1, sizeof(*t));
	ck_assert_ptr_nonnull(t);
	t->sc.server = (size_t)sidx(server);
	t->sc.tool = strdup(tool);
	n = asprintf(&t->sc.params, "{\"name\":\"%s\",\"arguments\":%s}", tool,
	    args);
	ck_assert_int_gt(n, 0);
	t->sc.paramslen = (size_t)n;
	t->sc.timeout_ms = timeout_ms;
	t->sc.complete = tcomplete;
	t->sc.job.done = tdone;
	return t;
}

/* 1 when the call completed within ms. */
static int
tcall_wait(struct tcall *t, int ms)
{
	int64_t	deadline = ms_now() + ms;
	struct timespec	ts;

	pthread_mutex_lock(&tmtx);
	while (!t->done && ms_now() < deadline) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&tcond, &tmtx, &ts);
	}
	pthread_mutex_unlock(&tmtx);
	return t->done;
}

static void
tcall_free(struct tcall *t)
{
	server_call_clear(&t->sc);
	free(t);
}

/* Runs one call to completion; the caller frees it. */
static struct tcall *
run(const char *server, const char *tool, const char *args, int timeout_ms)
{
	struct tcall	*t = tcall_new(server, tool, args, timeout_ms);

	registry_submit(reg, &t->sc);
	ck_assert_msg(tcall_wait(t, timeout_ms + 5000), "%s/%s never completed",
	    server, tool);
	ck_assert_int_eq(t->ncomplete, 1);
	ck_assert_ptr_nonnull(t->sc.body);
	return t;
}

/* The reply body, parsed (caller puts it). */
static json_object *
body_of(struct tcall *t)
{
	json_object	*o = json_tokener_parse(t->sc.body);

	ck_assert_msg(o != NULL, "body is not JSON: %s", t->sc.body);
	ck_assert_uint_eq(strlen(t->sc.body), t->sc.bodylen);
	return o;
}

static const char *
str_at(json_object *o, const char *key)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Health field of one server (a copy of the string, caller frees). */
static json_object *
health_of(const char *server)
{
	json_object	*h = registry_health(reg), *s, *copy;

	ck_assert_ptr_nonnull(h);
	ck_assert(json_object_object_get_ex(h, server, &s));
	copy = json_tokener_parse(json_object_to_json_string(s));
	json_object_put(h);
	return copy;
}

static int
health_int(const char *server, const char *key)
{
	json_object	*h = health_of(server), *v;
	int		 n = -1;

	if (json_object_object_get_ex(h, key, &v))
		n = json_object_get_int(v);
	json_object_put(h);
	return n;
}

/* Remembers the process group of a server's current child. */
static void
note_pgid(const char *server)
{
	int	pid = health_int(server, "pid");

	if (pid > 0 && npgids < MAX_PGIDS)
		pgids[npgids++] = pid;
}

START_TEST(test_started)
{
	struct toolset		*ts;
	const struct tool	*t;
	json_object		*h, *v;
	size_t			 i;

	ck_assert_int_eq(registry_nservers(reg), 8);
	ck_assert_str_eq(registry_server_name(reg, (size_t)sidx("par")),
	    "par");
	ck_assert_int_eq(registry_find_server(reg, "dem", 3), -1);
	ck_assert_int_eq(registry_find_server(reg, "demox", 5), -1);

	h = health_of("demo");
	ck_assert_str_eq(str_at(h, "state"), "ready");
	json_object_put(h);
	h = health_of("par");
	ck_assert_str_eq(str_at(h, "state"), "ready");
	ck_assert(json_object_object_get_ex(h, "instances", &v));
	ck_assert_int_eq(json_object_get_int(v), 2);
	json_object_put(h);
	h = health_of("off");
	ck_assert_str_eq(str_at(h, "state"), "stopped");
	ck_assert(json_object_object_get_ex(h, "enabled", &v));
	ck_assert(!json_object_get_boolean(v));
	json_object_put(h);
	/* A command relative to our cwd while the child runs in /, and one
	 * found through the PATH of the entry's env. */
	h = health_of("env");
	ck_assert_str_eq(str_at(h, "state"), "ready");
	json_object_put(h);
	h = health_of("pathed");
	ck_assert_str_eq(str_at(h, "state"), "ready");
	json_object_put(h);
	ck_assert(registry_all_ready(reg) == 0);	/* missing, failinit */
	note_pgid("demo");
	note_pgid("par");
	note_pgid("wrapped");

	/* 12 tools over 3 pages of 5. */
	ts = registry_toolset(reg, (size_t)sidx("demo"));
	ck_assert_ptr_nonnull(ts);
	ck_assert_uint_eq(toolset_count(ts), 16);
	for (i = 1; i < toolset_count(ts); i++)
		ck_assert_int_lt(strcmp(toolset_tool(ts, i - 1)->name,
		    toolset_tool(ts, i)->name), 0);
	ck_assert_ptr_null(toolset_find(ts, "extra"));
	ck_assert_ptr_null(toolset_find(ts, "nosuch"));
	t = toolset_find(ts, "echo");
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t->full_name, "mcp__demo__echo");
	ck_assert_str_eq(t->name, "echo");
	ck_assert(strstr(t->search_text, "mcp__demo__echo echo a message") !=
	    NULL);
	ck_assert_ptr_nonnull(t->schema);
	ck_assert_int_eq(t->timeout_ms, 60000);
	h = json_tokener_parse(t->json);
	ck_assert_ptr_nonnull(h);
	ck_assert_str_eq(str_at(h, "name"), "mcp__demo__echo");
	ck_assert(json_object_object_get_ex(h, "parameters", &v));
	ck_assert(json_object_is_type(v, json_type_object));
	ck_assert(!json_object_object_get_ex(h, "outputSchema", &v));
	json_object_put(h);
	t = toolset_find(ts, "structured");
	ck_assert_ptr_nonnull(t);
	ck_assert(strstr(t->json, "\"outputSchema\":{") != NULL);
	/* Per-tool timeouts from the config. */
	ck_assert_int_eq(toolset_find(ts, "sleep")->timeout_ms, 1234);
	toolset_release(ts);

	/* The wrapper's demo uses one page: same tools. */
	ts = registry_toolset(reg, (size_t)sidx("wrapped"));
	ck_assert_ptr_nonnull(ts);
	ck_assert_uint_eq(toolset_count(ts), 16);
	toolset_release(ts);
	ck_assert_ptr_null(registry_toolset(reg, (size_t)sidx("missing")));
	ck_assert_ptr_null(registry_toolset(reg, 1000));
}
END_TEST

START_TEST(test_echo)
{
	struct tcall	*t;
	json_object	*o;

	t = run("demo", "echo", "{\"message\":\"hello / \\\"world\\\"\"}",
	    5000);
	ck_assert_int_eq(t->sc.status, 200);
	ck_assert_str_eq(t->sc.body, "{\"result\":\"hello / \\\"world\\\"\"}");
	tcall_free(t);

	t = run("demo", "add", "{\"a\":2,\"b\":40}", 5000);
	ck_assert_int_eq(t->sc.status, 200);
	o = body_of(t);
	ck_assert_str_eq(str_at(o, "result"), "42");
	json_object_put(o);
	tcall_free(t);
}
END_TEST

START_TEST(test_fail_422)
{
	struct tcall	*t;
	json_object	*o, *r, *v;

	t = run("demo", "fail", "{\"message\":\"broken on purpose\"}", 5000);
	ck_assert_int_eq(t->sc.status, 422);
	o = body_of(t);
	ck_assert_str_eq(str_at(o, "error"), "broken on purpose");
	ck_assert(json_object_object_get_ex(o, "result", &r));
	ck_assert(json_object_object_get_ex(r, "isError", &v));
	ck_assert(json_object_get_boolean(v));
	json_object_put(o);
	tcall_free(t);

	/* A tool error that says "not found" is still the tool's error. */
	t = run("demo", "fail", "{\"message\":\"Tool not found: file "
	    "x.txt\"}", 5000);
	ck_assert_int_eq(t->sc.status, 422);
	tcall_free(t);
}
END_TEST

/* Unknown tools are decided by the tool list, not by the server's words. */
START_TEST(test_unknown)
{
	struct tcall	*t;
	json_object	*o, *v;

	/* The demo server reports an unknown tool as a tool error: that is
	 * the server's answer (exec decides 404 from the list first). */
	t = run("demo", "echoo", "{}", 5000);
	ck_assert_int_eq(t->sc.status, 422);
	o = body_of(t);
	ck_assert_str_eq(str_at(o, "error"), "Unknown tool: echoo");
	ck_assert(json_object_object_get_ex(o, "result", &v));
	json_object_put(o);
	tcall_free(t);

	/* So are the server's own argument checks. */
	t = run("demo", "echo", "{\"repeat\":2}", 5000);
	ck_assert_int_eq(t->sc.status, 422);
	ck_assert(strstr(t->sc.body, "missing required argument") != NULL);
	tcall_free(t);

	/* A disabled server. */
	t = run("off", "echo", "{\"message\":\"x\"}", 5000);
	ck_assert_int_eq(t->sc.status, 503);
	tcall_free(t);
}
END_TEST

START_TEST(test_timeout)
{
	struct tcall	*t;
	json_object	*o;
	int64_t		 t0 = ms_now();

	t = run("demo", "sleep", "{\"ms\":3000}", 300);
	ck_assert_int_eq(t->sc.status, 504);
	ck_assert_int_lt(ms_now() - t0, 1500);
	o = body_of(t);
	ck_assert_str_eq(str_at(o, "error"),
	    "Tool call timed out after 300 ms");
	ck_assert_str_eq(str_at(o, "tool"), "mcp__demo__sleep");
	json_object_put(o);
	tcall_free(t);

	t0 = ms_now();
	t = run("demo", "echo", "{\"message\":\"after\"}", 5000);
	ck_assert_int_eq(t->sc.status, 200);
	ck_assert_int_lt(ms_now() - t0, 1000);
	ck_assert_int_eq(health_int("demo", "inflight"), 0);
	tcall_free(t);
}
END_TEST

START_TEST(test_crash)
{
	struct tcall	*t;
	json_object	*o;
	int		 restarts = health_int("demo", "restarts");

	t = run("demo", "crash", "{\"exitCode\":3}", 5000);
	ck_assert_int_eq(t->sc.status, 502);
	o = body_of(t);
	ck_assert_str_eq(str_at(o, "error"), "server 'demo' exited with status 3");
	ck_assert_str_eq(str_at(o, "server"), "demo");
	json_object_put(o);
	tcall_free(t);

	/* Queued until the restart, then answered. */
	t = run("demo", "echo", "{\"message\":\"again\"}", 10000);
	ck_assert_int_eq(t->sc.status, 200);
	ck_assert_str_eq(t->sc.body, "{\"result\":\"again\"}");
	tcall_free(t);
	ck_assert_int_eq(health_int("demo", "restarts"), restarts + 1);
	note_pgid("demo");
}
END_TEST

START_TEST(test_noise)
{
	struct tcall	*t;
	int64_t		 t0 = ms_now();

	t = run("demo", "noise", "{\"lines\":20000}", 10000);
	ck_assert_int_eq(t->sc.status, 200);
	tcall_free(t);
	t = run("demo", "echo", "{\"message\":\"calm\"}", 5000);
	ck_assert_int_eq(t->sc.status, 200);
	tcall_free(t);
	ck_assert_int_lt(ms_now() - t0, 5000);
}
END_TEST

START_TEST(test_big)
{
	struct tcall	*t;
	json_object	*o, *v;
	size_t		 n = 5 * 1024 * 1024;
	char		 args[64];

	snprintf(args, sizeof(args), "{\"bytes\":%zu}", n);
	t = run("demo", "big", args, 20000);
	ck_assert_int_eq(t->sc.status, 200);
	o = body_of(t);
	ck_assert(json_object_object_get_ex(o, "result", &v));
	ck_assert_int_eq(json_object_get_string_len(v), (int)n);
	json_object_put(o);
	tcall_free(t);
}
END_TEST

/* Arguments larger than the pipe: partial writes, the rest on EV_WRITE,
 * while other calls queue behind them in order. */
START_TEST(test_big_request)
{
	struct tcall	*t[3];
	json_object	*o, *v;
	size_t		 n = 2 * 1024 * 1024;
	char		*args;
	int		 i;

	args = malloc(n + 32);
	ck_assert_ptr_nonnull(args);
	memcpy(args, "{\"message\":\"", 12);
	memset(args + 12, 'x', n);
	memcpy(args + 12 + n, "\"}", 3);
	for (i = 0; i < 3; i++) {
		t[i] = tcall_new("demo", "echo", i == 1 ?
		    "{\"message\":\"small\"}" : args, 20000);
		registry_submit(reg, &t[i]->sc);
	}
	free(args);
	for (i = 0; i < 3; i++) {
		ck_assert(tcall_wait(t[i], 20000));
		ck_assert_int_eq(t[i]->sc.status, 200);
	}
	ck_assert_str_eq(t[1]->sc.body, "{\"result\":\"small\"}");
	o = body_of(t[2]);
	ck_assert(json_object_object_get_ex(o, "result", &v));
	ck_assert_int_eq(json_object_get_string_len(v), (int)n);
	json_object_put(o);
	for (i = 0; i < 3; i++)
		tcall_free(t[i]);
}
END_TEST

START_TEST(test_concurrency)
{
	struct tcall	*t[200];
	int64_t		 t0 = ms_now();
	int		 i;

	for (i = 0; i < 200; i++) {
		t[i] = tcall_new("par", "sleep", "{\"ms\":1000}", 10000);
		registry_submit(reg, &t[i]->sc);
	}
	for (i = 0; i < 200; i++) {
		ck_assert(tcall_wait(t[i], 10000));
		ck_assert_int_eq(t[i]->sc.status, 200);
		ck_assert_int_eq(t[i]->ncomplete, 1);
	}
	ck_assert_int_lt(ms_now() - t0, 3000);
	for (i = 0; i < 200; i++)
		tcall_free(t[i]);
	ck_assert_int_eq(health_int("par", "inflight"), 0);
	ck_assert_int_eq(health_int("par", "queued"), 0);
}
END_TEST

START_TEST(test_capacity)
{
	struct tcall	*t[3];
	json_object	*o;
	int		 i;

	/* maxConcurrent 1: the second call waits, the third times out in
	 * the queue with 504. */
	t[0] = tcall_new("wrapped", "sleep", "{\"ms\":600}", 5000);
	t[1] = tcall_new("wrapped", "echo", "{\"message\":\"next\"}", 5000);
	t[2] = tcall_new("wrapped", "echo", "{\"message\":\"late\"}", 200);
	for (i = 0; i < 3; i++)
		registry_submit(reg, &t[i]->sc);
	for (i = 0; i < 3; i++)
		ck_assert(tcall_wait(t[i], 6000));
	ck_assert_int_eq(t[0]->sc.status, 200);
	ck_assert_int_eq(t[1]->sc.status, 200);
	ck_assert_int_eq(t[2]->sc.status, 504);
	o = body_of(t[2]);
	ck_assert(strstr(str_at(o, "error"), "timed out after 200 ms") !=
	    NULL);
	json_object_put(o);
	for (i = 0; i < 3; i++)
		tcall_free(t[i]);
}
END_TEST

START_TEST(test_missing)
{
	json_object	*h;
	struct tcall	*t;
	int64_t		 t0 = ms_now();

	h = health_of("missing");
	ck_assert_str_eq(str_at(h, "state"), "failed");
	ck_assert_str_eq(str_at(h, "lastError"), "cannot execute "
	    "'/nonexistent/mcp-nothing': No such file or directory");
	json_object_put(h);
	/* Answered at once, not after the call's timeout. */
	t = run("missing", "echo", "{}", 20000);
	ck_assert_int_eq(t->sc.status, 503);
	ck_assert_int_ge(t->sc.retry_after, 1);
	ck_assert_int_le(t->sc.retry_after, 5);
	ck_assert(strstr(t->sc.body, "is not available: cannot execute") !=
	    NULL);
	tcall_free(t);
	ck_assert_int_lt(ms_now() - t0, 1000);
}
END_TEST

START_TEST(test_fail_init)
{
	json_object	*h;
	int64_t		 deadline = ms_now() + 8000;
	int		 restarts;

	/* Backoff 100, 200, 400, 800 ms: at least 3 restarts in ~2 s. */
	while ((restarts = health_int("failinit", "restarts")) < 3 &&
	    ms_now() < deadline)
		usleep(50000);
	ck_assert_int_ge(restarts, 3);
	h = health_of("failinit");
	ck_assert_str_ne(str_at(h, "state"), "ready");
	ck_assert_str_eq(str_at(h, "lastError"),
	    "server 'failinit' exited with status 2");
	json_object_put(h);
	usleep(500000);
	/* Not a tight loop: backoff keeps the count small. */
	ck_assert_int_le(health_int("failinit", "restarts"), 8);
}
END_TEST

START_TEST(test_list_changed)
{
	struct tcall	*t;
	struct toolset	*ts;
	int64_t		 deadline;
	int		 found = 0;

	t = run("demo", "toggle_extra_tool", "{}", 5000);
	ck_assert_int_eq(t->sc.status, 200);
	ck_assert_str_eq(t->sc.body, "{\"result\":\"extra tool added\"}");
	tcall_free(t);
	for (deadline = ms_now() + 3000; !found && ms_now() < deadline;) {
		ts = registry_toolset(reg, (size_t)sidx("demo"));
		found = ts != NULL && toolset_find(ts, "extra") != NULL;
		if (found)
			ck_assert_uint_eq(toolset_count(ts), 17);
		toolset_release(ts);
		if (!found)
			usleep(20000);
	}
	ck_assert(found);
	ck_assert_int_eq(health_int("demo", "tools"), 17);
	t = run("demo", "extra", "{}", 5000);
	ck_assert_int_eq(t->sc.status, 200);
	tcall_free(t);
}
END_TEST

START_TEST(test_ask_client)
{
	struct tcall	*t;

	t = run("demo", "ask_client", "{}", 5000);
	ck_assert_int_eq(t->sc.status, 200);
	ck_assert_str_eq(t->sc.body,
	    "{\"result\":\"ping:ok roots:error -32601\"}");
	tcall_free(t);

	/* Progress notifications while the call runs are harmless. */
	t = tcall_new("demo", "progress", "{\"steps\":3}", 5000);
	free(t->sc.params);
	t->sc.params = strdup("{\"name\":\"progress\",\"arguments\":"
	    "{\"steps\":3},\"_meta\":{\"progressToken\":\"tok-1\"}}");
	t->sc.paramslen = strlen(t->sc.params);
	registry_submit(reg, &t->sc);
	ck_assert(tcall_wait(t, 5000));
	ck_assert_int_eq(t->sc.status, 200);
	tcall_free(t);
}
END_TEST

START_TEST(test_structured)
{
	struct tcall	*t;
	json_object	*o, *r, *v;

	t = run("demo", "structured", "{\"city\":\"Paris\"}", 5000);
	ck_assert_int_eq(t->sc.status, 200);
	o = body_of(t);
	ck_assert(json_object_object_get_ex(o, "result", &r));
	/* Either the text block or the whole result with
	 * structuredContent. */
	if (json_object_is_type(r, json_type_object))
		ck_assert(json_object_object_get_ex(r, "structuredContent",
		    &v));
	else
		ck_assert(json_object_is_type(r, json_type_string));
	json_object_put(o);
	tcall_free(t);
}
END_TEST

START_TEST(test_stop)
{
	struct tcall	*t;
	int64_t		 t0;
	int		 i, status;

	note_pgid("demo");
	note_pgid("wrapped");
	ck_assert_int_ge(npgids, 4);
	t = tcall_new("demo", "sleep", "{\"ms\":20000}", 30000);
	registry_submit(reg, &t->sc);
	usleep(100000);
	t0 = ms_now();
	ck_assert_int_eq(pool_stop(pool, registry_stop_worker, reg, 15000), 0);
	ck_assert_int_lt(ms_now() - t0, 4000);
	ck_assert(t->done);
	ck_assert_int_eq(t->ncomplete, 1);
	ck_assert_int_eq(t->sc.status, 502);
	tcall_free(t);

	/* Every group is gone (the wrapper's background sleep too, once
	 * init has reaped it), and no child is left to reap. */
	for (i = 0; i < npgids; i++) {
		int64_t deadline = ms_now() + 2000;

		while (kill(-pgids[i], 0) == 0 && ms_now() < deadline)
			usleep(10000);
		ck_assert_msg(kill(-pgids[i], 0) == -1 && errno == ESRCH,
		    "process group %d is still there", (int)pgids[i]);
	}
	ck_assert_int_eq(waitpid(-1, &status, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
}
END_TEST

/* A second registry: small maxMessageBytes, a start timeout. */
START_TEST(test_limits)
{
	struct config	*c2;
	struct registry	*r2, *saved = reg;
	struct pool	*p2;
	struct event_base *b2;
	struct tcall	*t;
	json_object	*h;
	char		*text, err[CONFIG_ERR_MAX];

	ck_assert_int_gt(asprintf(&text, "{\"maxMessageBytes\": 65536, "
	    "\"startTimeoutMs\": 400, \"mcpServers\": {"
	    "\"small\": {\"command\": \"%s\"},"
	    "\"slow\": {\"command\": \"%s\", \"args\": [\"--slow-start\", "
	    "\"5000\"]}}}", demo, demo), 0);
	c2 = config_parse(text, "limits", err, sizeof(err));
	free(text);
	ck_assert_msg(c2 != NULL, "%s", err);
	b2 = event_base_new();
	r2 = start_registry(c2, b2, &p2);
	reg = r2;
	ck_assert(!registry_all_ready(r2));

	t = run("small", "big", "{\"bytes\":100000}", 5000);
	ck_assert_int_eq(t->sc.status, 502);
	ck_assert_str_eq(t->sc.body, "{\"error\":\"server 'small' sent a "
	    "message larger than maxMessageBytes (65536 bytes)\",\"server\":"
	    "\"small\"}");
	tcall_free(t);
	/* The reader resynced at the next line. */
	t = run("small", "echo", "{\"message\":\"fits\"}", 5000);
	ck_assert_int_eq(t->sc.status, 200);
	tcall_free(t);
	t = run("small", "big", "{\"bytes\":1000}", 5000);
	ck_assert_int_eq(t->sc.status, 200);
	tcall_free(t);

	h = health_of("slow");
	ck_assert_str_ne(str_at(h, "state"), "ready");
	ck_assert_str_eq(str_at(h, "lastError"),
	    "server 'slow' did not start within 400 ms");
	json_object_put(h);
	/* A call to a server still starting: 503 after its timeout. */
	t = run("slow", "echo", "{\"message\":\"x\"}", 300);
	ck_assert_int_eq(t->sc.status, 503);
	ck_assert(strstr(t->sc.body, "server 'slow' is not available") !=
	    NULL);
	tcall_free(t);

	stop_registry(r2, p2);
	event_base_free(b2);
	config_free(c2);
	reg = saved;
}
END_TEST

static int
scan(const char *s, int64_t *id)
{
	return rpc_scan_id(s, strlen(s), id);
}

START_TEST(test_reply_mapping)
{
	struct config_server	 cs;
	struct toolset		*ts;
	json_object		*r, *b = NULL;
	int64_t			 id;

	/* isError is the tool's own error, whatever its text says. */
	r = json_tokener_parse("{\"content\":[{\"type\":\"text\",\"text\":"
	    "\"Unknown tool: zap\"}],\"isError\":true}");
	ck_assert_int_eq(reply_result("s", "mcp__s__zap", r, 0, &b), 422);
	ck_assert_str_eq(str_at(b, "error"), "Unknown tool: zap");
	json_object_put(b);
	json_object_put(r);

	r = json_tokener_parse("{\"content\":[],\"isError\":true}");
	ck_assert_int_eq(reply_result("s", "f", r, 0, &b), 422);
	ck_assert_str_eq(str_at(b, "error"), "tool reported an error");
	json_object_put(b);
	json_object_put(r);

	r = json_tokener_parse("{\"content\":[{\"type\":\"text\",\"text\":"
	    "\"\"}],\"structuredContent\":{\"a\":1}}");
	ck_assert_int_eq(reply_result("s", "f", r, 0, &b), 200);
	ck_assert_str_eq(json_object_to_json_string_ext(b,
	    JSON_C_TO_STRING_PLAIN), "{\"result\":{\"content\":[{\"type\":"
	    "\"text\",\"text\":\"\"}],\"structuredContent\":{\"a\":1}}}");
	json_object_put(b);
	json_object_put(r);

	/* "result":"full": the whole CallToolResult, even after a first
	 * text block (what follows it, structuredContent, _meta). */
	r = json_tokener_parse("{\"content\":[{\"type\":\"text\",\"text\":"
	    "\"hi\"},{\"type\":\"image\",\"data\":\"AA==\",\"mimeType\":"
	    "\"image/png\"}],\"structuredContent\":{\"a\":1},\"_meta\":"
	    "{\"k\":2}}");
	ck_assert_int_eq(reply_result("s", "f", r, 0, &b), 200);
	ck_assert_str_eq(json_object_to_json_string_ext(b,
	    JSON_C_TO_STRING_PLAIN), "{\"result\":\"hi\"}");
	json_object_put(b);
	ck_assert_int_eq(reply_result("s", "f", r, 1, &b), 200);
	ck_assert_str_eq(json_object_to_json_string_ext(b,
	    JSON_C_TO_STRING_PLAIN), "{\"result\":{\"content\":[{\"type\":"
	    "\"text\",\"text\":\"hi\"},{\"type\":\"image\",\"data\":"
	    "\"AA==\",\"mimeType\":\"image\\/png\"}],\"structuredContent\":"
	    "{\"a\":1},\"_meta\":{\"k\":2}}}");
	json_object_put(b);
	json_object_put(r);
	r = json_tokener_parse("{\"content\":[{\"type\":\"text\",\"text\":"
	    "\"bad\"}],\"isError\":true}");
	ck_assert_int_eq(reply_result("s", "f", r, 1, &b), 422);
	ck_assert_str_eq(str_at(b, "error"), "bad");
	json_object_put(b);
	json_object_put(r);

	r = json_object_new_int(3);
	ck_assert_int_eq(reply_result("s", "f", r, 0, &b), 502);
	ck_assert(strstr(str_at(b, "error"), "unusable reply") != NULL);
	json_object_put(b);
	json_object_put(r);

	/* JSON-RPC errors: the tool list decides "unknown". */
	memset(&cs, 0, sizeof(cs));
	cs.name = (char *)(uintptr_t)"s";
	r = json_tokener_parse("[{\"name\":\"t\"},{\"name\":\"u\"}]");
	ts = toolset_build("s", &cs, r, 1, NULL);
	json_object_put(r);
	ck_assert_int_eq(reply_error("s", "mcp__s__t", ts, "t", -32602,
	    "Tool t not found", NULL, &b), 400);
	ck_assert_str_eq(str_at(b, "error"),
	    "server 's' rejected the arguments: Tool t not found");
	json_object_put(b);
	ck_assert_int_eq(reply_error("s", "mcp__s__v", ts, "v", -32602,
	    "bad x", NULL, &b), 404);
	ck_assert_str_eq(json_object_to_json_string_ext(b,
	    JSON_C_TO_STRING_PLAIN), "{\"error\":\"Tool 'mcp__s__v' not "
	    "found\",\"details\":\"bad x\",\"suggestions\":[\"mcp__s__t\","
	    "\"mcp__s__u\"]}");
	json_object_put(b);
	r = json_object_new_string("why");
	ck_assert_int_eq(reply_error("s", "mcp__s__t", ts, "t", -32000,
	    "boom", r, &b), 502);
	ck_assert_str_eq(json_object_to_json_string_ext(b,
	    JSON_C_TO_STRING_PLAIN), "{\"error\":\"server 's' returned "
	    "JSON-RPC error -32000: boom\",\"data\":\"why\"}");
	json_object_put(b);
	json_object_put(r);
	toolset_release(ts);

	ck_assert_int_eq(scan("{\"jsonrpc\":\"2.0\",\"id\":42,", &id), 0);
	ck_assert_int_eq(id, 42);
	ck_assert_int_eq(scan("{\"result\":{\"id\":7,\"x\":\"\\\"id\\\":9\"},"
	    "\"id\" : -8}", &id), 0);
	ck_assert_int_eq(id, -8);
	ck_assert_int_eq(scan("{\"id\":\"str\",\"x\":1}", &id), -1);
	ck_assert_int_eq(scan("{\"jsonrpc\":\"2.0\",\"id\":12", &id),
	    -1);	/* cut: 12 or 123? */
	ck_assert_int_eq(scan("{\"id\":1.5}", &id), -1);
	ck_assert_int_eq(scan("{\"result\":{\"id\":7}", &id), -1);
}
END_TEST

START_TEST(test_toolset_build)
{
	struct config_server	 cs;
	struct toolset		*ts;
	json_object		*tools, *o;
	const struct tool	*t;

	memset(&cs, 0, sizeof(cs));
	cs.name = (char *)(uintptr_t)"x";
	cs.timeout_ms = 777;
	tools = json_tokener_parse("[{\"name\":\"b\",\"description\":\"Bee "
	    "TOOL\",\"inputSchema\":{\"type\":\"object\",\"properties\":{\"u\":"
	    "{\"type\":\"string\",\"format\":\"uri\",\"pattern\":\"^a/b$\"}}},"
	    "\"annotations\":{\"readOnlyHint\":true},\"title\":\"Bee\","
	    "\"execution\":{\"taskSupport\":\"optional\"},\"_meta\":{\"k\":"
	    "[1]},\"icons\":[{\"src\":\"data:,\"}],\"parameters\":1,"
	    "\"validated\":true},"
	    "{\"name\":\"\"}, {\"name\":5}, 7, {\"description\":\"x\"},"
	    "{\"name\":\"a\",\"inputSchema\":{\"$ref\":\"#/nowhere\"}},"
	    "{\"name\":\"b\"}]");
	ck_assert_ptr_nonnull(tools);
	ts = toolset_build("x", &cs, tools, 99, NULL);
	json_object_put(tools);
	ck_assert_ptr_nonnull(ts);
	ck_assert_uint_eq(toolset_count(ts), 2);
	ck_assert_str_eq(toolset_tool(ts, 0)->name, "a");
	ck_assert_ptr_null(toolset_tool(ts, 0)->schema);	/* bad $ref */
	ck_assert_int_eq(toolset_tool(ts, 0)->unvalidated, 1);
	ck_assert_uint_eq(toolset_unvalidated(ts), 1);
	ck_assert(toolset_hash(ts) == 99);
	ck_assert_ptr_nonnull(strstr(toolset_tool(ts, 0)->json,
	    ",\"validated\":false}"));
	t = toolset_find(ts, "b");
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t->search_text, "mcp__x__b bee tool");
	ck_assert_int_eq(t->timeout_ms, 777);
	ck_assert_str_eq(t->json, "{\"name\":\"mcp__x__b\",\"description\":"
	    "\"Bee TOOL\",\"parameters\":{\"type\":\"object\",\"properties\":"
	    "{\"u\":{\"type\":\"string\",\"format\":\"uri\",\"pattern\":"
	    "\"^a/b$\"}}},\"annotations\":{\"readOnlyHint\":true},"
	    "\"title\":\"Bee\",\"execution\":{\"taskSupport\":\"optional\"},"
	    "\"_meta\":{\"k\":[1]},\"icons\":[{\"src\":\"data:,\"}]}");
	o = toolset_suggestions(&ts, 1, "mcp__x__bb", 3);
	ck_assert_str_eq(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN), "[\"mcp__x__b\",\"mcp__x__a\"]");
	json_object_put(o);
	toolset_release(ts);
}
END_TEST

static Suite *
registry_suite(void)
{
	Suite	*s = suite_create("registry");
	TCase	*tc = tcase_create("registry");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_reply_mapping);
	tcase_add_test(tc, test_toolset_build);
	tcase_add_test(tc, test_started);
	tcase_add_test(tc, test_echo);
	tcase_add_test(tc, test_fail_422);
	tcase_add_test(tc, test_unknown);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_crash);
	tcase_add_test(tc, test_noise);
	tcase_add_test(tc, test_big);
	tcase_add_test(tc, test_big_request);
	tcase_add_test(tc, test_concurrency);
	tcase_add_test(tc, test_capacity);
	tcase_add_test(tc, test_missing);
	tcase_add_test(tc, test_fail_init);
	tcase_add_test(tc, test_list_changed);
	tcase_add_test(tc, test_ask_client);
	tcase_add_test(tc, test_structured);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_stop);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	struct event_base	*base;
	char			*text, err[CONFIG_ERR_MAX];
	int			 rc;

	demo = getenv("MCP_DEMO_SERVER");
	if (demo == NULL || access(demo, X_OK) == -1) {
		printf("1..0 # SKIP MCP_DEMO_SERVER is not set or not "
		    "executable\n");
		return EXIT_SUCCESS;
	}
	signal(SIGPIPE, SIG_IGN);
	log_init(getenv("TEST_VERBOSE") != NULL);
	if (asprintf(&text, "{\"startTimeoutMs\": 10000, \"mcpServers\": {"
	    "\"demo\": {\"command\": \"%s\", \"args\": [\"--page-size\", \"5\"],"
	    "  \"toolTimeouts\": {\"sleep\": 1234}},"
	    "\"par\": {\"command\": \"%s\", \"instances\": 2,"
	    "  \"maxConcurrent\": 128},"
	    "\"missing\": {\"command\": \"/nonexistent/mcp-nothing\"},"
	    "\"failinit\": {\"command\": \"%s\", \"args\": [\"--fail-init\"]},"
	    "\"wrapped\": {\"command\": \"/bin/sh\", \"args\": [\"-c\","
	    "  \"sleep 300 & exec \\\"$0\\\" --page-size 0\", \"%s\"],"
	    "  \"maxConcurrent\": 1},"
	    "\"off\": {\"command\": \"%s\", \"disabled\": true},"
	    "\"env\": {\"command\": \"%s\", \"cwd\": \"/\", \"env\": {\"A\": \"b\"},"
	    "  \"inheritEnv\": true},"
	    "\"pathed\": {\"command\": \"%s\", \"env\": {\"PATH\": \"/nonexistent:%s\"}}"
	    "}}", demo, demo, demo, demo, demo, relative_demo(), demo_base(),
	    demo_dir()) == -1)
		return EXIT_FAILURE;
	if ((cfg = config_parse(text, "test", err, sizeof(err))) == NULL) {
		printf("Bail out! config: %s\n", err);
		return EXIT_FAILURE;
	}
	free(text);
	if ((base = event_base_new()) == NULL) {
		printf("Bail out! event_base_new failed\n");
		return EXIT_FAILURE;
	}
	reg = start_registry(cfg, base, &pool);

	/* test_stop (the last) stopped the pool already. */
	rc = unit_run(registry_suite());
	registry_free(reg);
	pool_free(pool);
	event_base_free(base);
	config_free(cfg);
	return rc;
}
