/*
 * toolset.h: one MCP server's published tool list: lookup by name, name
 * suggestions, the discovery JSON of each tool and its compiled input
 * schema.
 *
 * A toolset is immutable once built and reference counted: any thread may
 * hold a reference and read it without locks (it holds no json-c objects,
 * only strings and compiled schemas). A server publishes a new one by
 * swapping the pointer in its struct toolset_slot, under the slot's mutex.
 */
#ifndef TOOLSET_H
#define TOOLSET_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct config_server;
struct schema;

struct tool {
	char		*full_name;	/* mcp__<server>__<tool> */
	char		*name;		/* as the server knows it */
	char		*description;	/* "" when absent */
	char		*search_text;	/* lower case "<full_name> <description>" */
	char		*json;		/* discovery entry: {"name","description",
					   "parameters", every other field
					   of the server's Tool as it came
					   ("outputSchema", "annotations",
					   "title", "_meta", ...),
					   "validated"?}, one line */
	struct schema	*schema;	/* NULL: arguments are not validated */
	int		 unvalidated;	/* 1: its schema could not be compiled */
	int		 timeout_ms;	/* from the config, per tool */
};

struct toolset;

/* Work units (schema nodes, pattern bytes) that compiling the schemas of
 * one tool list may cost; tools past it are published unvalidated. */
#define TOOLSET_COMPILE_BUDGET	4000000UL

/*
 * Builds a toolset from a tools/list "tools" array (borrowed; it must
 * belong to the calling thread). Invalid entries are skipped with a
 * warning, duplicate names keep one entry. Compiling the schemas is
 * charged to *budget (NULL: TOOLSET_COMPILE_BUDGET); a schema that cannot
 * be compiled leaves its tool callable but unvalidated ("validated": false
 * in discovery). hash is stored with it (see toolset_hash()). Holds one
 * reference. NULL only when memory runs out.
 */
struct toolset	*toolset_build(const char *server,
		    const struct config_server *, json_object *tools,
		    uint64_t hash, unsigned long *budget);
struct toolset	*toolset_ref(struct toolset *);
void		 toolset_release(struct toolset *);

size_t		 toolset_count(const struct toolset *);
const struct tool *toolset_tool(const struct toolset *, size_t);
/* By the name the server knows; NULL when absent (or ts is NULL). */
const struct tool *toolset_find(const struct toolset *, const char *name);
/* Tools whose schema could not be compiled. */
size_t		 toolset_unvalidated(const struct toolset *);
/* The hash given to toolset_build(): a list that hashes the same is the
 * same list, and is not built again. */
uint64_t	 toolset_hash(const struct toolset *);
/* FNV-1a 64 of len bytes. */
uint64_t	 toolset_text_hash(const char *, size_t);

/* Case-insensitive edit distance of two names (1000 past 128 bytes). */
int		 toolset_name_distance(const char *, const char *);
/* Up to max full names among the tools of nsets toolsets (NULL entries
 * are skipped) that look like full (a full name): a new JSON array. */
json_object	*toolset_suggestions(struct toolset *const *sets, size_t nsets,
		    const char *full, size_t max);
/* {"error":"Tool '<full>' not found","details"?:...,"suggestions"?:[...]}:
 * a new object; suggestions (may be NULL) is taken. */
json_object	*toolset_not_found(const char *full, const char *details,
		    json_object *suggestions);

/* Where a server publishes its current toolset. */
struct toolset_slot {
	pthread_mutex_t	 mtx;
	struct toolset	*ts;
};

void		 toolset_slot_init(struct toolset_slot *);
void		 toolset_slot_destroy(struct toolset_slot *);
/* Any thread: a reference to the current toolset, or NULL. */
struct toolset	*toolset_slot_get(struct toolset_slot *);
/* Publishes ts (takes its reference; may be NULL) and drops the old. */
void		 toolset_slot_set(struct toolset_slot *, struct toolset *);

#endif
