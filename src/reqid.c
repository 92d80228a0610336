/*
 * reqid.c: request ids (see reqid.h).
 */
#include <sys/random.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "reqid.h"

static atomic_uint_fast64_t	reqid_next;
static atomic_int		reqid_seeded;

static uint64_t	reqid_mix(uint64_t);
static void	reqid_seed(void);

int
reqid_valid(const char *s, size_t len)
{
	size_t	i;
	char	c;

	if (s == NULL || len == 0 || len > REQID_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == ':' || c == '-'))
			return 0;
	}
	return 1;
}

/* splitmix64's finaliser: a bijection of 64-bit integers. */
static uint64_t
reqid_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

/* A random start; the time and pid if getrandom(2) fails. */
static void
reqid_seed(void)
{
	struct timespec	ts;
	uint64_t	seed;
	int		expected = 0;

	if (!atomic_compare_exchange_strong(&reqid_seeded, &expected, 1))
		return;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(seed)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
		    ((uint64_t)getpid() << 40);
	}
	atomic_fetch_add(&reqid_next, seed);
}

void
reqid_make(char out[REQID_MAX + 1])
{
	uint64_t	n;

	if (!atomic_load_explicit(&reqid_seeded, memory_order_relaxed))
		reqid_seed();
	n = atomic_fetch_add_explicit(&reqid_next, 1, memory_order_relaxed);
	snprintf(out, REQID_MAX + 1, "%016llx",
	    (unsigned long long)reqid_mix(n));
}
