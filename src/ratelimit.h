/*
 * ratelimit.h: token buckets per caller. A limit of `requests` per
 * `window_s` seconds is a bucket of that many tokens refilled at
 * requests/window_s per second. Loop thread only (no locking).
 */
#ifndef RATELIMIT_H
#define RATELIMIT_H

struct ratelimit;

/* requests == 0: unlimited (every check passes). */
struct ratelimit *ratelimit_new(int requests, int window_s);
void		 ratelimit_free(struct ratelimit *);
/* A new limit (a reload): unchanged, the buckets are kept; changed, they
 * are all dropped (every caller starts with a full bucket). -1 when the
 * values are out of range (nothing changed). */
int		 ratelimit_set(struct ratelimit *, int requests, int window_s);
/* Takes one token for key at time now_ms (a monotonic clock). 1: allowed;
 * 0: limited, *retry_after set to the whole seconds until a token. */
int		 ratelimit_take(struct ratelimit *, const char *key,
		    double now_ms, int *retry_after);
/* Frees the buckets that are full again (idle callers). */
void		 ratelimit_sweep(struct ratelimit *, double now_ms);
int		 ratelimit_requests(const struct ratelimit *);
int		 ratelimit_window(const struct ratelimit *);
/* Buckets held now (for tests and metrics). */
int		 ratelimit_buckets(const struct ratelimit *);

#endif
