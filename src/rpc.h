/*
 * rpc.h: newline-delimited JSON framing and JSON-RPC 2.0 encode/decode for
 * the stdio pipes of MCP servers. Pure code: no I/O, no locks, no logging.
 *
 * Ownership: a struct rpc_framer belongs to the one thread that reads its
 * pipe. rpc_parse_line() gives the caller a struct rpc_msg that owns its
 * json-c tree (root); every other pointer in it borrows from root and dies
 * with rpc_msg_free(). The encoders borrow their json-c arguments (they do
 * not take or drop references, and do not change their values) and return
 * a malloc'd line that the caller frees. json-c serialisation caches text
 * inside an object, so the borrowed objects must belong to the calling
 * thread.
 */
#ifndef RPC_H
#define RPC_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* Standard JSON-RPC 2.0 error codes. */
#define RPC_PARSE_ERROR		(-32700)
#define RPC_INVALID_REQUEST	(-32600)
#define RPC_METHOD_NOT_FOUND	(-32601)
#define RPC_INVALID_PARAMS	(-32602)
#define RPC_INTERNAL_ERROR	(-32603)

/* Nesting limit for parsed messages (json-c's own default is 32). */
#define RPC_MAX_DEPTH		64

struct rpc_framer {
	char	*buf;
	size_t	 len, cap, max;	/* max: longest line (maxMessageBytes) */
	int	 discarding;	/* inside an overlong line: drop until \n */
	size_t	 discarded;
};

void	rpc_framer_init(struct rpc_framer *, size_t max_line);
void	rpc_framer_free(struct rpc_framer *);
/*
 * Feed bytes read from a pipe. For each complete line (without "\n", and
 * without a trailing "\r") calls on_line(arg, line, len); line is
 * NUL-terminated at len and may be modified by the callee, but it is only
 * valid during the call. Empty lines are skipped. A line longer than max
 * bytes (not counting "\n" and a trailing "\r") is dropped: on_overflow(arg,
 * total_len) is called once when its end is seen, with total_len the number
 * of bytes before its "\n", and the framer resyncs at that newline. Either
 * callback may be NULL. The buffer never grows beyond max + 2 bytes.
 * Returns 0; -1 only when memory runs out, in which case the partial line is
 * dropped as if it were overlong (on_overflow is called at its end).
 */
int	rpc_framer_feed(struct rpc_framer *, const char *data, size_t n,
	    void (*on_line)(void *, char *, size_t),
	    void (*on_overflow)(void *, size_t), void *arg);
/*
 * Inside on_line: the line in a malloc'd, NUL-terminated buffer that the
 * caller owns: the framer's own buffer when line is in it (no copy; the
 * framer starts a new one), else a copy. NULL when memory runs out.
 */
char	*rpc_framer_take(struct rpc_framer *, const char *line, size_t len);
/* Bytes of an unfinished line held or being dropped (e.g. to log at EOF). */
size_t	rpc_framer_pending(const struct rpc_framer *);

enum rpc_kind {
	RPC_REQUEST,
	RPC_NOTIFICATION,
	RPC_RESULT,
	RPC_ERROR
};

/*
 * json-c represents JSON null as a NULL pointer: an error with "id":null
 * has id == NULL, a result of null has result == NULL.
 */
struct rpc_msg {
	enum rpc_kind	 kind;
	json_object	*root;		/* owned; the rest borrows from it */
	const char	*method;	/* REQUEST, NOTIFICATION */
	json_object	*id;		/* REQUEST, RESULT, ERROR (NULL: null) */
	int		 id_is_int;	/* integer id (not 1.5, not "1") */
	int64_t		 id_int;	/* valid when id_is_int, else 0 */
	json_object	*params;	/* may be NULL */
	json_object	*result;	/* RESULT (NULL: null) */
	int		 err_code;	/* ERROR */
	const char	*err_message;	/* ERROR, never NULL ("" if absent) */
	json_object	*err_data;	/* ERROR, may be NULL */
};

/*
 * Parse one line: a single JSON object (strict JSON, valid UTF-8, at most
 * RPC_MAX_DEPTH deep, nothing but whitespace after it) with "jsonrpc":"2.0"
 * and the shape of one of the four kinds:
 *   request       "method" string + "id" string or integer
 *   notification  "method" string and no "id"
 *   result        "id" (string or number) + "result" (any value)
 *   error         "id" (string, number or null) + "error" object with an
 *                 integer "code" and an optional string "message"
 * "params", when present, is an object or an array (null counts as absent).
 * id_is_int is set for integer ids in the int64 range (ids beyond it, such
 * as 2^63, are kept as ids but are not "int"; json-c clamps ids below
 * INT64_MIN to INT64_MIN). Returns 0 and fills msg (the caller calls
 * rpc_msg_free), or -1 with msg zeroed and a short reason in err ("not
 * JSON", "invalid UTF-8", "trailing bytes after JSON", "batch arrays are not
 * supported", "not a JSON-RPC 2.0 message", ...).
 *
 * Invalid UTF-8 (including overlong forms and surrogates) and raw control
 * characters other than tab/CR/LF are rejected before json-c sees the line.
 * json-c's strict mode still lets through a few non-JSON forms (single-quoted
 * member names, NaN and Infinity, a raw tab inside a string, "1."); they are
 * harmless here.
 */
/* The calling thread's tokener (strict, UTF-8 validated, RPC_MAX_DEPTH),
 * reset and ready for a new document. Owned by the thread (freed when it
 * exits): never free it. NULL when out of memory. */
struct json_tokener *rpc_thread_tokener(void);
int	rpc_parse_line(const char *line, size_t len, struct rpc_msg *msg,
	    char *err, size_t errlen);
void	rpc_msg_free(struct rpc_msg *);

/*
 * The id of a JSON-RPC message from the first bytes of its line (the
 * "id" member of the top-level object, an integer): 0 and *id, or -1 when
 * those bytes do not show one. For lines too long to parse.
 */
int	rpc_scan_id(const char *line, size_t len, int64_t *id);

/* 1 if s[0..len) is well-formed UTF-8 (RFC 3629), else 0. */
int	rpc_utf8_valid(const char *s, size_t len);

/*
 * Encoders: return a malloc'd NUL-terminated line ending in "\n" (one line,
 * JSON_C_TO_STRING_PLAIN, "/" not escaped), its length (with the "\n") in
 * *len; NULL on allocation failure. params/result/id are borrowed and may be
 * NULL: params is then omitted, result becomes {}, id becomes null. method
 * and message are C strings (message NULL gives "").
 */
char	*rpc_encode_request(int64_t id, const char *method,
	    json_object *params, size_t *len);
char	*rpc_encode_notification(const char *method, json_object *params,
	    size_t *len);
char	*rpc_encode_result(json_object *id, json_object *result, size_t *len);
char	*rpc_encode_error(json_object *id, int code, const char *message,
	    size_t *len);

#endif
