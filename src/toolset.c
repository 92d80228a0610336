/*
 * toolset.c: the published tool list of one MCP server, built from its
 * tools/list answer: sorted entries, pre-serialised discovery JSON,
 * compiled input schemas, lookup, suggestions, and the slot a server
 * publishes it through.
 */

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "schema.h"
#include "toolname.h"
#include "toolset.h"

#define TOOLSET_JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | \
				 JSON_C_TO_STRING_NOSLASHESCAPE)
#define TOOLSET_MAX_SUGGESTIONS	8

struct toolset {
	atomic_int	 refs;
	size_t		 n;
	size_t		 unvalidated;
	uint64_t	 hash;
	struct tool	*tools;		/* sorted by name */
};

static int	 tool_cmp(const void *, const void *);
static void	 tool_clear(struct tool *);
static int	 tool_fill(struct tool *, const char *,
		    const struct config_server *, json_object *,
		    unsigned long *, const char **);
static int	 tool_names(struct tool *, const char *, json_object *,
		    const char **);
static char	*tool_discovery_json(const struct tool *, json_object *,
		    json_object *, int);
static int	 tool_own_field(const char *);
static void	 tool_compile(struct tool *, json_object *, unsigned long *);
static void	 toolset_free(struct toolset *);
static void	 toolset_dedup(struct toolset *, const char *);

/* -------------------------------------------------------------- entries */

static int
tool_cmp(const void *a, const void *b)
{
	const struct tool	*ta = a, *tb = b;

	return strcmp(ta->name, tb->name);
}

static void
tool_clear(struct tool *t)
{
	free(t->full_name);
	free(t->name);
	free(t->description);
	free(t->search_text);
	free(t->json);
	if (t->schema != NULL)
		schema_free(t->schema);
	memset(t, 0, sizeof(*t));
}

/* The names and search text of one entry; -1 with the reason in *why. */
static int
tool_names(struct tool *t, const char *server, json_object *entry,
    const char **why)
{
	json_object	*v;
	const char	*name, *desc = "";
	size_t		 i;

	if (!json_object_is_type(entry, json_type_object)) {
		*why = "not an object";
		return -1;
	}
	if (!json_object_object_get_ex(entry, "name", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0) {
		*why = "no name, or a name that is not a non-empty string";
		return -1;
	}
	name = json_object_get_string(v);
	if (strlen(name) != (size_t)json_object_get_string_len(v)) {
		*why = "NUL byte in the name";
		return -1;
	}
	if (!toolname_tool_ok(name)) {
		char	q[TOOLNAME_QUOTE_MAX + 8];

		toolname_quote(name, strlen(name), q, sizeof(q));
		log_warnx("server %s: tool \"%s\": its name is outside the "
		    "grammar of tool names", server, q);
		*why = "a name outside the grammar of tool names (1 to 128 of "
		    "A-Z a-z 0-9 _ - .): it could not be called";
		return -1;
	}
	if (json_object_object_get_ex(entry, "description", &v) &&
	    json_object_is_type(v, json_type_string))
		desc = json_object_get_string(v);
	*why = "out of memory";
	if ((t->name = strdup(name)) == NULL ||
	    (t->description = strdup(desc)) == NULL ||
	    asprintf(&t->full_name, "mcp__%s__%s", server, name) == -1) {
		t->full_name = NULL;
		return -1;
	}
	if (asprintf(&t->search_text, "%s %s", t->full_name, desc) == -1) {
		t->search_text = NULL;
		return -1;
	}
	for (i = 0; t->search_text[i] != '\0'; i++)
		t->search_text[i] = (char)tolower(
		    (unsigned char)t->search_text[i]);
	return 0;
}

/* Fields of a Tool that discovery answers with its own (or drops). */
static int
tool_own_field(const char *key)
{
	static const char *const own[] = {
		"name", "description", "inputSchema", "parameters", "validated",
		NULL
	};
	const char *const	*k;

	for (k = own; *k != NULL; k++)
		if (strcmp(key, *k) == 0)
			return 1;
	return 0;
}

/* The one-line discovery entry. */
static char *
tool_discovery_json(const struct tool *t, json_object *entry,
    json_object *input, int validated)
{
	json_object	*o;
	const char	*s;
	size_t		 len;
	char		*out;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	json_object_object_add(o, "name",
	    json_object_new_string(t->full_name));
	json_object_object_add(o, "description",
	    json_object_new_string(t->description));
	json_object_object_add(o, "parameters", input != NULL ?
	    json_object_get(input) :
	    json_tokener_parse("{\"type\":\"object\"}"));
	/* Every other field of the server's Tool (outputSchema, annotations,
	 * title, icons, execution, _meta, ...) as it came; the list they
	 * come in is bounded already (maxMessageBytes, pages, tools). */
	json_object_object_foreach(entry, key, field) {
		if (tool_own_field(key) || field == NULL)
			continue;
		json_object_object_add(o, key, json_object_get(field));
	}
	if (!validated)
		json_object_object_add(o, "validated",
		    json_object_new_boolean(0));
	s = json_object_to_json_string_length(o, TOOLSET_JSON_FLAGS, &len);
	out = s != NULL ? strndup(s, len) : NULL;
	json_object_put(o);
	return out;
}

static void
tool_compile(struct tool *t, json_object *input, unsigned long *budget)
{
	char	err[256];

	if (input == NULL)
		return;
	err[0] = '\0';
	if (*budget == 0)
		snprintf(err, sizeof(err), "the tool list's schemas exceed "
		    "the compile budget");
	else if ((t->schema = schema_compile_budget(input, budget, err,
	    sizeof(err))) != NULL)
		return;
	log_warnx("tool %s: its inputSchema is not validated: %s",
	    t->full_name, err[0] != '\0' ? err : "unsupported schema");
}

/* Fills t from one tools/list entry: 0, or -1 (skip it, reason in why). */
static int
tool_fill(struct tool *t, const char *server, const struct config_server *cs,
    json_object *entry, unsigned long *budget, const char **why)
{
	json_object	*v, *input = NULL;

	memset(t, 0, sizeof(*t));
	if (tool_names(t, server, entry, why) == -1)
		goto fail;
	if (json_object_object_get_ex(entry, "inputSchema", &v) &&
	    (json_object_is_type(v, json_type_object) ||
	    json_object_is_type(v, json_type_boolean)))
		input = v;
	tool_compile(t, input, budget);
	t->unvalidated = input != NULL && t->schema == NULL;
	*why = "out of memory";
	if ((t->json = tool_discovery_json(t, entry, input,
	    !t->unvalidated)) == NULL)
		goto fail;
	t->timeout_ms = config_tool_timeout(cs, t->name);
	return 0;
fail:
	tool_clear(t);
	return -1;
}

/* ------------------------------------------------------------- toolsets */

static void
toolset_free(struct toolset *ts)
{
	size_t	i;

	for (i = 0; i < ts->n; i++)
		tool_clear(&ts->tools[i]);
	free(ts->tools);
	free(ts);
}

/* Sorted already: drop the later of two equal names. */
static void
toolset_dedup(struct toolset *ts, const char *server)
{
	size_t	i, j;

	if (ts->n < 2)
		return;
	for (i = 1, j = 1; i < ts->n; i++) {
		if (strcmp(ts->tools[i].name, ts->tools[j - 1].name) == 0) {
			log_warnx("server %s: tool %s is listed twice; using "
			    "one of them", server, ts->tools[i].name);
			tool_clear(&ts->tools[i]);
			continue;
		}
		if (i != j)
			ts->tools[j] = ts->tools[i];
		j++;
	}
	ts->n = j;
}

struct toolset *
toolset_build(const char *server, const struct config_server *cs,
    json_object *tools, uint64_t hash, unsigned long *budget)
{
	struct toolset	*ts;
	unsigned long	 own = TOOLSET_COMPILE_BUDGET;
	const char	*why;
	size_t		 n, i;

	if (budget == NULL)
		budget = &own;
	if ((ts = calloc(1, sizeof(*ts))) == NULL)
		return NULL;
	atomic_init(&ts->refs, 1);
	ts->hash = hash;
	n = json_object_is_type(tools, json_type_array) ?
	    json_object_array_length(tools) : 0;
	if (n > 0 && (ts->tools = calloc(n, sizeof(*ts->tools))) == NULL) {
		free(ts);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		json_object *entry = json_object_array_get_idx(tools, i);

		if (tool_fill(&ts->tools[ts->n], server, cs, entry, budget,
		    &why) == 0)
			ts->n++;
		else
			log_warnx("server %s: skipping tool #%zu: %s", server,
			    i, why);
	}
	if (ts->n > 1)
		qsort(ts->tools, ts->n, sizeof(*ts->tools), tool_cmp);
	toolset_dedup(ts, server);
	for (i = 0; i < ts->n; i++)
		ts->unvalidated += (size_t)ts->tools[i].unvalidated;
	return ts;
}

struct toolset *
toolset_ref(struct toolset *ts)
{
	if (ts != NULL)
		atomic_fetch_add_explicit(&ts->refs, 1, memory_order_relaxed);
	return ts;
}

void
toolset_release(struct toolset *ts)
{
	if (ts == NULL)
		return;
	if (atomic_fetch_sub_explicit(&ts->refs, 1,
	    memory_order_acq_rel) == 1)
		toolset_free(ts);
}

size_t
toolset_count(const struct toolset *ts)
{
	return ts->n;
}

const struct tool *
toolset_tool(const struct toolset *ts, size_t i)
{
	if (i >= ts->n)
		return NULL;
	return &ts->tools[i];
}

const struct tool *
toolset_find(const struct toolset *ts, const char *name)
{
	struct tool	key;

	if (ts == NULL || ts->n == 0)
		return NULL;
	memset(&key, 0, sizeof(key));
	key.name = (char *)(uintptr_t)name;
	return bsearch(&key, ts->tools, ts->n, sizeof(*ts->tools), tool_cmp);
}

size_t
toolset_unvalidated(const struct toolset *ts)
{
	return ts != NULL ? ts->unvalidated : 0;
}

uint64_t
toolset_hash(const struct toolset *ts)
{
	return ts != NULL ? ts->hash : 0;
}

uint64_t
toolset_text_hash(const char *s, size_t len)
{
	uint64_t	h = 14695981039346656037ULL;
	size_t		i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* ---------------------------------------------------------- suggestions */

int
toolset_name_distance(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b), i, j;
	int	row[129], prev, tmp, best;

	if (la > 128 || lb > 128)
		return 1000;
	for (j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = (int)i;
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			best = prev + (tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]));
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

/* Inserts cand at distance d into the sorted best list of at most max. */
static void
toolset_rank(const char **best, int *bestd, size_t *n, size_t max,
    const char *cand, int d)
{
	size_t	k;

	for (k = *n; k > 0 && bestd[k - 1] > d; k--)
		if (k < max) {
			best[k] = best[k - 1];
			bestd[k] = bestd[k - 1];
		}
	if (k < max) {
		best[k] = cand;
		bestd[k] = d;
		if (*n < max)
			(*n)++;
	}
}

json_object *
toolset_suggestions(struct toolset *const *sets, size_t nsets,
    const char *full, size_t max)
{
	const char	*best[TOOLSET_MAX_SUGGESTIONS], *cand;
	int		 bestd[TOOLSET_MAX_SUGGESTIONS], d, limit;
	size_t		 s, i, n = 0;
	json_object	*arr;

	if ((arr = json_object_new_array()) == NULL)
		return NULL;
	if (max > TOOLSET_MAX_SUGGESTIONS)
		max = TOOLSET_MAX_SUGGESTIONS;
	limit = (int)strlen(full) / 3 + 2;
	for (s = 0; s < nsets; s++) {
		if (sets[s] == NULL)
			continue;
		for (i = 0; i < sets[s]->n; i++) {
			cand = sets[s]->tools[i].full_name;
			d = toolset_name_distance(full, cand);
			if (d > limit && strcasestr(cand, full) == NULL &&
			    strcasestr(full, cand) == NULL)
				continue;
			toolset_rank(best, bestd, &n, max, cand,
			    d > limit ? limit : d);
		}
	}
	for (i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_string(best[i]));
	return arr;
}

json_object *
toolset_not_found(const char *full, const char *details,
    json_object *suggestions)
{
	json_object	*o;
	char		 msg[600];

	if ((o = json_object_new_object()) == NULL) {
		json_object_put(suggestions);
		return NULL;
	}
	snprintf(msg, sizeof(msg), "Tool '%.512s' not found", full);
	json_object_object_add(o, "error", json_object_new_string(msg));
	if (details != NULL)
		json_object_object_add(o, "details",
		    json_object_new_string(details));
	if (suggestions != NULL)
		json_object_object_add(o, "suggestions", suggestions);
	return o;
}

/* ---------------------------------------------------------------- slots */

void
toolset_slot_init(struct toolset_slot *slot)
{
	pthread_mutex_init(&slot->mtx, NULL);
	slot->ts = NULL;
}

void
toolset_slot_destroy(struct toolset_slot *slot)
{
	toolset_release(slot->ts);
	slot->ts = NULL;
	pthread_mutex_destroy(&slot->mtx);
}

struct toolset *
toolset_slot_get(struct toolset_slot *slot)
{
	struct toolset	*ts;

	pthread_mutex_lock(&slot->mtx);
	ts = toolset_ref(slot->ts);
	pthread_mutex_unlock(&slot->mtx);
	return ts;
}

void
toolset_slot_set(struct toolset_slot *slot, struct toolset *ts)
{
	struct toolset	*old;

	pthread_mutex_lock(&slot->mtx);
	old = slot->ts;
	slot->ts = ts;
	pthread_mutex_unlock(&slot->mtx);
	toolset_release(old);
}
