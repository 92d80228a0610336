/*
 * schema.h: JSON Schema validation over json-c, for tool input schemas.
 *
 * schema_compile() turns a schema document (draft-07 or 2020-12) into a tree
 * of plain C structs. The compiled schema keeps nothing of the json-c tree it
 * was built from (enum and const values are deep-copied, patterns are
 * compiled once), so it is immutable and may be shared by any number of
 * threads without locks; schema_free() releases it once nobody uses it.
 *
 * Supported: type, properties, required, additionalProperties,
 * patternProperties, propertyNames, items (both drafts' meanings),
 * prefixItems, additionalItems, contains, minContains, maxContains,
 * minItems, maxItems, uniqueItems, enum, const, minimum, maximum,
 * exclusiveMinimum, exclusiveMaximum, multipleOf, minLength, maxLength
 * (Unicode code points), pattern (PCRE2, unanchored search),
 * minProperties, maxProperties, dependentRequired, dependentSchemas,
 * dependencies, allOf, anyOf, oneOf, not, if/then/else, boolean schemas,
 * $ref inside the document (JSON Pointer, $id, $anchor, $defs,
 * definitions). format is an annotation only. Unknown keywords are ignored.
 *
 * Not supported, and schema_compile() fails for them so the caller can skip
 * validation: unevaluatedProperties, unevaluatedItems (unless true or {}),
 * $dynamicRef, $recursiveRef, and any $ref that does not resolve inside the
 * document.
 *
 * schema_validate() reads the instance only; its errors (JSON Pointer of the
 * instance location and a message in words) go into a struct schema_result
 * that the caller zero-initialises and releases with schema_result_free().
 * Hitting a structural limit (the depths below, a $ref that comes back to
 * the same value without going into it) makes the instance invalid with one
 * more error that says so.
 *
 * Budgets. Every validation runs under a struct schema_limits, so that no
 * instance (the arguments of one caller) costs much CPU:
 *
 *   steps        work units. A unit is charged per subschema evaluation,
 *                per node compared and object member looked up by enum,
 *                const and uniqueItems, per item and node hashed by
 *                uniqueItems (and per probe of its table), per property
 *                looked at, per required name and dependency checked, per
 *                64 bytes of a string whose length is counted; a pattern
 *                match costs 4 and one per 16 bytes of the subject, an
 *                error message 32. Measured on a 2-CPU VM, a unit costs
 *                3 to 24 ns with PCRE2's JIT (up to 35 ns on instances too
 *                big for the caches, 49 ns on backtracking patterns with
 *                the interpreter): steps bound the CPU time whatever the
 *                schema and the instance, but for the backtracking inside
 *                a pattern match.
 *   match_limit  PCRE2's match limit of each pattern match (backtracking
 *                steps), also its depth limit. Each match is bounded by a
 *                heap limit and a JIT stack of SCHEMA_REGEX_HEAP_KIB too.
 *                100,000 steps take 0.2 ms with the JIT, 1 ms without.
 *   cpu_us       CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID),
 *                looked at every SCHEMA_CHECK_STEPS steps and after every
 *                pattern match. What runs before the first look (and the
 *                first 50 us, or an eighth of cpu_us when that is less) is
 *                not counted, so that a small validation reads no clock.
 *
 * The defaults cost at most 20 ms of CPU on that VM (17 ms to run out of
 * steps at worst, the CPU budget after 20 ms when patterns backtrack just
 * under the match limit), while an array of 10,000 objects of 5 properties
 * (types, a maximum length, a short pattern, required names) takes 170,000
 * steps and 2 to 4 ms.
 *
 * Compiling has a budget too, of units of about the same cost (5 to 50 ns
 * measured): per schema object scanned (8 more per node built), per
 * keyword (2 when built), per subschema reference, per $id, anchor and
 * $ref (and per resource or anchor searched), per property, required name
 * and dependency, per node of enum and const values copied, per 64 bytes
 * of names, URIs and strings copied; a pattern costs a unit per byte
 * before and after its translation to PCRE2 and per 8 bytes of compiled
 * code, and JIT compiling (done for at most 512 bytes of code: its time
 * grows much faster than the code) 256 + size + size^2/64.
 * schema_compile_budget() takes the budget from the caller, so that one
 * budget can cover every schema a server lists; a tool schema of a few
 * properties takes 200 to 1,300 units.
 *
 * When a budget runs out the instance is "too costly": invalid, with
 * exactly one error (any other errors found so far are dropped) at the
 * place where it ran out, whose message starts with "the arguments are too
 * costly to validate" and names the limit, and res->too_costly says which
 * budget it was. A caller that tries a small budget first can then re-run
 * the validation with a larger one.
 */
#ifndef SCHEMA_H
#define SCHEMA_H

#include <stddef.h>

#include <json-c/json.h>

#define SCHEMA_MAX_ERRORS	64	/* then res->truncated is set */
#define SCHEMA_MAX_DEPTH	256	/* nested schema evaluations */
#define SCHEMA_MAX_INSTANCE_DEPTH 64	/* instance levels walked into */

/* The budget of schema_validate(), and of a zero field of schema_limits. */
#define SCHEMA_DEFAULT_STEPS	500000	/* work units */
#define SCHEMA_DEFAULT_MATCH_LIMIT 100000 /* PCRE2 match limit per match */
#define SCHEMA_DEFAULT_CPU_US	20000	/* CPU time of the thread, us */
#define SCHEMA_CHECK_STEPS	1024	/* steps between looks at the clock */
#define SCHEMA_REGEX_HEAP_KIB	4096	/* PCRE2 heap limit per match, KiB */
/* The compile budget of schema_compile() and schema_compile_draft(). */
#define SCHEMA_DEFAULT_COMPILE_BUDGET 10000000 /* units */

struct schema;			/* compiled, immutable, shareable across threads */

/* Limits of one validation; a zero field takes its default. */
struct schema_limits {
	/* work units, default SCHEMA_DEFAULT_STEPS */
	unsigned long	steps;
	/* PCRE2 match limit per match, default SCHEMA_DEFAULT_MATCH_LIMIT */
	unsigned long	match_limit;
	/*
	 * CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID), default
	 * SCHEMA_DEFAULT_CPU_US
	 */
	unsigned long	cpu_us;
};

/* Which budget ran out: res->too_costly, used->too_costly. */
enum schema_costly {
	SCHEMA_COSTLY_NO = 0,	/* none: the verdict is final */
	SCHEMA_COSTLY_STEPS,	/* limits->steps */
	SCHEMA_COSTLY_PATTERN,	/* a match: its match, depth or heap limit */
	SCHEMA_COSTLY_CPU	/* limits->cpu_us */
};

/* What one validation used. */
struct schema_usage {
	unsigned long	steps;		/* work units charged */
	int		too_costly;	/* SCHEMA_COSTLY_* */
};

struct schema_error {
	char	*path;		/* JSON Pointer into the instance */
	char	*message;
};

struct schema_result {
	struct schema_error	*errors;
	size_t			 nerrors;
	size_t			 cap;
	int			 truncated;
	int			 too_costly;	/* SCHEMA_COSTLY_* */
};

enum schema_draft {
	SCHEMA_DRAFT_AUTO = 0,	/* from $schema; 2020-12 when absent */
	SCHEMA_DRAFT_07,	/* draft-07 when $schema is absent */
	SCHEMA_DRAFT_2020_12	/* 2020-12 when $schema is absent */
};

/*
 * root is borrowed; nothing of it is kept. NULL + message in err if it cannot
 * be compiled.
 */
struct schema	*schema_compile(json_object *root, char *err, size_t errlen);
/* As schema_compile(), with the draft to assume when $schema is absent. */
struct schema	*schema_compile_draft(json_object *root, enum schema_draft,
		    char *err, size_t errlen);
/*
 * As schema_compile(), charging its work to *budget (see above), which is
 * decremented whether compiling succeeds or not: NULL and "schema too large
 * to compile" once it runs out. schema_compile() and
 * schema_compile_draft() have a budget of SCHEMA_DEFAULT_COMPILE_BUDGET of
 * their own.
 */
struct schema	*schema_compile_budget(json_object *root,
		    unsigned long *budget, char *err, size_t errlen);
void		 schema_free(struct schema *);
/*
 * Whether the patterns of schemas compiled from now on are JIT-compiled:
 * yes by default, when PCRE2 has a JIT for this machine (else, or when JIT
 * compiling fails, they are interpreted). Returns the previous setting.
 * For tests, and for systems that forbid executable memory.
 */
int		 schema_set_jit(int enable);

/*
 * 1 valid, 0 invalid (errors in res, which the caller zero-initialises and
 * frees with schema_result_free). instance is borrowed and only read. res may
 * be NULL: then validation stops at the first error and reports none.
 * Validates under the default budget: schema_validate_limits(s, instance,
 * res, NULL, NULL).
 */
int		 schema_validate(const struct schema *, json_object *instance,
		    struct schema_result *res);
/*
 * As schema_validate(), under the budget lim (NULL: the defaults). Returns
 * 1 valid, 0 invalid, and 0 too when a budget ran out: a too-costly
 * instance is never taken for a valid one, however the result is tested.
 * To tell "too costly" from "invalid", read res->too_costly or, with or
 * without res, used->too_costly. used may be NULL; when not, it gets the
 * steps charged and which budget ran out, whatever the verdict. With res
 * NULL the first error ends the validation, and it is final: an instance
 * found invalid before a budget runs out is invalid, not too costly.
 */
int		 schema_validate_limits(const struct schema *,
		    json_object *instance, struct schema_result *res,
		    const struct schema_limits *lim, struct schema_usage *used);
void		 schema_result_free(struct schema_result *);

/*
 * Names of the root object's required properties and of its optional ones
 * (properties not required), for the 400 reply; NULL-terminated arrays owned
 * by the schema. Empty arrays when the root has none.
 */
const char *const *schema_required(const struct schema *);
const char *const *schema_optional(const struct schema *);

#endif
