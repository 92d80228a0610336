/*
 * fuzz_rpc.c: libFuzzer target for the NDJSON framer and the JSON-RPC
 * parser and encoders (src/rpc.c).
 *
 * The input is a byte stream as it could come from a child's stdout. It is
 * framed twice with a small maximum line length: once in pieces whose sizes
 * follow a generator seeded from the input, once in a single piece. Both
 * must give the same lines and overflows in the same order (framing may not
 * depend on how read() split the stream). Every line is parsed; whatever
 * parses is re-encoded with the matching rpc_encode_* and parsed again,
 * which must give the same kind, method, integer id, code and message.
 * Any broken property aborts, so libFuzzer records the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "rpc.h"

#define FUZZ_RPC_MAX_LINE	1024
#define FUZZ_RPC_MAX_INPUT	(1 << 20)

/* What a framer produced: lines as (len, bytes) records, then overflows. */
struct fuzz_rpc_log {
	char	*buf;
	size_t	 len, cap;
	size_t	 nlines;
	size_t	 noverflows;
	int	 parse;		/* parse the lines (one framing only) */
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	fuzz_rpc_fail(const char *, const char *, size_t)
		    __attribute__((noreturn));
static void	fuzz_rpc_append(struct fuzz_rpc_log *, const void *, size_t);
static void	fuzz_rpc_on_line(void *, char *, size_t);
static void	fuzz_rpc_on_overflow(void *, size_t);
static void	fuzz_rpc_frame(const uint8_t *, size_t, uint64_t,
		    struct fuzz_rpc_log *, size_t *);
static void	fuzz_rpc_check_msg(const struct rpc_msg *, const char *,
		    size_t);
static void	fuzz_rpc_roundtrip(const struct rpc_msg *, const char *,
		    size_t);
static void	fuzz_rpc_parse(const char *, size_t);
static uint64_t	fuzz_rpc_next(uint64_t *);

static void
fuzz_rpc_fail(const char *what, const char *line, size_t len)
{
	fprintf(stderr, "fuzz_rpc: %s\nline (%zu bytes): %.*s\n", what, len,
	    len > 2048 ? 2048 : (int)len, line == NULL ? "" : line);
	abort();
}

static void
fuzz_rpc_append(struct fuzz_rpc_log *lg, const void *p, size_t n)
{
	size_t	 ncap;
	char	*nbuf;

	if (lg->len + n > lg->cap) {
		ncap = lg->cap == 0 ? 4096 : lg->cap;
		while (ncap < lg->len + n)
			ncap *= 2;
		if ((nbuf = realloc(lg->buf, ncap)) == NULL)
			abort();
		lg->buf = nbuf;
		lg->cap = ncap;
	}
	memcpy(lg->buf + lg->len, p, n);
	lg->len += n;
}

static void
fuzz_rpc_on_line(void *arg, char *line, size_t len)
{
	struct fuzz_rpc_log	*lg = arg;
	char			 tag = 'L';

	if (len == 0)
		fuzz_rpc_fail("on_line called with an empty line", line, len);
	if (len > FUZZ_RPC_MAX_LINE)
		fuzz_rpc_fail("on_line: line longer than max", line, len);
	if (line[len] != '\0')
		fuzz_rpc_fail("on_line: line not NUL-terminated at len",
		    line, len);
	if (memchr(line, '\n', len) != NULL)
		fuzz_rpc_fail("on_line: line contains a newline", line, len);
	fuzz_rpc_append(lg, &tag, 1);
	fuzz_rpc_append(lg, &len, sizeof(len));
	fuzz_rpc_append(lg, line, len);
	lg->nlines++;

	if (lg->parse)
		fuzz_rpc_parse(line, len);
	/* The callee may modify the line: make sure the framer copes. */
	memset(line, 'x', len);
}

static void
fuzz_rpc_on_overflow(void *arg, size_t total)
{
	struct fuzz_rpc_log	*lg = arg;
	char			 tag = 'O';

	if (total <= FUZZ_RPC_MAX_LINE)
		fuzz_rpc_fail("on_overflow with a length within max", NULL, 0);
	fuzz_rpc_append(lg, &tag, 1);
	fuzz_rpc_append(lg, &total, sizeof(total));
	lg->noverflows++;
}

/* xorshift64*: chunk sizes that depend on the input only. */
static uint64_t
fuzz_rpc_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

/* Frame data in pieces (seed 0: one piece) and log what comes out. */
static void
fuzz_rpc_frame(const uint8_t *data, size_t size, uint64_t seed,
    struct fuzz_rpc_log *lg, size_t *pending)
{
	struct rpc_framer	 f;
	size_t			 off = 0, n, before;
	uint64_t		 r;

	rpc_framer_init(&f, FUZZ_RPC_MAX_LINE);
	while (off < size) {
		n = size - off;
		if (seed != 0) {
			r = fuzz_rpc_next(&seed);
			switch (r & 3) {
			case 0:		/* single bytes */
				n = 1;
				break;
			case 1:		/* small reads */
				n = 1 + (size_t)((r >> 8) % 16);
				break;
			case 2:		/* around the line limit */
				n = FUZZ_RPC_MAX_LINE - 8 +
				    (size_t)((r >> 8) % 24);
				break;
			default:	/* anything */
				n = 1 + (size_t)((r >> 8) % 4096);
				break;
			}
			if (n > size - off)
				n = size - off;
		}
		before = lg->nlines + lg->noverflows;
		if (rpc_framer_feed(&f, (const char *)data + off, n,
		    fuzz_rpc_on_line, fuzz_rpc_on_overflow, lg) != 0)
			fuzz_rpc_fail("rpc_framer_feed failed", NULL, 0);
		if (memchr(data + off, '\n', n) == NULL &&
		    lg->nlines + lg->noverflows != before)
			fuzz_rpc_fail("a line was delivered without a newline",
			    NULL, 0);
		if (f.buf != NULL && f.cap > FUZZ_RPC_MAX_LINE + 2)
			fuzz_rpc_fail("framer buffer grew beyond max + 2",
			    NULL, 0);
		off += n;
	}
	*pending = rpc_framer_pending(&f);
	rpc_framer_free(&f);
}

/* The fields rpc.h promises for each kind. */
static void
fuzz_rpc_check_msg(const struct rpc_msg *m, const char *line, size_t len)
{
	if (m->root == NULL || m->err_message == NULL)
		fuzz_rpc_fail("parsed message without root or err_message",
		    line, len);
	switch (m->kind) {
	case RPC_REQUEST:
		if (m->method == NULL || m->id == NULL)
			fuzz_rpc_fail("request without method or id", line,
			    len);
		break;
	case RPC_NOTIFICATION:
		if (m->method == NULL || m->id != NULL)
			fuzz_rpc_fail("notification without method or with id",
			    line, len);
		break;
	case RPC_RESULT:
		if (m->method != NULL || m->id == NULL)
			fuzz_rpc_fail("result with method or without id", line,
			    len);
		break;
	case RPC_ERROR:
		if (m->method != NULL)
			fuzz_rpc_fail("error with method", line, len);
		break;
	default:
		fuzz_rpc_fail("unknown kind", line, len);
	}
	if (m->params != NULL &&
	    !json_object_is_type(m->params, json_type_object) &&
	    !json_object_is_type(m->params, json_type_array))
		fuzz_rpc_fail("params neither object nor array", line, len);
	if (m->id != NULL && !json_object_is_type(m->id, json_type_string) &&
	    !json_object_is_type(m->id, json_type_int) &&
	    !json_object_is_type(m->id, json_type_double))
		fuzz_rpc_fail("id neither string nor number", line, len);
	if (!m->id_is_int && m->id_int != 0)
		fuzz_rpc_fail("id_int set for a non-integer id", line, len);
	if (!rpc_utf8_valid(line, len))
		fuzz_rpc_fail("parsed a line that is not valid UTF-8", line,
		    len);
}

/* Encode what parsed, parse it again: the same message must come back. */
static void
fuzz_rpc_roundtrip(const struct rpc_msg *m, const char *line, size_t len)
{
	struct rpc_msg	 m2;
	char		*enc = NULL, err[128];
	size_t		 elen = 0;

	switch (m->kind) {
	case RPC_REQUEST:
		enc = rpc_encode_request(m->id_is_int ? m->id_int : 7,
		    m->method, m->params, &elen);
		break;
	case RPC_NOTIFICATION:
		enc = rpc_encode_notification(m->method, m->params, &elen);
		break;
	case RPC_RESULT:
		enc = rpc_encode_result(m->id, m->result, &elen);
		break;
	case RPC_ERROR:
		enc = rpc_encode_error(m->id, m->err_code, m->err_message,
		    &elen);
		break;
	}
	if (enc == NULL)
		fuzz_rpc_fail("encoder returned NULL", line, len);
	if (elen == 0 || strlen(enc) != elen || enc[elen - 1] != '\n' ||
	    memchr(enc, '\n', elen - 1) != NULL)
		fuzz_rpc_fail("encoded message is not exactly one line", enc,
		    elen);
	if (rpc_parse_line(enc, elen - 1, &m2, err, sizeof(err)) == -1) {
		fprintf(stderr, "fuzz_rpc: re-parse failed: %s\n"
		    "original (%zu bytes): %.*s\n", err, len, (int)len, line);
		fuzz_rpc_fail("encoded message does not parse", enc, elen);
	}
	if (m2.kind != m->kind)
		fuzz_rpc_fail("re-parsed message has another kind", enc, elen);
	switch (m->kind) {
	case RPC_REQUEST:
		if (m->id_is_int && (!m2.id_is_int || m2.id_int != m->id_int))
			fuzz_rpc_fail("request id changed", enc, elen);
		/* FALLTHROUGH */
	case RPC_NOTIFICATION:
		if (strcmp(m2.method, m->method) != 0)
			fuzz_rpc_fail("method changed", enc, elen);
		if ((m->params == NULL) != (m2.params == NULL))
			fuzz_rpc_fail("params appeared or vanished", enc, elen);
		break;
	case RPC_RESULT:
		if (m2.id_is_int != m->id_is_int || m2.id_int != m->id_int ||
		    json_object_get_type(m2.id) != json_object_get_type(m->id))
			fuzz_rpc_fail("result id changed", enc, elen);
		break;
	case RPC_ERROR:
		if (m2.err_code != m->err_code ||
		    strcmp(m2.err_message, m->err_message) != 0)
			fuzz_rpc_fail("error code or message changed", enc,
			    elen);
		if ((m->id == NULL) != (m2.id == NULL) ||
		    m2.id_is_int != m->id_is_int || m2.id_int != m->id_int)
			fuzz_rpc_fail("error id changed", enc, elen);
		break;
	}
	rpc_msg_free(&m2);
	free(enc);
}

static void
fuzz_rpc_parse(const char *line, size_t len)
{
	struct rpc_msg	 m;
	char		 err[128];

	/* A sentinel: err must always be NUL-terminated when set. */
	memset(err, 'z', sizeof(err));
	if (rpc_parse_line(line, len, &m, err, sizeof(err)) == -1) {
		if (m.root != NULL || m.method != NULL || m.id != NULL)
			fuzz_rpc_fail("failed parse left msg filled", line,
			    len);
		if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
			fuzz_rpc_fail("failed parse without a reason", line,
			    len);
		return;
	}
	fuzz_rpc_check_msg(&m, line, len);
	fuzz_rpc_roundtrip(&m, line, len);
	rpc_msg_free(&m);
	if (m.root != NULL)
		fuzz_rpc_fail("rpc_msg_free left root set", line, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_rpc_log	 a, b;
	uint64_t		 seed = 0xcbf29ce484222325ULL;
	size_t			 i, pa, pb;

	if (size > FUZZ_RPC_MAX_INPUT)
		return 0;
	/* FNV-1a of the input seeds the piece sizes (never 0). */
	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 0x100000001b3ULL;
	if (seed == 0)
		seed = 1;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.parse = 1;
	fuzz_rpc_frame(data, size, seed, &a, &pa);
	fuzz_rpc_frame(data, size, 0, &b, &pb);
	if (a.len != b.len || (a.len != 0 && memcmp(a.buf, b.buf, a.len) != 0))
		fuzz_rpc_fail("framing depends on how the input is split",
		    NULL, 0);
	if (pa != pb)
		fuzz_rpc_fail("pending bytes depend on how the input is split",
		    NULL, 0);
	free(a.buf);
	free(b.buf);
	return 0;
}
