/*
 * registry.h: every configured MCP server, the I/O thread that runs them,
 * and the tool lists they publish.
 *
 * The registry owns one I/O thread with its own event_base. All child
 * pipes, timers, restarts and JSON-RPC parsing happen there. Other threads
 * reach it only through registry_submit() (a mailbox) and through the
 * immutable, reference-counted toolsets below.
 *
 * A toolset is one server's tool list as last listed: immutable once
 * published, shared by any thread that holds a reference. It holds no
 * json-c objects (plain strings and compiled schemas), so sharing it is
 * safe.
 */
#ifndef REGISTRY_H
#define REGISTRY_H

#include <stddef.h>

#include <json-c/json.h>

#include "server.h"

struct config;
struct config_server;
struct schema;
struct timeval;

struct tool {
	char		*full_name;	/* mcp__<server>__<tool> */
	char		*name;		/* as the server knows it */
	char		*description;	/* "" when absent */
	char		*search_text;	/* lower case "<full_name> <description>" */
	char		*json;		/* discovery entry: {"name","description",
					   "parameters","outputSchema"?,
					   "annotations"?}, one line */
	struct schema	*schema;	/* NULL: arguments are not validated */
	int		 timeout_ms;	/* from the config, per tool */
};

struct toolset;
struct registry;

/* cfg must outlive the registry. registry_new() gives the registry an I/O
 * thread and event_base of its own. registry_new_shared() runs it on base,
 * the caller's loop thread: registry_start() starts the servers,
 * registry_wait_started() and registry_stop() run base until they are
 * done, and a call submitted on that thread is dispatched at once, with no
 * hand-off (other threads still go through the mailbox). complete() then
 * runs on that thread. */
struct registry	*registry_new(const struct config *cfg);
struct registry	*registry_new_shared(const struct config *cfg,
		    struct event_base *base);
/* Before registry_start(): tool lists are preloaded from the cache, and
 * every list a server publishes is stored in it (by the I/O thread). */
struct cache;
void		 registry_set_cache(struct registry *, struct cache *);
/* Starts the I/O thread and every enabled server, in parallel. */
int		 registry_start(struct registry *);
/* Blocks (start-up only, before the HTTP loop runs) until every server is
 * ready or has failed its first attempt, or timeout_ms passes. */
void		 registry_wait_started(struct registry *, int timeout_ms);
/* Any thread: hand a call to the I/O thread. */
void		 registry_submit(struct registry *, struct server_call *);

size_t		 registry_nservers(const struct registry *);
const char	*registry_server_name(const struct registry *, size_t);
/* Index of the server with this name (len bytes), or -1. */
int		 registry_find_server(const struct registry *, const char *,
		    size_t);

/* Any thread: a reference to the server's current toolset, or NULL when it
 * has never listed its tools. Release with toolset_release(). */
struct toolset	*registry_toolset(struct registry *, size_t server);
void		 toolset_release(struct toolset *);
size_t		 toolset_count(const struct toolset *);
const struct tool *toolset_tool(const struct toolset *, size_t);
const struct tool *toolset_find(const struct toolset *, const char *name);

/* Any thread: a new JSON object (caller owns it) describing every server
 * for /health: {"<name>":{"state":"ready|starting|restarting|failed|
 * disabled","pid":N,"instances":N,"restarts":N,"lastError":"...",
 * "tools":N,"inflight":N,"queued":N,"crashLoop":bool}}. */
json_object	*registry_health(struct registry *);
/* 1 when every enabled server is ready. */
int		 registry_all_ready(struct registry *);

/* Fails every pending and queued call (502/503), ends every child (close
 * stdin, wait, SIGTERM to its process group, wait, SIGKILL, reap) and joins
 * the I/O thread. Every call gets complete() before this returns. */
void		 registry_stop(struct registry *);
/* Any thread, emergency exit (a second SIGTERM): SIGKILL every child's
 * process group now, without waiting. */
void		 registry_kill(struct registry *);
void		 registry_free(struct registry *);

/* Up to max full names of tools in the set that look like name (a new
 * JSON array; the caller owns it). */
int		 toolset_name_distance(const char *, const char *);
json_object	*toolset_suggestions(const struct toolset *, const char *name,
		    size_t max);
/*
 * Builds a toolset from a tools/list "tools" array (borrowed; it must
 * belong to the calling thread). Invalid entries are skipped with a
 * warning. Holds one reference. NULL only when memory runs out.
 */
struct toolset	*toolset_build(const char *server,
		    const struct config_server *, json_object *tools);

/* For server.c, on the I/O thread. */
/* Builds and publishes the server's toolset; returns a reference for the
 * caller (NULL when memory runs out). */
struct toolset	*registry_publish(struct registry *, size_t server,
		    json_object *tools);
/* The server is ready, or failed its first start attempt. */
void		 registry_started(struct registry *, size_t server);
/* A child was reaped (the stop sequence waits for the last one). */
void		 registry_child_gone(struct registry *);
/* A timeval to add a call timer of ms with (a libevent common timeout
 * when possible). */
const struct timeval *registry_timeout(struct registry *, int ms,
		    struct timeval *);
/* The I/O thread's read buffer. */
char		*registry_readbuf(struct registry *, size_t *len);

#endif
