/*
 * breaker.c: the circuit breaker of breaker.h: closed, open, half-open
 * with one trial call, the open time doubled on each failed trial up to
 * a cap.
 */
#include <limits.h>

#include "breaker.h"

static enum breaker_event breaker_open_locked(struct breaker *, int64_t,
		    int);
static void	 breaker_close_locked(struct breaker *);

void
breaker_init(struct breaker *b, int threshold, int open_ms, int max_open_ms)
{
	b->threshold = threshold > 0 ? threshold : 0;
	b->open_ms = open_ms > 0 ? open_ms : 1;
	b->max_open_ms = max_open_ms > b->open_ms ? max_open_ms : b->open_ms;
	pthread_mutex_init(&b->mtx, NULL);
	atomic_init(&b->state, BREAKER_CLOSED);
	atomic_init(&b->failures, 0);
	atomic_init(&b->open_until, 0);
	atomic_init(&b->cur_open_ms, b->open_ms);
	atomic_init(&b->opens, 0);
	b->trial = 0;
	b->tickets = 0;
}

void
breaker_destroy(struct breaker *b)
{
	pthread_mutex_destroy(&b->mtx);
}

int
breaker_enabled(const struct breaker *b)
{
	return b->threshold > 0;
}

/* mtx held: open for the current open time (doubled when a trial
 * failed). */
static enum breaker_event
breaker_open_locked(struct breaker *b, int64_t now, int trial_failed)
{
	int	ms = atomic_load(&b->cur_open_ms);

	if (trial_failed)
		ms = ms > b->max_open_ms / 2 ? b->max_open_ms : ms * 2;
	atomic_store(&b->cur_open_ms, ms);
	atomic_store(&b->open_until, now + ms);
	atomic_store(&b->state, BREAKER_OPEN);
	atomic_fetch_add(&b->opens, 1);
	b->trial = 0;
	return BREAKER_EV_OPENED;
}

/* mtx held. */
static void
breaker_close_locked(struct breaker *b)
{
	atomic_store(&b->state, BREAKER_CLOSED);
	atomic_store(&b->failures, 0);
	atomic_store(&b->cur_open_ms, b->open_ms);
	b->trial = 0;
}

int
breaker_admit(struct breaker *b, int64_t now, int64_t *retry_ms)
{
	int64_t	until;
	int	ticket = -1;

	*retry_ms = 0;
	if (b->threshold == 0 || atomic_load_explicit(&b->state,
	    memory_order_relaxed) == BREAKER_CLOSED)
		return 0;
	pthread_mutex_lock(&b->mtx);
	until = atomic_load(&b->open_until);
	switch (atomic_load(&b->state)) {
	case BREAKER_CLOSED:
		ticket = 0;
		break;
	case BREAKER_OPEN:
		if (now < until) {
			*retry_ms = until - now;
			break;
		}
		atomic_store(&b->state, BREAKER_HALF_OPEN);
		/* FALLTHROUGH */
	case BREAKER_HALF_OPEN:
		if (b->trial != 0) {
			*retry_ms = 1;
			break;
		}
		b->tickets = b->tickets >= INT_MAX ? 1 : b->tickets + 1;
		ticket = (int)(b->trial = b->tickets);
		break;
	}
	pthread_mutex_unlock(&b->mtx);
	if (ticket == -1 && *retry_ms < 1)
		*retry_ms = 1;
	return ticket;
}

enum breaker_event
breaker_result(struct breaker *b, int64_t now, enum breaker_outcome outcome,
    int ticket, int *failures)
{
	enum breaker_event	ev = BREAKER_EV_NONE;
	int			is_trial, state, n, dummy;

	if (failures == NULL)
		failures = &dummy;
	*failures = 0;
	if (b->threshold == 0 || (outcome == BREAKER_NEUTRAL && ticket <= 0))
		return BREAKER_EV_NONE;
	/* The common case, a success with nothing to undo: no lock. */
	if (outcome == BREAKER_SUCCESS && ticket <= 0 &&
	    atomic_load_explicit(&b->state, memory_order_relaxed) ==
	    BREAKER_CLOSED && atomic_load_explicit(&b->failures,
	    memory_order_relaxed) == 0)
		return BREAKER_EV_NONE;
	pthread_mutex_lock(&b->mtx);
	state = atomic_load(&b->state);
	*failures = atomic_load(&b->failures);
	is_trial = ticket > 0 && (unsigned)ticket == b->trial &&
	    state == BREAKER_HALF_OPEN;
	switch (outcome) {
	case BREAKER_NEUTRAL:
		/* Released: the next call is the trial. */
		if (is_trial)
			b->trial = 0;
		break;
	case BREAKER_SUCCESS:
		if (state != BREAKER_CLOSED)
			ev = BREAKER_EV_CLOSED;
		breaker_close_locked(b);
		break;
	case BREAKER_FAILURE:
		n = *failures = atomic_fetch_add(&b->failures, 1) + 1;
		if (is_trial)
			ev = breaker_open_locked(b, now, 1);
		else if (state == BREAKER_CLOSED && n >= b->threshold)
			ev = breaker_open_locked(b, now, 0);
		/* A call let through before it opened, failing late, neither
		 * extends the open time nor decides a trial. */
		break;
	}
	pthread_mutex_unlock(&b->mtx);
	return ev;
}

enum breaker_event
breaker_reset(struct breaker *b, int *failures)
{
	enum breaker_event	ev = BREAKER_EV_NONE;

	if (failures != NULL)
		*failures = 0;
	if (b->threshold == 0)
		return ev;
	pthread_mutex_lock(&b->mtx);
	if (failures != NULL)
		*failures = atomic_load(&b->failures);
	if (atomic_load(&b->state) != BREAKER_CLOSED)
		ev = BREAKER_EV_CLOSED;
	breaker_close_locked(b);
	pthread_mutex_unlock(&b->mtx);
	return ev;
}

enum breaker_state
breaker_state(struct breaker *b, int64_t now)
{
	int	s = atomic_load_explicit(&b->state, memory_order_relaxed);

	if (s == BREAKER_OPEN && now >= atomic_load_explicit(&b->open_until,
	    memory_order_relaxed))
		return BREAKER_HALF_OPEN;
	return (enum breaker_state)s;
}

long
breaker_opens(struct breaker *b)
{
	return atomic_load_explicit(&b->opens, memory_order_relaxed);
}

void
breaker_view(struct breaker *b, int64_t now, struct breaker_view *v)
{
	int64_t	until;

	pthread_mutex_lock(&b->mtx);
	v->state = breaker_state(b, now);
	v->failures = atomic_load(&b->failures);
	v->open_ms = atomic_load(&b->cur_open_ms);
	v->opens = atomic_load(&b->opens);
	until = atomic_load(&b->open_until);
	pthread_mutex_unlock(&b->mtx);
	v->retry_ms = v->state == BREAKER_OPEN ? until - now : 0;
}

const char *
breaker_state_name(enum breaker_state s)
{
	switch (s) {
	case BREAKER_CLOSED:
		return "closed";
	case BREAKER_HALF_OPEN:
		return "half_open";
	case BREAKER_OPEN:
		return "open";
	}
	return "closed";
}

enum breaker_outcome
breaker_outcome_of(int status)
{
	if (status == 502 || status == 504)
		return BREAKER_FAILURE;
	if (status >= 200 && status < 300)
		return BREAKER_SUCCESS;
	if (status >= 400 && status < 500)
		return BREAKER_SUCCESS;
	return BREAKER_NEUTRAL;
}
