/*
 * exec.c: POST / - {"toolName":"mcp__<server>__<tool>","params":{...},
 * "result":"full"?}.
 *
 * The loop thread only moves the body out of the request into a call
 * (evbuffer chains, no copy) and queues the call: a body up to
 * EXEC_BULK_BODY on a worker, a larger one on the bulk lane. There the
 * body is parsed, the allowlist checked, the tool found, the arguments
 * validated against its schema and the tools/call params encoded; then the
 * registry hands the call to the worker that owns the chosen instance.
 * Validation on a worker runs within a small budget; arguments that need
 * more are validated again on the bulk lane with the full budget, and
 * arguments that need more than that are refused (400). A call for a
 * server that has never listed its tools is parked until the list comes
 * (at most startTimeoutMs, then 503). Every answer comes back through the
 * pool's completion list to exec_done() on the loop thread, unless a drain
 * that timed out has answered already.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <json-c/json.h>

#include "allowlist.h"
#include "audit.h"
#include "auth.h"
#include "config.h"
#include "exec.h"
#include "http.h"
#include "log.h"
#include "pool.h"
#include "ratelimit.h"
#include "registry.h"
#include "reply.h"
#include "rpc.h"
#include "schema.h"
#include "server.h"
#include "session.h"
#include "sha256.h"
#include "snapshot.h"
#include "stats.h"
#include "toolname.h"
#include "toolset.h"

#define EXEC_MAX_SUGGESTIONS	3
#define EXEC_MAX_SERVERS	64	/* toolsets searched for suggestions */
/* Larger bodies are parsed on the bulk lane, never on a worker. */
#define EXEC_BULK_BODY		(16 * 1024)
/* What validation may cost on a worker before it moves to the bulk lane
 * (the full budget is the schema module's default). */
#define EXEC_INLINE_STEPS	10000	/* measured worst: 0.2 ms */
#define EXEC_INLINE_MATCH	10000
#define EXEC_INLINE_CPU_US	500
#define EXEC_META_KEY		"mcp-proxyd/requestId"

struct exec_call {
	struct server_call	 sc;	/* first: sc.job is the pool job */
	struct http_pending	 hp;
	struct evbuffer		*in;	/* the body, until parsed */
	json_object		*root;	/* the parsed body */
	json_object		*params;	/* borrowed from root */
	const char		*full;		/* borrowed from root */
	int			 bulk;	/* running on the bulk lane */
	struct event		*park_ev;
	/* What the counters and the audit log learn on the way. */
	const struct auth_caller *caller;	/* held (session_enter) */
	const struct allowlist	*allow;		/* the caller's */
	struct snapshot		*snap;		/* held: the config it met */
	char			*name;		/* toolName, a copy */
	int			 server_known;	/* sc.server is set */
	int			 held;		/* registry_hold() of it */
	int			 tool_known;	/* the server lists sc.tool */
	int			 validation_failed;
	const char		*reason;	/* refused: why (static) */
	char			 params_sha256[2 * SHA256_LEN + 1];
};

static void	exec_handle(struct evhttp_request *,
		    const struct auth_caller *, void *);
static void	exec_run(struct job *);
static void	exec_done(struct job *);
static void	exec_complete(struct server_call *);
static void	exec_call_free(struct exec_call *);
static void	exec_release(struct exec_call *);
static void	exec_fail(struct exec_call *, int, int, json_object *);
static void	exec_fail_msg(struct exec_call *, int, int, const char *);
static int	exec_parse(struct exec_call *);
static int	exec_target(struct exec_call *);
static int	exec_validate(struct exec_call *, const struct tool *);
static void	exec_send(struct exec_call *, const struct tool *);
static void	exec_park(struct exec_call *);
static void	exec_park_run(struct job *);
static void	exec_resume(struct job *);
static void	exec_park_timeout(evutil_socket_t, short, void *);
static void	exec_not_found(struct exec_call *, const char *);
static void	exec_invalid(struct exec_call *, const struct schema *,
		    struct schema_result *);
static void	exec_not_allowed(struct exec_call *);
static void	exec_account(struct exec_call *, struct evhttp_request *);
static int	exec_busy(struct evhttp_request *, const struct auth_caller *);
static const char *exec_reason_of(int);
static void	exec_hash(struct exec_call *, const char *, size_t);
static char	*exec_call_line(struct exec_call *, size_t *);
static int	exec_tool_exists(struct exec_call *);
static int	exec_result_mode(struct exec_call *);

static struct pool		*exec_pool;
static struct registry		*exec_registry;
static const struct config	*exec_cfg;
static struct ratelimit		*exec_rl;
static int			 exec_round_robin;	/* benchmarks only */

void
exec_init(struct pool *pool, struct registry *reg, const struct config *cfg)
{
	exec_pool = pool;
	exec_registry = reg;
	exec_cfg = cfg;
	exec_rl = NULL;
	/* For the benchmark's comparison only: ignore the connection's last
	 * owner, so about half the calls are forwarded (mcp-proxyd(8)). */
	exec_round_robin = getenv("MCP_PROXYD_ROUND_ROBIN") != NULL;
	if (cfg->rate_execute.requests > 0) {
		exec_rl = ratelimit_new(cfg->rate_execute.requests,
		    cfg->rate_execute.window_s);
		if (exec_rl == NULL)
			fatalx("%s: cannot create the rate limiter", __func__);
		http_sweep_ratelimit(exec_rl);
	}
}

/* Loop thread, a reload: rateLimits.execute from now on (a changed limit
 * starts every caller with a full bucket; ratelimit_set()). */
void
exec_reconfigure(const struct config *cfg)
{
	if (exec_rl == NULL && cfg->rate_execute.requests > 0) {
		exec_rl = ratelimit_new(cfg->rate_execute.requests,
		    cfg->rate_execute.window_s);
		if (exec_rl == NULL)
			log_warnx("%s: cannot create the rate limiter: "
			    "rateLimits.execute not applied", __func__);
		http_sweep_ratelimit(exec_rl);
	} else if (exec_rl != NULL)
		(void)ratelimit_set(exec_rl, cfg->rate_execute.requests,
		    cfg->rate_execute.window_s);
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
	http_add_route("/", HTTP_M_POST | HTTP_R_SANDBOX, exec_handle, NULL);
}

/* Any thread that owns the call (done() on the main thread at the end). */
static void
exec_call_free(struct exec_call *ec)
{
	server_call_clear(&ec->sc);
	snapshot_release(ec->snap);
	if (ec->in != NULL)
		evbuffer_free(ec->in);
	if (ec->park_ev != NULL)
		event_free(ec->park_ev);
	json_object_put(ec->root);
	free(ec->name);
	free(ec);
}

/* ---------------------------------------------------------- loop thread */

static void
exec_handle(struct evhttp_request *req, const struct auth_caller *caller,
    void *arg)
{
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	struct exec_call	*ec;
	struct ratelimit	*rl;
	size_t			 len = evbuffer_get_length(in);

	/* The rate limit comes before any other work. */
	rl = session_ratelimit(caller);
	if (http_rate_limited(req, rl != NULL ? rl : exec_rl, caller) ||
	    exec_busy(req, caller))
		return;
	if ((ec = calloc(1, sizeof(*ec))) == NULL ||
	    (ec->in = evbuffer_new()) == NULL ||
	    evbuffer_add_buffer(ec->in, in) == -1) {
		if (ec != NULL)
			exec_call_free(ec);
		session_leave(caller, NULL, 500, 0, NULL);
		http_reply_error(req, 500, "out of memory", 0);
		return;
	}
	ec->bulk = len > EXEC_BULK_BODY;
	ec->caller = caller;
	ec->allow = session_allowlist(caller);
	ec->snap = snapshot_hold();
	snprintf(ec->sc.rid, sizeof(ec->sc.rid), "%s", http_request_id(req));
	ec->sc.job.run = exec_run;
	ec->sc.job.done = exec_done;
	ec->sc.complete = exec_complete;
	http_pending_add(&ec->hp, req);
	/* A small body goes to the worker that owned the instance of the
	 * connection's last call (sandboxes call one server again and
	 * again): then it needs no forwarding. */
	if ((ec->bulk ? pool_submit(exec_pool, &ec->sc.job, POOL_BULK) :
	    pool_submit_to(exec_pool, &ec->sc.job, exec_round_robin ? -1 :
	    http_conn_hint(req))) == -1) {
		stats_reject(STATS_QUEUE_FULL);
		http_pending_remove(&ec->hp);
		ec->reason = "overload";
		ec->sc.status = 503;
		exec_account(ec, req);
		exec_call_free(ec);
		http_reply_error(req, 503, "Service Unavailable - too many "
		    "requests queued, retry later", 1);
	}
}

/* The one place a tool call is answered. */
static void
exec_done(struct job *j)
{
	struct exec_call	*ec = (struct exec_call *)j;
	struct evhttp_request	*req;

	req = http_pending_remove(&ec->hp);
	if (req != NULL) {
		if (ec->sc.status == 0 || ec->sc.body == NULL) {
			ec->sc.status = 503;
			ec->reason = "shutdown";
		}
		exec_account(ec, req);
		if (ec->sc.srv != NULL)
			http_conn_set_hint(req, ec->sc.owner);
		if (ec->sc.body == NULL)
			http_reply_error(req, 503, "Service Unavailable - "
			    "server is shutting down", 1);
		else {
			http_reply_take(req, ec->sc.status, ec->sc.body,
			    ec->sc.bodylen, ec->sc.retry_after);
			ec->sc.body = NULL;
		}
	} else	/* the drain answered it */
		session_leave(ec->caller, NULL, 503, 0, NULL);
	exec_call_free(ec);
}

/* The call's counters and its audit line. */
static void
exec_account(struct exec_call *ec, struct evhttp_request *req)
{
	struct audit_event	ev;
	const char		*reason = ec->reason != NULL ? ec->reason :
				    ec->sc.reason;
	double			 now = http_now_ms();
	double			 t0 = now - http_request_age_ms(req);

	if (ec->server_known)
		stats_call(registry_stats_index(exec_registry, ec->sc.server),
		    ec->tool_known ? ec->sc.tool : NULL,
		    ec->sc.status, ec->validation_failed, (now - t0) / 1000,
		    ec->sc.sent_ms > 0 ? (ec->sc.sent_ms - t0) / 1000 : -1);
	memset(&ev, 0, sizeof(ev));
	ev.event = reason != NULL ? "rejected" : "tool_call";
	ev.reason = reason;
	ev.tool = ec->name;
	ev.params_sha256 = ec->params_sha256[0] != '\0' ? ec->params_sha256 :
	    NULL;
	ev.status = ec->sc.status;
	ev.error = ec->sc.error;
	http_audit(req, ec->caller, &ev);
	session_leave(ec->caller, ec->name, ec->sc.status, now - t0,
	    ec->sc.error);
}

/* A session at its maxConcurrent: 429 (the call is not held). */
static int
exec_busy(struct evhttp_request *req, const struct auth_caller *caller)
{
	struct audit_event	 ev;
	char			 msg[160];

	if (session_enter(caller) == 0)
		return 0;
	stats_reject(STATS_SESSION_BUSY);
	memset(&ev, 0, sizeof(ev));
	ev.event = "rejected";
	ev.reason = "session_concurrency";
	ev.status = 429;
	http_audit(req, caller, &ev);
	snprintf(msg, sizeof(msg), "Too Many Requests - this session has %d "
	    "calls in flight (its maxConcurrent)",
	    session_max_concurrent(caller));
	http_reply_error(req, 429, msg, 1);
	return 1;
}

/* ------------------------------------------------------- pool threads */

/* Any thread: the answer goes back to the loop thread. */
static void
exec_complete(struct server_call *sc)
{
	struct exec_call	*ec = (struct exec_call *)sc;

	/* A server that a reload replaced may stop once this is 0. */
	if (ec->held) {
		registry_release(exec_registry, ec->sc.server);
		ec->held = 0;
	}
	pool_complete(exec_pool, &sc->job);
}

/* The body and its tree are freed here, not on the loop thread. */
static void
exec_release(struct exec_call *ec)
{
	json_object_put(ec->root);
	ec->root = NULL;
	ec->params = NULL;
	ec->full = NULL;
	if (ec->in != NULL)
		evbuffer_free(ec->in);
	ec->in = NULL;
}

/* o must not borrow from the body. */
static void
exec_fail(struct exec_call *ec, int status, int retry_after, json_object *o)
{
	if (ec->reason == NULL)
		ec->reason = exec_reason_of(status);
	exec_release(ec);
	server_call_finish(&ec->sc, status, o, retry_after);
}

static void
exec_fail_msg(struct exec_call *ec, int status, int retry_after,
    const char *msg)
{
	exec_fail(ec, status, retry_after, reply_message(msg, NULL));
}

/* A worker or a bulk thread: from the body to a call for the registry. */
static void
exec_run(struct job *j)
{
	struct exec_call	*ec = (struct exec_call *)j;
	struct toolset		*ts;
	const struct tool	*tool;

	ec->bulk = pool_self() == -1;
	if (ec->root == NULL && (exec_parse(ec) == -1 ||
	    exec_target(ec) == -1))
		return;
	if ((ts = registry_toolset(exec_registry, ec->sc.server)) == NULL) {
		exec_park(ec);
		return;
	}
	if ((tool = toolset_find(ts, ec->sc.tool)) == NULL) {
		toolset_release(ts);
		exec_not_found(ec, NULL);
		return;
	}
	ec->tool_known = 1;
	if (exec_validate(ec, tool) == 0)
		exec_send(ec, tool);
	toolset_release(ts);
}

/* Parses the body: 0, or -1 having answered 400. */
static int
exec_parse(struct exec_call *ec)
{
	struct json_tokener	*tok;
	enum json_tokener_error	 e;
	size_t			 len = evbuffer_get_length(ec->in);
	const char		*body;
	char			 msg[512];

	if ((tok = rpc_thread_tokener()) == NULL ||
	    (body = (const char *)evbuffer_pullup(ec->in, -1)) == NULL) {
		exec_fail_msg(ec, 500, 0, "out of memory");
		return -1;
	}
	ec->root = json_tokener_parse_ex(tok, len > 0 ? body : "", (int)len);
	if (ec->root == NULL || json_tokener_get_parse_end(tok) != len) {
		e = json_tokener_get_error(tok);
		snprintf(msg, sizeof(msg), "Invalid JSON body: %s",
		    ec->root != NULL ? "trailing bytes after the JSON value" :
		    e == json_tokener_continue ? "unexpected end of input" :
		    json_tokener_error_desc(e));
		exec_fail_msg(ec, 400, 0, msg);
		return -1;
	}
	evbuffer_free(ec->in);
	ec->in = NULL;
	if (!json_object_is_type(ec->root, json_type_object)) {
		exec_fail_msg(ec, 400, 0, "Invalid request: the body must be "
		    "a JSON object {\"toolName\": ..., \"params\": {...}}");
		return -1;
	}
	return 0;
}

/* toolName, params, the allowlist and the server: 0, or -1 answered. */
static int
exec_target(struct exec_call *ec)
{
	json_object	*v;
	struct toolname	 tn;
	char		 msg[TOOLNAME_QUOTE_MAX + 256];
	int		 server;

	if (!json_object_object_get_ex(ec->root, "toolName", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		exec_fail_msg(ec, 400, 0, "Missing or invalid toolName: "
		    "expected a string like \"mcp__<server>__<tool>\"");
		return -1;
	}
	/* The grammar first: nothing else sees a name outside it. */
	if (toolname_parse(json_object_get_string(v),
	    (size_t)json_object_get_string_len(v), &tn, msg, sizeof(msg)) ==
	    -1) {
		exec_fail_msg(ec, 400, 0, msg);
		return -1;
	}
	ec->full = json_object_get_string(v);
	if (ec->name == NULL)
		ec->name = strdup(ec->full);
	if (!json_object_object_get_ex(ec->root, "params", &ec->params) ||
	    json_object_is_type(ec->params, json_type_null))
		ec->params = NULL;
	else if (!json_object_is_type(ec->params, json_type_object)) {
		exec_fail_msg(ec, 400, 0, "Invalid params: expected a JSON "
		    "object of the tool's arguments");
		return -1;
	}
	if (exec_result_mode(ec) == -1)
		return -1;
	server = registry_hold(exec_registry, tn.server, tn.server_len);
	if (server != -1) {
		ec->sc.server = (size_t)server;
		ec->server_known = 1;
		ec->held = 1;
		if ((ec->sc.tool = strdup(tn.tool)) == NULL) {
			exec_fail_msg(ec, 500, 0, "out of memory");
			return -1;
		}
	}
	/* The allowlist comes before anything reaches a server: a
	 * session's, and the daemon's (a reload may have narrowed it). */
	if (ec->allow != ec->snap->allow &&
	    allowlist_match(ec->allow, ec->full) &&
	    !allowlist_match(ec->snap->allow, ec->full))
		ec->allow = ec->snap->allow;
	if (!allowlist_match(ec->allow, ec->full)) {
		ec->tool_known = server != -1 && exec_tool_exists(ec);
		exec_not_allowed(ec);
		return -1;
	}
	if (server == -1) {
		exec_not_found(ec, "no MCP server of that name is configured");
		return -1;
	}
	return 0;
}

/* The optional "result": "full" asks for the whole CallToolResult; any
 * other value is refused: 0, or -1 answered (400). */
static int
exec_result_mode(struct exec_call *ec)
{
	json_object	*v;

	if (!json_object_object_get_ex(ec->root, "result", &v))
		return 0;
	if (json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), "full") == 0) {
		ec->sc.whole = 1;
		return 0;
	}
	exec_fail_msg(ec, 400, 0, "Invalid result: expected \"full\" (answer "
	    "the whole CallToolResult) or no \"result\" field (the first "
	    "text block, else the whole CallToolResult)");
	return -1;
}

/* 0 valid; -1 answered (400) or moved to the bulk lane. */
static int
exec_validate(struct exec_call *ec, const struct tool *tool)
{
	static const struct schema_limits inline_limits = {
		EXEC_INLINE_STEPS, EXEC_INLINE_MATCH, EXEC_INLINE_CPU_US
	};
	struct schema_result	 res;
	json_object		*inst = ec->params, *empty = NULL;
	const char		*s;
	size_t			 len;
	int			 ok;

	if (tool->schema == NULL)
		return 0;
	if (inst == NULL && (inst = empty = json_object_new_object()) ==
	    NULL) {
		exec_fail_msg(ec, 500, 0, "out of memory");
		return -1;
	}
	memset(&res, 0, sizeof(res));
	ok = schema_validate_limits(tool->schema, inst, &res, ec->bulk ?
	    NULL : &inline_limits, NULL);
	if (!ok && res.too_costly && !ec->bulk) {
		/* Too costly for a worker: again with the full budget, on a
		 * thread whose time nobody waits for. */
		json_object_put(empty);
		schema_result_free(&res);
		ec->sc.job.run = exec_run;
		pool_post_bulk(exec_pool, &ec->sc.job);
		return -1;
	}
	if (!ok && res.too_costly)
		stats_reject(STATS_TOO_COSTLY);
	if (!ok) {
		ec->validation_failed = 1;
		ec->reason = res.too_costly ? "too_costly" : "validation";
		if ((s = json_object_to_json_string_length(inst,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
		    &len)) != NULL)
			exec_hash(ec, s, len);
		exec_invalid(ec, tool->schema, &res);
	}
	json_object_put(empty);
	schema_result_free(&res);
	return ok ? 0 : -1;
}

/* Encodes the tools/call params and hands the call to the registry. */
static void
exec_send(struct exec_call *ec, const struct tool *tool)
{
	ec->sc.timeout_ms = tool->timeout_ms;
	if ((ec->sc.params = exec_call_line(ec, &ec->sc.paramslen)) == NULL) {
		exec_fail_msg(ec, 500, 0, "out of memory");
		return;
	}
	/* The parsed body is not needed while the call waits. */
	exec_release(ec);
	registry_submit(exec_registry, &ec->sc);
}

/*
 * The tools/call params, {"name":N,"arguments":A,"_meta":{KEY:ID}}: the
 * arguments serialised once, hashed for the audit log, and the request id
 * under our key in _meta, for the server's own logs. A malloc'd string.
 */
static char *
exec_call_line(struct exec_call *ec, size_t *lenp)
{
	json_object	*name;
	const char	*args = "{}", *ntext;
	char		 meta[sizeof(ec->sc.rid) + 64], *line = NULL;
	size_t		 alen = 2, nlen, mlen = 0;
	int		 n;

	if (ec->params != NULL && (args = json_object_to_json_string_length(
	    ec->params, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &alen)) == NULL)
		return NULL;
	exec_hash(ec, args, alen);
	if ((name = json_object_new_string(ec->sc.tool)) == NULL ||
	    (ntext = json_object_to_json_string_length(name,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &nlen)) ==
	    NULL)
		goto done;
	if (ec->sc.rid[0] != '\0' && (n = snprintf(meta, sizeof(meta),
	    ",\"_meta\":{\"" EXEC_META_KEY "\":\"%s\"}", ec->sc.rid)) > 0)
		mlen = (size_t)n;
	*lenp = 8 + nlen + 13 + alen + mlen + 1;
	if ((line = malloc(*lenp + 1)) == NULL)
		goto done;
	snprintf(line, *lenp + 1, "{\"name\":%.*s,\"arguments\":%.*s%.*s}",
	    (int)nlen, ntext, (int)alen, args, (int)mlen, meta);
 done:
	json_object_put(name);
	return line;
}

/* paramsSha256 of the audit log: the arguments as sent. */
static void
exec_hash(struct exec_call *ec, const char *text, size_t len)
{
	unsigned char	h[SHA256_LEN];
	size_t		i;

	sha256(text, len, h);
	for (i = 0; i < SHA256_LEN; i++)
		snprintf(ec->params_sha256 + 2 * i, 3, "%02x", h[i]);
}

/* Whether the server of a refused call lists its tool (for the labels of
 * mcp_tool_calls_total: only tools that exist). */
static int
exec_tool_exists(struct exec_call *ec)
{
	struct toolset	*ts;
	int		 found;

	ts = registry_toolset(exec_registry, ec->sc.server);
	found = ts != NULL && toolset_find(ts, ec->sc.tool) != NULL;
	toolset_release(ts);
	return found;
}

/* The reason of a refusal, from its status. */
static const char *
exec_reason_of(int status)
{
	switch (status) {
	case 403:
		return "allowlist";
	case 404:
		return "unknown_tool";
	case 503:
		return "unavailable";
	case 400:
		return "bad_request";
	default:
		return "internal";
	}
}

/* ------------------------------------------------------------- parking */

/* The server has no tool list yet: wait for one on a worker (its timer). */
static void
exec_park(struct exec_call *ec)
{
	struct timeval	tv;
	char		msg[256];
	int		w = pool_self();

	if (registry_failing(exec_registry, ec->sc.server)) {
		snprintf(msg, sizeof(msg), "server '%s' is not available and "
		    "has never listed its tools", registry_server_name(
		    exec_registry, ec->sc.server));
		exec_fail_msg(ec, 503, 5, msg);
		return;
	}
	if (w == -1) {
		/* A bulk thread has no event loop for the timer. */
		ec->sc.job.run = exec_park_run;
		pool_post(exec_pool, 0, &ec->sc.job);
		return;
	}
	ec->park_ev = evtimer_new(pool_worker_base(exec_pool, w),
	    exec_park_timeout, ec);
	if (ec->park_ev == NULL) {
		exec_fail_msg(ec, 500, 0, "out of memory");
		return;
	}
	ec->sc.job.run = exec_resume;
	if (registry_park(exec_registry, ec->sc.server, &ec->sc.job, w) ==
	    -1) {
		exec_resume(&ec->sc.job);	/* it is there now */
		return;
	}
	tv.tv_sec = exec_cfg->start_timeout_ms / 1000;
	tv.tv_usec = (exec_cfg->start_timeout_ms % 1000) * 1000;
	evtimer_add(ec->park_ev, &tv);
}

static void
exec_park_run(struct job *j)
{
	exec_park((struct exec_call *)j);
}

/* The owner of the timer: the tool list came (or parking failed). */
static void
exec_resume(struct job *j)
{
	struct exec_call	*ec = (struct exec_call *)j;

	if (ec->park_ev != NULL) {
		event_free(ec->park_ev);
		ec->park_ev = NULL;
	}
	exec_run(j);
}

static void
exec_park_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct exec_call	*ec = arg;
	char			 msg[256];

	/* Not parked any more: the list came and the call is on its way
	 * back to this worker. */
	if (!registry_unpark(exec_registry, ec->sc.server, &ec->sc.job))
		return;
	event_free(ec->park_ev);
	ec->park_ev = NULL;
	stats_reject(STATS_NO_TOOL_LIST);
	snprintf(msg, sizeof(msg), "server '%s' has not listed its tools "
	    "within startTimeoutMs (%d ms); its arguments cannot be validated "
	    "yet", registry_server_name(exec_registry, ec->sc.server),
	    exec_cfg->start_timeout_ms);
	exec_fail_msg(ec, 503, 5, msg);
}

/* ------------------------------------------------------------- answers */

static void
exec_not_found(struct exec_call *ec, const char *why)
{
	struct toolset	*sets[EXEC_MAX_SERVERS];
	size_t		 s, n = 0;

	for (s = 0; s < registry_nservers(exec_registry) &&
	    n < EXEC_MAX_SERVERS; s++)
		if (registry_live(exec_registry, s))
			sets[n++] = registry_toolset(exec_registry, s);
	exec_fail(ec, 404, 0, toolset_not_found(ec->full, why,
	    toolset_suggestions(sets, n, ec->full, EXEC_MAX_SUGGESTIONS)));
	for (s = 0; s < n; s++)
		toolset_release(sets[s]);
}

static void
exec_invalid(struct exec_call *ec, const struct schema *sch,
    struct schema_result *res)
{
	json_object		*o, *details, *d, *req, *opt;
	const char *const	*names;
	char			 msg[1024];
	size_t			 i;

	snprintf(msg, sizeof(msg), "Parameter validation failed for \"%s\": "
	    "%s%s%s", ec->full, res->nerrors > 0 ? res->errors[0].path : "",
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
	if (res->too_costly)
		json_object_object_add(o, "tooCostly",
		    json_object_new_boolean(1));
	req = json_object_new_array();
	for (names = schema_required(sch); *names != NULL; names++)
		json_object_array_add(req, json_object_new_string(*names));
	opt = json_object_new_array();
	for (names = schema_optional(sch); *names != NULL; names++)
		json_object_array_add(opt, json_object_new_string(*names));
	json_object_object_add(o, "required", req);
	json_object_object_add(o, "optional", opt);
	exec_fail(ec, 400, 0, o);
}

static void
exec_not_allowed(struct exec_call *ec)
{
	json_object	*o = json_object_new_object(), *arr;
	char		 msg[512];
	size_t		 i;

	snprintf(msg, sizeof(msg), "Tool '%s' not in allowlist", ec->full);
	json_object_object_add(o, "error", json_object_new_string(msg));
	arr = json_object_new_array();
	for (i = 0; i < allowlist_count(ec->allow); i++)
		json_object_array_add(arr, json_object_new_string(
		    allowlist_pattern(ec->allow, i)));
	json_object_object_add(o, "allowedTools", arr);
	if (ec->caller->session != NULL && ec->allow != ec->snap->allow)
		snprintf(msg, sizeof(msg), "Ask for '%s' in the allowedTools "
		    "of a new session (POST /sessions), within the daemon's",
		    ec->full);
	else
		snprintf(msg, sizeof(msg), "Add '%s' to allowedTools in the "
		    "mcp-proxyd configuration", ec->full);
	json_object_object_add(o, "suggestion", json_object_new_string(msg));
	exec_fail(ec, 403, 0, o);
}
