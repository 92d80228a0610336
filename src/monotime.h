/*
 * monotime.h: the monotonic clock in milliseconds, as a double: the one
 * clock of request ages, rate buckets and session expiry (a session's
 * expires_ms is compared with what http.c passes to auth_check()).
 */
#ifndef MONOTIME_H
#define MONOTIME_H

#include <time.h>

static inline double
monotime_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

#endif
