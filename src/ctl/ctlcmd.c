/*
 * ctlcmd.c: mcp-proxyctl's command words to HTTP requests (see ctlcmd.h).
 * The routes are those of mcp-proxyd(8): POST/GET /sessions (exec makes
 * its session with the POST), GET and
 * DELETE /sessions/{id}, GET /mcp/calls, GET /health and
 * GET /mcp/tools?q=...; session ids are checked here before they are put
 * in a path, search words are URL-encoded.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <json-c/json.h>

#include "ctlcmd.h"

static int	ctlcmd_session(int, char *[], const struct ctlcmd_create *,
		    struct ctlcmd_req *, char *, size_t);
static int	ctlcmd_exec(int, const struct ctlcmd_create *,
		    struct ctlcmd_req *, char *, size_t);
static int	ctlcmd_sessions(const struct ctlcmd_create *,
		    struct ctlcmd_req *, char *, size_t);
static int	ctlcmd_session_id(int, char *[], const char *,
		    struct ctlcmd_req *, char *, size_t);
static int	ctlcmd_tools(int, char *[], struct ctlcmd_req *, char *,
		    size_t);
static char	*ctlcmd_create_body(const struct ctlcmd_create *, char *,
		    size_t);
static json_object *ctlcmd_tool_list(const char *, char *, size_t);
static int	ctlcmd_nargs(const char *, int, int, char *, size_t);

int
ctlcmd_build(int argc, char *argv[], const struct ctlcmd_create *c,
    struct ctlcmd_req *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->method = "GET";
	if (argc == 0) {
		snprintf(err, errlen, "no command given");
		return -1;
	}
	if (strcmp(argv[0], "exec") == 0)
		return ctlcmd_exec(argc - 1, c, r, err, errlen);
	if (c->exec_given != NULL) {
		snprintf(err, errlen, "--%s is an option of 'exec' only",
		    c->exec_given);
		return -1;
	}
	if (c->given != NULL && (argc < 2 || strcmp(argv[0], "session") != 0 ||
	    strcmp(argv[1], "create") != 0)) {
		snprintf(err, errlen, "--%s is an option of 'session create' "
		    "and 'exec' only", c->given);
		return -1;
	}
	if (strcmp(argv[0], "session") == 0)
		return ctlcmd_session(argc - 1, argv + 1, c, r, err, errlen);
	if (strcmp(argv[0], "tools") == 0)
		return ctlcmd_tools(argc - 1, argv + 1, r, err, errlen);
	if (strcmp(argv[0], "calls") == 0)
		r->target = strdup("/mcp/calls");
	else if (strcmp(argv[0], "stubs") == 0) {
		r->target = strdup("/mcp/tools?allowed=true");
		r->stubs = 1;
	}
	else if (strcmp(argv[0], "health") == 0) {
		r->target = strdup("/health");
		r->health = 1;
	} else {
		snprintf(err, errlen, "unknown command '%.64s'", argv[0]);
		return -1;
	}
	if (ctlcmd_nargs(argv[0], argc - 1, 0, err, errlen) == -1)
		return -1;
	if (r->target == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

void
ctlcmd_req_free(struct ctlcmd_req *r)
{
	free(r->target);
	free(r->body);
	r->target = r->body = NULL;
}

/* -1 with a message when cmd has more than max arguments. */
static int
ctlcmd_nargs(const char *cmd, int n, int max, char *err, size_t errlen)
{
	if (n <= max)
		return 0;
	snprintf(err, errlen, "'%s' takes %s", cmd, max == 0 ?
	    "no arguments" : "one argument");
	return -1;
}

/* exec [session options] -- COMMAND: the POST /sessions of its session
 * (the command itself is the caller's, after "--"). */
static int
ctlcmd_exec(int nargs, const struct ctlcmd_create *c, struct ctlcmd_req *r,
    char *err, size_t errlen)
{
	if (nargs > 0) {
		snprintf(err, errlen, "'exec' runs the command after '--': "
		    "mcp-proxyctl exec [--tools A,B] -- COMMAND [ARG ...]");
		return -1;
	}
	if (c->token_only) {
		snprintf(err, errlen, "--token-only is an option of 'session "
		    "create' only");
		return -1;
	}
	r->exec = 1;
	return ctlcmd_sessions(c, r, err, errlen);
}

/* POST /sessions with the session options of c, or GET /sessions (c
 * NULL). */
static int
ctlcmd_sessions(const struct ctlcmd_create *c, struct ctlcmd_req *r,
    char *err, size_t errlen)
{
	if (c != NULL) {
		r->method = "POST";
		r->create = 1;
		if ((r->body = ctlcmd_create_body(c, err, errlen)) == NULL)
			return -1;
	}
	if ((r->target = strdup("/sessions")) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* session create | list | show ID | revoke ID */
static int
ctlcmd_session(int argc, char *argv[], const struct ctlcmd_create *c,
    struct ctlcmd_req *r, char *err, size_t errlen)
{
	if (argc == 0) {
		snprintf(err, errlen, "'session' needs create, list, show ID "
		    "or revoke ID");
		return -1;
	}
	if (strcmp(argv[0], "show") == 0 || strcmp(argv[0], "revoke") == 0)
		return ctlcmd_session_id(argc - 1, argv + 1, argv[0], r, err,
		    errlen);
	if (strcmp(argv[0], "create") != 0 && strcmp(argv[0], "list") != 0) {
		snprintf(err, errlen, "unknown command 'session %.64s'",
		    argv[0]);
		return -1;
	}
	if (ctlcmd_nargs(argv[0], argc - 1, 0, err, errlen) == -1)
		return -1;
	return ctlcmd_sessions(strcmp(argv[0], "create") == 0 ? c : NULL, r,
	    err, errlen);
}

/* session show ID, session revoke ID: ids are [A-Za-z0-9_-]+. */
static int
ctlcmd_session_id(int argc, char *argv[], const char *cmd,
    struct ctlcmd_req *r, char *err, size_t errlen)
{
	size_t	len;

	if (argc != 1) {
		snprintf(err, errlen, "'session %s' takes one session id", cmd);
		return -1;
	}
	len = strspn(argv[0], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
	    "vwxyz0123456789_-");
	if (len == 0 || argv[0][len] != '\0' || len > CTLCMD_ID_MAX) {
		snprintf(err, errlen, "'%.64s' is not a session id (1 to %d "
		    "letters, digits, '_' and '-')", argv[0], CTLCMD_ID_MAX);
		return -1;
	}
	if (strcmp(cmd, "revoke") == 0)
		r->method = "DELETE";
	if ((r->target = malloc(len + sizeof("/sessions/"))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(r->target, len + sizeof("/sessions/"), "/sessions/%s",
	    argv[0]);
	return 0;
}

/* tools [WORD ...]: GET /mcp/tools?q=WORD&q=... */
static int
ctlcmd_tools(int argc, char *argv[], struct ctlcmd_req *r, char *err,
    size_t errlen)
{
	struct evbuffer	*b;
	char		*q;
	int		 i, n, rc = -1;

	if ((b = evbuffer_new()) == NULL ||
	    evbuffer_add_printf(b, "/mcp/tools") == -1)
		goto fail;
	for (i = 0; i < argc; i++) {
		if ((q = evhttp_uriencode(argv[i], -1, 0)) == NULL)
			goto fail;
		n = evbuffer_add_printf(b, "%cq=%s", i == 0 ? '?' : '&', q);
		free(q);
		if (n == -1)
			goto fail;
	}
	if (evbuffer_add(b, "", 1) == -1 ||
	    (r->target = strdup((const char *)evbuffer_pullup(b, -1))) == NULL)
		goto fail;
	rc = 0;
fail:
	if (rc == -1)
		snprintf(err, errlen, "out of memory");
	if (b != NULL)
		evbuffer_free(b);
	return rc;
}

/* The body of POST /sessions; NULL with a message in err. */
static char *
ctlcmd_create_body(const struct ctlcmd_create *c, char *err, size_t errlen)
{
	json_object	*o, *a, *rate;
	char		*s = NULL;

	if ((o = json_object_new_object()) == NULL)
		goto nomem;
	if (c->tools != NULL) {
		if ((a = ctlcmd_tool_list(c->tools, err, errlen)) == NULL)
			goto fail;
		json_object_object_add(o, "allowedTools", a);
	}
	if (c->ttl_s > 0)
		json_object_object_add(o, "ttlSeconds",
		    json_object_new_int(c->ttl_s));
	if (c->label != NULL)
		json_object_object_add(o, "label",
		    json_object_new_string(c->label));
	if (c->max_concurrent > 0)
		json_object_object_add(o, "maxConcurrent",
		    json_object_new_int(c->max_concurrent));
	if (c->rate_requests > 0) {
		rate = json_object_new_object();
		json_object_object_add(rate, "requests",
		    json_object_new_int(c->rate_requests));
		if (c->rate_window_s > 0)
			json_object_object_add(rate, "windowSeconds",
			    json_object_new_int(c->rate_window_s));
		json_object_object_add(o, "rateLimit", rate);
	}
	if ((s = strdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE))) == NULL)
		goto nomem;
	json_object_put(o);
	return s;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	json_object_put(o);
	return NULL;
}

/* "A,B" (spaces around a name ignored) as a JSON array of strings. */
static json_object *
ctlcmd_tool_list(const char *list, char *err, size_t errlen)
{
	json_object	*a;
	const char	*p = list, *end, *s, *e;

	if ((a = json_object_new_array()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (;;) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		for (s = p; s < end && *s == ' '; s++)
			;
		for (e = end; e > s && e[-1] == ' '; e--)
			;
		if (e == s) {
			snprintf(err, errlen, "--tools '%.200s': an empty tool "
			    "name", list);
			json_object_put(a);
			return NULL;
		}
		json_object_array_add(a, json_object_new_string_len(s,
		    (int)(e - s)));
		if (*end == '\0')
			return a;
		p = end + 1;
	}
}

int
ctlcmd_parse_int(const char *s, int min, int max, int *out)
{
	char	*end;
	long	 n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || n < min ||
	    n > max)
		return -1;
	*out = (int)n;
	return 0;
}

int
ctlcmd_parse_duration(const char *s, int *out)
{
	char		 num[16];
	size_t		 len = strlen(s);
	long		 unit = 1;
	int		 n;

	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, s, len + 1);
	switch (num[len - 1]) {
	case 'd':
		unit *= 24;
		/* FALLTHROUGH */
	case 'h':
		unit *= 60;
		/* FALLTHROUGH */
	case 'm':
		unit *= 60;
		/* FALLTHROUGH */
	case 's':
		num[len - 1] = '\0';
		break;
	}
	if (ctlcmd_parse_int(num, 1, (int)(INT_MAX / unit), &n) == -1)
		return -1;
	*out = n * (int)unit;
	return 0;
}

int
ctlcmd_parse_rate(const char *s, int *requests, int *window_s)
{
	const char	*slash = strchr(s, '/');
	char		 num[16];

	*window_s = 0;
	if (slash == NULL)
		return ctlcmd_parse_int(s, 1, INT_MAX, requests);
	if ((size_t)(slash - s) >= sizeof(num))
		return -1;
	memcpy(num, s, (size_t)(slash - s));
	num[slash - s] = '\0';
	if (ctlcmd_parse_int(num, 1, INT_MAX, requests) == -1 ||
	    ctlcmd_parse_duration(slash + 1, window_s) == -1)
		return -1;
	return 0;
}
