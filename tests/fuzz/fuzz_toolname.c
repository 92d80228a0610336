/*
 * fuzz_toolname.c: libFuzzer target for the first steps of POST /: the
 * body parsed as JSON, its toolName checked against the grammar of tool
 * names (toolname.c) and then against an allowlist (allowlist.c).
 *
 * The verdict of toolname_parse() is compared with a reference written
 * from the grammar in toolname.h, character class by character class; an
 * accepted name must split into the server and tool the reference finds;
 * a refused one must have an error that starts as documented and quotes
 * at most TOOLNAME_QUOTE_MAX bytes of it. Any difference aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "allowlist.h"
#include "toolname.h"

#define FUZZ_TOOLNAME_MAX_INPUT	(256 * 1024)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	fuzz_toolname_fail(const char *, const char *)
		    __attribute__((noreturn));
static int	fuzz_toolname_reference(const char *, size_t, size_t *);
static void	fuzz_toolname_check(const char *, size_t);

static void
fuzz_toolname_fail(const char *what, const char *name)
{
	fprintf(stderr, "fuzz_toolname: %s\nname: \"%.300s\"\n", what, name);
	abort();
}

static int
fuzz_ref_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* 1 when the name is of the grammar, with the server's length. */
static int
fuzz_toolname_reference(const char *s, size_t len, size_t *srvlen)
{
	size_t	i = 5, start, t;

	if (len > TOOLNAME_MAX || len < 5 || memcmp(s, "mcp__", 5) != 0 ||
	    memchr(s, '\0', len) != NULL)
		return 0;
	/* server: parts of [A-Za-z0-9-]+ joined by single '_' */
	start = i;
	for (;;) {
		t = i;
		while (i < len && (fuzz_ref_alnum((unsigned char)s[i]) ||
		    s[i] == '-'))
			i++;
		if (i == t)
			return 0;
		if (i + 1 < len && s[i] == '_' && s[i + 1] == '_')
			break;
		if (i < len && s[i] == '_') {
			i++;
			continue;
		}
		return 0;
	}
	*srvlen = i - start;
	i += 2;
	if (len - i < 1 || len - i > TOOLNAME_TOOL_MAX)
		return 0;
	for (; i < len; i++)
		if (!fuzz_ref_alnum((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '-' && s[i] != '.')
			return 0;
	return 1;
}

static void
fuzz_toolname_check(const char *name, size_t len)
{
	struct toolname	 tn;
	char		 err[TOOLNAME_QUOTE_MAX + 256];
	size_t		 srvlen = 0;
	int		 got, want;

	got = toolname_parse(name, len, &tn, err, sizeof(err)) == 0;
	want = fuzz_toolname_reference(name, len, &srvlen);
	if (got != want)
		fuzz_toolname_fail(got ? "accepted a name outside the grammar" :
		    "refused a name of the grammar", name);
	if (got && (tn.server != name + 5 || tn.server_len != srvlen ||
	    tn.tool != name + 5 + srvlen + 2))
		fuzz_toolname_fail("split in the wrong place", name);
	if (!got && (strncmp(err, "Invalid toolName '", 18) != 0 ||
	    strlen(err) > TOOLNAME_QUOTE_MAX + 150))
		fuzz_toolname_fail("a bad error message", err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const patterns[] = {
		"mcp__demo__echo", "mcp__x_*", "mcp__*__read_*", "*__write",
	};
	static struct allowlist	*al;
	struct json_tokener	*tok;
	json_object		*o, *v;
	const char		*name;

	if (size > FUZZ_TOOLNAME_MAX_INPUT)
		return 0;
	if (al == NULL && (al = allowlist_new((char **)(uintptr_t)patterns,
	    sizeof(patterns) / sizeof(patterns[0]))) == NULL)
		abort();
	if ((tok = json_tokener_new()) == NULL)
		abort();
	o = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	if (o != NULL && json_object_object_get_ex(o, "toolName", &v) &&
	    json_object_is_type(v, json_type_string)) {
		name = json_object_get_string(v);
		fuzz_toolname_check(name,
		    (size_t)json_object_get_string_len(v));
		(void)allowlist_match(al, name);
	}
	json_object_put(o);
	return 0;
}
