/*
 * breaker.h: a circuit breaker, the state machine only (no I/O, no clock
 * of its own: callers pass the monotonic time in ms), so that unit tests
 * can drive it.
 *
 * Closed: calls pass; `failures` failed calls in a row open it. Open:
 * calls are refused until open_until. Then half-open: one trial call
 * passes (the others are refused as when open); its success closes the
 * breaker, its failure opens it again for twice the last open time, at
 * most max_open_ms. Any success closes it, and so does breaker_reset()
 * (an instance that became ready again after a restart).
 *
 * Threads: any thread, never blocking for long. A closed breaker is
 * passed and told of a success without the lock (two atomic loads); the
 * rest is under the breaker's own mutex, held for a few instructions.
 * breaker_state() and breaker_opens() read atomics only (for /metrics).
 */
#ifndef BREAKER_H
#define BREAKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* The values of the gauge mcp_server_breaker_state. */
enum breaker_state {
	BREAKER_CLOSED = 0,
	BREAKER_HALF_OPEN = 1,
	BREAKER_OPEN = 2
};

/* What a call's end says about the server. */
enum breaker_outcome {
	BREAKER_NEUTRAL = 0,	/* says nothing (refused, shutting down) */
	BREAKER_SUCCESS,	/* the server answered */
	BREAKER_FAILURE		/* timed out, or the server failed */
};

/* What breaker_result() and breaker_reset() changed. */
enum breaker_event {
	BREAKER_EV_NONE = 0,
	BREAKER_EV_OPENED,
	BREAKER_EV_CLOSED
};

struct breaker {
	/* Set by breaker_init(), then read-only. */
	int		 threshold;	/* failures in a row; 0: off */
	int		 open_ms;	/* the first open time */
	int		 max_open_ms;	/* cap of the doubled open time */

	pthread_mutex_t	 mtx;
	/* Under mtx (written), read without it where said. */
	atomic_int	 state;		/* enum breaker_state as stored: OPEN
					   stays OPEN until a call comes */
	atomic_int	 failures;	/* failed calls in a row */
	atomic_llong	 open_until;	/* monotonic ms */
	atomic_int	 cur_open_ms;	/* the open time in force */
	atomic_long	 opens;		/* times it opened */
	unsigned	 trial;		/* ticket of the trial out, 0: none */
	unsigned	 tickets;	/* last ticket given */
};

/* A copy for /health. */
struct breaker_view {
	enum breaker_state state;	/* as breaker_state() */
	int		 failures;
	int		 open_ms;	/* the current (or next) open time */
	int64_t		 retry_ms;	/* open: ms until half-open, else 0 */
	long		 opens;
};

/* threshold 0 turns the breaker off: every call passes. max_open_ms is
 * raised to open_ms when lower. */
void	breaker_init(struct breaker *, int threshold, int open_ms,
	    int max_open_ms);
void	breaker_destroy(struct breaker *);
int	breaker_enabled(const struct breaker *);

/*
 * Whether a call may go: 0 it passes; > 0 it passes as the half-open
 * trial, and this ticket must come back with its result; -1 refused, with
 * *retry_ms the time until a trial may go (at least 1).
 */
int	breaker_admit(struct breaker *, int64_t now, int64_t *retry_ms);
/* The end of a call that was admitted (ticket as from breaker_admit()).
 * *failures (may be NULL) gets the failures in a row, counted before a
 * close. */
enum breaker_event breaker_result(struct breaker *, int64_t now,
	    enum breaker_outcome, int ticket, int *failures);
/* Closes it (a restart completed); *failures as for breaker_result(). */
enum breaker_event breaker_reset(struct breaker *, int *failures);

/* Lock-free: the state now (OPEN past its time reads HALF_OPEN). */
enum breaker_state breaker_state(struct breaker *, int64_t now);
long	breaker_opens(struct breaker *);
void	breaker_view(struct breaker *, int64_t now, struct breaker_view *);
const char *breaker_state_name(enum breaker_state);

/* The outcome of a call from its HTTP status: 502 and 504 are failures;
 * 2xx and 4xx (the server answered, a tool error included) successes;
 * the rest (503 refusals, 500) neutral. */
enum breaker_outcome breaker_outcome_of(int status);

#endif
