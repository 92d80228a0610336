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
 * Hitting a limit (the depths below, SCHEMA_MAX_STEPS, a $ref that comes
 * back to the same value without going into it) makes the instance invalid
 * with one error that says so.
 */
#ifndef SCHEMA_H
#define SCHEMA_H

#include <stddef.h>

#include <json-c/json.h>

#define SCHEMA_MAX_ERRORS	64	/* then res->truncated is set */
#define SCHEMA_MAX_DEPTH	256	/* nested schema evaluations */
#define SCHEMA_MAX_INSTANCE_DEPTH 64	/* instance levels walked into */
#define SCHEMA_MAX_STEPS	4000000	/* subschema evaluations per call */

struct schema;			/* compiled, immutable, shareable across threads */

struct schema_error {
	char	*path;		/* JSON Pointer into the instance */
	char	*message;
};

struct schema_result {
	struct schema_error	*errors;
	size_t			 nerrors;
	size_t			 cap;
	int			 truncated;
	int			 too_costly;	/* TEMPORARY */
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
/* TEMPORARY until the budgeted validator lands. */
struct schema_limits {
	unsigned long	steps;
	unsigned long	match_limit;
	unsigned long	cpu_us;
};
int		 schema_validate_limits(const struct schema *, json_object *,
		    struct schema_result *, const struct schema_limits *);
/* TEMPORARY until the budgeted compiler lands: ignores budget. */
struct schema	*schema_compile_budget(json_object *root, unsigned long *budget,
		    char *err, size_t errlen);
void		 schema_free(struct schema *);

/*
 * 1 valid, 0 invalid (errors in res, which the caller zero-initialises and
 * frees with schema_result_free). instance is borrowed and only read. res may
 * be NULL: then validation stops at the first error and reports none.
 */
int		 schema_validate(const struct schema *, json_object *instance,
		    struct schema_result *res);
void		 schema_result_free(struct schema_result *);

/*
 * Names of the root object's required properties and of its optional ones
 * (properties not required), for the 400 reply; NULL-terminated arrays owned
 * by the schema. Empty arrays when the root has none.
 */
const char *const *schema_required(const struct schema *);
const char *const *schema_optional(const struct schema *);

#endif
