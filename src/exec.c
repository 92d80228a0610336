/*
 * exec.c: POST / - {"toolName":"mcp__<server>__<tool>","params":{...}}.
 *
 * The loop thread copies the body into a call. A small body is handled at
 * once on the loop thread; a large one goes to a worker of the pool. Either
 * parses it, checks the allowlist, finds the tool, validates the arguments
 * against its schema and encodes the tools/call params, then hands the
 * call to the registry (the I/O thread), which completes it. Any
 * failure before that completes the call at once with an HTTP error. The
 * loop thread answers in exec_done(), unless a drain that timed out has
 * answered already.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <json-c/json.h>

#include "allowlist.h"
#include "config.h"
#include "exec.h"
#include "http.h"
#include "log.h"
#include "pool.h"
#include "ratelimit.h"
#include "registry.h"
#include "rpc.h"
#include "schema.h"

#define EXEC_TOOL_PREFIX	"mcp__"
#define EXEC_MAX_SUGGESTIONS	3
/*
 * Bodies up to this size are parsed, checked and validated on the loop
 * thread itself (a few microseconds), which saves a thread hop and two
 * context switches per call; larger ones go through the worker pool so a
 * big body never stalls the loop.
 */
#define EXEC_INLINE_MAX		(16 * 1024)

struct exec_call {
	struct server_call	 sc;	/* first: sc.job is the pool job */
	struct http_pending	 hp;
	char			*in;
	size_t			 inlen;
};

static void	exec_handle(struct evhttp_request *,
		    const struct auth_caller *, void *);
static void	exec_run(struct job *);
static void	exec_done(struct job *);
static void	exec_complete(struct server_call *);
static void	exec_fail(struct exec_call *, int, json_object *);
static void	exec_fail_msg(struct exec_call *, int, const char *);
static json_object *exec_suggestions(const char *);

static struct pool		*exec_pool;
static struct registry		*exec_registry;
static const struct config	*exec_cfg;
static const struct allowlist	*exec_allow;
static struct ratelimit		*exec_rl;
static pthread_t		 exec_loop_thread;

void
exec_init(struct pool *pool, struct registry *reg, const struct config *cfg,
    const struct allowlist *allow)
{
	exec_pool = pool;
	exec_registry = reg;
	exec_loop_thread = pthread_self();
	exec_cfg = cfg;
	exec_allow = allow;
	exec_rl = NULL;
	if (cfg->rate_execute.requests > 0) {
		exec_rl = ratelimit_new(cfg->rate_execute.requests,
		    cfg->rate_execute.window_s);
		if (exec_rl == NULL)
			fatalx("%s: cannot create the rate limiter", __func__);
		http_sweep_ratelimit(exec_rl);
	}
}

void
exec_free(void)
{
	ratelimit_free(exec_rl);
	exec_rl = NULL;
}

void
exec_register(void)
{
	http_add_route("/", HTTP_M_POST, exec_handle, NULL);
}

static void
exec_call_free(struct exec_call *ec)
{
	server_call_clear(&ec->sc);
	free(ec->in);
	free(ec);
}

/* Loop thread. */
static void
exec_handle(struct evhttp_request *req, const struct auth_caller *caller,
    void *arg)
{
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	struct exec_call	*ec;

	/* The rate limit comes before any other work. */
	if (http_rate_limited(req, exec_rl, caller))
		return;
	if ((ec = calloc(1, sizeof(*ec))) == NULL)
		goto nomem;
	ec->inlen = evbuffer_get_length(in);
	if ((ec->in = malloc(ec->inlen + 1)) == NULL)
		goto nomem;
	if (evbuffer_remove(in, ec->in, ec->inlen) != (int)ec->inlen)
		goto nomem;
	ec->in[ec->inlen] = '\0';
	ec->sc.job.run = exec_run;
	ec->sc.job.done = exec_done;
	ec->sc.complete = exec_complete;
	http_pending_add(&ec->hp, req);
	if (ec->inlen <= EXEC_INLINE_MAX) {
		exec_run(&ec->sc.job);
		return;
	}
	if (pool_submit(exec_pool, &ec->sc.job) == -1) {
		http_pending_remove(&ec->hp);
		exec_call_free(ec);
		http_reply_error(req, 503, "Service Unavailable - too many "
		    "requests queued, retry later", 1);
	}
	return;
nomem:
	if (ec != NULL)
		exec_call_free(ec);
	http_reply_error(req, 500, "out of memory", 0);
}

/* Loop thread: the one place a tool call is answered. */
static void
exec_done(struct job *j)
{
	struct exec_call	*ec = (struct exec_call *)j;
	struct evhttp_request	*req;

	req = http_pending_remove(&ec->hp);
	if (req != NULL) {
		if (ec->sc.status == 0 || ec->sc.body == NULL)
			http_reply_error(req, 503, "Service Unavailable - "
			    "server is shutting down", 1);
		else {
			http_reply_take(req, ec->sc.status, ec->sc.body,
			    ec->sc.bodylen, ec->sc.retry_after);
			ec->sc.body = NULL;
		}
	}
	exec_call_free(ec);
}

/* Any thread. On the loop thread (the registry shares its base, or an
 * early error of an inline call) the answer goes out at once; from any
 * other thread through the pool's completion list. Nothing may touch the
 * call after this. */
static void
exec_complete(struct server_call *sc)
{
	if (pthread_equal(pthread_self(), exec_loop_thread))
		sc->job.done(&sc->job);
	else
		pool_complete(exec_pool, &sc->job);
}

static void
exec_fail(struct exec_call *ec, int status, json_object *o)
{
	size_t		 len;
	const char	*s;

	s = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	ec->sc.status = status;
	ec->sc.body = strndup(s, len);
	ec->sc.bodylen = ec->sc.body != NULL ? len : 0;
	json_object_put(o);
	exec_complete(&ec->sc);
}

static void
exec_fail_msg(struct exec_call *ec, int status, const char *msg)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	exec_fail(ec, status, o);
}

/* Up to three known tool names close to name (edit distance or substring). */
static json_object *
exec_suggestions(const char *name)
{
	const char	*best[EXEC_MAX_SUGGESTIONS];
	int		 bestd[EXEC_MAX_SUGGESTIONS];
	struct toolset	*held[64];
	size_t		 s, i, nheld = 0, n = 0, k;
	json_object	*arr = json_object_new_array();
	int		 d, limit;

	limit = (int)strlen(name) / 3 + 2;
	for (s = 0; s < registry_nservers(exec_registry) && nheld < 64; s++) {
		struct toolset *ts = registry_toolset(exec_registry, s);

		if (ts == NULL)
			continue;
		held[nheld++] = ts;
		for (i = 0; i < toolset_count(ts); i++) {
			const char *cand = toolset_tool(ts, i)->full_name;

			d = toolset_name_distance(name, cand);
			if (d > limit && strstr(cand, name) == NULL &&
			    strstr(name, cand) == NULL)
				continue;
			if (d > limit)
				d = limit;
			for (k = n; k > 0 && bestd[k - 1] > d; k--)
				if (k < EXEC_MAX_SUGGESTIONS) {
					best[k] = best[k - 1];
					bestd[k] = bestd[k - 1];
				}
			if (k < EXEC_MAX_SUGGESTIONS) {
				best[k] = cand;
				bestd[k] = d;
				if (n < EXEC_MAX_SUGGESTIONS)
					n++;
			}
		}
	}
	for (k = 0; k < n; k++)
		json_object_array_add(arr, json_object_new_string(best[k]));
	for (i = 0; i < nheld; i++)
		toolset_release(held[i]);
	return arr;
}

static void
exec_not_found(struct exec_call *ec, const char *full, const char *why)
{
	json_object	*o = json_object_new_object();
	char		 msg[512];

	snprintf(msg, sizeof(msg), "Tool '%s' not found", full);
	json_object_object_add(o, "error", json_object_new_string(msg));
	if (why != NULL)
		json_object_object_add(o, "details",
		    json_object_new_string(why));
	json_object_object_add(o, "suggestions", exec_suggestions(full));
	exec_fail(ec, 404, o);
}

static void
exec_invalid(struct exec_call *ec, const char *full, const struct schema *sch,
    struct schema_result *res)
{
	json_object		*o, *details, *d, *req, *opt;
	const char *const	*names;
	char			 msg[1024];
	size_t			 i;

	snprintf(msg, sizeof(msg), "Parameter validation failed for \"%s\": "
	    "%s%s%s", full, res->nerrors > 0 ? res->errors[0].path : "",
	    res->nerrors > 0 && res->errors[0].path[0] != '\0' ? ": " : "",
	    res->nerrors > 0 ? res->errors[0].message : "invalid");
	o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(msg));
	details = json_object_new_array();
	for (i = 0; i < res->nerrors; i++) {
		d = json_object_new_object();
		json_object_object_add(d, "path",
		    json_object_new_string(res->errors[i].path));
		json_object_object_add(d, "message",
		    json_object_new_string(res->errors[i].message));
		json_object_array_add(details, d);
	}
	json_object_object_add(o, "details", details);
	if (res->truncated)
		json_object_object_add(o, "truncated",
		    json_object_new_boolean(1));
	req = json_object_new_array();
	for (names = schema_required(sch); *names != NULL; names++)
		json_object_array_add(req, json_object_new_string(*names));
	opt = json_object_new_array();
	for (names = schema_optional(sch); *names != NULL; names++)
		json_object_array_add(opt, json_object_new_string(*names));
	json_object_object_add(o, "required", req);
	json_object_object_add(o, "optional", opt);
	exec_fail(ec, 400, o);
}

static void
exec_not_allowed(struct exec_call *ec, const char *full)
{
	json_object	*o = json_object_new_object(), *arr;
	char		 msg[512];
	size_t		 i;

	snprintf(msg, sizeof(msg), "Tool '%s' not in allowlist", full);
	json_object_object_add(o, "error", json_object_new_string(msg));
	arr = json_object_new_array();
	for (i = 0; i < allowlist_count(exec_allow); i++)
		json_object_array_add(arr, json_object_new_string(
		    allowlist_pattern(exec_allow, i)));
	json_object_object_add(o, "allowedTools", arr);
	snprintf(msg, sizeof(msg), "Add '%s' to allowedTools in the "
	    "mcp-proxyd configuration", full);
	json_object_object_add(o, "suggestion", json_object_new_string(msg));
	exec_fail(ec, 403, o);
}

/* A worker thread, or the loop thread for a small body. */
static void
exec_run(struct job *j)
{
	struct exec_call	*ec = (struct exec_call *)j;
	struct json_tokener	*tok = NULL;
	json_object		*root = NULL, *v, *params, *call = NULL;
	struct toolset		*ts = NULL;
	const struct tool	*tool = NULL;
	const char		*full, *srv, *sep, *s;
	char			 msg[512];
	size_t			 len;
	int			 server;

	if ((tok = rpc_thread_tokener()) == NULL) {
		exec_fail_msg(ec, 500, "out of memory");
		return;
	}
	root = json_tokener_parse_ex(tok, ec->in, (int)ec->inlen);
	if (root == NULL || json_tokener_get_parse_end(tok) != ec->inlen) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		snprintf(msg, sizeof(msg), "Invalid JSON body: %s",
		    root != NULL ? "trailing bytes after the JSON value" :
		    e == json_tokener_continue ? "unexpected end of input" :
		    json_tokener_error_desc(e));
		exec_fail_msg(ec, 400, msg);
		goto done;
	}
	if (!json_object_is_type(root, json_type_object)) {
		exec_fail_msg(ec, 400, "Invalid request: the body must be a "
		    "JSON object {\"toolName\": ..., \"params\": {...}}");
		goto done;
	}
	if (!json_object_object_get_ex(root, "toolName", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		exec_fail_msg(ec, 400, "Missing or invalid toolName: expected "
		    "a string like \"mcp__<server>__<tool>\"");
		goto done;
	}
	full = json_object_get_string(v);
	srv = full + strlen(EXEC_TOOL_PREFIX);
	if (strncmp(full, EXEC_TOOL_PREFIX, strlen(EXEC_TOOL_PREFIX)) != 0 ||
	    (sep = strstr(srv, "__")) == NULL || sep == srv ||
	    sep[2] == '\0' || strlen(full) > 256) {
		snprintf(msg, sizeof(msg), "Invalid toolName '%.256s': expected "
		    "\"mcp__<server>__<tool>\"", full);
		exec_fail_msg(ec, 400, msg);
		goto done;
	}
	for (s = full; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20) {
			exec_fail_msg(ec, 400, "Invalid toolName: control "
			    "characters");
			goto done;
		}
	if (!json_object_object_get_ex(root, "params", &params) ||
	    json_object_is_type(params, json_type_null))
		params = NULL;
	else if (!json_object_is_type(params, json_type_object)) {
		exec_fail_msg(ec, 400, "Invalid params: expected a JSON object "
		    "of the tool's arguments");
		goto done;
	}
	/* The allowlist comes before anything reaches a server. */
	if (!allowlist_match(exec_allow, full)) {
		exec_not_allowed(ec, full);
		goto done;
	}
	server = registry_find_server(exec_registry, srv, (size_t)(sep - srv));
	if (server == -1) {
		exec_not_found(ec, full, "no MCP server of that name is "
		    "configured");
		goto done;
	}
	ec->sc.server = (size_t)server;
	if ((ec->sc.tool = strdup(sep + 2)) == NULL) {
		exec_fail_msg(ec, 500, "out of memory");
		goto done;
	}
	ts = registry_toolset(exec_registry, (size_t)server);
	if (ts != NULL) {
		if ((tool = toolset_find(ts, ec->sc.tool)) == NULL) {
			exec_not_found(ec, full, NULL);
			goto done;
		}
		if (tool->schema != NULL) {
			struct schema_result	res;
			json_object		*inst = params;

			memset(&res, 0, sizeof(res));
			if (inst == NULL)
				inst = json_object_new_object();
			if (!schema_validate(tool->schema, inst, &res)) {
				exec_invalid(ec, full, tool->schema, &res);
				schema_result_free(&res);
				if (params == NULL)
					json_object_put(inst);
				goto done;
			}
			schema_result_free(&res);
			if (params == NULL)
				json_object_put(inst);
		}
		ec->sc.timeout_ms = tool->timeout_ms;
	} else {
		/* Never listed yet (still starting): the I/O thread checks
		 * the name once the server is ready. */
		ec->sc.unchecked = 1;
		ec->sc.timeout_ms = config_tool_timeout(
		    &exec_cfg->servers[server], ec->sc.tool);
	}
	call = json_object_new_object();
	json_object_object_add(call, "name",
	    json_object_new_string(ec->sc.tool));
	json_object_object_add(call, "arguments", params != NULL ?
	    json_object_get(params) : json_object_new_object());
	s = json_object_to_json_string_length(call,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if ((ec->sc.params = strndup(s, len)) == NULL) {
		exec_fail_msg(ec, 500, "out of memory");
		goto done;
	}
	ec->sc.paramslen = len;
	/* The body is no longer needed: free it before the call waits. */
	free(ec->in);
	ec->in = NULL;
	registry_submit(exec_registry, &ec->sc);
done:
	if (ts != NULL)
		toolset_release(ts);
	json_object_put(call);
	json_object_put(root);
}
