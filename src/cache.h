/*
 * cache.h: the tool schema cache. Every server's last tool list is kept in
 * a JSON file so that discovery and argument validation work at once after
 * a restart, before the servers have finished starting.
 *
 * Threads: cache_open() and cache_lookup() run on the main thread before
 * the registry's I/O thread starts; from then on only the I/O thread calls
 * cache_store(). The counters are atomics and may be read from anywhere.
 */
#ifndef CACHE_H
#define CACHE_H

#include <json-c/json.h>

struct cache;
struct config_server;

/* Loads path; a missing, unreadable or corrupt file is logged and the
 * cache starts empty (never fatal). NULL only when out of memory. */
struct cache	*cache_open(const char *path);
void		 cache_free(struct cache *);
/* The cached tools array of a server (borrowed, valid until the next
 * cache_store), or NULL when there is none for this exact configuration
 * (the fingerprint covers command, args, env and cwd). *age_s gets the
 * entry's age. Counts a hit or a miss. */
json_object	*cache_lookup(struct cache *, const struct config_server *,
		    double *age_s);
/* Records tools (borrowed) for the server and rewrites the file
 * atomically (temporary file, fsync, rename). -1 on a write error
 * (logged once per distinct error). */
int		 cache_store(struct cache *, const struct config_server *,
		    json_object *tools);
/* {"path":...,"hits":N,"misses":N,"writes":N,"writeErrors":N} */
json_object	*cache_stats(struct cache *);
/* Hex SHA-256 over the server's command, args, env and cwd. */
void		 cache_fingerprint(const struct config_server *, char out[65]);

#endif
