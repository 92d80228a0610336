/*
 * rpc.c: newline-delimited JSON framing and JSON-RPC 2.0 encode/decode.
 *
 * The framer keeps at most one partial line (bounded by the maximum message
 * size) and drops overlong lines without buffering them. The parser accepts
 * one JSON object per line and classifies it as request, notification,
 * result or error. The encoders print the envelope around the serialised
 * params/result instead of building a json-c tree, because they sit on the
 * path of every tool call.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "rpc.h"

#define RPC_FRAMER_INITIAL	4096
#define RPC_FRAMER_KEEP		(1024 * 1024)	/* larger buffers are freed */
#define RPC_TO_STRING_FLAGS	(JSON_C_TO_STRING_PLAIN | \
				    JSON_C_TO_STRING_NOSLASHESCAPE)
#define RPC_TOKENER_FLAGS	(JSON_TOKENER_STRICT | \
				    JSON_TOKENER_VALIDATE_UTF8 | \
				    JSON_TOKENER_ALLOW_TRAILING_CHARS)

enum rpc_scan_result {
	RPC_SCAN_OK,
	RPC_SCAN_BAD_UTF8,
	RPC_SCAN_CONTROL
};

/* One piece of an encoded line; quote: s is a C string to JSON-escape. */
struct rpc_part {
	const char	*s;
	size_t		 n;
	int		 quote;
};

static int	rpc_framer_reserve(struct rpc_framer *, size_t);
static enum rpc_scan_result rpc_scan(const char *, size_t, int);
static void	rpc_seterr(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	rpc_get_id(json_object *, int, struct rpc_msg *);
static int	rpc_is_ws(char);
static size_t	rpc_escaped_len(const char *);
static char	*rpc_escape(char *, const char *);
static const char *rpc_text(json_object *, size_t *);
static char	*rpc_join(struct rpc_part *, size_t, size_t *);

void
rpc_framer_init(struct rpc_framer *f, size_t max_line)
{
	memset(f, 0, sizeof(*f));
	/* Room for "\r" and NUL must not wrap around. */
	if (max_line > SIZE_MAX / 2)
		max_line = SIZE_MAX / 2;
	f->max = max_line;
}

void
rpc_framer_free(struct rpc_framer *f)
{
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

char *
rpc_framer_take(struct rpc_framer *f, const char *line, size_t len)
{
	char	*s;

	if (line == f->buf && f->buf != NULL) {
		s = f->buf;
		f->buf = NULL;
		f->cap = 0;
		f->len = 0;
		return s;
	}
	if ((s = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(s, line, len);
	s[len] = '\0';
	return s;
}

size_t
rpc_framer_pending(const struct rpc_framer *f)
{
	return f->discarding ? f->discarded : f->len;
}

/* Grow buf to hold need bytes; need is at most max + 2. */
static int
rpc_framer_reserve(struct rpc_framer *f, size_t need)
{
	char	*nbuf;
	size_t	 ncap;

	if (need <= f->cap)
		return 0;
	ncap = f->cap == 0 ? RPC_FRAMER_INITIAL : f->cap;
	while (ncap < need)
		ncap *= 2;
	if (ncap > f->max + 2)
		ncap = f->max + 2;
	if ((nbuf = realloc(f->buf, ncap)) == NULL)
		return -1;
	f->buf = nbuf;
	f->cap = ncap;
	return 0;
}

int
rpc_framer_feed(struct rpc_framer *f, const char *data, size_t n,
    void (*on_line)(void *, char *, size_t),
    void (*on_overflow)(void *, size_t), void *arg)
{
	const char	*nl;
	size_t		 seg, l;
	int		 rc = 0;

	while (n > 0) {
		nl = memchr(data, '\n', n);
		seg = nl == NULL ? n : (size_t)(nl - data);

		if (f->discarding) {
			f->discarded += seg;
			if (nl == NULL)
				return rc;
			if (on_overflow != NULL)
				on_overflow(arg, f->discarded);
			f->discarding = 0;
			f->discarded = 0;
		} else if (seg > f->max + 1 - f->len ||
		    rpc_framer_reserve(f, f->len + seg + 1) == -1) {
			/*
			 * Too long even with a trailing "\r" (or no memory):
			 * forget what we held and drop up to the newline.
			 */
			if (seg <= f->max + 1 - f->len)
				rc = -1;
			f->discarded = f->len + seg;
			f->len = 0;
			if (nl == NULL) {
				f->discarding = 1;
				return rc;
			}
			if (on_overflow != NULL)
				on_overflow(arg, f->discarded);
			f->discarded = 0;
		} else {
			memcpy(f->buf + f->len, data, seg);
			f->len += seg;
			if (nl == NULL)
				return rc;
			l = f->len;
			if (l > 0 && f->buf[l - 1] == '\r')
				l--;
			if (l > f->max) {
				if (on_overflow != NULL)
					on_overflow(arg, f->len);
			} else if (l > 0) {
				f->buf[l] = '\0';
				if (on_line != NULL)
					on_line(arg, f->buf, l);
			}
			f->len = 0;
			/* A long line's buffer is not kept for good. */
			if (f->cap > RPC_FRAMER_KEEP) {
				free(f->buf);
				f->buf = NULL;
				f->cap = 0;
			}
		}
		data = nl + 1;
		n -= seg + 1;
	}
	return rc;
}

/*
 * Check UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF) and, if ctl, raw control characters that JSON never allows
 * outside strings nor inside them (everything below 0x20 but tab, CR, LF).
 */
static enum rpc_scan_result
rpc_scan(const char *str, size_t len, int ctl)
{
	const unsigned char	*s = (const unsigned char *)str;
	const uint64_t		 ones = 0x0101010101010101ULL;
	const uint64_t		 highs = 0x8080808080808080ULL;
	uint64_t		 w;
	size_t			 i = 0, k, need;
	unsigned char		 c, lo, hi;

	while (i < len) {
		/* Fast path: eight printable ASCII bytes. */
		if (len - i >= 8) {
			memcpy(&w, s + i, sizeof(w));
			if ((w & highs) == 0 &&
			    ((w - ones * 0x20) & ~w & highs) == 0) {
				i += 8;
				continue;
			}
		}
		c = s[i];
		if (c < 0x80) {
			if (ctl && c < 0x20 && c != '\t' && c != '\r' &&
			    c != '\n')
				return RPC_SCAN_CONTROL;
			i++;
			continue;
		}
		lo = 0x80;
		hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0;	/* overlong */
			else if (c == 0xed)
				hi = 0x9f;	/* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90;	/* overlong */
			else if (c == 0xf4)
				hi = 0x8f;	/* above U+10FFFF */
		} else
			return RPC_SCAN_BAD_UTF8;
		if (len - i - 1 < need)
			return RPC_SCAN_BAD_UTF8;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return RPC_SCAN_BAD_UTF8;
		for (k = 2; k <= need; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return RPC_SCAN_BAD_UTF8;
		i += need + 1;
	}
	return RPC_SCAN_OK;
}

int
rpc_utf8_valid(const char *s, size_t len)
{
	return rpc_scan(s, len, 0) == RPC_SCAN_OK;
}

static void
rpc_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int
rpc_is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Check an id (NULL is JSON null, refused here) and record it in msg.
 * Strings and integers are always ids; other numbers only if any_number.
 */
static int
rpc_get_id(json_object *id, int any_number, struct rpc_msg *msg)
{
	switch (json_object_get_type(id)) {
	case json_type_string:
		break;
	case json_type_int:
		msg->id_int = json_object_get_int64(id);
		/* json-c keeps 2^63..2^64-1 as uint64; get_int64 clamps. */
		msg->id_is_int = msg->id_int != INT64_MAX ||
		    json_object_get_uint64(id) == (uint64_t)INT64_MAX;
		if (!msg->id_is_int)
			msg->id_int = 0;
		break;
	case json_type_double:
		if (!any_number)
			return -1;
		break;
	default:
		return -1;
	}
	msg->id = id;
	return 0;
}

static pthread_key_t	rpc_tok_key;
static pthread_once_t	rpc_tok_once = PTHREAD_ONCE_INIT;

static void
rpc_tok_free(void *tok)
{
	json_tokener_free(tok);
}

static void
rpc_tok_init(void)
{
	if (pthread_key_create(&rpc_tok_key, rpc_tok_free) != 0)
		abort();
}

/*
 * One tokener per thread, reset for each line: creating one costs more
 * than parsing a small message. Freed when the thread exits.
 */
struct json_tokener *
rpc_thread_tokener(void)
{
	struct json_tokener	*tok;

	pthread_once(&rpc_tok_once, rpc_tok_init);
	if ((tok = pthread_getspecific(rpc_tok_key)) != NULL) {
		json_tokener_reset(tok);
		return tok;
	}
	if ((tok = json_tokener_new_ex(RPC_MAX_DEPTH)) == NULL)
		return NULL;
	json_tokener_set_flags(tok, RPC_TOKENER_FLAGS);
	if (pthread_setspecific(rpc_tok_key, tok) != 0) {
		json_tokener_free(tok);
		return NULL;
	}
	return tok;
}

/* The JSON value of a line, or NULL with the reason in err. */
static json_object *
rpc_parse_json(const char *line, size_t len, char *err, size_t errlen)
{
	struct json_tokener	*tok;
	json_object		*root;
	enum json_tokener_error	 jerr;
	size_t			 end;

	if (len > INT_MAX) {
		rpc_seterr(err, errlen, "message too long");
		return NULL;
	}
	switch (rpc_scan(line, len, 1)) {
	case RPC_SCAN_OK:
		break;
	case RPC_SCAN_BAD_UTF8:
		rpc_seterr(err, errlen, "invalid UTF-8");
		return NULL;
	case RPC_SCAN_CONTROL:
		rpc_seterr(err, errlen, "not JSON (control character)");
		return NULL;
	}
	if ((tok = rpc_thread_tokener()) == NULL) {
		rpc_seterr(err, errlen, "out of memory");
		return NULL;
	}
	root = json_tokener_parse_ex(tok, line, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* A top-level number ends only at the end of input. */
		root = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	}
	if (jerr != json_tokener_success || root == NULL) {
		if (jerr == json_tokener_error_parse_utf8_string)
			rpc_seterr(err, errlen, "invalid UTF-8");
		else if (jerr == json_tokener_error_depth)
			rpc_seterr(err, errlen, "JSON nested deeper than %d",
			    RPC_MAX_DEPTH);
		else if (jerr == json_tokener_success)
			rpc_seterr(err, errlen, "not a JSON-RPC 2.0 message "
			    "(null)");
		else
			rpc_seterr(err, errlen, "not JSON (%s)",
			    json_tokener_error_desc(jerr));
		return NULL;
	}
	for (; end < len; end++)
		if (!rpc_is_ws(line[end])) {
			json_object_put(root);
			rpc_seterr(err, errlen, "trailing bytes after JSON");
			return NULL;
		}
	return root;
}

/* A request or a notification ("method" present): NULL or why not. */
static const char *
rpc_as_call(json_object *root, json_object *method, struct rpc_msg *msg)
{
	json_object	*v, *id;

	if (!json_object_is_type(method, json_type_string))
		return "method is not a string";
	msg->method = json_object_get_string(method);
	if (json_object_object_get_ex(root, "params", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_object) &&
		    !json_object_is_type(v, json_type_array))
			return "params is not an object or array";
		msg->params = v;
	}
	if (!json_object_object_get_ex(root, "id", &id)) {
		msg->kind = RPC_NOTIFICATION;
		return NULL;
	}
	if (id == NULL)
		return "request id is null";
	if (rpc_get_id(id, 0, msg) == -1)
		return "request id is not a string or an integer";
	msg->kind = RPC_REQUEST;
	return NULL;
}

static const char *
rpc_as_result(json_object *root, json_object *result, struct rpc_msg *msg)
{
	json_object	*id;

	if (json_object_object_get_ex(root, "error", NULL))
		return "both result and error";
	if (!json_object_object_get_ex(root, "id", &id) || id == NULL)
		return "result without id";
	if (rpc_get_id(id, 1, msg) == -1)
		return "invalid response id";
	msg->result = result;
	msg->kind = RPC_RESULT;
	return NULL;
}

static const char *
rpc_as_error(json_object *root, json_object *error, struct rpc_msg *msg)
{
	json_object	*v, *id;
	int64_t		 code;

	if (!json_object_object_get_ex(root, "id", &id))
		return "error without id";
	if (id != NULL && rpc_get_id(id, 1, msg) == -1)
		return "invalid response id";
	if (!json_object_is_type(error, json_type_object))
		return "error is not an object";
	if (!json_object_object_get_ex(error, "code", &v) ||
	    !json_object_is_type(v, json_type_int))
		return "error.code is not an integer";
	code = json_object_get_int64(v);
	if (code < INT_MIN || code > INT_MAX)
		return "error.code out of range";
	msg->err_code = (int)code;
	if (json_object_object_get_ex(error, "message", &v)) {
		if (!json_object_is_type(v, json_type_string))
			return "error.message is not a string";
		msg->err_message = json_object_get_string(v);
	}
	if (json_object_object_get_ex(error, "data", &v))
		msg->err_data = v;
	msg->kind = RPC_ERROR;
	return NULL;
}

int
rpc_parse_line(const char *line, size_t len, struct rpc_msg *msg,
    char *err, size_t errlen)
{
	json_object	*root, *v;
	const char	*why;

	memset(msg, 0, sizeof(*msg));
	if ((root = rpc_parse_json(line, len, err, errlen)) == NULL)
		return -1;
	if (json_object_is_type(root, json_type_array))
		why = "batch arrays are not supported";
	else if (!json_object_is_type(root, json_type_object))
		why = "not a JSON-RPC 2.0 message (not an object)";
	else if (!json_object_object_get_ex(root, "jsonrpc", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "2.0") != 0)
		why = "not a JSON-RPC 2.0 message (no \"jsonrpc\":\"2.0\")";
	else {
		msg->root = root;
		msg->err_message = "";
		if (json_object_object_get_ex(root, "method", &v))
			why = rpc_as_call(root, v, msg);
		else if (json_object_object_get_ex(root, "result", &v))
			why = rpc_as_result(root, v, msg);
		else if (json_object_object_get_ex(root, "error", &v))
			why = rpc_as_error(root, v, msg);
		else
			why = "not a JSON-RPC 2.0 message (no method, result "
			    "or error)";
	}
	if (why == NULL)
		return 0;
	rpc_seterr(err, errlen, "%s", why);
	json_object_put(root);
	memset(msg, 0, sizeof(*msg));
	return -1;
}

void
rpc_msg_free(struct rpc_msg *msg)
{
	if (msg == NULL)
		return;
	json_object_put(msg->root);
	memset(msg, 0, sizeof(*msg));
}

/* Length of s as a JSON string without the quotes. */
static size_t
rpc_escaped_len(const char *s)
{
	size_t		n = 0;
	unsigned char	c;

	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if (c == '"' || c == '\\' || c == '\b' || c == '\f' ||
		    c == '\n' || c == '\r' || c == '\t')
			n += 2;
		else if (c < 0x20)
			n += 6;
		else
			n++;
	}
	return n;
}

/* Write s as a quoted JSON string at dst; returns the end. */
static char *
rpc_escape(char *dst, const char *s)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 c;

	*dst++ = '"';
	for (; (c = (unsigned char)*s) != '\0'; s++) {
		switch (c) {
		case '"':
		case '\\':
			*dst++ = '\\';
			*dst++ = (char)c;
			break;
		case '\b':
			*dst++ = '\\';
			*dst++ = 'b';
			break;
		case '\f':
			*dst++ = '\\';
			*dst++ = 'f';
			break;
		case '\n':
			*dst++ = '\\';
			*dst++ = 'n';
			break;
		case '\r':
			*dst++ = '\\';
			*dst++ = 'r';
			break;
		case '\t':
			*dst++ = '\\';
			*dst++ = 't';
			break;
		default:
			if (c < 0x20) {
				memcpy(dst, "\\u00", 4);
				dst[4] = hex[c >> 4];
				dst[5] = hex[c & 0xf];
				dst += 6;
			} else
				*dst++ = (char)c;
			break;
		}
	}
	*dst++ = '"';
	return dst;
}

/* Serialised form of a borrowed object (NULL is "null"); NULL on ENOMEM. */
static const char *
rpc_text(json_object *o, size_t *n)
{
	return json_object_to_json_string_length(o, RPC_TO_STRING_FLAGS, n);
}

/* Concatenate the parts into one malloc'd line. */
static char *
rpc_join(struct rpc_part *parts, size_t nparts, size_t *len)
{
	char	*line, *p;
	size_t	 i, total = 0;

	for (i = 0; i < nparts; i++) {
		if (parts[i].s == NULL)
			return NULL;
		if (parts[i].quote)
			parts[i].n = rpc_escaped_len(parts[i].s) + 2;
		total += parts[i].n;
	}
	if ((line = malloc(total + 1)) == NULL)
		return NULL;
	for (i = 0, p = line; i < nparts; i++) {
		if (parts[i].quote)
			p = rpc_escape(p, parts[i].s);
		else {
			memcpy(p, parts[i].s, parts[i].n);
			p += parts[i].n;
		}
	}
	*p = '\0';
	if (len != NULL)
		*len = total;
	return line;
}

#define RPC_LIT(s)	{ (s), sizeof(s) - 1, 0 }

char *
rpc_encode_request(int64_t id, const char *method, json_object *params,
    size_t *len)
{
	char		idbuf[32];
	struct rpc_part	parts[] = {
		RPC_LIT("{\"jsonrpc\":\"2.0\",\"id\":"),
		{ idbuf, 0, 0 },
		RPC_LIT(",\"method\":"),
		{ method, 0, 1 },
		RPC_LIT(",\"params\":"),
		{ NULL, 0, 0 },
		RPC_LIT("}\n"),
	};

	if (method == NULL) {
		errno = EINVAL;
		return NULL;
	}
	parts[1].n = (size_t)snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
	if (params != NULL)
		parts[5].s = rpc_text(params, &parts[5].n);
	else
		parts[4] = parts[5] = (struct rpc_part)RPC_LIT("");
	return rpc_join(parts, sizeof(parts) / sizeof(parts[0]), len);
}

char *
rpc_encode_notification(const char *method, json_object *params,
    size_t *len)
{
	struct rpc_part	parts[] = {
		RPC_LIT("{\"jsonrpc\":\"2.0\",\"method\":"),
		{ method, 0, 1 },
		RPC_LIT(",\"params\":"),
		{ NULL, 0, 0 },
		RPC_LIT("}\n"),
	};

	if (method == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (params != NULL)
		parts[3].s = rpc_text(params, &parts[3].n);
	else
		parts[2] = parts[3] = (struct rpc_part)RPC_LIT("");
	return rpc_join(parts, sizeof(parts) / sizeof(parts[0]), len);
}

char *
rpc_encode_result(json_object *id, json_object *result, size_t *len)
{
	struct rpc_part	parts[] = {
		RPC_LIT("{\"jsonrpc\":\"2.0\",\"id\":"),
		{ NULL, 0, 0 },
		RPC_LIT(",\"result\":"),
		RPC_LIT("{}"),
		RPC_LIT("}\n"),
	};

	parts[1].s = rpc_text(id, &parts[1].n);
	if (result != NULL)
		parts[3].s = rpc_text(result, &parts[3].n);
	return rpc_join(parts, sizeof(parts) / sizeof(parts[0]), len);
}

char *
rpc_encode_error(json_object *id, int code, const char *message,
    size_t *len)
{
	char		codebuf[16];
	struct rpc_part	parts[] = {
		RPC_LIT("{\"jsonrpc\":\"2.0\",\"id\":"),
		{ NULL, 0, 0 },
		RPC_LIT(",\"error\":{\"code\":"),
		{ codebuf, 0, 0 },
		RPC_LIT(",\"message\":"),
		{ message == NULL ? "" : message, 0, 1 },
		RPC_LIT("}}\n"),
	};

	parts[1].s = rpc_text(id, &parts[1].n);
	parts[3].n = (size_t)snprintf(codebuf, sizeof(codebuf), "%d", code);
	return rpc_join(parts, sizeof(parts) / sizeof(parts[0]), len);
}

/* The id of a message from the head of its line (see rpc.h). */
int
rpc_scan_id(const char *s, size_t n, int64_t *id)
{
	size_t		 i, j, key = 0;
	int		 depth = 0, instr = 0, esc = 0, neg, digits;
	uint64_t	 v;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (instr) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"') {
				instr = 0;
				if (depth != 1 || i - key != 2 ||
				    memcmp(s + key, "id", 2) != 0)
					continue;
				j = i + 1;
				while (j < n && isspace((unsigned char)s[j]))
					j++;
				if (j >= n || s[j] != ':')
					continue;
				j++;
				while (j < n && isspace((unsigned char)s[j]))
					j++;
				neg = j < n && s[j] == '-';
				if (neg)
					j++;
				for (v = 0, digits = 0; j < n &&
				    isdigit((unsigned char)s[j]) &&
				    digits < 18; j++, digits++)
					v = v * 10 + (uint64_t)(s[j] - '0');
				/* A number cut by the end of what we kept, a
				 * fraction, or no number at all: unknown. */
				if (digits == 0 || j >= n || s[j] == '.' ||
				    s[j] == 'e' || s[j] == 'E' ||
				    isdigit((unsigned char)s[j]))
					return -1;
				*id = neg ? -(int64_t)v : (int64_t)v;
				return 0;
			}
			continue;
		}
		if (c == '"') {
			instr = 1;
			key = i + 1;
		} else if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
	}
	return -1;
}
