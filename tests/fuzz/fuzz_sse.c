/*
 * fuzz_sse.c: libFuzzer target for the event stream parser (src/sse.c).
 *
 * The input is fed twice with a small max_event: once in pieces whose
 * sizes follow a generator seeded from the input, once whole. Both must
 * give the same events and the same result (the parse may not depend on
 * how the stream was split into reads). Every event must keep the
 * bounds: data at most max_event bytes, NUL-terminated at its length,
 * without a CR; a name and an id within their bounds, without CR or LF.
 * Any broken property aborts, so libFuzzer records the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

#define FUZZ_SSE_MAX_EVENT	512
#define FUZZ_SSE_MAX_INPUT	(1 << 20)

struct fuzz_sse_log {
	char	*buf;
	size_t	 len, cap;
	size_t	 nevents;
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	fuzz_sse_fail(const char *) __attribute__((noreturn));
static void	fuzz_sse_append(struct fuzz_sse_log *, const void *, size_t);
static int	fuzz_sse_on_event(void *, const struct sse_event *);
static enum sse_rc fuzz_sse_run(const uint8_t *, size_t, uint64_t,
		    struct fuzz_sse_log *);

static void
fuzz_sse_fail(const char *what)
{
	fprintf(stderr, "fuzz_sse: %s\n", what);
	abort();
}

static void
fuzz_sse_append(struct fuzz_sse_log *lg, const void *p, size_t n)
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

static int
fuzz_sse_on_event(void *arg, const struct sse_event *ev)
{
	struct fuzz_sse_log	*lg = arg;
	size_t			 nl = strlen(ev->name), il = strlen(ev->id);

	if (ev->len > FUZZ_SSE_MAX_EVENT)
		fuzz_sse_fail("event data longer than max_event");
	if (ev->data[ev->len] != '\0')
		fuzz_sse_fail("event data not NUL-terminated at its length");
	if (memchr(ev->data, '\r', ev->len) != NULL)
		fuzz_sse_fail("event data holds a CR");
	if (nl == 0 || nl > SSE_NAME_MAX || il > SSE_ID_MAX)
		fuzz_sse_fail("event name or id out of bounds");
	if (strpbrk(ev->name, "\r\n") != NULL || strpbrk(ev->id, "\r\n") !=
	    NULL)
		fuzz_sse_fail("event name or id holds a line end");
	fuzz_sse_append(lg, ev->name, nl + 1);
	fuzz_sse_append(lg, ev->id, il + 1);
	fuzz_sse_append(lg, &ev->len, sizeof(ev->len));
	fuzz_sse_append(lg, ev->data, ev->len);
	lg->nevents++;
	return 0;
}

/* xorshift64*: piece sizes that depend on the input only. */
static uint64_t
fuzz_sse_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

/* Feeds data in pieces (seed 0: whole); the first error ends it. */
static enum sse_rc
fuzz_sse_run(const uint8_t *data, size_t size, uint64_t seed,
    struct fuzz_sse_log *lg)
{
	struct sse	p;
	enum sse_rc	rc = SSE_OK;
	size_t		off = 0, n;
	uint64_t	r;

	sse_init(&p, FUZZ_SSE_MAX_EVENT);
	while (off < size && rc == SSE_OK) {
		n = size - off;
		if (seed != 0) {
			r = fuzz_sse_next(&seed);
			n = (r & 1) ? 1 : 1 + (size_t)((r >> 8) % 700);
			if (n > size - off)
				n = size - off;
		}
		rc = sse_feed(&p, (const char *)data + off, n,
		    fuzz_sse_on_event, lg);
		off += n;
	}
	if (p.line != NULL && p.linecap > FUZZ_SSE_MAX_EVENT +
	    SSE_LINE_SLACK + 1)
		fuzz_sse_fail("line buffer grew beyond its bound");
	if (p.data != NULL && p.datacap > FUZZ_SSE_MAX_EVENT + 1)
		fuzz_sse_fail("data buffer grew beyond its bound");
	sse_reset(&p);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_sse_log	 a, b;
	uint64_t		 seed = 0xcbf29ce484222325ULL;
	enum sse_rc		 ra, rb;
	size_t			 i;

	if (size > FUZZ_SSE_MAX_INPUT)
		return 0;
	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 0x100000001b3ULL;
	if (seed == 0)
		seed = 1;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ra = fuzz_sse_run(data, size, seed, &a);
	rb = fuzz_sse_run(data, size, 0, &b);
	if (ra != rb)
		fuzz_sse_fail("the result depends on how the input is split");
	if (a.len != b.len || (a.len != 0 && memcmp(a.buf, b.buf,
	    a.len) != 0))
		fuzz_sse_fail("the events depend on how the input is split");
	free(a.buf);
	free(b.buf);
	return 0;
}
