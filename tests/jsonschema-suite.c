/*
 * jsonschema-suite.c: runs the official JSON Schema Test Suite against
 * schema.c.
 *
 *	jsonschema-suite DIR [DIR...]
 *
 * Every *.json file directly in each DIR is an array of groups
 * {description, schema, tests: [{description, data, valid}]}. A path that
 * contains "draft7" is run with draft-07 semantics when a schema has no
 * $schema, "draft2020-12" with 2020-12. The features schema.c deliberately
 * does not support are listed in one table, unsupported[] below (and in
 * docs/architecture.md): a file of such a feature, or a group whose schema
 * fails to compile with that feature's error, is skipped and reported by the
 * feature's name. Any other schema that fails to compile is a failure of
 * each of its tests. Each test is
 * validated twice, reporting errors and quietly, and both must agree with
 * the expected outcome; an invalid result must come with at least one error.
 *
 * Prints "# skip: ..." and "# FAIL: ..." lines, then exactly one line
 * "N passed, N failed, N skipped". Exit status 0 when nothing failed.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "schema.h"

struct counts {
	unsigned long	 passed;
	unsigned long	 failed;
	unsigned long	 skipped;
};

/* What schema.c does not support, on purpose: its test file, and the text
 * of schema_compile()'s error when a schema uses it. */
static const struct {
	const char	*name;
	const char	*file;
	const char	*error;
} unsupported[] = {
	{ "unevaluatedProperties", "unevaluatedProperties.json",
	    "keyword \"unevaluatedProperties\" is not supported" },
	{ "unevaluatedItems", "unevaluatedItems.json",
	    "keyword \"unevaluatedItems\" is not supported" },
	{ "$dynamicRef", "dynamicRef.json", "$dynamicRef is not supported" },
	{ "remote $ref", "refRemote.json",
	    "(remote references are not supported)" },
	{ "$vocabulary", "vocabulary.json", "$vocabulary is not supported" },
};
#define NUNSUPPORTED	(sizeof(unsupported) / sizeof(unsupported[0]))

static int	 json_file(const struct dirent *);
static unsigned long count_tests(json_object *);
static void	 run_group(const char *, json_object *, enum schema_draft,
		    struct counts *);
static void	 run_file(const char *, const char *, enum schema_draft,
		    struct counts *);
static int	 run_dir(const char *, struct counts *);

static int
json_file(const struct dirent *d)
{
	size_t	 len = strlen(d->d_name);

	return len > 5 && strcmp(d->d_name + len - 5, ".json") == 0;
}

static unsigned long
count_tests(json_object *groups)
{
	json_object	*tests;
	unsigned long	 n = 0;
	size_t		 i;

	for (i = 0; i < json_object_array_length(groups); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(groups,
		    i), "tests", &tests) &&
		    json_object_get_type(tests) == json_type_array)
			n += json_object_array_length(tests);
	return n;
}

static const char *
str_of(json_object *o, const char *key)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    json_object_get_type(v) != json_type_string)
		return "?";
	return json_object_get_string(v);
}

static void
run_group(const char *file, json_object *group, enum schema_draft draft,
    struct counts *ct)
{
	json_object		*schema_j = NULL, *tests, *t, *data, *valid_j;
	struct schema		*s;
	struct schema_result	 res;
	char			 err[512];
	const char		*gdesc = str_of(group, "description");
	size_t			 i, n;
	int			 want, got, quiet;

	if (!json_object_object_get_ex(group, "tests", &tests) ||
	    json_object_get_type(tests) != json_type_array) {
		printf("# FAIL: %s: %s: malformed group\n", file, gdesc);
		ct->failed++;
		return;
	}
	n = json_object_array_length(tests);
	json_object_object_get_ex(group, "schema", &schema_j);
	if ((s = schema_compile_draft(schema_j, draft, err, sizeof(err))) ==
	    NULL) {
		for (i = 0; i < NUNSUPPORTED; i++)
			if (strstr(err, unsupported[i].error) != NULL) {
				printf("# skip: %s: %s: unsupported: %s\n",
				    file, gdesc, unsupported[i].name);
				ct->skipped += n;
				return;
			}
		printf("# FAIL: %s: %s: the schema does not compile (%zu "
		    "tests): %s\n", file, gdesc, n, err);
		ct->failed += n;
		return;
	}
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(tests, i);
		data = NULL;
		json_object_object_get_ex(t, "data", &data);
		if (!json_object_object_get_ex(t, "valid", &valid_j)) {
			printf("# FAIL: %s: %s: %s: no \"valid\"\n", file,
			    gdesc, str_of(t, "description"));
			ct->failed++;
			continue;
		}
		want = json_object_get_boolean(valid_j) ? 1 : 0;
		memset(&res, 0, sizeof(res));
		got = schema_validate(s, data, &res);
		quiet = schema_validate(s, data, NULL);
		if (got != want || quiet != want) {
			printf("# FAIL: %s: %s: %s: expected %s, got %s "
			    "(quiet: %s)%s%s%s%s\n", file, gdesc,
			    str_of(t, "description"),
			    want ? "valid" : "invalid",
			    got ? "valid" : "invalid",
			    quiet ? "valid" : "invalid",
			    res.nerrors > 0 ? "; first error at \"" : "",
			    res.nerrors > 0 ? res.errors[0].path : "",
			    res.nerrors > 0 ? "\": " : "",
			    res.nerrors > 0 ? res.errors[0].message : "");
			ct->failed++;
		} else if ((got == 0) != (res.nerrors > 0)) {
			printf("# FAIL: %s: %s: %s: %s with %zu errors\n",
			    file, gdesc, str_of(t, "description"),
			    got ? "valid" : "invalid", res.nerrors);
			ct->failed++;
		} else
			ct->passed++;
		schema_result_free(&res);
	}
	schema_free(s);
}

static void
run_file(const char *dir, const char *name, enum schema_draft draft,
    struct counts *ct)
{
	json_object	*groups;
	char		 path[4096];
	size_t		 i;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((groups = json_object_from_file(path)) == NULL ||
	    json_object_get_type(groups) != json_type_array) {
		printf("# FAIL: %s: cannot read: %s\n", path,
		    json_util_get_last_err());
		ct->failed++;
		json_object_put(groups);
		return;
	}
	for (i = 0; i < NUNSUPPORTED; i++)
		if (strcmp(name, unsupported[i].file) == 0) {
			printf("# skip: %s: unsupported: %s (%lu tests)\n", path,
			    unsupported[i].name, count_tests(groups));
			ct->skipped += count_tests(groups);
			json_object_put(groups);
			return;
		}
	for (i = 0; i < json_object_array_length(groups); i++)
		run_group(path, json_object_array_get_idx(groups, i), draft, ct);
	json_object_put(groups);
}

static int
run_dir(const char *dir, struct counts *ct)
{
	struct dirent	**names;
	enum schema_draft draft = SCHEMA_DRAFT_AUTO;
	int		  n, i;

	if (strstr(dir, "draft7") != NULL)
		draft = SCHEMA_DRAFT_07;
	else if (strstr(dir, "draft2020-12") != NULL)
		draft = SCHEMA_DRAFT_2020_12;
	if ((n = scandir(dir, &names, json_file, alphasort)) == -1) {
		printf("# FAIL: %s: cannot read directory\n", dir);
		ct->failed++;
		return -1;
	}
	for (i = 0; i < n; i++) {
		run_file(dir, names[i]->d_name, draft, ct);
		free(names[i]);
	}
	free(names);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct counts	 ct = { 0, 0, 0 };
	int		 i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR [DIR...]\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++)
		run_dir(argv[i], &ct);
	printf("%lu passed, %lu failed, %lu skipped\n", ct.passed, ct.failed,
	    ct.skipped);
	return ct.failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
