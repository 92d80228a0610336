/*
 * fuzz_query.c: libFuzzer target for the discovery query parser
 * (discovery_parse_query, discovery_match in src/discovery.c).
 *
 * The input, up to its first NUL, is the query string of GET /mcp/tools.
 * The result is compared with a small reference parser written from the
 * wire contract: "&"-separated parameters, only "q=" counts, values are
 * URI-decoded with "+" as space, empty values are ignored, each value is at
 * most 100 bytes of [A-Za-z0-9 _-], at most 32 of them, lower-cased. Then
 * every keyword must match a haystack that contains it and no keyword may
 * match the empty haystack. Any difference aborts.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery.h"

#define FUZZ_QUERY_MAX_INPUT	(64 * 1024)
#define FUZZ_QUERY_MAX_LEN	100
#define FUZZ_QUERY_MAX_KW	32

enum fuzz_query_verdict {
	FQ_OK,
	FQ_TOO_LONG,
	FQ_BAD_CHAR,
	FQ_TOO_MANY
};

struct fuzz_query_ref {
	enum fuzz_query_verdict	 verdict;
	size_t			 nkw;
	char			 kw[FUZZ_QUERY_MAX_KW][FUZZ_QUERY_MAX_LEN + 1];
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	fuzz_query_fail(const char *, const char *)
		    __attribute__((noreturn));
static int	fuzz_query_hex(int);
static size_t	fuzz_query_decode(const char *, size_t, char *);
static void	fuzz_query_reference(const char *, struct fuzz_query_ref *);

static void
fuzz_query_fail(const char *what, const char *query)
{
	fprintf(stderr, "fuzz_query: %s\nquery: \"%s\"\n", what, query);
	abort();
}

static int
fuzz_query_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* evhttp_uridecode(s, 1, ...): "+" is a space, bad escapes stay as is. */
static size_t
fuzz_query_decode(const char *s, size_t n, char *out)
{
	size_t	 i, o = 0;
	int	 hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] == '+') {
			out[o++] = ' ';
		} else if (s[i] == '%' && i + 2 < n &&
		    (hi = fuzz_query_hex((unsigned char)s[i + 1])) != -1 &&
		    (lo = fuzz_query_hex((unsigned char)s[i + 2])) != -1) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			out[o++] = s[i];
	}
	return o;
}

static void
fuzz_query_reference(const char *q, struct fuzz_query_ref *ref)
{
	const char	*p = q, *end, *v;
	char		*val;
	size_t		 plen, vlen, i;

	memset(ref, 0, sizeof(*ref));
	if ((val = malloc(strlen(q) + 1)) == NULL)
		abort();
	while (*p != '\0') {
		if ((end = strchr(p, '&')) == NULL)
			end = p + strlen(p);
		plen = (size_t)(end - p);
		if (plen >= 2 && p[0] == 'q' && p[1] == '=') {
			v = p + 2;
			vlen = fuzz_query_decode(v, plen - 2, val);
			if (vlen == 0)
				goto next;
			if (vlen > FUZZ_QUERY_MAX_LEN) {
				ref->verdict = FQ_TOO_LONG;
				break;
			}
			for (i = 0; i < vlen; i++) {
				unsigned char c = (unsigned char)val[i];

				if (!(c >= 'a' && c <= 'z') &&
				    !(c >= 'A' && c <= 'Z') &&
				    !(c >= '0' && c <= '9') &&
				    c != ' ' && c != '-' && c != '_')
					break;
			}
			if (i < vlen) {
				ref->verdict = FQ_BAD_CHAR;
				break;
			}
			if (ref->nkw == FUZZ_QUERY_MAX_KW) {
				ref->verdict = FQ_TOO_MANY;
				break;
			}
			for (i = 0; i < vlen; i++)
				ref->kw[ref->nkw][i] =
				    (char)tolower((unsigned char)val[i]);
			ref->kw[ref->nkw][vlen] = '\0';
			ref->nkw++;
		}
next:
		p = *end == '\0' ? end : end + 1;
	}
	free(val);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_query_ref	 ref;
	char			*q, **kw = NULL, *bad = NULL, *hay;
	const char		*msg = NULL;
	size_t			 n, i, hlen = 0;
	int			 rc;

	if (size > FUZZ_QUERY_MAX_INPUT)
		return 0;
	if ((q = malloc(size + 1)) == NULL)
		abort();
	memcpy(q, data, size);
	q[size] = '\0';		/* the query ends at the first NUL */

	fuzz_query_reference(q, &ref);
	rc = discovery_parse_query(q, &kw, &msg, &bad);
	if (rc == -1) {
		if (kw != NULL)
			fuzz_query_fail("failure with keywords set", q);
		if (msg == NULL || bad == NULL)
			fuzz_query_fail("failure without message or value", q);
		if (ref.verdict == FQ_OK)
			fuzz_query_fail("rejected a valid query", q);
		if ((ref.verdict == FQ_TOO_LONG) !=
		    (strstr(msg, "too long") != NULL) ||
		    (ref.verdict == FQ_BAD_CHAR) !=
		    (strstr(msg, "Invalid characters") != NULL) ||
		    (ref.verdict == FQ_TOO_MANY) !=
		    (strstr(msg, "Too many") != NULL))
			fuzz_query_fail(msg, q);
		free(bad);
		free(q);
		return 0;
	}
	if (rc != 0 || kw == NULL || msg != NULL || bad != NULL)
		fuzz_query_fail("success with a bad return shape", q);
	if (ref.verdict != FQ_OK)
		fuzz_query_fail("accepted an invalid query", q);

	for (n = 0; kw[n] != NULL; n++) {
		if (n >= ref.nkw || strcmp(kw[n], ref.kw[n]) != 0)
			fuzz_query_fail("keywords differ from the reference", q);
		hlen += strlen(kw[n]) + 1;
	}
	if (n != ref.nkw)
		fuzz_query_fail("fewer keywords than the reference", q);

	/* Each keyword matches itself inside a longer text; none matches "". */
	if (discovery_match("", kw) != (n == 0))
		fuzz_query_fail("empty haystack matched wrongly", q);
	if ((hay = malloc(hlen + 8)) == NULL)
		abort();
	for (i = 0; i < n; i++) {
		snprintf(hay, hlen + 8, "<%s>", kw[i]);
		if (!discovery_match(hay, kw))
			fuzz_query_fail("keyword does not match itself", q);
		if (!discovery_match(hay, kw + i))
			fuzz_query_fail("keyword suffix list does not match", q);
	}
	free(hay);
	discovery_free_keywords(kw);
	free(q);
	return 0;
}
