/*
 * fuzz_schema.c: libFuzzer target for the JSON Schema validator
 * (src/schema.c).
 *
 * The input is a schema document, a separator byte and an instance
 * document. The separator is the first byte 0x00 or 0x01 (neither can occur
 * in JSON text): 0x00 compiles with schema_compile() (2020-12 unless $schema
 * says otherwise), 0x01 with schema_compile_draft(SCHEMA_DRAFT_07). Without
 * a separator, or when the instance is not JSON, the schema document is
 * validated against itself. Documents are parsed by json-c at most
 * FUZZ_SCHEMA_DEPTH deep.
 *
 * The instance is validated once quietly (res NULL) and once collecting
 * errors. The two verdicts must agree, an invalid verdict must come with
 * errors and a valid one without, and the required and optional name lists
 * must be disjoint. It is validated again under small limits
 * (schema_validate_limits()): a too-costly verdict must be invalid with
 * exactly one error saying so, and any other verdict must be the one of
 * the default budget (when that is not too costly either). The schema is
 * compiled again under a small budget (schema_compile_budget()), which
 * may only fail for a schema that compiles when it runs out. Any broken
 * property aborts; crashes, leaks and slow inputs (run.sh uses
 * -timeout=10) are libFuzzer's to catch.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "schema.h"

#define FUZZ_SCHEMA_DEPTH	64	/* as rpc.c parses tools/list */
#define FUZZ_SCHEMA_MAX_INPUT	(256 * 1024)
#define FUZZ_SCHEMA_MAX_NAMES	256	/* required x optional check */
#define FUZZ_SCHEMA_COMPILE_BUDGET 3000	/* units, for the small compile */
#define FUZZ_SCHEMA_COSTLY	"the arguments are too costly to validate ("

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void		 fuzz_schema_fail(const char *)
			    __attribute__((noreturn));
static int		 fuzz_schema_parse(const uint8_t *, size_t,
			    json_object **);
static void		 fuzz_schema_names(const struct schema *);
static int		 fuzz_schema_check(const struct schema *,
			    json_object *);
static void		 fuzz_schema_costly(const struct schema *,
			    json_object *, int);
static void		 fuzz_schema_small(json_object *,
			    const struct schema *);
static void		 fuzz_schema_run(json_object *, enum schema_draft,
			    json_object *);

static void
fuzz_schema_fail(const char *what)
{
	fprintf(stderr, "fuzz_schema: %s\n", what);
	abort();
}

/* 0 and the value (NULL is JSON null), or -1 if p[0..n) is not JSON. */
static int
fuzz_schema_parse(const uint8_t *p, size_t n, json_object **out)
{
	struct json_tokener	*tok;
	enum json_tokener_error	 jerr;

	*out = NULL;
	if (n == 0)
		return -1;
	if ((tok = json_tokener_new_ex(FUZZ_SCHEMA_DEPTH)) == NULL)
		abort();
	*out = json_tokener_parse_ex(tok, (const char *)p, (int)n);
	if ((jerr = json_tokener_get_error(tok)) == json_tokener_continue) {
		/* A top-level number ends only at the end of input. */
		*out = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
	}
	json_tokener_free(tok);
	if (jerr != json_tokener_success) {
		json_object_put(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static void
fuzz_schema_names(const struct schema *s)
{
	const char *const	*req, *const *opt;
	size_t			 nreq, nopt, i, j;

	if ((req = schema_required(s)) == NULL ||
	    (opt = schema_optional(s)) == NULL)
		fuzz_schema_fail("schema_required/optional returned NULL");
	for (nreq = 0; req[nreq] != NULL; nreq++)
		(void)strlen(req[nreq]);
	for (nopt = 0; opt[nopt] != NULL; nopt++)
		(void)strlen(opt[nopt]);
	if (nreq > FUZZ_SCHEMA_MAX_NAMES || nopt > FUZZ_SCHEMA_MAX_NAMES)
		return;
	for (i = 0; i < nreq; i++)
		for (j = 0; j < nopt; j++)
			if (strcmp(req[i], opt[j]) == 0)
				fuzz_schema_fail("a name is both required and "
				    "optional");
}

/*
 * The verdict of the default budget, or -1 when that was too costly. Its
 * CPU time may run out in one run and not in the other: verdicts are
 * compared when neither did.
 */
static int
fuzz_schema_check(const struct schema *s, json_object *inst)
{
	struct schema_result	 res;
	struct schema_usage	 used;
	size_t			 i;
	int			 quiet, full, verdict;

	quiet = schema_validate_limits(s, inst, NULL, NULL, &used);
	memset(&res, 0, sizeof(res));
	full = schema_validate(s, inst, &res);
	verdict = res.too_costly != SCHEMA_COSTLY_NO ? -1 : full;
	if (quiet != 0 && quiet != 1)
		fuzz_schema_fail("schema_validate returned neither 0 nor 1");
	if (res.too_costly != SCHEMA_COSTLY_NO && (full != 0 ||
	    res.nerrors != 1 || strncmp(res.errors[0].message,
	    FUZZ_SCHEMA_COSTLY, strlen(FUZZ_SCHEMA_COSTLY)) != 0))
		fuzz_schema_fail("too costly, but not with exactly one error "
		    "saying so");
	if (quiet != full && used.too_costly == SCHEMA_COSTLY_NO &&
	    verdict != -1) {
		fprintf(stderr, "quiet %d, with errors %d (%zu errors%s)\n",
		    quiet, full, res.nerrors, res.truncated ? ", truncated" :
		    "");
		for (i = 0; i < res.nerrors; i++)
			fprintf(stderr, "  %s: %s\n", res.errors[i].path,
			    res.errors[i].message);
		fuzz_schema_fail("verdict depends on whether errors are "
		    "collected");
	}
	if (full == 1 && (res.nerrors != 0 || res.truncated))
		fuzz_schema_fail("valid, but errors reported");
	if (full == 0 && res.nerrors == 0)
		fuzz_schema_fail("invalid, but no error reported");
	if (res.nerrors > SCHEMA_MAX_ERRORS)
		fuzz_schema_fail("more errors than SCHEMA_MAX_ERRORS");
	for (i = 0; i < res.nerrors; i++) {
		if (res.errors[i].path == NULL ||
		    res.errors[i].message == NULL ||
		    res.errors[i].message[0] == '\0')
			fuzz_schema_fail("error without path or message");
		if (res.errors[i].path[0] != '\0' &&
		    res.errors[i].path[0] != '/')
			fuzz_schema_fail("error path is not a JSON Pointer");
	}
	schema_result_free(&res);
	if (res.errors != NULL || res.nerrors != 0 || res.too_costly != 0)
		fuzz_schema_fail("schema_result_free did not reset res");
	return verdict;
}

/* Under small limits: too costly, or the verdict of the default budget. */
static void
fuzz_schema_costly(const struct schema *s, json_object *inst, int verdict)
{
	static const struct schema_limits	 lim = { 2000, 1000, 2000 };
	struct schema_result			 res;
	struct schema_usage			 used, qused;
	int					 v, q;

	memset(&res, 0, sizeof(res));
	v = schema_validate_limits(s, inst, &res, &lim, &used);
	q = schema_validate_limits(s, inst, NULL, &lim, &qused);
	if ((v != 0 && v != 1) || (q != 0 && q != 1))
		fuzz_schema_fail("schema_validate_limits returned neither 0 "
		    "nor 1");
	if (used.too_costly != res.too_costly ||
	    used.too_costly < SCHEMA_COSTLY_NO ||
	    used.too_costly > SCHEMA_COSTLY_CPU)
		fuzz_schema_fail("res and used disagree on the budget");
	if (used.too_costly != SCHEMA_COSTLY_NO && (v != 0 ||
	    res.nerrors != 1 || res.truncated || strncmp(res.errors[0].message,
	    FUZZ_SCHEMA_COSTLY, strlen(FUZZ_SCHEMA_COSTLY)) != 0))
		fuzz_schema_fail("too costly, but not with exactly one error "
		    "saying so");
	if (qused.too_costly != SCHEMA_COSTLY_NO && q != 0)
		fuzz_schema_fail("too costly, but valid");
	if (verdict != -1 && ((used.too_costly == SCHEMA_COSTLY_NO &&
	    v != verdict) || (qused.too_costly == SCHEMA_COSTLY_NO &&
	    q != verdict)))
		fuzz_schema_fail("the verdict depends on the budget");
	schema_result_free(&res);
}

/* Compiling under a small budget fails only when it runs out. */
static void
fuzz_schema_small(json_object *doc, const struct schema *full)
{
	struct schema	*s;
	unsigned long	 budget = FUZZ_SCHEMA_COMPILE_BUDGET;
	char		 err[256];

	memset(err, 'z', sizeof(err));
	s = schema_compile_budget(doc, &budget, err, sizeof(err));
	if (s != NULL && full == NULL)
		fuzz_schema_fail("compiles under a small budget only");
	if (s == NULL && full != NULL && (strcmp(err, "schema too large to "
	    "compile") != 0 || budget != 0))
		fuzz_schema_fail("a small budget failed for another reason");
	if (s == NULL && memchr(err, '\0', sizeof(err)) == NULL)
		fuzz_schema_fail("compile failed without a message");
	if (budget > FUZZ_SCHEMA_COMPILE_BUDGET)
		fuzz_schema_fail("the budget grew");
	schema_free(s);
}

static void
fuzz_schema_run(json_object *doc, enum schema_draft draft, json_object *inst)
{
	struct schema	*s;
	char		 err[256];

	memset(err, 'z', sizeof(err));
	/* schema_compile() is what the daemon calls: AUTO goes through it. */
	if (draft == SCHEMA_DRAFT_AUTO)
		s = schema_compile(doc, err, sizeof(err));
	else
		s = schema_compile_draft(doc, draft, err, sizeof(err));
	if (draft == SCHEMA_DRAFT_AUTO)
		fuzz_schema_small(doc, s);
	if (s == NULL) {
		if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
			fuzz_schema_fail("compile failed without a message");
		return;
	}
	fuzz_schema_names(s);
	fuzz_schema_costly(s, inst, fuzz_schema_check(s, inst));
	schema_free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum schema_draft	 draft = SCHEMA_DRAFT_AUTO;
	json_object		*doc, *inst = NULL;
	size_t			 slen;
	int			 have_inst = 0;

	if (size > FUZZ_SCHEMA_MAX_INPUT)
		return 0;
	for (slen = 0; slen < size; slen++)
		if (data[slen] == 0x00 || data[slen] == 0x01)
			break;
	if (fuzz_schema_parse(data, slen, &doc) == -1)
		return 0;
	if (slen < size) {
		if (data[slen] == 0x01)
			draft = SCHEMA_DRAFT_07;
		have_inst = fuzz_schema_parse(data + slen + 1,
		    size - slen - 1, &inst) == 0;
	}
	fuzz_schema_run(doc, draft, have_inst ? inst : doc);
	json_object_put(inst);
	json_object_put(doc);
	return 0;
}
