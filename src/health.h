/* health.h: GET /health. Loop thread only. */
#ifndef HEALTH_H
#define HEALTH_H

struct cache;
struct pool;
struct registry;

void	health_register(struct pool *, struct registry *, struct cache *);

#endif
