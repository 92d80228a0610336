/*
 * snapshot.h: the configuration in force, as an immutable, reference
 * counted snapshot: the parsed config and the daemon's allowlist built
 * from it, with a generation number (1 at start, +1 per applied reload)
 * and the wall-clock time it was loaded.
 *
 * Threads: snapshot_current() and snapshot_install() on the loop thread
 * only (the daemon installs the first one before the loop runs);
 * snapshot_hold() there too. snapshot_release() from any thread: the
 * count is atomic, and the last holder frees the snapshot (config and
 * allowlist). A request that holds a snapshot may read all of it from
 * the thread that owns the request. Calls nothing of ours but config.c
 * and allowlist.c.
 */
#ifndef SNAPSHOT_H
#define SNAPSHOT_H

#include <stdatomic.h>
#include <time.h>

struct allowlist;
struct config;

struct snapshot {
	atomic_int		 refs;
	struct config		*cfg;
	struct allowlist	*allow;		/* cfg->allowed_tools */
	unsigned long		 generation;
	time_t			 loaded;	/* CLOCK_REALTIME seconds */
};

/* Takes cfg (freed with the snapshot, or at once on failure); NULL when
 * the allowlist cannot be built. One reference, the caller's. */
struct snapshot	*snapshot_new(struct config *);
/* Loop thread: makes s current (its generation the previous one's + 1)
 * and takes over the caller's reference; the previous one's is dropped. */
void		 snapshot_install(struct snapshot *);
/* Loop thread: the current one, borrowed (NULL before the first). */
struct snapshot	*snapshot_current(void);
/* Loop thread: the current one with a reference for the caller. */
struct snapshot	*snapshot_hold(void);
/* Any thread that holds s: one more reference to it. */
struct snapshot	*snapshot_ref(struct snapshot *);
/* Any thread; NULL is ignored. */
void		 snapshot_release(struct snapshot *);
/* At exit: drops the current one. */
void		 snapshot_clear(void);

#endif
