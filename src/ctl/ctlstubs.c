/*
 * ctlstubs.c: mcp-proxyctl stubs (see ctlstubs.h). The tool list comes
 * from GET /mcp/tools?allowed=true (only what the token may call); each
 * tool's JSON Schemas become types: TypeScript interfaces, or Python
 * TypedDicts (3.9: a required and an optional base). What a schema says
 * that a type cannot ($ref, patterns, bounds, ...) becomes the widest type
 * (unknown / Any): the daemon validates the arguments anyway. A tool with
 * an outputSchema asks for the whole result and returns its
 * structuredContent, typed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <json-c/json.h>

#include "ctlhttp.h"
#include "ctlstubs.h"

#define STUB_MAX_DEPTH	6
#define STUB_NAME_MAX	256
#define STUB_ERR_MAX	(3 * 4096)
#define STUB_JSON	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* One module being written. */
struct stub_mod {
	enum ctlstubs_lang	 lang;
	struct evbuffer		*b;
	char			 (*used)[STUB_NAME_MAX];	/* names given */
	size_t			 nused;
};

static const char *const stub_ts_reserved[] = {
	"break", "case", "catch", "class", "const", "continue", "debugger",
	"default", "delete", "do", "else", "enum", "export", "extends",
	"false", "finally", "for", "function", "if", "import", "in",
	"instanceof", "new", "null", "return", "super", "switch", "this",
	"throw", "true", "try", "typeof", "var", "void", "while", "with",
	"yield", "let", "static", "implements", "interface", "package",
	"private", "protected", "public", "await", "async", "arguments",
	"eval", "undefined", "callMCPTool", NULL
};

static const char *const stub_py_reserved[] = {
	"False", "None", "True", "and", "as", "assert", "async", "await",
	"break", "class", "continue", "def", "del", "elif", "else", "except",
	"finally", "for", "from", "global", "if", "import", "in", "is",
	"lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try",
	"while", "with", "yield", "call_mcp_tool", "Any", "Dict", "List",
	"Literal", "Optional", "TypedDict", "Union", "cast", NULL
};

static int	 stub_reserved(enum ctlstubs_lang, const char *);
static void	 stub_pascal(const char *, const char *, char *, size_t);
static void	 stub_unique(struct stub_mod *, char *, size_t);
static void	 stub_json(struct evbuffer *, json_object *);
static int	 stub_is_ident(const char *);
static void	 stub_key(struct evbuffer *, const char *);
static void	 stub_string(struct evbuffer *, const char *);
static json_object *stub_get(json_object *, const char *, json_type);
static int	 stub_literals(struct stub_mod *, json_object *, const char *);
static void	 stub_type(struct stub_mod *, json_object *, int);
static void	 stub_simple(struct stub_mod *, json_object *, const char *,
		    int);
static void	 stub_union(struct stub_mod *, json_object *, int);
static void	 stub_ts_object(struct stub_mod *, json_object *, int);
static int	 stub_required(json_object *, const char *);
static void	 stub_comment(struct stub_mod *, const char *, const char *,
		    const char *);
static void	 stub_ts_iface(struct stub_mod *, const char *, json_object *,
		    const char *);
static void	 stub_py_dict(struct stub_mod *, const char *, json_object *,
		    const char *);
static void	 stub_tool(struct stub_mod *, json_object *, const char *);
static void	 stub_header(struct stub_mod *, const char *);
static int	 stub_fetch(const struct ctlstubs_opts *,
		    const struct ctltarget *, json_object **);
static int	 stub_server_of(const char *, char *, size_t);
static int	 stub_write(const struct ctlstubs_opts *, const char *,
		    json_object *);
static int	 stub_save(const char *, struct evbuffer *);

/* ---------------------------------------------------------------- names */

static int
stub_reserved(enum ctlstubs_lang lang, const char *s)
{
	const char *const	*r;

	for (r = lang == CTLSTUBS_TS ? stub_ts_reserved : stub_py_reserved;
	    *r != NULL; r++)
		if (strcmp(*r, s) == 0)
			return 1;
	return 0;
}

void
ctlstubs_ident(enum ctlstubs_lang lang, const char *name, char *out,
    size_t outlen)
{
	size_t	i, n = 0;

	if (outlen < 4)
		return;
	if (name[0] >= '0' && name[0] <= '9')
		out[n++] = '_';
	for (i = 0; name[i] != '\0' && n + 2 < outlen; i++)
		out[n++] = (name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ? name[i] : '_';
	if (n == 0)
		out[n++] = '_';
	out[n] = '\0';
	if (stub_reserved(lang, out)) {
		out[n++] = '_';
		out[n] = '\0';
	}
}

/* ident in PascalCase plus suffix. */
static void
stub_pascal(const char *ident, const char *suffix, char *out, size_t outlen)
{
	size_t	i, n = 0;
	int	up = 1;

	for (i = 0; ident[i] != '\0' && n + 1 < outlen; i++) {
		if (ident[i] == '_') {
			up = 1;
			continue;
		}
		out[n++] = up && ident[i] >= 'a' && ident[i] <= 'z' ?
		    (char)(ident[i] - 'a' + 'A') : ident[i];
		up = 0;
	}
	if ((n == 0 || (out[0] >= '0' && out[0] <= '9')) && n + 2 < outlen) {
		memmove(out + 1, out, n);
		out[0] = 'T';
		n++;
	}
	snprintf(out + n, outlen - n, "%s", suffix);
}

/* name, or name_2, name_3 ... when the module has it already. */
static void
stub_unique(struct stub_mod *m, char *name, size_t len)
{
	char	try[STUB_NAME_MAX];
	size_t	i;
	int	k = 1;

	snprintf(try, sizeof(try), "%s", name);
	for (i = 0; i < m->nused; i++)
		if (strcmp(m->used[i], try) == 0) {
			snprintf(try, sizeof(try), "%.200s_%d", name, ++k);
			i = (size_t)-1;
		}
	snprintf(name, len, "%s", try);
	snprintf(m->used[m->nused++], STUB_NAME_MAX, "%s", try);
}

/* --------------------------------------------------------------- types */

static void
stub_json(struct evbuffer *b, json_object *v)
{
	evbuffer_add_printf(b, "%s", json_object_to_json_string_ext(v,
	    STUB_JSON));
}

static int
stub_is_ident(const char *s)
{
	size_t	i;

	if (s[0] == '\0' || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '$'))
			return 0;
	return 1;
}

/* A string as a JSON (and TypeScript, and Python) string literal. */
static void
stub_string(struct evbuffer *b, const char *str)
{
	json_object	*v = json_object_new_string(str);

	if (v != NULL)
		stub_json(b, v);
	json_object_put(v);
}

/* A TypeScript property name: as it is, or quoted. */
static void
stub_key(struct evbuffer *b, const char *key)
{
	if (stub_is_ident(key))
		evbuffer_add_printf(b, "%s", key);
	else
		stub_string(b, key);
}

static json_object *
stub_get(json_object *o, const char *key, json_type type)
{
	json_object	*v;

	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, type))
		return NULL;
	return v;
}

/* enum or const values as a union of literals; 0 when they cannot be
 * (an object, an array, a Python float). */
static int
stub_literals(struct stub_mod *m, json_object *vals, const char *sep)
{
	json_object	*v;
	size_t		 i, n = json_object_array_length(vals);
	json_type	 t;

	for (i = 0; i < n; i++) {
		t = json_object_get_type(json_object_array_get_idx(vals, i));
		if (t == json_type_object || t == json_type_array ||
		    (m->lang == CTLSTUBS_PY && t == json_type_double))
			return 0;
	}
	evbuffer_add_printf(m->b, "%s", m->lang == CTLSTUBS_PY ?
	    "Literal[" : "");
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(vals, i);
		evbuffer_add_printf(m->b, "%s", i > 0 ? sep : "");
		if (m->lang == CTLSTUBS_PY && v == NULL)
			evbuffer_add_printf(m->b, "None");
		else if (m->lang == CTLSTUBS_PY &&
		    json_object_is_type(v, json_type_boolean))
			evbuffer_add_printf(m->b, "%s",
			    json_object_get_boolean(v) ? "True" : "False");
		else
			stub_json(m->b, v);
	}
	evbuffer_add_printf(m->b, "%s", m->lang == CTLSTUBS_PY ? "]" : "");
	return 1;
}

/* The type of schema s. */
static void
stub_type(struct stub_mod *m, json_object *s, int depth)
{
	const char	*any = m->lang == CTLSTUBS_TS ? "unknown" : "Any";
	json_object	*v, *one;
	size_t		 i;

	if (depth > STUB_MAX_DEPTH || !json_object_is_type(s,
	    json_type_object)) {
		evbuffer_add_printf(m->b, "%s", any);
		return;
	}
	if (json_object_object_get_ex(s, "const", &v) &&
	    (one = json_object_new_array()) != NULL) {
		json_object_array_add(one, json_object_get(v));
		if (!stub_literals(m, one, ""))
			evbuffer_add_printf(m->b, "%s", any);
		json_object_put(one);
		return;
	}
	if ((v = stub_get(s, "enum", json_type_array)) != NULL &&
	    json_object_array_length(v) > 0) {
		if (!stub_literals(m, v, m->lang == CTLSTUBS_TS ? " | " :
		    ", "))
			evbuffer_add_printf(m->b, "%s", any);
		return;
	}
	if (((v = stub_get(s, "anyOf", json_type_array)) != NULL ||
	    (v = stub_get(s, "oneOf", json_type_array)) != NULL) &&
	    json_object_array_length(v) > 0) {
		stub_union(m, v, depth);
		return;
	}
	if ((v = stub_get(s, "type", json_type_string)) != NULL)
		stub_simple(m, s, json_object_get_string(v), depth);
	else if ((v = stub_get(s, "type", json_type_array)) != NULL &&
	    json_object_array_length(v) > 0) {
		evbuffer_add_printf(m->b, "%s", m->lang == CTLSTUBS_TS ? "(" :
		    "Union[");
		for (i = 0; i < json_object_array_length(v); i++) {
			evbuffer_add_printf(m->b, "%s", i == 0 ? "" :
			    m->lang == CTLSTUBS_TS ? " | " : ", ");
			stub_simple(m, s, json_object_get_string(
			    json_object_array_get_idx(v, i)), depth);
		}
		evbuffer_add_printf(m->b, "%s", m->lang == CTLSTUBS_TS ? ")" :
		    "]");
	} else if (stub_get(s, "properties", json_type_object) != NULL)
		stub_simple(m, s, "object", depth);
	else
		evbuffer_add_printf(m->b, "%s", any);
}

static void
stub_union(struct stub_mod *m, json_object *arr, int depth)
{
	size_t	i;

	evbuffer_add_printf(m->b, "%s", m->lang == CTLSTUBS_TS ? "(" :
	    "Union[");
	for (i = 0; i < json_object_array_length(arr); i++) {
		evbuffer_add_printf(m->b, "%s", i == 0 ? "" :
		    m->lang == CTLSTUBS_TS ? " | " : ", ");
		stub_type(m, json_object_array_get_idx(arr, i), depth + 1);
	}
	evbuffer_add_printf(m->b, "%s", m->lang == CTLSTUBS_TS ? ")" : "]");
}

/* One JSON type name t of schema s. */
static void
stub_simple(struct stub_mod *m, json_object *s, const char *t, int depth)
{
	int		 ts = m->lang == CTLSTUBS_TS;
	json_object	*items;

	if (t == NULL)
		t = "";
	if (strcmp(t, "string") == 0)
		evbuffer_add_printf(m->b, "%s", ts ? "string" : "str");
	else if (strcmp(t, "integer") == 0)
		evbuffer_add_printf(m->b, "%s", ts ? "number" : "int");
	else if (strcmp(t, "number") == 0)
		evbuffer_add_printf(m->b, "%s", ts ? "number" : "float");
	else if (strcmp(t, "boolean") == 0)
		evbuffer_add_printf(m->b, "%s", ts ? "boolean" : "bool");
	else if (strcmp(t, "null") == 0)
		evbuffer_add_printf(m->b, "%s", ts ? "null" : "None");
	else if (strcmp(t, "array") == 0) {
		evbuffer_add_printf(m->b, "%s", ts ? "Array<" : "List[");
		if (json_object_object_get_ex(s, "items", &items))
			stub_type(m, items, depth + 1);
		else
			evbuffer_add_printf(m->b, "%s", ts ? "unknown" : "Any");
		evbuffer_add_printf(m->b, "%s", ts ? ">" : "]");
	} else if (strcmp(t, "object") == 0 && ts)
		stub_ts_object(m, s, depth);
	else if (strcmp(t, "object") == 0)
		evbuffer_add_printf(m->b, "Dict[str, Any]");
	else
		evbuffer_add_printf(m->b, "%s", ts ? "unknown" : "Any");
}

/* An inline TypeScript object type. */
static void
stub_ts_object(struct stub_mod *m, json_object *s, int depth)
{
	json_object	*props = stub_get(s, "properties", json_type_object);
	json_object	*extra;

	evbuffer_add_printf(m->b, "{ ");
	if (props != NULL) {
		json_object_object_foreach(props, key, ps) {
			stub_key(m->b, key);
			evbuffer_add_printf(m->b, "%s: ",
			    stub_required(s, key) ? "" : "?");
			stub_type(m, ps, depth + 1);
			evbuffer_add_printf(m->b, "; ");
		}
	}
	extra = stub_get(s, "additionalProperties", json_type_boolean);
	if (extra == NULL || json_object_get_boolean(extra))
		evbuffer_add_printf(m->b, "[key: string]: unknown; ");
	evbuffer_add_printf(m->b, "}");
}

static int
stub_required(json_object *s, const char *key)
{
	json_object	*req = stub_get(s, "required", json_type_array);
	json_object	*v;
	size_t		 i;

	for (i = 0; req != NULL && i < json_object_array_length(req); i++) {
		v = json_object_array_get_idx(req, i);
		if (json_object_is_type(v, json_type_string) &&
		    strcmp(json_object_get_string(v), key) == 0)
			return 1;
	}
	return 0;
}

/* ------------------------------------------------------------ modules */

/* A doc comment (TypeScript) or docstring (Python) of text, first
 * prefixed by "first: " when both are there. */
static void
stub_comment(struct stub_mod *m, const char *indent, const char *first,
    const char *text)
{
	const char	*p;

	if ((text == NULL || *text == '\0') && (first == NULL ||
	    *first == '\0'))
		return;
	evbuffer_add_printf(m->b, "%s%s", indent, m->lang == CTLSTUBS_TS ?
	    "/**\n" : "\"\"\"");
	if (m->lang == CTLSTUBS_TS)
		evbuffer_add_printf(m->b, "%s * ", indent);
	if (first != NULL && *first != '\0')
		evbuffer_add_printf(m->b, "%s%s", first, text != NULL &&
		    *text != '\0' ? ": " : "");
	for (p = text != NULL ? text : ""; *p != '\0'; p++) {
		if (*p == '\n')
			evbuffer_add_printf(m->b, "\n%s%s", indent,
			    m->lang == CTLSTUBS_TS ? " * " : "");
		else if (m->lang == CTLSTUBS_TS && p[0] == '*' && p[1] == '/')
			evbuffer_add_printf(m->b, "*\\");
		else if (m->lang == CTLSTUBS_PY && (*p == '\\' || *p == '"'))
			evbuffer_add_printf(m->b, "\\%c", *p);
		else if ((unsigned char)*p >= ' ' || *p == '\t')
			evbuffer_add(m->b, p, 1);
	}
	evbuffer_add_printf(m->b, "%s", m->lang == CTLSTUBS_TS ? "\n" :
	    "\"\"\"\n");
	if (m->lang == CTLSTUBS_TS)
		evbuffer_add_printf(m->b, "%s */\n", indent);
}

/* export interface NAME { ... } of an object schema. */
static void
stub_ts_iface(struct stub_mod *m, const char *name, json_object *s,
    const char *doc)
{
	json_object	*props = stub_get(s, "properties", json_type_object);
	json_object	*extra, *d;

	stub_comment(m, "", NULL, doc);
	evbuffer_add_printf(m->b, "export interface %s {\n", name);
	if (props != NULL) {
		json_object_object_foreach(props, key, ps) {
			d = stub_get(ps, "description", json_type_string);
			stub_comment(m, "\t", NULL, d != NULL ?
			    json_object_get_string(d) : NULL);
			evbuffer_add_printf(m->b, "\t");
			stub_key(m->b, key);
			evbuffer_add_printf(m->b, "%s: ",
			    stub_required(s, key) ? "" : "?");
			stub_type(m, ps, 1);
			evbuffer_add_printf(m->b, ";\n");
		}
	}
	extra = stub_get(s, "additionalProperties", json_type_boolean);
	if (props == NULL || extra == NULL || json_object_get_boolean(extra))
		evbuffer_add_printf(m->b, "\t[key: string]: unknown;\n");
	evbuffer_add_printf(m->b, "}\n\n");
}

/* NAME, a TypedDict with a required and an optional base. */
static void
stub_py_dict(struct stub_mod *m, const char *name, json_object *s,
    const char *doc)
{
	json_object	*props = stub_get(s, "properties", json_type_object);
	int		 req, n;

	if (props == NULL) {
		evbuffer_add_printf(m->b, "%s = Dict[str, Any]\n\n\n", name);
		return;
	}
	for (req = 1; req >= 0; req--) {
		evbuffer_add_printf(m->b, "_%s_%s = TypedDict(\"_%s_%s\", {",
		    name, req ? "required" : "optional", name,
		    req ? "required" : "optional");
		n = 0;
		json_object_object_foreach(props, key, ps) {
			if (stub_required(s, key) != req)
				continue;
			evbuffer_add_printf(m->b, "%s\n    ", n++ > 0 ? "," : "");
			stub_string(m->b, key);
			evbuffer_add_printf(m->b, ": ");
			stub_type(m, ps, 1);
		}
		evbuffer_add_printf(m->b, "}%s)\n", req ? "" : ", total=False");
	}
	evbuffer_add_printf(m->b, "\n\nclass %s(_%s_required, _%s_optional):\n",
	    name, name, name);
	stub_comment(m, "    ", NULL, doc != NULL && *doc != '\0' ? doc :
	    name);
	evbuffer_add_printf(m->b, "\n\n");
}

/* The types and the function of one tool. */
static void
stub_tool(struct stub_mod *m, json_object *t, const char *server)
{
	json_object	*in = stub_get(t, "parameters", json_type_object);
	json_object	*out = stub_get(t, "outputSchema", json_type_object);
	json_object	*v;
	const char	*full, *desc, *title, *tool;
	char		 fn[STUB_NAME_MAX], params[STUB_NAME_MAX + 8];
	char		 result[STUB_NAME_MAX + 8], doc[STUB_NAME_MAX + 64];
	int		 ts = m->lang == CTLSTUBS_TS, optional;

	full = json_object_get_string(stub_get(t, "name", json_type_string));
	tool = full + strlen("mcp__") + strlen(server) + 2;
	v = stub_get(t, "description", json_type_string);
	desc = v != NULL ? json_object_get_string(v) : "";
	v = stub_get(t, "title", json_type_string);
	title = v != NULL ? json_object_get_string(v) : NULL;
	ctlstubs_ident(m->lang, tool, fn, sizeof(fn));
	stub_unique(m, fn, sizeof(fn));
	stub_pascal(fn, "Params", params, sizeof(params));
	stub_pascal(fn, "Result", result, sizeof(result));
	optional = stub_get(in, "required", json_type_array) == NULL ||
	    json_object_array_length(stub_get(in, "required",
	    json_type_array)) == 0;
	snprintf(doc, sizeof(doc), "The arguments of %s.", full);
	if (ts)
		stub_ts_iface(m, params, in, doc);
	else
		stub_py_dict(m, params, in, doc);
	if (out != NULL) {
		snprintf(doc, sizeof(doc), "The structuredContent of %s.",
		    full);
		if (ts)
			stub_ts_iface(m, result, out, doc);
		else
			stub_py_dict(m, result, out, doc);
	}
	if (ts) {
		stub_comment(m, "", title, desc);
		evbuffer_add_printf(m->b, "export async function %s(params: "
		    "%s%s): Promise<%s> {\n", fn, params, optional ? " = {}" :
		    "", out != NULL ? result : "unknown");
		if (out != NULL)
			evbuffer_add_printf(m->b, "\tconst r = await "
			    "callMCPTool(%s, params, { full: true }) as\n\t    "
			    "{ structuredContent?: %s };\n\tif "
			    "(r.structuredContent === undefined)\n\t\tthrow new "
			    "Error(\"%s: no structuredContent\");\n\treturn "
			    "r.structuredContent;\n}\n\n", json_object_to_json_string_ext(
			    json_object_object_get(t, "name"), STUB_JSON), result,
			    fn);
		else
			evbuffer_add_printf(m->b, "\treturn await callMCPTool(%s, "
			    "params);\n}\n\n", json_object_to_json_string_ext(
			    json_object_object_get(t, "name"), STUB_JSON));
		return;
	}
	evbuffer_add_printf(m->b, "def %s(params: %s%s%s) -> %s:\n", fn,
	    optional ? "Optional[" : "", params, optional ? "] = None" : "",
	    out != NULL ? result : "Any");
	stub_comment(m, "    ", title, desc);
	evbuffer_add_printf(m->b, "    %scall_mcp_tool(%s, %s%s)\n",
	    out != NULL ? "r = " : "return ", json_object_to_json_string_ext(
	    json_object_object_get(t, "name"), STUB_JSON), optional ?
	    "params or {}" : "params", out != NULL ? ", full=True" : "");
	if (out != NULL)
		evbuffer_add_printf(m->b, "    return cast(%s, "
		    "r[\"structuredContent\"])\n", result);
	evbuffer_add_printf(m->b, "\n\n");
}

static void
stub_header(struct stub_mod *m, const char *server)
{
	if (m->lang == CTLSTUBS_TS) {
		evbuffer_add_printf(m->b, "// Typed functions for the tools of "
		    "MCP server ");
		stub_string(m->b, server);
		evbuffer_add_printf(m->b, "\n// that the token may call, "
		    "written by mcp-proxyctl stubs from mcp-proxyd's\n// tool "
		    "list: do not edit, write them again. Needs the client "
		    "mcp-proxyd.ts\n// beside this file.\nimport { callMCPTool } "
		    "from \"./mcp-proxyd.ts\";\n\n");
		return;
	}
	evbuffer_add_printf(m->b, "\"\"\"Typed functions for the tools of MCP "
	    "server %s that the token may\ncall, written by mcp-proxyctl stubs "
	    "from mcp-proxyd's tool list: do not edit,\nwrite them again. "
	    "Needs the client mcp_proxyd on the module path.\n\"\"\"\n"
	    "from typing import Any, Dict, List, Literal, Optional, "
	    "TypedDict, Union, cast\n\nfrom mcp_proxyd import call_mcp_tool\n"
	    "\n\n", server);
}

/* ------------------------------------------------------------ the run */

/* The allowed tools: a JSON array in *tools. 0, or -1 said. */
static int
stub_fetch(const struct ctlstubs_opts *o, const struct ctltarget *t,
    json_object **tools)
{
	struct ctlhttp_call	 call;
	struct ctlhttp_reply	 reply;
	json_object		*j, *e;
	char			 err[STUB_ERR_MAX];

	memset(&call, 0, sizeof(call));
	call.method = "GET";
	call.target = "/mcp/tools?allowed=true";
	call.token = t->token;
	call.timeout_s = o->timeout_s;
	if (ctlhttp_request(&t->url, &call, &reply, err, sizeof(err)) == -1) {
		fprintf(stderr, "mcp-proxyctl: stubs: GET %s: %s\n",
		    call.target, err);
		return -1;
	}
	j = json_tokener_parse(reply.body);
	*tools = stub_get(j, "tools", json_type_array);
	if (reply.status != 200 || *tools == NULL) {
		fprintf(stderr, "mcp-proxyctl: stubs: GET %s: HTTP %d: %.512s\n",
		    call.target, reply.status, (e = stub_get(j, "error",
		    json_type_string)) != NULL ? json_object_get_string(e) :
		    "not the JSON expected");
		json_object_put(j);
		ctlhttp_reply_free(&reply);
		return -1;
	}
	json_object_get(*tools);
	json_object_put(j);
	ctlhttp_reply_free(&reply);
	return 0;
}

/* The server of a full tool name mcp__<server>__<tool>. */
static int
stub_server_of(const char *full, char *out, size_t outlen)
{
	const char	*s, *sep;

	if (strncmp(full, "mcp__", 5) != 0)
		return -1;
	s = full + 5;
	if ((sep = strstr(s, "__")) == NULL || sep == s || sep[2] == '\0' ||
	    (size_t)(sep - s) >= outlen)
		return -1;
	memcpy(out, s, (size_t)(sep - s));
	out[sep - s] = '\0';
	return 0;
}

/* The module of server: the tools of it in tools. 0, or -1 said. */
static int
stub_write(const struct ctlstubs_opts *o, const char *server,
    json_object *tools)
{
	struct stub_mod	 m;
	json_object	*t;
	char		 srv[STUB_NAME_MAX], ident[STUB_NAME_MAX], path[4096];
	size_t		 i, n = json_object_array_length(tools);
	int		 rc = -1;

	memset(&m, 0, sizeof(m));
	m.lang = o->lang;
	if ((m.b = evbuffer_new()) == NULL ||
	    (m.used = calloc(n + 1, sizeof(*m.used))) == NULL)
		goto done;
	stub_header(&m, server);
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(tools, i);
		if (stub_server_of(json_object_get_string(stub_get(t, "name",
		    json_type_string)), srv, sizeof(srv)) == 0 &&
		    strcmp(srv, server) == 0)
			stub_tool(&m, t, server);
	}
	ctlstubs_ident(o->lang, server, ident, sizeof(ident));
	snprintf(path, sizeof(path), "%s/mcp_%s.%s", o->outdir != NULL ?
	    o->outdir : ".", ident, o->lang == CTLSTUBS_TS ? "ts" : "py");
	if (stub_save(path, m.b) == 0) {
		printf("%s\n", path);
		rc = 0;
	}
done:
	if (m.b != NULL)
		evbuffer_free(m.b);
	free(m.used);
	if (rc == -1 && m.b == NULL)
		fprintf(stderr, "mcp-proxyctl: stubs: out of memory\n");
	return rc;
}

/* Writes b to path through a temporary file. 0, or -1 said. */
static int
stub_save(const char *path, struct evbuffer *b)
{
	char	tmp[4200];
	FILE	*f;
	size_t	len = evbuffer_get_length(b);

	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	if ((f = fopen(tmp, "w")) == NULL ||
	    fwrite(evbuffer_pullup(b, -1), 1, len, f) != len ||
	    fclose(f) == EOF || rename(tmp, path) == -1) {
		fprintf(stderr, "mcp-proxyctl: stubs: cannot write %s: %s\n",
		    path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
ctlstubs_run(const struct ctlstubs_opts *o, const struct ctltarget *t)
{
	json_object	*tools, *name;
	char		 srv[STUB_NAME_MAX], done[64][STUB_NAME_MAX];
	size_t		 i, j, ndone = 0;
	int		 rc = 0;

	if (stub_fetch(o, t, &tools) == -1)
		return 1;
	for (i = 0; i < json_object_array_length(tools) && rc == 0; i++) {
		name = stub_get(json_object_array_get_idx(tools, i), "name",
		    json_type_string);
		if (name == NULL || stub_server_of(json_object_get_string(name),
		    srv, sizeof(srv)) == -1 ||
		    (o->server != NULL && strcmp(srv, o->server) != 0))
			continue;
		for (j = 0; j < ndone && strcmp(done[j], srv) != 0; j++)
			;
		if (j < ndone)
			continue;
		if (ndone == sizeof(done) / sizeof(done[0])) {
			fprintf(stderr, "mcp-proxyctl: stubs: more than %zu "
			    "servers: use --server\n", ndone);
			rc = 1;
			break;
		}
		snprintf(done[ndone++], STUB_NAME_MAX, "%s", srv);
		if (stub_write(o, srv, tools) == -1)
			rc = 1;
	}
	if (rc == 0 && ndone == 0) {
		fprintf(stderr, "mcp-proxyctl: stubs: no tool %s%s%s may be "
		    "called with this token\n", o->server != NULL ?
		    "of server '" : "", o->server != NULL ? o->server : "",
		    o->server != NULL ? "'" : "");
		rc = 1;
	}
	json_object_put(tools);
	return rc;
}
