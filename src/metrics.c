/*
 * metrics.c: the counters of metrics.h.
 */
#include <stdatomic.h>

#include "metrics.h"

static const char *const metrics_names[METRICS_NREJECT] = {
	"queueFull", "tooCostly", "maxQueued", "stdinFull", "neverSent",
	"noToolList", "earlyUnauthorized", "headerTimeout", "bodyTimeout",
	"acceptPaused"
};

static atomic_long	metrics_rejects[METRICS_NREJECT];

void
metrics_reject(enum metrics_reject r)
{
	if (r < METRICS_NREJECT)
		atomic_fetch_add_explicit(&metrics_rejects[r], 1,
		    memory_order_relaxed);
}

long
metrics_rejected(enum metrics_reject r)
{
	if (r >= METRICS_NREJECT)
		return 0;
	return atomic_load_explicit(&metrics_rejects[r],
	    memory_order_relaxed);
}

json_object *
metrics_rejects_json(void)
{
	json_object	*o;
	int		 i;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	for (i = 0; i < METRICS_NREJECT; i++)
		json_object_object_add(o, metrics_names[i],
		    json_object_new_int64(metrics_rejected(
		    (enum metrics_reject)i)));
	return o;
}
