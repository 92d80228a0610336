/*
 * sessionapi.c: the routes of sessions (see sessionapi.h). The bodies are
 * small, sent by the daemon token's holder, and parsed here on the loop
 * thread within SESSIONAPI_BODY_MAX bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <json-c/json.h>

#include "auth.h"
#include "http.h"
#include "session.h"
#include "sessionapi.h"

#define SESSIONAPI_BODY_MAX	(64 * 1024)
#define SESSIONAPI_TOOLS_MAX	1000
#define SESSIONAPI_PATTERN_MAX	256
#define SESSIONAPI_CONCURRENT_MAX 10000
#define SESSIONAPI_RATE_MAX	1000000
#define SESSIONAPI_WINDOW_MAX	86400

static void	sessionapi_create(struct evhttp_request *,
		    const struct auth_caller *, void *);
static void	sessionapi_list(struct evhttp_request *,
		    const struct auth_caller *, void *);
static void	sessionapi_one(struct evhttp_request *,
		    const struct auth_caller *, void *);
static void	sessionapi_calls(struct evhttp_request *,
		    const struct auth_caller *, void *);
static json_object *sessionapi_body(struct evhttp_request *);
static int	sessionapi_params(json_object *, struct session_params *,
		    char *, size_t);
static int	sessionapi_int(json_object *, const char *, int, int, int *,
		    char *, size_t);
static int	sessionapi_tools(json_object *, struct session_params *,
		    char *, size_t);
static int	sessionapi_rate(json_object *, struct session_params *,
		    char *, size_t);
static void	sessionapi_params_free(struct session_params *);

void
sessionapi_register(void)
{
	http_add_route("/sessions", HTTP_M_GET | HTTP_M_POST,
	    sessionapi_create, NULL);
	http_add_route("/sessions/", HTTP_M_GET | HTTP_M_DELETE | HTTP_R_PREFIX,
	    sessionapi_one, NULL);
	http_add_route("/mcp/calls", HTTP_M_GET | HTTP_R_SANDBOX,
	    sessionapi_calls, NULL);
}

/* The JSON body, or NULL having answered 400 or 413. */
static json_object *
sessionapi_body(struct evhttp_request *req)
{
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	struct json_tokener	*tok;
	json_object		*o;
	size_t			 len = evbuffer_get_length(in);
	const char		*text;

	if (len > SESSIONAPI_BODY_MAX) {
		http_reply_error(req, 413, "Payload Too Large - a session "
		    "request is at most 64 KiB", 0);
		return NULL;
	}
	if ((tok = json_tokener_new()) == NULL ||
	    (text = (const char *)evbuffer_pullup(in, -1)) == NULL) {
		json_tokener_free(tok);
		http_reply_error(req, 500, "out of memory", 0);
		return NULL;
	}
	o = json_tokener_parse_ex(tok, len > 0 ? text : "", (int)len);
	if (o == NULL || json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		json_tokener_free(tok);
		http_reply_error(req, 400, "Invalid request: the body must be "
		    "a JSON object {\"allowedTools\": [...], \"ttlSeconds\": N, "
		    "...}", 0);
		return NULL;
	}
	json_tokener_free(tok);
	return o;
}

static void
sessionapi_create(struct evhttp_request *req, const struct auth_caller *caller,
    void *arg)
{
	struct session_params	 p;
	struct session		*s;
	json_object		*body, *o;
	char			 err[1024], token[65];
	int			 status;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		sessionapi_list(req, caller, arg);
		return;
	}
	if ((body = sessionapi_body(req)) == NULL)
		return;
	status = sessionapi_params(body, &p, err, sizeof(err));
	json_object_put(body);
	if (status == -1) {
		sessionapi_params_free(&p);
		http_reply_error(req, 400, err, 0);
		return;
	}
	s = session_create(&p, token, &status, err, sizeof(err));
	sessionapi_params_free(&p);
	if (s == NULL) {
		http_reply_error(req, status, err, status == 503 ? 5 : 0);
		return;
	}
	o = session_json(s, 0);
	json_object_object_add(o, "token", json_object_new_string(token));
	explicit_bzero(token, sizeof(token));
	http_reply_json(req, 201, o, 0);
}

static void
sessionapi_list(struct evhttp_request *req, const struct auth_caller *caller,
    void *arg)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "sessions", session_list_json());
	http_reply_json(req, 200, o, 0);
}

/* GET or DELETE /sessions/{id}. */
static void
sessionapi_one(struct evhttp_request *req, const struct auth_caller *caller,
    void *arg)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*path = uri != NULL ? evhttp_uri_get_path(uri) :
				    NULL;
	struct session		*s;
	json_object		*o;
	char			 msg[160];

	if (path == NULL || (s = session_find(path + strlen("/sessions/"))) ==
	    NULL) {
		snprintf(msg, sizeof(msg), "No session '%.64s' (expired, "
		    "revoked, or never made)", path != NULL ? path +
		    strlen("/sessions/") : "");
		http_reply_error(req, 404, msg, 0);
		return;
	}
	o = session_json(s, 1);
	if (evhttp_request_get_command(req) == EVHTTP_REQ_DELETE) {
		json_object_object_add(o, "revoked",
		    json_object_new_boolean(1));
		session_revoke(s);
	}
	http_reply_json(req, 200, o, 0);
}

static void
sessionapi_calls(struct evhttp_request *req, const struct auth_caller *caller,
    void *arg)
{
	json_object	*o = session_calls_json(caller);

	if (o == NULL) {
		http_reply_error(req, 500, "out of memory", 0);
		return;
	}
	http_reply_json(req, 200, o, 0);
}

/* ------------------------------------------------------------ the body */

static void
sessionapi_params_free(struct session_params *p)
{
	size_t	i;

	for (i = 0; i < p->ntools; i++)
		free(p->tools[i]);
	free(p->tools);
	p->tools = NULL;
	p->ntools = 0;
}

/* 0, or -1 with err. */
static int
sessionapi_params(json_object *body, struct session_params *p, char *err,
    size_t errlen)
{
	json_object	*v;

	memset(p, 0, sizeof(*p));
	p->ttl_s = SESSION_TTL_DEFAULT;
	json_object_object_foreach(body, key, val) {
		(void)val;
		if (strcmp(key, "allowedTools") != 0 &&
		    strcmp(key, "ttlSeconds") != 0 &&
		    strcmp(key, "label") != 0 &&
		    strcmp(key, "rateLimit") != 0 &&
		    strcmp(key, "maxConcurrent") != 0) {
			snprintf(err, errlen, "Invalid session request: unknown "
			    "key '%.64s' (allowedTools, ttlSeconds, label, "
			    "rateLimit, maxConcurrent)", key);
			return -1;
		}
	}
	if (sessionapi_int(body, "ttlSeconds", 1, SESSION_TTL_MAX, &p->ttl_s,
	    err, errlen) == -1 || sessionapi_int(body, "maxConcurrent", 1,
	    SESSIONAPI_CONCURRENT_MAX, &p->max_concurrent, err, errlen) == -1 ||
	    sessionapi_tools(body, p, err, errlen) == -1 ||
	    sessionapi_rate(body, p, err, errlen) == -1)
		return -1;
	if (json_object_object_get_ex(body, "label", &v)) {
		if (!json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) > SESSION_LABEL_MAX ||
		    strlen(json_object_get_string(v)) !=
		    (size_t)json_object_get_string_len(v)) {
			snprintf(err, errlen, "Invalid session request: label "
			    "must be a string of at most %d bytes",
			    SESSION_LABEL_MAX);
			return -1;
		}
		snprintf(p->label, sizeof(p->label), "%s",
		    json_object_get_string(v));
	}
	return 0;
}

/* An optional integer member within [min, max]. */
static int
sessionapi_int(json_object *o, const char *key, int min, int max, int *out,
    char *err, size_t errlen)
{
	json_object	*v;
	int64_t		 n;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	n = json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_int) || n < min || n > max) {
		snprintf(err, errlen, "Invalid session request: %s must be an "
		    "integer from %d to %d", key, min, max);
		return -1;
	}
	*out = (int)n;
	return 0;
}

static int
sessionapi_tools(json_object *body, struct session_params *p, char *err,
    size_t errlen)
{
	json_object	*v, *t;
	size_t		 i, n;

	if (!json_object_object_get_ex(body, "allowedTools", &v))
		return 0;
	if (!json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) > SESSIONAPI_TOOLS_MAX) {
		snprintf(err, errlen, "Invalid session request: allowedTools "
		    "must be an array of at most %d tool names or patterns",
		    SESSIONAPI_TOOLS_MAX);
		return -1;
	}
	if ((p->tools = calloc(n + 1, sizeof(*p->tools))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(v, i);
		if (!json_object_is_type(t, json_type_string) ||
		    json_object_get_string_len(t) == 0 ||
		    json_object_get_string_len(t) > SESSIONAPI_PATTERN_MAX ||
		    strlen(json_object_get_string(t)) !=
		    (size_t)json_object_get_string_len(t)) {
			snprintf(err, errlen, "Invalid session request: "
			    "allowedTools[%zu] must be a tool name or pattern "
			    "of 1 to %d bytes", i, SESSIONAPI_PATTERN_MAX);
			return -1;
		}
		if ((p->tools[i] = strdup(json_object_get_string(t))) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		p->ntools = i + 1;
	}
	return 0;
}

/* "rateLimit": {"requests": N, "windowSeconds": W}, for POST /. */
static int
sessionapi_rate(json_object *body, struct session_params *p, char *err,
    size_t errlen)
{
	json_object	*v;

	if (!json_object_object_get_ex(body, "rateLimit", &v))
		return 0;
	p->rate_window_s = 60;
	if (!json_object_is_type(v, json_type_object) ||
	    !json_object_object_get_ex(v, "requests", NULL)) {
		snprintf(err, errlen, "Invalid session request: rateLimit must "
		    "be {\"requests\": N, \"windowSeconds\": W}");
		return -1;
	}
	return sessionapi_int(v, "requests", 1, SESSIONAPI_RATE_MAX,
	    &p->rate_requests, err, errlen) == -1 || sessionapi_int(v,
	    "windowSeconds", 1, SESSIONAPI_WINDOW_MAX, &p->rate_window_s, err,
	    errlen) == -1 ? -1 : 0;
}
