/*
 * ratelimit.c: token buckets per caller key, in a small hash table.
 * Buckets are created on first use and freed by ratelimit_sweep() once
 * they have refilled (the caller went idle), so memory follows the callers
 * that are active, not every caller ever seen.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"

#define RL_BUCKETS	64

struct rl_bucket {
	struct rl_bucket	*next;
	double			 tokens;
	double			 last_ms;
	char			 key[];
};

struct ratelimit {
	int			 requests;
	int			 window_s;
	double			 per_ms;	/* tokens per millisecond */
	int			 nbuckets;
	struct rl_bucket	*table[RL_BUCKETS];
};

static unsigned	rl_hash(const char *);
static void	rl_clear(struct ratelimit *);
static void	rl_refill(const struct ratelimit *, struct rl_bucket *,
		    double);

static unsigned
rl_hash(const char *s)
{
	uint32_t	h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h % RL_BUCKETS;
}

struct ratelimit *
ratelimit_new(int requests, int window_s)
{
	struct ratelimit	*rl;

	if (requests < 0 || window_s < 1)
		return NULL;
	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return NULL;
	rl->requests = requests;
	rl->window_s = window_s;
	rl->per_ms = (double)requests / ((double)window_s * 1000.0);
	return rl;
}

static void
rl_clear(struct ratelimit *rl)
{
	struct rl_bucket	*b, *next;
	int			 i;

	for (i = 0; i < RL_BUCKETS; i++) {
		for (b = rl->table[i]; b != NULL; b = next) {
			next = b->next;
			free(b);
		}
		rl->table[i] = NULL;
	}
	rl->nbuckets = 0;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	rl_clear(rl);
	free(rl);
}

int
ratelimit_set(struct ratelimit *rl, int requests, int window_s)
{
	if (requests < 0 || window_s < 1)
		return -1;
	if (requests == rl->requests && window_s == rl->window_s)
		return 0;
	rl_clear(rl);
	rl->requests = requests;
	rl->window_s = window_s;
	rl->per_ms = (double)requests / ((double)window_s * 1000.0);
	return 0;
}

static void
rl_refill(const struct ratelimit *rl, struct rl_bucket *b, double now_ms)
{
	if (now_ms > b->last_ms) {
		b->tokens += (now_ms - b->last_ms) * rl->per_ms;
		if (b->tokens > rl->requests)
			b->tokens = rl->requests;
		b->last_ms = now_ms;
	}
}

int
ratelimit_take(struct ratelimit *rl, const char *key, double now_ms,
    int *retry_after)
{
	struct rl_bucket	*b;
	unsigned		 h;
	size_t			 len;

	*retry_after = 0;
	if (rl->requests == 0)
		return 1;
	h = rl_hash(key);
	for (b = rl->table[h]; b != NULL; b = b->next)
		if (strcmp(b->key, key) == 0)
			break;
	if (b == NULL) {
		len = strlen(key);
		if ((b = malloc(sizeof(*b) + len + 1)) == NULL)
			return 1;	/* fail open: no memory is no reason */
		memcpy(b->key, key, len + 1);
		b->tokens = rl->requests;
		b->last_ms = now_ms;
		b->next = rl->table[h];
		rl->table[h] = b;
		rl->nbuckets++;
	}
	rl_refill(rl, b, now_ms);
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return 1;
	}
	*retry_after = (int)ceil((1.0 - b->tokens) / rl->per_ms / 1000.0);
	if (*retry_after < 1)
		*retry_after = 1;
	return 0;
}

void
ratelimit_sweep(struct ratelimit *rl, double now_ms)
{
	struct rl_bucket	**bp, *b;
	int			  i;

	for (i = 0; i < RL_BUCKETS; i++) {
		bp = &rl->table[i];
		while ((b = *bp) != NULL) {
			rl_refill(rl, b, now_ms);
			if (b->tokens >= rl->requests) {
				*bp = b->next;
				free(b);
				rl->nbuckets--;
			} else
				bp = &b->next;
		}
	}
}

int
ratelimit_requests(const struct ratelimit *rl)
{
	return rl->requests;
}

int
ratelimit_window(const struct ratelimit *rl)
{
	return rl->window_s;
}

int
ratelimit_buckets(const struct ratelimit *rl)
{
	return rl->nbuckets;
}
