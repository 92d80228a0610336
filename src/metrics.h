/*
 * metrics.h: GET /metrics - the Prometheus text exposition format 0.0.4,
 * behind the bearer token like every route. Loop thread only.
 */
#ifndef METRICS_H
#define METRICS_H

struct cache;
struct pool;
struct registry;

/* cache may be NULL (no schema cache configured). */
void	metrics_register(struct pool *, struct registry *, struct cache *);

#endif
