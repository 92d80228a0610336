/*
 * config.c: reads the JSON configuration file into a struct config and
 * checks it strictly: unknown keys, wrong types, out-of-range numbers,
 * duplicate keys and malformed JSON are all errors, each reported as one
 * line "<file>: <path>: <what is wrong>" where <path> is the JSON path of
 * the offending value (mcpServers.demo.args[1]).
 *
 * json-c keeps only the last of two equal keys in an object and, even in
 * strict mode, accepts single-quoted strings, NaN and Infinity. So after
 * json-c has parsed the text, the config_scan_*() functions walk the same
 * text once more to refuse those and to find duplicate keys with their line.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "config.h"
#include "remotecfg.h"
#include "toolname.h"

#define CONFIG_FILE_MAX		(16 * 1024 * 1024)	/* bytes */
#define CONFIG_PATH_MAX		256	/* a JSON path in a message */
#define CONFIG_QUOTE_MAX	80	/* a quoted user string in a message */
#define CONFIG_SERVER_NAME_MAX	64
#define CONFIG_SUGGEST_DIST	2	/* "did you mean" edit distance */
#define CONFIG_SUGGEST_LEN	64	/* longer unknown keys get no hint */
#define CONFIG_MIB		(1024 * 1024)
#define CONFIG_GIB		(1024 * 1024 * 1024)

/* rateLimits defaults: discovery 30 per minute, execute unlimited. */
#define CONFIG_DEFAULT_RATE_DISCOVERY_REQUESTS	30
#define CONFIG_DEFAULT_RATE_EXECUTE_REQUESTS	0
#define CONFIG_DEFAULT_RATE_WINDOW_S		60

/* One parse: where messages go and whether one was written. */
struct config_parser {
	const char	*name;		/* file name used in messages */
	char		*err;
	size_t		 errlen;
	int		 failed;
};

/* The second pass over the raw text (see the top of the file). */
struct config_scan {
	struct config_parser	*p;
	const char		*text;	/* the whole buffer, for line numbers */
	size_t			 len;
	size_t			 pos;
};

enum config_kind {
	CONFIG_KIND_INT,	/* int field, range checked */
	CONFIG_KIND_SIZE,	/* size_t field, range checked */
	CONFIG_KIND_BOOL,	/* int field, 0 or 1 */
	CONFIG_KIND_STRING,	/* char * field, non-empty */
	CONFIG_KIND_OTHER	/* handled by the caller */
};

/* A known key of one kind of object. */
struct config_key {
	const char		*name;
	enum config_kind	 kind;
	size_t			 offset;	/* into the struct being filled */
	int64_t			 min;
	int64_t			 max;
};

#define CONFIG_TOP(f)		offsetof(struct config, f)
#define CONFIG_SRV(f)		offsetof(struct config_server, f)
#define CONFIG_RATE(f)		offsetof(struct config_rate, f)
#define CONFIG_BREAKER(f)	offsetof(struct config_breaker, f)
#define CONFIG_TLS(f)		offsetof(struct config_tls, f)

static const struct config_key config_top_keys[] = {
	{ "$comment", CONFIG_KIND_OTHER, 0, 0, 0 },
	{ "listen", CONFIG_KIND_OTHER, 0, 0, 0 },
	{ "socketMode", CONFIG_KIND_OTHER, 0, 0, 0 },
	{ "socketGroup", CONFIG_KIND_OTHER, 0, 0, 0 },
	{ "authTokenFile", CONFIG_KIND_STRING, CONFIG_TOP(auth_token_file),
	    0, 0 },
	{ "auditLog", CONFIG_KIND_STRING, CONFIG_TOP(audit_log), 0, 0 },
	{ "allowedTools", CONFIG_KIND_OTHER, 0, 0, 0 },
	{ "workers", CONFIG_KIND_INT, CONFIG_TOP(workers), 1, 1024 },
	{ "queueSize", CONFIG_KIND_INT, CONFIG_TOP(queue_size), 1, 1000000 },
	{ "drainTimeoutMs", CONFIG_KIND_INT, CONFIG_TOP(drain_timeout_ms),
	    0, 3600000 },
	{ "maxBodyBytes", CONFIG_KIND_SIZE, CONFIG_TOP(max_body_bytes),
	    1024, CONFIG_GIB },
	{ "maxHeaderBytes", CONFIG_KIND_SIZE, CONFIG_TOP(max_header_bytes),
	    1024, CONFIG_MIB },
	{ "maxConnections", CONFIG_KIND_INT, CONFIG_TOP(max_connections),
	    1, 1000000 },
	{ "idleTimeoutMs", CONFIG_KIND_INT, CONFIG_TOP(idle_timeout_ms),
	    100, 86400000 },
	{ "headerTimeoutMs", CONFIG_KIND_INT, CONFIG_TOP(header_timeout_ms),
	    100, 3600000 },
	{ "bodyTimeoutMs", CONFIG_KIND_INT, CONFIG_TOP(body_timeout_ms),
	    100, 86400000 },
	{ "maxMessageBytes", CONFIG_KIND_SIZE, CONFIG_TOP(max_message_bytes),
	    1024, CONFIG_GIB },
	{ "startTimeoutMs", CONFIG_KIND_INT, CONFIG_TOP(start_timeout_ms),
	    100, 600000 },
	{ "discoveryTimeoutMs", CONFIG_KIND_INT,
	    CONFIG_TOP(discovery_timeout_ms), 0, 60000 },
	{ "discoveryRespectsAllowlist", CONFIG_KIND_BOOL,
	    CONFIG_TOP(discovery_respects_allowlist), 0, 0 },
	{ "ioThread", CONFIG_KIND_OTHER, 0, 0, 0 },	/* obsolete */
	{ "rateLimits", CONFIG_KIND_OTHER, 0, 0, 0 },
	{ "schemaCachePath", CONFIG_KIND_STRING, CONFIG_TOP(schema_cache_path),
	    0, 0 },
	{ "schemaCacheTtlSeconds", CONFIG_KIND_INT,
	    CONFIG_TOP(schema_cache_ttl_s), 0, 31536000 },
	{ "maxSessions", CONFIG_KIND_INT, CONFIG_TOP(max_sessions), 0,
	    1000000 },
	{ "unresponsiveMs", CONFIG_KIND_INT, CONFIG_TOP(unresponsive_ms),
	    0, 86400000 },
	{ "pingTimeoutMs", CONFIG_KIND_INT, CONFIG_TOP(ping_timeout_ms),
	    10, 600000 },
	{ "breaker", CONFIG_KIND_OTHER, 0, 0, 0 },
	{ "mcpServers", CONFIG_KIND_OTHER, 0, 0, 0 },
	{ NULL, CONFIG_KIND_OTHER, 0, 0, 0 }
};

static const struct config_key config_server_keys[] = {
	{ "$comment", CONFIG_KIND_OTHER, 0, 0, 0 },
	{ "type", CONFIG_KIND_OTHER, 0, 0, 0 },
	{ "command", CONFIG_KIND_STRING, CONFIG_SRV(command), 0, 0 },
	{ "args", CONFIG_KIND_OTHER, 0, 0, 0 },
	{ "env", CONFIG_KIND_OTHER, 0, 0, 0 },
	{ "cwd", CONFIG_KIND_STRING, CONFIG_SRV(cwd), 0, 0 },
	{ "inheritEnv", CONFIG_KIND_BOOL, CONFIG_SRV(inherit_env), 0, 0 },
	{ "timeoutMs", CONFIG_KIND_INT, CONFIG_SRV(timeout_ms), 1, 86400000 },
	{ "toolTimeouts", CONFIG_KIND_OTHER, 0, 0, 0 },
	{ "maxConcurrent", CONFIG_KIND_INT, CONFIG_SRV(max_concurrent),
	    1, 100000 },
	{ "maxQueued", CONFIG_KIND_INT, CONFIG_SRV(max_queued), 0, 1000000 },
	{ "maxBufferedBytes", CONFIG_KIND_SIZE, CONFIG_SRV(max_buffered_bytes),
	    65536, 4 * (int64_t)CONFIG_GIB },
	{ "instances", CONFIG_KIND_INT, CONFIG_SRV(instances), 1, 64 },
	{ "disabled", CONFIG_KIND_BOOL, CONFIG_SRV(disabled), 0, 0 },
	{ "unresponsiveMs", CONFIG_KIND_INT, CONFIG_SRV(unresponsive_ms),
	    0, 86400000 },
	{ "pingTimeoutMs", CONFIG_KIND_INT, CONFIG_SRV(ping_timeout_ms),
	    10, 600000 },
	{ "breaker", CONFIG_KIND_OTHER, 0, 0, 0 },
	{ "url", CONFIG_KIND_STRING, CONFIG_SRV(url), 0, 0 },
	{ "headers", CONFIG_KIND_OTHER, 0, 0, 0 },
	{ "headersFile", CONFIG_KIND_STRING, CONFIG_SRV(headers_file), 0, 0 },
	{ "tls", CONFIG_KIND_OTHER, 0, 0, 0 },
	{ NULL, CONFIG_KIND_OTHER, 0, 0, 0 }
};

/* Keys of one transport only. */
static const char *const config_stdio_only[] = {
	"command", "args", "env", "cwd", "inheritEnv", NULL
};
static const char *const config_remote_only[] = {
	"url", "headers", "headersFile", "tls", NULL
};

static const struct config_key config_tls_keys[] = {
	{ "caFile", CONFIG_KIND_STRING, CONFIG_TLS(ca_file), 0, 0 },
	{ "certFile", CONFIG_KIND_STRING, CONFIG_TLS(cert_file), 0, 0 },
	{ "keyFile", CONFIG_KIND_STRING, CONFIG_TLS(key_file), 0, 0 },
	{ "insecureSkipVerify", CONFIG_KIND_BOOL, CONFIG_TLS(insecure), 0, 0 },
	{ NULL, CONFIG_KIND_OTHER, 0, 0, 0 }
};

static const struct config_key config_rate_limits_keys[] = {
	{ "discovery", CONFIG_KIND_OTHER, 0, 0, 0 },
	{ "execute", CONFIG_KIND_OTHER, 0, 0, 0 },
	{ NULL, CONFIG_KIND_OTHER, 0, 0, 0 }
};

static const struct config_key config_rate_keys[] = {
	{ "requests", CONFIG_KIND_INT, CONFIG_RATE(requests), 0, 1000000 },
	{ "windowSeconds", CONFIG_KIND_INT, CONFIG_RATE(window_s), 1, 86400 },
	{ NULL, CONFIG_KIND_OTHER, 0, 0, 0 }
};

static const struct config_key config_breaker_keys[] = {
	{ "failures", CONFIG_KIND_INT, CONFIG_BREAKER(failures), 1, 1000 },
	{ "openMs", CONFIG_KIND_INT, CONFIG_BREAKER(open_ms), 100, 3600000 },
	{ NULL, CONFIG_KIND_OTHER, 0, 0, 0 }
};

/* Bounds of a tool's entry in toolTimeouts: those of timeoutMs. */
#define CONFIG_TOOL_TIMEOUT_MIN	1
#define CONFIG_TOOL_TIMEOUT_MAX	86400000

static struct config	*config_parse_buf(const char *, size_t, const char *,
			    char *, size_t);
static void		 config_error(struct config_parser *, const char *,
			    const char *, ...)
			    __attribute__((format(printf, 3, 4)));
static void		 config_position(const char *, size_t, size_t *,
			    size_t *);
static const char	*config_quote(char *, size_t, const char *);
static int		 config_plain_key(const char *);
static void		 config_path_key(char *, size_t, const char *,
			    const char *);
static void		 config_path_index(char *, size_t, const char *,
			    size_t);
static void		 config_path_cut(char *, size_t, int);
static const char	*config_type_name(struct json_object *);
static size_t		 config_distance(const char *, const char *);
static const struct config_key *config_find_key(const struct config_key *,
			    const char *);
static void		 config_unknown_key(struct config_parser *,
			    const char *, const char *,
			    const struct config_key *);
static int		 config_want_object(struct config_parser *,
			    const char *, struct json_object *);
static int		 config_get_int(struct config_parser *, const char *,
			    struct json_object *, int64_t, int64_t, int64_t *);
static int		 config_get_bool(struct config_parser *, const char *,
			    struct json_object *, int *);
static int		 config_get_string(struct config_parser *,
			    const char *, struct json_object *, int, char **);
static int		 config_set_key(struct config_parser *, const char *,
			    const struct config_key *, struct json_object *,
			    void *);
static const char	*config_listen_unix(const char *);
static int		 config_socket_mode(struct config_parser *,
			    const char *, struct json_object *,
			    struct config *);
static int		 config_socket_group(struct config_parser *,
			    const char *, struct json_object *,
			    struct config *);
static int		 config_listen(struct config_parser *, const char *,
			    struct json_object *, struct config *);
static int		 config_tool_pattern_ok(const char *);
static int		 config_allowed_tools(struct config_parser *,
			    const char *, struct json_object *,
			    struct config *);
static int		 config_keyed(struct config_parser *, const char *,
			    struct json_object *, const struct config_key *,
			    void *);
static int		 config_rate(struct config_parser *, const char *,
			    struct json_object *, struct config_rate *);
static int		 config_rate_limits(struct config_parser *,
			    const char *, struct json_object *,
			    struct config *);
static int		 config_breaker(struct config_parser *, const char *,
			    struct json_object *, struct config_breaker *);
static int		 config_server_name_ok(const char *);
static int		 config_env_name_ok(const char *);
static int		 config_args(struct config_parser *, const char *,
			    struct json_object *, struct config_server *);
static int		 config_env(struct config_parser *, const char *,
			    struct json_object *, struct config_server *);
static int		 config_tool_timeouts(struct config_parser *,
			    const char *, struct json_object *,
			    struct config_server *);
static int		 config_headers(struct config_parser *,
			    const char *, struct json_object *,
			    struct config_server *);
static int		 config_tls(struct config_parser *, const char *,
			    struct json_object *, struct config_tls *);
static int		 config_transport_keys(struct config_parser *,
			    const char *, struct json_object *,
			    const struct config_server *);
static int		 config_remote(struct config_parser *, const char *,
			    struct config_server *);
static int		 config_server_type(struct config_parser *,
			    const char *, struct json_object *,
			    struct config_server *);
static int		 config_server(struct config_parser *, const char *,
			    const char *, struct json_object *,
			    struct config_server *);
static int		 config_servers(struct config_parser *, const char *,
			    struct json_object *, struct config *);
static void		 config_server_defaults(struct config *);
static int		 config_obsolete(struct config_parser *,
			    const char *, struct json_object *,
			    struct config *, const char *);
static int		 config_top(struct config_parser *,
			    struct json_object *, struct config *);
static void		 config_server_free(struct config_server *);
static int		 config_is_ws(char);
static void		 config_scan_ws(struct config_scan *);
static void		 config_scan_error(struct config_scan *, size_t,
			    const char *);
static int		 config_scan_string(struct config_scan *, size_t *,
			    size_t *);
static char		*config_scan_key(struct config_scan *, size_t, size_t);
static int		 config_scan_scalar(struct config_scan *);
static int		 config_scan_object(struct config_scan *, const char *,
			    int);
static int		 config_scan_array(struct config_scan *, const char *,
			    int);
static int		 config_scan_value(struct config_scan *, const char *,
			    int);

/* ------------------------------------------------------------ messages */

static void
config_error(struct config_parser *p, const char *path, const char *fmt, ...)
{
	char	 msg[CONFIG_ERR_MAX];
	va_list	 ap;

	/* The first error is the one reported. */
	if (p->failed)
		return;
	p->failed = 1;
	if (p->err == NULL || p->errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (path == NULL || path[0] == '\0')
		snprintf(p->err, p->errlen, "%s: %s", p->name, msg);
	else
		snprintf(p->err, p->errlen, "%s: %s: %s", p->name, path, msg);
}

/* 1-based line and column (in characters, not bytes) of offset off. */
static void
config_position(const char *text, size_t off, size_t *line, size_t *col)
{
	size_t	 i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off && text[i] != '\0'; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\n') {
			(*line)++;
			*col = 1;
		} else if ((c & 0xc0) != 0x80)
			(*col)++;
	}
}

/*
 * s in double quotes, with quotes, backslashes and control characters
 * escaped and long strings cut, so a message stays one readable line.
 */
static const char *
config_quote(char *buf, size_t size, const char *s)
{
	size_t	 o = 0, i;

	/* Room for the longest escape, "...", the quote and the NUL. */
	if (size < 12)
		return "\"\"";
	buf[o++] = '"';
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (o + 11 > size || i >= CONFIG_QUOTE_MAX) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\u%04x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* Keys that can be written as .key in a path; others become ["key"]. */
static int
config_plain_key(const char *key)
{
	const char	*s;

	if (key[0] == '\0')
		return 0;
	for (s = key; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
		    *s == '$'))
			return 0;
	}
	return 1;
}

static void
config_path_key(char *buf, size_t size, const char *parent, const char *key)
{
	char	 q[CONFIG_QUOTE_MAX + 16];
	int	 n;

	if (config_plain_key(key))
		n = snprintf(buf, size, "%s%s%s", parent, parent[0] == '\0' ?
		    "" : ".", key);
	else
		n = snprintf(buf, size, "%s[%s]", parent,
		    config_quote(q, sizeof(q), key));
	config_path_cut(buf, size, n);
}

static void
config_path_index(char *buf, size_t size, const char *parent, size_t i)
{
	config_path_cut(buf, size, snprintf(buf, size, "%s[%zu]", parent, i));
}

/* A path cut short by snprintf() ends in "..." to say so. */
static void
config_path_cut(char *buf, size_t size, int n)
{
	if (n >= 0 && (size_t)n < size)
		return;
	if (size > 4)
		memcpy(buf + size - 4, "...", 4);
}

static const char *
config_type_name(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "boolean";
	case json_type_double:
		return "number";
	case json_type_int:
		return "integer";
	case json_type_object:
		return "object";
	case json_type_array:
		return "array";
	case json_type_string:
		return "string";
	}
	return "unknown";
}

/*
 * Case-insensitive edit distance (optimal string alignment: insertions,
 * deletions, substitutions and swaps of two neighbours), for suggestions.
 */
static size_t
config_distance(const char *a, const char *b)
{
	size_t	 row[3][CONFIG_SUGGEST_LEN + 2];
	size_t	 la = strlen(a), lb = strlen(b), i, j, cost, best;
	size_t	*prev2, *prev, *cur;

	if (la > CONFIG_SUGGEST_LEN || lb > CONFIG_SUGGEST_LEN)
		return SIZE_MAX;
	prev2 = row[0];
	prev = row[1];
	cur = row[2];
	for (j = 0; j <= lb; j++)
		prev[j] = j;
	for (i = 1; i <= la; i++) {
		int ca = a[i - 1] >= 'A' && a[i - 1] <= 'Z' ?
		    a[i - 1] - 'A' + 'a' : a[i - 1];

		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			int cb = b[j - 1] >= 'A' && b[j - 1] <= 'Z' ?
			    b[j - 1] - 'A' + 'a' : b[j - 1];
			int pa, pb;

			cost = ca == cb ? 0 : 1;
			best = prev[j - 1] + cost;
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1) {
				pa = a[i - 2] >= 'A' && a[i - 2] <= 'Z' ?
				    a[i - 2] - 'A' + 'a' : a[i - 2];
				pb = b[j - 2] >= 'A' && b[j - 2] <= 'Z' ?
				    b[j - 2] - 'A' + 'a' : b[j - 2];
				if (ca == pb && pa == cb &&
				    prev2[j - 2] + 1 < best)
					best = prev2[j - 2] + 1;
			}
			cur[j] = best;
		}
		/* Rotate the three rows. */
		{
			size_t *t = prev2;

			prev2 = prev;
			prev = cur;
			cur = t;
		}
	}
	return prev[lb];
}

static const struct config_key *
config_find_key(const struct config_key *keys, const char *name)
{
	for (; keys->name != NULL; keys++) {
		if (strcmp(keys->name, name) == 0)
			return keys;
	}
	return NULL;
}

static void
config_unknown_key(struct config_parser *p, const char *path, const char *key,
    const struct config_key *keys)
{
	const char	*best = NULL;
	size_t		 d, bestd = CONFIG_SUGGEST_DIST + 1;
	char		 q[CONFIG_QUOTE_MAX + 16];

	for (; keys->name != NULL; keys++) {
		d = config_distance(key, keys->name);
		if (d < bestd) {
			bestd = d;
			best = keys->name;
		}
	}
	if (best != NULL)
		config_error(p, path, "unknown key %s (did you mean \"%s\"?)",
		    config_quote(q, sizeof(q), key), best);
	else
		config_error(p, path, "unknown key %s",
		    config_quote(q, sizeof(q), key));
}

/* ------------------------------------------------------------ values */

static int
config_want_object(struct config_parser *p, const char *path,
    struct json_object *v)
{
	if (json_object_is_type(v, json_type_object))
		return 0;
	config_error(p, path, "expected object, got %s", config_type_name(v));
	return -1;
}

static int
config_get_int(struct config_parser *p, const char *path,
    struct json_object *v, int64_t min, int64_t max, int64_t *out)
{
	int64_t	 n;

	if (json_object_is_type(v, json_type_double)) {
		config_error(p, path, "expected integer, got %s",
		    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		return -1;
	}
	if (!json_object_is_type(v, json_type_int)) {
		config_error(p, path, "expected integer, got %s",
		    config_type_name(v));
		return -1;
	}
	/* Values above INT64_MAX read as INT64_MAX: out of range too. */
	n = json_object_get_int64(v);
	if (n < min || n > max) {
		config_error(p, path, "%s is out of range (%" PRId64 "..%"
		    PRId64 ")",
		    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
		    min, max);
		return -1;
	}
	*out = n;
	return 0;
}

static int
config_get_bool(struct config_parser *p, const char *path,
    struct json_object *v, int *out)
{
	if (!json_object_is_type(v, json_type_boolean)) {
		config_error(p, path, "expected boolean, got %s",
		    config_type_name(v));
		return -1;
	}
	*out = json_object_get_boolean(v) ? 1 : 0;
	return 0;
}

/* A copy of a JSON string in *out (freeing what was there). */
static int
config_get_string(struct config_parser *p, const char *path,
    struct json_object *v, int allow_empty, char **out)
{
	const char	*s;
	char		*copy;

	if (!json_object_is_type(v, json_type_string)) {
		config_error(p, path, "expected string, got %s",
		    config_type_name(v));
		return -1;
	}
	s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) != strlen(s)) {
		config_error(p, path, "string contains a NUL character");
		return -1;
	}
	if (!allow_empty && s[0] == '\0') {
		config_error(p, path, "must not be empty");
		return -1;
	}
	if ((copy = strdup(s)) == NULL) {
		config_error(p, path, "out of memory");
		return -1;
	}
	free(*out);
	*out = copy;
	return 0;
}

/* Store a key of a simple kind into the struct at base. */
static int
config_set_key(struct config_parser *p, const char *path,
    const struct config_key *k, struct json_object *v, void *base)
{
	char	*field = (char *)base + k->offset;
	int64_t	 n;
	int	 b;

	switch (k->kind) {
	case CONFIG_KIND_INT:
		if (config_get_int(p, path, v, k->min, k->max, &n) == -1)
			return -1;
		*(int *)(void *)field = (int)n;
		return 0;
	case CONFIG_KIND_SIZE:
		if (config_get_int(p, path, v, k->min, k->max, &n) == -1)
			return -1;
		*(size_t *)(void *)field = (size_t)n;
		return 0;
	case CONFIG_KIND_BOOL:
		if (config_get_bool(p, path, v, &b) == -1)
			return -1;
		*(int *)(void *)field = b;
		return 0;
	case CONFIG_KIND_STRING:
		return config_get_string(p, path, v, 0,
		    (char **)(void *)field);
	case CONFIG_KIND_OTHER:
		break;
	}
	config_error(p, path, "internal error: key has no handler");
	return -1;
}

/* ------------------------------------------------------------ top level */

/* "unix:/absolute/path": NULL if valid, else why not. */
static const char *
config_listen_unix(const char *path)
{
	static char	why[128];
	size_t		len = strlen(path);

	if (path[0] != '/')
		return "a Unix socket path must be absolute, as in "
		    "unix:/run/mcp-proxyd/mcp.sock";
	if (len >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
		snprintf(why, sizeof(why), "the Unix socket path is %zu bytes "
		    "long, at most %zu fit in a socket address", len,
		    sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
		return why;
	}
	if (path[len - 1] == '/')
		return "a Unix socket path must name a file, not a directory";
	return NULL;
}

/*
 * "host:port": host an IPv4 literal, an IPv6 literal in brackets or
 * "localhost"; port 0..65535 in decimal. Or "unix:/path". NULL if valid,
 * else why not.
 */
const char *
config_listen_check(const char *s)
{
	char		 host[INET6_ADDRSTRLEN + 1];
	unsigned char	 addr[sizeof(struct in6_addr)];
	const char	*port, *end;
	size_t		 hlen;
	long		 n;

	if (strncmp(s, "unix:", 5) == 0)
		return config_listen_unix(s + 5);
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return "missing \"]\" after an IPv6 address";
		hlen = (size_t)(end - s - 1);
		if (hlen == 0 || hlen >= sizeof(host))
			return "not a valid IPv6 address";
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET6, host, addr) != 1)
			return "not a valid IPv6 address";
		if (end[1] != ':')
			return "expected \":port\" after the address";
		port = end + 2;
	} else {
		if ((end = strchr(s, ':')) == NULL)
			return "expected host:port or unix:/path";
		if (strchr(end + 1, ':') != NULL)
			return "an IPv6 address must be in brackets, "
			    "as in [::1]:8080";
		hlen = (size_t)(end - s);
		if (hlen == 0)
			return "the host is missing (use 0.0.0.0 or [::] for "
			    "all addresses)";
		if (hlen >= sizeof(host))
			return "the host must be an IPv4 address, an IPv6 "
			    "address in brackets or localhost";
		memcpy(host, s, hlen);
		host[hlen] = '\0';
		if (strcmp(host, "localhost") != 0 &&
		    inet_pton(AF_INET, host, addr) != 1)
			return "the host must be an IPv4 address, an IPv6 "
			    "address in brackets or localhost";
		port = end + 1;
	}
	if (port[0] == '\0')
		return "the port is missing";
	n = 0;
	for (end = port; *end != '\0'; end++) {
		if (*end < '0' || *end > '9' || end - port >= 5)
			return "the port must be a number from 0 to 65535";
		n = n * 10 + (*end - '0');
	}
	if (n > 65535)
		return "the port must be a number from 0 to 65535";
	return NULL;
}

/* One string or an array of 1..CONFIG_LISTEN_MAX strings. */
static int
config_listen(struct config_parser *p, const char *path,
    struct json_object *v, struct config *cf)
{
	const char	*why;
	char		 ipath[CONFIG_PATH_MAX], q[CONFIG_QUOTE_MAX + 16];
	size_t		 n, i;
	int		 one = !json_object_is_type(v, json_type_array);

	n = one ? 1 : json_object_array_length(v);
	if (n < 1 || n > CONFIG_LISTEN_MAX) {
		config_error(p, path, "expected a string or an array of 1 to "
		    "%d strings, got %zu", CONFIG_LISTEN_MAX, n);
		return -1;
	}
	if ((cf->listen = calloc(n, sizeof(char *))) == NULL) {
		config_error(p, path, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (one)
			snprintf(ipath, sizeof(ipath), "%s", path);
		else
			config_path_index(ipath, sizeof(ipath), path, i);
		if (config_get_string(p, ipath, one ? v :
		    json_object_array_get_idx(v, i), 0, &cf->listen[i]) == -1)
			return -1;
		cf->nlisten = i + 1;
		if ((why = config_listen_check(cf->listen[i])) != NULL) {
			config_error(p, ipath, "%s: %s",
			    config_quote(q, sizeof(q), cf->listen[i]), why);
			return -1;
		}
	}
	return 0;
}

/* socketMode: octal digits as a string, "0660"; at most 0777. */
static int
config_socket_mode(struct config_parser *p, const char *path,
    struct json_object *v, struct config *cf)
{
	const char	*s, *c;
	char		 q[CONFIG_QUOTE_MAX + 16];
	int		 mode = 0;

	if (!json_object_is_type(v, json_type_string)) {
		config_error(p, path, "expected a string of octal digits "
		    "such as \"0660\", got %s", config_type_name(v));
		return -1;
	}
	s = json_object_get_string(v);
	for (c = s; *c >= '0' && *c <= '7' && mode <= 0777; c++)
		mode = mode * 8 + (*c - '0');
	if (*s == '\0' || *c != '\0' || mode > 0777) {
		config_error(p, path, "%s: expected octal digits from \"0\" "
		    "to \"0777\", such as \"0660\"",
		    config_quote(q, sizeof(q), s));
		return -1;
	}
	cf->socket_mode = mode;
	return 0;
}

/* socketGroup: a group name or a numeric gid, resolved now. */
static int
config_socket_group(struct config_parser *p, const char *path,
    struct json_object *v, struct config *cf)
{
	struct group	*gr;
	char		 q[CONFIG_QUOTE_MAX + 16], *end;
	unsigned long	 n;

	if (config_get_string(p, path, v, 0, &cf->socket_group) == -1)
		return -1;
	errno = 0;
	n = strtoul(cf->socket_group, &end, 10);
	if (cf->socket_group[0] >= '0' && cf->socket_group[0] <= '9' &&
	    *end == '\0') {
		if (errno != 0 || n >= (gid_t)-1) {
			config_error(p, path, "%s: not a valid gid",
			    config_quote(q, sizeof(q), cf->socket_group));
			return -1;
		}
		cf->socket_gid = (gid_t)n;
		return 0;
	}
	errno = 0;
	if ((gr = getgrnam(cf->socket_group)) == NULL) {
		config_error(p, path, "%s: %s", config_quote(q, sizeof(q),
		    cf->socket_group), errno != 0 ? strerror(errno) :
		    "no such group");
		return -1;
	}
	cf->socket_gid = gr->gr_gid;
	return 0;
}

/*
 * An allowedTools entry: a glob (any text with a "*") or an exact name
 * of the grammar of toolname.h.
 */
static int
config_tool_pattern_ok(const char *s)
{
	struct toolname	tn;
	char		err[TOOLNAME_QUOTE_MAX + 128];

	if (strchr(s, '*') != NULL)
		return 1;
	return toolname_parse(s, strlen(s), &tn, err, sizeof(err)) == 0;
}

static int
config_allowed_tools(struct config_parser *p, const char *path,
    struct json_object *v, struct config *cf)
{
	char	 ipath[CONFIG_PATH_MAX], q[CONFIG_QUOTE_MAX + 16];
	size_t	 n, i;

	if (!json_object_is_type(v, json_type_array)) {
		config_error(p, path, "expected array, got %s",
		    config_type_name(v));
		return -1;
	}
	n = json_object_array_length(v);
	if ((cf->allowed_tools = calloc(n + 1, sizeof(char *))) == NULL) {
		config_error(p, path, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		config_path_index(ipath, sizeof(ipath), path, i);
		if (config_get_string(p, ipath, json_object_array_get_idx(v, i),
		    0, &cf->allowed_tools[i]) == -1)
			return -1;
		cf->nallowed_tools = i + 1;
		if (!config_tool_pattern_ok(cf->allowed_tools[i])) {
			config_error(p, ipath, "%s is neither a tool name "
			    "mcp__server__tool nor a pattern with \"*\"",
			    config_quote(q, sizeof(q), cf->allowed_tools[i]));
			return -1;
		}
	}
	return 0;
}

/* An object whose keys all come from keys, each set into dst. */
static int
config_keyed(struct config_parser *p, const char *path,
    struct json_object *v, const struct config_key *keys, void *dst)
{
	struct json_object_iterator	 it, end;
	const struct config_key		*k;
	const char			*key;
	char				 kpath[CONFIG_PATH_MAX];

	if (config_want_object(p, path, v) == -1)
		return -1;
	it = json_object_iter_begin(v);
	end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		config_path_key(kpath, sizeof(kpath), path, key);
		if ((k = config_find_key(keys, key)) == NULL) {
			config_unknown_key(p, path, key, keys);
			return -1;
		}
		if (config_set_key(p, kpath, k, json_object_iter_peek_value(&it),
		    dst) == -1)
			return -1;
	}
	return 0;
}

static int
config_rate(struct config_parser *p, const char *path, struct json_object *v,
    struct config_rate *rate)
{
	return config_keyed(p, path, v, config_rate_keys, rate);
}

static int
config_rate_limits(struct config_parser *p, const char *path,
    struct json_object *v, struct config *cf)
{
	struct json_object_iterator	 it, end;
	struct config_rate		*rate;
	const char			*key;
	char				 kpath[CONFIG_PATH_MAX];

	if (config_want_object(p, path, v) == -1)
		return -1;
	it = json_object_iter_begin(v);
	end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		config_path_key(kpath, sizeof(kpath), path, key);
		if (strcmp(key, "discovery") == 0)
			rate = &cf->rate_discovery;
		else if (strcmp(key, "execute") == 0)
			rate = &cf->rate_execute;
		else {
			config_unknown_key(p, path, key,
			    config_rate_limits_keys);
			return -1;
		}
		if (config_rate(p, kpath, json_object_iter_peek_value(&it),
		    rate) == -1)
			return -1;
	}
	return 0;
}

/*
 * "breaker": false (off), true (on, with the defaults), or an object
 * {"failures": N, "openMs": M} (on; a key left out keeps its default).
 */
static int
config_breaker(struct config_parser *p, const char *path,
    struct json_object *v, struct config_breaker *b)
{
	if (json_object_is_type(v, json_type_boolean))
		return config_get_bool(p, path, v, &b->enabled);
	if (!json_object_is_type(v, json_type_object)) {
		config_error(p, path, "expected boolean or object, got %s",
		    config_type_name(v));
		return -1;
	}
	b->enabled = 1;
	return config_keyed(p, path, v, config_breaker_keys, b);
}

/* ------------------------------------------------------------ servers */

/* 1..64 of [A-Za-z0-9_-], without "__" (the separator in tool names) and
 * without "_" at either end, so that mcp__<server>__<tool> has one
 * reading. */
static int
config_server_name_ok(const char *name)
{
	return strlen(name) <= CONFIG_SERVER_NAME_MAX &&
	    toolname_server_ok(name);
}

/* [A-Za-z_][A-Za-z0-9_]* */
static int
config_env_name_ok(const char *name)
{
	const char	*s;

	if (!((name[0] >= 'a' && name[0] <= 'z') ||
	    (name[0] >= 'A' && name[0] <= 'Z') || name[0] == '_'))
		return 0;
	for (s = name + 1; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	}
	return 1;
}

static int
config_args(struct config_parser *p, const char *path, struct json_object *v,
    struct config_server *srv)
{
	char	 ipath[CONFIG_PATH_MAX];
	size_t	 n, i;

	if (!json_object_is_type(v, json_type_array)) {
		config_error(p, path, "expected array, got %s",
		    config_type_name(v));
		return -1;
	}
	n = json_object_array_length(v);
	free(srv->args);
	if ((srv->args = calloc(n + 1, sizeof(char *))) == NULL) {
		config_error(p, path, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		config_path_index(ipath, sizeof(ipath), path, i);
		if (config_get_string(p, ipath, json_object_array_get_idx(v, i),
		    1, &srv->args[i]) == -1)
			return -1;
		srv->nargs = i + 1;
	}
	return 0;
}

static int
config_env(struct config_parser *p, const char *path, struct json_object *v,
    struct config_server *srv)
{
	struct json_object_iterator	 it, end;
	struct config_kv		*kv;
	const char			*key;
	char				 kpath[CONFIG_PATH_MAX];
	char				 q[CONFIG_QUOTE_MAX + 16];
	size_t				 n;

	if (config_want_object(p, path, v) == -1)
		return -1;
	if ((n = (size_t)json_object_object_length(v)) == 0)
		return 0;
	if ((srv->env = calloc(n, sizeof(*srv->env))) == NULL) {
		config_error(p, path, "out of memory");
		return -1;
	}
	it = json_object_iter_begin(v);
	end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		config_path_key(kpath, sizeof(kpath), path, key);
		if (!config_env_name_ok(key)) {
			config_error(p, kpath, "invalid environment variable "
			    "name %s (expected [A-Za-z_][A-Za-z0-9_]*)",
			    config_quote(q, sizeof(q), key));
			return -1;
		}
		kv = &srv->env[srv->nenv];
		if ((kv->key = strdup(key)) == NULL) {
			config_error(p, kpath, "out of memory");
			return -1;
		}
		srv->nenv++;
		if (config_get_string(p, kpath, json_object_iter_peek_value(&it),
		    1, &kv->value) == -1)
			return -1;
	}
	return 0;
}

static int
config_tool_timeouts(struct config_parser *p, const char *path,
    struct json_object *v, struct config_server *srv)
{
	struct json_object_iterator	 it, end;
	struct config_tool_timeout	*tt;
	const char			*key;
	char				 kpath[CONFIG_PATH_MAX];
	int64_t				 ms;
	size_t				 n;

	if (config_want_object(p, path, v) == -1)
		return -1;
	if ((n = (size_t)json_object_object_length(v)) == 0)
		return 0;
	if ((srv->tool_timeouts = calloc(n, sizeof(*tt))) == NULL) {
		config_error(p, path, "out of memory");
		return -1;
	}
	it = json_object_iter_begin(v);
	end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		config_path_key(kpath, sizeof(kpath), path, key);
		if (key[0] == '\0') {
			config_error(p, kpath, "empty tool name");
			return -1;
		}
		if (config_get_int(p, kpath, json_object_iter_peek_value(&it),
		    CONFIG_TOOL_TIMEOUT_MIN, CONFIG_TOOL_TIMEOUT_MAX,
		    &ms) == -1)
			return -1;
		tt = &srv->tool_timeouts[srv->ntool_timeouts];
		if ((tt->tool = strdup(key)) == NULL) {
			config_error(p, kpath, "out of memory");
			return -1;
		}
		tt->timeout_ms = (int)ms;
		srv->ntool_timeouts++;
	}
	return 0;
}

/* "type" as Claude Code writes it: stdio, http (or streamable-http) or
 * sse. */
static int
config_server_type(struct config_parser *p, const char *path,
    struct json_object *v, struct config_server *srv)
{
	const char	*type;
	char		 q[CONFIG_QUOTE_MAX + 16];

	if (!json_object_is_type(v, json_type_string)) {
		config_error(p, path, "expected string, got %s",
		    config_type_name(v));
		return -1;
	}
	type = json_object_get_string(v);
	if (strcmp(type, "stdio") == 0)
		srv->transport = CONFIG_TRANSPORT_STDIO;
	else if (strcmp(type, "http") == 0 ||
	    strcmp(type, "streamable-http") == 0)
		srv->transport = CONFIG_TRANSPORT_HTTP;
	else if (strcmp(type, "sse") == 0)
		srv->transport = CONFIG_TRANSPORT_SSE;
	else {
		config_error(p, path, "unknown server type %s (expected "
		    "\"stdio\", \"http\" or \"sse\")",
		    config_quote(q, sizeof(q), type));
		return -1;
	}
	return 0;
}

static int
config_server(struct config_parser *p, const char *path, const char *name,
    struct json_object *v, struct config_server *srv)
{
	struct json_object_iterator	 it, end;
	struct json_object		*val;
	const struct config_key		*k;
	const char			*key;
	char				 kpath[CONFIG_PATH_MAX];
	char				 q[CONFIG_QUOTE_MAX + 16];

	srv->timeout_ms = CONFIG_DEFAULT_SERVER_TIMEOUT_MS;
	srv->max_concurrent = CONFIG_DEFAULT_MAX_CONCURRENT;
	srv->max_queued = CONFIG_DEFAULT_MAX_QUEUED;
	srv->instances = 1;
	/* -1: the top-level value, filled in by config_server_defaults(). */
	srv->unresponsive_ms = srv->ping_timeout_ms = -1;
	srv->breaker.enabled = srv->breaker.failures = -1;
	srv->breaker.open_ms = -1;
	if ((srv->name = strdup(name)) == NULL) {
		config_error(p, path, "out of memory");
		return -1;
	}
	if (!config_server_name_ok(name)) {
		config_error(p, path, "invalid server name %s (1 to 64 of "
		    "A-Z a-z 0-9 _ -, without \"__\" and not starting or "
		    "ending with \"_\": mcp__<server>__<tool> must have one "
		    "reading)",
		    config_quote(q, sizeof(q), name));
		return -1;
	}
	if (config_want_object(p, path, v) == -1)
		return -1;

	/* The transport first: it decides which keys belong. A "url"
	 * without a "type" or a "command" is Streamable HTTP. */
	if (json_object_object_get_ex(v, "type", &val)) {
		config_path_key(kpath, sizeof(kpath), path, "type");
		if (config_server_type(p, kpath, val, srv) == -1)
			return -1;
	} else if (json_object_object_get_ex(v, "url", NULL) &&
	    !json_object_object_get_ex(v, "command", NULL))
		srv->transport = CONFIG_TRANSPORT_HTTP;
	if (config_transport_keys(p, path, v, srv) == -1)
		return -1;

	it = json_object_iter_begin(v);
	end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		val = json_object_iter_peek_value(&it);
		config_path_key(kpath, sizeof(kpath), path, key);
		if ((k = config_find_key(config_server_keys, key)) == NULL) {
			config_unknown_key(p, path, key, config_server_keys);
			return -1;
		}
		if (k->kind != CONFIG_KIND_OTHER) {
			if (config_set_key(p, kpath, k, val, srv) == -1)
				return -1;
		} else if (strcmp(key, "$comment") == 0) {
			if (!json_object_is_type(val, json_type_string)) {
				config_error(p, kpath, "expected string, "
				    "got %s", config_type_name(val));
				return -1;
			}
		} else if (strcmp(key, "type") == 0) {
			/* Checked above. */
		} else if (strcmp(key, "args") == 0) {
			if (config_args(p, kpath, val, srv) == -1)
				return -1;
		} else if (strcmp(key, "env") == 0) {
			if (config_env(p, kpath, val, srv) == -1)
				return -1;
		} else if (strcmp(key, "toolTimeouts") == 0) {
			if (config_tool_timeouts(p, kpath, val, srv) == -1)
				return -1;
		} else if (strcmp(key, "breaker") == 0) {
			if (config_breaker(p, kpath, val, &srv->breaker) == -1)
				return -1;
		} else if (strcmp(key, "headers") == 0) {
			if (config_headers(p, kpath, val, srv) == -1)
				return -1;
		} else if (strcmp(key, "tls") == 0) {
			if (config_tls(p, kpath, val, &srv->tls_opts) == -1)
				return -1;
		}
	}
	if (srv->transport != CONFIG_TRANSPORT_STDIO)
		return config_remote(p, path, srv);
	if (srv->command == NULL) {
		config_error(p, path, "missing required key \"command\"");
		return -1;
	}
	if (srv->args == NULL &&
	    (srv->args = calloc(1, sizeof(char *))) == NULL) {
		config_error(p, path, "out of memory");
		return -1;
	}
	return 0;
}

/* A key of the other transport is an error that says so. */
static int
config_transport_keys(struct config_parser *p, const char *path,
    struct json_object *v, const struct config_server *srv)
{
	const char *const	*keys;
	char			 kpath[CONFIG_PATH_MAX];
	int			 remote;

	remote = srv->transport != CONFIG_TRANSPORT_STDIO;
	keys = remote ? config_stdio_only : config_remote_only;
	for (; *keys != NULL; keys++) {
		if (!json_object_object_get_ex(v, *keys, NULL))
			continue;
		config_path_key(kpath, sizeof(kpath), path, *keys);
		config_error(p, kpath, "only for %s servers (this one is %s)",
		    remote ? "stdio" : "remote (http, sse)", remote ?
		    "remote" : "a stdio server: give it a \"type\" of "
		    "\"http\" or \"sse\" to make it remote");
		return -1;
	}
	return 0;
}

/* headers: names checked, values ${VAR} expanded now. */
static int
config_headers(struct config_parser *p, const char *path,
    struct json_object *v, struct config_server *srv)
{
	struct json_object_iterator	 it, end;
	const char			*key;
	char				 kpath[CONFIG_PATH_MAX], why[300];
	char				*raw = NULL, *val = NULL;
	int				 rc = -1;

	if (config_want_object(p, path, v) == -1)
		return -1;
	it = json_object_iter_begin(v);
	end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		config_path_key(kpath, sizeof(kpath), path, key);
		if (remotecfg_header_name(key, why, sizeof(why)) == -1) {
			config_error(p, kpath, "%s", why);
			goto out;
		}
		if (config_get_string(p, kpath,
		    json_object_iter_peek_value(&it), 1, &raw) == -1)
			goto out;
		if (remotecfg_expand(raw, &val, why, sizeof(why)) == -1) {
			config_error(p, kpath, "%s", why);
			goto out;
		}
		if (remotecfg_header_set(&srv->headers, &srv->nheaders, key,
		    val) == -1) {
			config_error(p, kpath, "out of memory");
			goto out;
		}
		free(val);
		val = NULL;
	}
	rc = 0;
out:
	free(raw);
	free(val);
	return rc;
}

static int
config_tls(struct config_parser *p, const char *path, struct json_object *v,
    struct config_tls *tls)
{
	return config_keyed(p, path, v, config_tls_keys, tls);
}

/* A remote server's URL, headers file and TLS files. */
static int
config_remote(struct config_parser *p, const char *path,
    struct config_server *srv)
{
	const struct config_tls	*t = &srv->tls_opts;
	char			 kpath[CONFIG_PATH_MAX], why[600];
	const char		*files[3];
	int			 i;

	config_path_key(kpath, sizeof(kpath), path, "url");
	if (srv->url == NULL) {
		config_error(p, path, "missing required key \"url\"");
		return -1;
	}
	if (remotecfg_url(srv->url, &srv->tls, why, sizeof(why)) == -1) {
		config_error(p, kpath, "%s", why);
		return -1;
	}
	config_path_key(kpath, sizeof(kpath), path, "headersFile");
	if (srv->headers_file != NULL && remotecfg_headers_file(
	    srv->headers_file, &srv->headers, &srv->nheaders, why,
	    sizeof(why)) == -1) {
		config_error(p, kpath, "%s", why);
		return -1;
	}
	config_path_key(kpath, sizeof(kpath), path, "tls");
	if (!srv->tls && (t->ca_file != NULL || t->cert_file != NULL ||
	    t->key_file != NULL || t->insecure)) {
		config_error(p, kpath, "TLS options need an https:// URL");
		return -1;
	}
	if ((t->cert_file == NULL) != (t->key_file == NULL)) {
		config_error(p, kpath, "certFile and keyFile go together");
		return -1;
	}
	files[0] = t->ca_file;
	files[1] = t->cert_file;
	files[2] = t->key_file;
	for (i = 0; i < 3; i++)
		if (files[i] != NULL && access(files[i], R_OK) == -1) {
			config_error(p, kpath, "cannot read %s: %s", files[i],
			    strerror(errno));
			return -1;
		}
	return 0;
}

static int
config_servers(struct config_parser *p, const char *path,
    struct json_object *v, struct config *cf)
{
	struct json_object_iterator	 it, end;
	const char			*name;
	char				 spath[CONFIG_PATH_MAX];
	size_t				 n;

	if (config_want_object(p, path, v) == -1)
		return -1;
	if ((n = (size_t)json_object_object_length(v)) == 0)
		return 0;
	if ((cf->servers = calloc(n, sizeof(*cf->servers))) == NULL) {
		config_error(p, path, "out of memory");
		return -1;
	}
	it = json_object_iter_begin(v);
	end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		name = json_object_iter_peek_name(&it);
		config_path_key(spath, sizeof(spath), path, name);
		/* Counted first so that config_free() sees a partial one. */
		cf->nservers++;
		if (config_server(p, spath, name,
		    json_object_iter_peek_value(&it),
		    &cf->servers[cf->nservers - 1]) == -1)
			return -1;
	}
	return 0;
}

static int
config_top(struct config_parser *p, struct json_object *root,
    struct config *cf)
{
	struct json_object_iterator	 it, end;
	struct json_object		*val;
	const struct config_key		*k;
	const char			*key;
	char				 kpath[CONFIG_PATH_MAX];
	int				 rc;

	it = json_object_iter_begin(root);
	end = json_object_iter_end(root);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		val = json_object_iter_peek_value(&it);
		config_path_key(kpath, sizeof(kpath), "", key);
		if ((k = config_find_key(config_top_keys, key)) == NULL) {
			config_unknown_key(p, "", key, config_top_keys);
			return -1;
		}
		if (k->kind != CONFIG_KIND_OTHER)
			rc = config_set_key(p, kpath, k, val, cf);
		else if (strcmp(key, "$comment") == 0) {
			rc = 0;
			if (!json_object_is_type(val, json_type_string)) {
				config_error(p, kpath, "expected string, "
				    "got %s", config_type_name(val));
				rc = -1;
			}
		} else if (strcmp(key, "listen") == 0)
			rc = config_listen(p, kpath, val, cf);
		else if (strcmp(key, "socketMode") == 0)
			rc = config_socket_mode(p, kpath, val, cf);
		else if (strcmp(key, "socketGroup") == 0)
			rc = config_socket_group(p, kpath, val, cf);
		else if (strcmp(key, "allowedTools") == 0)
			rc = config_allowed_tools(p, kpath, val, cf);
		else if (strcmp(key, "rateLimits") == 0)
			rc = config_rate_limits(p, kpath, val, cf);
		else if (strcmp(key, "breaker") == 0)
			rc = config_breaker(p, kpath, val, &cf->breaker);
		else if (strcmp(key, "mcpServers") == 0)
			rc = config_servers(p, kpath, val, cf);
		else if (strcmp(key, "ioThread") == 0)
			rc = config_obsolete(p, kpath, val, cf,
			    "the MCP servers' pipes are always served by the "
			    "worker threads now; remove this key");
		else {
			config_error(p, kpath, "internal error: no handler");
			rc = -1;
		}
		if (rc == -1)
			return -1;
	}
	if (cf->allowed_tools == NULL &&
	    (cf->allowed_tools = calloc(1, sizeof(char *))) == NULL) {
		config_error(p, "", "out of memory");
		return -1;
	}
	config_server_defaults(cf);
	return 0;
}

/* Per-server defaults that depend on top-level keys (which may come
 * after mcpServers in the file). */
static void
config_server_defaults(struct config *cf)
{
	struct config_server	*s;
	size_t			 i, dflt;

	dflt = cf->max_body_bytes * 2;
	if (dflt < CONFIG_MIN_MAX_BUFFERED_BYTES)
		dflt = CONFIG_MIN_MAX_BUFFERED_BYTES;
	for (i = 0; i < cf->nservers; i++) {
		s = &cf->servers[i];
		if (s->max_buffered_bytes == 0)
			s->max_buffered_bytes = dflt;
		if (s->unresponsive_ms == -1)
			s->unresponsive_ms = cf->unresponsive_ms != -1 ?
			    cf->unresponsive_ms : 2 * s->timeout_ms;
		if (s->ping_timeout_ms == -1)
			s->ping_timeout_ms = cf->ping_timeout_ms;
		if (s->breaker.enabled == -1)
			s->breaker.enabled = cf->breaker.enabled;
		if (s->breaker.failures == -1)
			s->breaker.failures = cf->breaker.failures;
		if (s->breaker.open_ms == -1)
			s->breaker.open_ms = cf->breaker.open_ms;
	}
}

/*
 * A key that is still accepted but no longer does anything: its value is
 * type checked as before, and a warning naming it goes to cf->warnings.
 */
static int
config_obsolete(struct config_parser *p, const char *path,
    struct json_object *v, struct config *cf, const char *why)
{
	char	**w;
	size_t	  n = 0;
	int	  b;

	if (config_get_bool(p, path, v, &b) == -1)
		return -1;
	while (cf->warnings != NULL && cf->warnings[n] != NULL)
		n++;
	if ((w = realloc(cf->warnings, (n + 2) * sizeof(*w))) == NULL)
		goto nomem;
	cf->warnings = w;
	if (asprintf(&w[n], "%s: %s: obsolete key, ignored: %s", p->name,
	    path, why) == -1)
		goto nomem;
	w[n + 1] = NULL;
	return 0;
nomem:
	if (cf->warnings != NULL)
		cf->warnings[n] = NULL;
	config_error(p, path, "out of memory");
	return -1;
}

/* ------------------------------------------------------------ raw scan */

/* JSON whitespace; json-c's strict mode refuses \f and \v too. */
static int
config_is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void
config_scan_ws(struct config_scan *sc)
{
	while (sc->pos < sc->len && config_is_ws(sc->text[sc->pos]))
		sc->pos++;
}

static void
config_scan_error(struct config_scan *sc, size_t off, const char *what)
{
	size_t	 line, col;

	config_position(sc->text, off, &line, &col);
	config_error(sc->p, "", "line %zu, column %zu: invalid JSON: %s",
	    line, col, what);
}

/* A double-quoted string at pos: [*start, *end) is its inside. */
static int
config_scan_string(struct config_scan *sc, size_t *start, size_t *end)
{
	if (sc->pos >= sc->len || sc->text[sc->pos] != '"') {
		config_scan_error(sc, sc->pos, sc->pos < sc->len &&
		    sc->text[sc->pos] == '\'' ? "single-quoted string (JSON "
		    "needs double quotes)" : "expected a string");
		return -1;
	}
	*start = ++sc->pos;
	while (sc->pos < sc->len) {
		if (sc->text[sc->pos] == '\\')
			sc->pos += 2;
		else if (sc->text[sc->pos] == '"') {
			*end = sc->pos++;
			return 0;
		} else
			sc->pos++;
	}
	config_scan_error(sc, sc->len, "unterminated string");
	return -1;
}

/* The decoded text of the key whose inside is [start, end). */
static char *
config_scan_key(struct config_scan *sc, size_t start, size_t end)
{
	struct json_object	*o = NULL;
	char			*raw, *key = NULL;
	size_t			 n = end - start;

	/* The key with its quotes, as json-c wants it. */
	if ((raw = strndup(sc->text + start - 1, n + 2)) == NULL) {
		config_error(sc->p, "", "out of memory");
		return NULL;
	}
	if (memchr(raw, '\\', n + 2) == NULL) {
		/* Nothing to decode: drop the quotes. */
		memmove(raw, raw + 1, n);
		raw[n] = '\0';
		return raw;
	}
	if ((o = json_tokener_parse(raw)) == NULL ||
	    !json_object_is_type(o, json_type_string)) {
		config_scan_error(sc, start, "bad key");
		goto done;
	}
	if ((size_t)json_object_get_string_len(o) !=
	    strlen(json_object_get_string(o))) {
		config_scan_error(sc, start, "key contains a NUL character");
		goto done;
	}
	if ((key = strdup(json_object_get_string(o))) == NULL)
		config_error(sc->p, "", "out of memory");
 done:
	json_object_put(o);
	free(raw);
	return key;
}

/* true, false, null or a number; not json-c's NaN and Infinity. */
static int
config_scan_scalar(struct config_scan *sc)
{
	size_t		 start = sc->pos, n;
	const char	*s = sc->text + start;
	char		 c;

	while (sc->pos < sc->len) {
		c = sc->text[sc->pos];
		if (config_is_ws(c) || c == ',' || c == ']' || c == '}')
			break;
		sc->pos++;
	}
	n = sc->pos - start;
	if ((n == 4 && memcmp(s, "true", 4) == 0) ||
	    (n == 5 && memcmp(s, "false", 5) == 0) ||
	    (n == 4 && memcmp(s, "null", 4) == 0))
		return 0;
	if (n > 0 && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) &&
	    strspn(s, "-+.0123456789eE") >= n)
		return 0;
	if (n > 0 && s[0] == '\'')
		config_scan_error(sc, start, "single-quoted string (JSON "
		    "needs double quotes)");
	else
		config_scan_error(sc, start, "not a JSON value (NaN and "
		    "Infinity are not allowed)");
	return -1;
}

static int
config_scan_object(struct config_scan *sc, const char *path, int depth)
{
	struct json_object	*seen;
	char			 kpath[CONFIG_PATH_MAX];
	char			 q[CONFIG_QUOTE_MAX + 16];
	char			*key = NULL;
	size_t			 start, end, line, col;

	if ((seen = json_object_new_object()) == NULL) {
		config_error(sc->p, "", "out of memory");
		return -1;
	}
	sc->pos++;	/* { */
	config_scan_ws(sc);
	if (sc->pos < sc->len && sc->text[sc->pos] == '}') {
		sc->pos++;
		json_object_put(seen);
		return 0;
	}
	for (;;) {
		config_scan_ws(sc);
		if (config_scan_string(sc, &start, &end) == -1)
			goto fail;
		if ((key = config_scan_key(sc, start, end)) == NULL)
			goto fail;
		if (json_object_object_get_ex(seen, key, NULL)) {
			config_position(sc->text, start - 1, &line, &col);
			config_error(sc->p, path, "duplicate key %s (line %zu)",
			    config_quote(q, sizeof(q), key), line);
			goto fail;
		}
		if (json_object_object_add(seen, key, NULL) != 0) {
			config_error(sc->p, "", "out of memory");
			goto fail;
		}
		config_path_key(kpath, sizeof(kpath), path, key);
		free(key);
		key = NULL;
		config_scan_ws(sc);
		if (sc->pos >= sc->len || sc->text[sc->pos] != ':') {
			config_scan_error(sc, sc->pos, "expected \":\"");
			goto fail;
		}
		sc->pos++;
		if (config_scan_value(sc, kpath, depth + 1) == -1)
			goto fail;
		config_scan_ws(sc);
		if (sc->pos < sc->len && sc->text[sc->pos] == ',') {
			sc->pos++;
			continue;
		}
		if (sc->pos < sc->len && sc->text[sc->pos] == '}') {
			sc->pos++;
			break;
		}
		config_scan_error(sc, sc->pos, "expected \",\" or \"}\"");
		goto fail;
	}
	json_object_put(seen);
	return 0;
 fail:
	free(key);
	json_object_put(seen);
	return -1;
}

static int
config_scan_array(struct config_scan *sc, const char *path, int depth)
{
	char	 ipath[CONFIG_PATH_MAX];
	size_t	 i;

	sc->pos++;	/* [ */
	config_scan_ws(sc);
	if (sc->pos < sc->len && sc->text[sc->pos] == ']') {
		sc->pos++;
		return 0;
	}
	for (i = 0;; i++) {
		config_path_index(ipath, sizeof(ipath), path, i);
		if (config_scan_value(sc, ipath, depth + 1) == -1)
			return -1;
		config_scan_ws(sc);
		if (sc->pos < sc->len && sc->text[sc->pos] == ',') {
			sc->pos++;
			continue;
		}
		if (sc->pos < sc->len && sc->text[sc->pos] == ']') {
			sc->pos++;
			return 0;
		}
		config_scan_error(sc, sc->pos, "expected \",\" or \"]\"");
		return -1;
	}
}

static int
config_scan_value(struct config_scan *sc, const char *path, int depth)
{
	size_t	 start, end;

	/* json-c has already refused anything deeper than its limit. */
	if (depth > JSON_TOKENER_DEFAULT_DEPTH) {
		config_scan_error(sc, sc->pos, "nested too deeply");
		return -1;
	}
	config_scan_ws(sc);
	if (sc->pos >= sc->len) {
		config_scan_error(sc, sc->pos, "unexpected end of data");
		return -1;
	}
	switch (sc->text[sc->pos]) {
	case '{':
		return config_scan_object(sc, path, depth);
	case '[':
		return config_scan_array(sc, path, depth);
	case '"':
	case '\'':
		return config_scan_string(sc, &start, &end);
	default:
		return config_scan_scalar(sc);
	}
}

/* ------------------------------------------------------------ entry */

static struct config *
config_parse_buf(const char *text, size_t len, const char *name, char *err,
    size_t errlen)
{
	struct config_parser	 p;
	struct config_scan	 sc;
	struct json_tokener	*tok = NULL;
	struct json_object	*root = NULL;
	struct config		*cf = NULL;
	enum json_tokener_error	 jerr;
	size_t			 skip = 0, off, line, col;

	memset(&p, 0, sizeof(p));
	p.name = name != NULL ? name : "(config)";
	p.err = err;
	p.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';

	if (len > CONFIG_FILE_MAX) {
		config_error(&p, "", "file is larger than 16 MiB");
		goto fail;
	}
	/* Some editors start UTF-8 files with a byte order mark. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		skip = 3;
	off = skip;
	while (off < len && config_is_ws(text[off]))
		off++;
	if (off == len) {
		config_error(&p, "", "file is empty (expected a JSON object "
		    "such as {\"mcpServers\": {}})");
		goto fail;
	}

	if ((tok = json_tokener_new()) == NULL) {
		config_error(&p, "", "out of memory");
		goto fail;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	/* The terminating NUL is passed too: it ends a bare number. */
	root = json_tokener_parse_ex(tok, text + skip, (int)(len - skip + 1));
	if (root == NULL) {
		jerr = json_tokener_get_error(tok);
		config_position(text, skip + json_tokener_get_parse_end(tok),
		    &line, &col);
		config_error(&p, "", "line %zu, column %zu: invalid JSON: %s",
		    line, col, jerr == json_tokener_continue ?
		    "unexpected end of data" : json_tokener_error_desc(jerr));
		goto fail;
	}
	if (!json_object_is_type(root, json_type_object)) {
		config_error(&p, "", "expected a JSON object at the top level, "
		    "got %s", config_type_name(root));
		goto fail;
	}

	memset(&sc, 0, sizeof(sc));
	sc.p = &p;
	sc.text = text;
	sc.len = len;
	sc.pos = skip;
	if (config_scan_value(&sc, "", 0) == -1)
		goto fail;

	if ((cf = calloc(1, sizeof(*cf))) == NULL ||
	    (cf->path = strdup(p.name)) == NULL) {
		config_error(&p, "", "out of memory");
		goto fail;
	}
	cf->queue_size = CONFIG_DEFAULT_QUEUE_SIZE;
	cf->drain_timeout_ms = CONFIG_DEFAULT_DRAIN_TIMEOUT_MS;
	cf->max_body_bytes = CONFIG_DEFAULT_MAX_BODY_BYTES;
	cf->max_header_bytes = CONFIG_DEFAULT_MAX_HEADER_BYTES;
	cf->max_connections = CONFIG_DEFAULT_MAX_CONNECTIONS;
	cf->socket_mode = CONFIG_DEFAULT_SOCKET_MODE;
	cf->socket_gid = (gid_t)-1;
	cf->idle_timeout_ms = CONFIG_DEFAULT_IDLE_TIMEOUT_MS;
	cf->header_timeout_ms = CONFIG_DEFAULT_HEADER_TIMEOUT_MS;
	cf->body_timeout_ms = CONFIG_DEFAULT_BODY_TIMEOUT_MS;
	cf->max_message_bytes = CONFIG_DEFAULT_MAX_MESSAGE_BYTES;
	cf->start_timeout_ms = CONFIG_DEFAULT_START_TIMEOUT_MS;
	cf->discovery_timeout_ms = CONFIG_DEFAULT_DISCOVERY_TIMEOUT_MS;
	cf->rate_discovery.requests = CONFIG_DEFAULT_RATE_DISCOVERY_REQUESTS;
	cf->rate_discovery.window_s = CONFIG_DEFAULT_RATE_WINDOW_S;
	cf->rate_execute.requests = CONFIG_DEFAULT_RATE_EXECUTE_REQUESTS;
	cf->rate_execute.window_s = CONFIG_DEFAULT_RATE_WINDOW_S;
	cf->schema_cache_ttl_s = CONFIG_DEFAULT_SCHEMA_CACHE_TTL_S;
	cf->max_sessions = CONFIG_DEFAULT_MAX_SESSIONS;
	cf->unresponsive_ms = -1;
	cf->ping_timeout_ms = CONFIG_DEFAULT_PING_TIMEOUT_MS;
	cf->breaker.enabled = 1;
	cf->breaker.failures = CONFIG_DEFAULT_BREAKER_FAILURES;
	cf->breaker.open_ms = CONFIG_DEFAULT_BREAKER_OPEN_MS;
	if (config_top(&p, root, cf) == -1)
		goto fail;

	json_object_put(root);
	json_tokener_free(tok);
	return cf;
 fail:
	config_free(cf);
	json_object_put(root);
	if (tok != NULL)
		json_tokener_free(tok);
	return NULL;
}

struct config *
config_parse(const char *text, const char *name, char *err, size_t errlen)
{
	struct config_parser	 p;

	if (text == NULL) {
		memset(&p, 0, sizeof(p));
		p.name = name != NULL ? name : "(config)";
		p.err = err;
		p.errlen = errlen;
		config_error(&p, "", "no text to parse");
		return NULL;
	}
	return config_parse_buf(text, strlen(text), name, err, errlen);
}

struct config *
config_load(const char *path, char *err, size_t errlen)
{
	struct config_parser	 p;
	struct config		*cf;
	struct stat		 st;
	char			*buf = NULL, *nbuf;
	size_t			 len = 0, size = 0, line, col;
	ssize_t			 n;
	int			 fd = -1;
	const char		*nul;

	memset(&p, 0, sizeof(p));
	p.name = path != NULL ? path : "(config)";
	p.err = err;
	p.errlen = errlen;
	if (path == NULL) {
		config_error(&p, "", "no configuration file given");
		goto fail;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		config_error(&p, "", "cannot read: %s", strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		config_error(&p, "", "cannot read: %s", strerror(EISDIR));
		goto fail;
	}
	if (S_ISREG(st.st_mode) && st.st_size > CONFIG_FILE_MAX) {
		config_error(&p, "", "file is larger than 16 MiB");
		goto fail;
	}
	/* Read to the end (it may be a pipe), at most one byte too many. */
	for (;;) {
		/* Room for one more byte and the terminating NUL. */
		if (size - len < 2) {
			size = size == 0 ? 65536 : size * 2;
			if (size > CONFIG_FILE_MAX + 2)
				size = CONFIG_FILE_MAX + 2;
			if ((nbuf = realloc(buf, size)) == NULL) {
				config_error(&p, "", "out of memory");
				goto fail;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, size - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			config_error(&p, "", "cannot read: %s",
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_FILE_MAX) {
			config_error(&p, "", "file is larger than 16 MiB");
			goto fail;
		}
	}
	close(fd);
	fd = -1;
	buf[len] = '\0';
	if ((nul = memchr(buf, '\0', len)) != NULL) {
		config_position(buf, (size_t)(nul - buf), &line, &col);
		config_error(&p, "", "line %zu, column %zu: invalid JSON: "
		    "NUL byte", line, col);
		goto fail;
	}
	cf = config_parse_buf(buf, len, path, err, errlen);
	free(buf);
	return cf;
 fail:
	if (fd != -1)
		close(fd);
	free(buf);
	return NULL;
}

static void
config_server_free(struct config_server *srv)
{
	size_t	 i;

	free(srv->name);
	free(srv->command);
	if (srv->args != NULL) {
		for (i = 0; i < srv->nargs; i++)
			free(srv->args[i]);
		free(srv->args);
	}
	for (i = 0; i < srv->nenv; i++) {
		free(srv->env[i].key);
		free(srv->env[i].value);
	}
	free(srv->env);
	free(srv->cwd);
	for (i = 0; i < srv->ntool_timeouts; i++)
		free(srv->tool_timeouts[i].tool);
	free(srv->tool_timeouts);
	free(srv->url);
	for (i = 0; i < srv->nheaders; i++) {
		free(srv->headers[i].key);
		free(srv->headers[i].value);
	}
	free(srv->headers);
	free(srv->headers_file);
	free(srv->tls_opts.ca_file);
	free(srv->tls_opts.cert_file);
	free(srv->tls_opts.key_file);
}

void
config_free(struct config *cf)
{
	size_t	 i;

	if (cf == NULL)
		return;
	free(cf->path);
	for (i = 0; i < cf->nlisten; i++)
		free(cf->listen[i]);
	free(cf->listen);
	free(cf->socket_group);
	free(cf->auth_token_file);
	if (cf->allowed_tools != NULL) {
		for (i = 0; i < cf->nallowed_tools; i++)
			free(cf->allowed_tools[i]);
		free(cf->allowed_tools);
	}
	free(cf->schema_cache_path);
	free(cf->audit_log);
	for (i = 0; cf->warnings != NULL && cf->warnings[i] != NULL; i++)
		free(cf->warnings[i]);
	free(cf->warnings);
	for (i = 0; i < cf->nservers; i++)
		config_server_free(&cf->servers[i]);
	free(cf->servers);
	free(cf);
}

int
config_tool_timeout(const struct config_server *srv, const char *tool)
{
	size_t	 i;

	if (tool != NULL) {
		for (i = 0; i < srv->ntool_timeouts; i++) {
			if (strcmp(srv->tool_timeouts[i].tool, tool) == 0)
				return srv->tool_timeouts[i].timeout_ms;
		}
	}
	return srv->timeout_ms;
}
