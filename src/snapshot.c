/*
 * snapshot.c: the configuration in force (see snapshot.h).
 */
#include <stdlib.h>
#include <time.h>

#include "allowlist.h"
#include "config.h"
#include "snapshot.h"

static struct snapshot	*snap_cur;	/* loop thread */

struct snapshot *
snapshot_new(struct config *cfg)
{
	struct snapshot	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		config_free(cfg);
		return NULL;
	}
	s->cfg = cfg;
	if ((s->allow = allowlist_new(cfg->allowed_tools,
	    cfg->nallowed_tools)) == NULL) {
		config_free(cfg);
		free(s);
		return NULL;
	}
	atomic_init(&s->refs, 1);
	s->loaded = time(NULL);
	return s;
}

void
snapshot_install(struct snapshot *s)
{
	struct snapshot	*old = snap_cur;

	s->generation = old != NULL ? old->generation + 1 : 1;
	snap_cur = s;
	snapshot_release(old);
}

struct snapshot *
snapshot_current(void)
{
	return snap_cur;
}

struct snapshot *
snapshot_hold(void)
{
	if (snap_cur != NULL)
		atomic_fetch_add(&snap_cur->refs, 1);
	return snap_cur;
}

struct snapshot *
snapshot_ref(struct snapshot *s)
{
	atomic_fetch_add(&s->refs, 1);
	return s;
}

void
snapshot_release(struct snapshot *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	allowlist_free(s->allow);
	config_free(s->cfg);
	free(s);
}

void
snapshot_clear(void)
{
	struct snapshot	*old = snap_cur;

	snap_cur = NULL;
	snapshot_release(old);
}
