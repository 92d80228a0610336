/*
 * cache.h: the tool schema cache. Every server's last tool list is kept in
 * a JSON file so that discovery and argument validation work at once after
 * a restart, before the servers have finished starting.
 *
 * Threads: cache_open() runs on the main thread at start; every other
 * function may be called from any thread (a mutex guards the entries; the
 * file is written by cache_flush(), which the daemon runs on its bulk
 * lane, never on the loop thread).
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
/* The cached tools array of a server (a new tree the caller owns), or
 * NULL when there is none for this exact configuration (the fingerprint
 * covers command, args, env and cwd). *age_s gets the entry's age. Counts
 * a hit or a miss. */
json_object	*cache_lookup(struct cache *, const struct config_server *,
		    double *age_s);
/* Records the server's tools array (len bytes of JSON text, copied). 1
 * when this made a write due and none was scheduled yet: the caller then
 * runs cache_flush() a little later (so a burst of stores is one write);
 * 0 when the list is the one stored already, or a write is scheduled. */
int		 cache_store(struct cache *, const struct config_server *,
		    const char *tools, size_t len);
/* Writes the file if anything changed since the last write (temporary
 * file, fsync, rename). 0, or -1 on a write error (logged once per
 * distinct error). */
int		 cache_flush(struct cache *);
/* {"path":...,"hits":N,"misses":N,"writes":N,"writeErrors":N} */
json_object	*cache_stats(struct cache *);
/* The same numbers, for GET /metrics. Any thread (atomics). */
struct cache_counters {
	long	hits;
	long	misses;
	long	writes;
	long	write_errors;
};
void		 cache_counters(struct cache *, struct cache_counters *);
/* Hex SHA-256 over the server's command, args, env and cwd (a remote
 * server's: its transport and URL). */
void		 cache_fingerprint(const struct config_server *, char out[65]);

#endif
