/*
 * test_breaker.c: the circuit breaker's state machine (src/breaker.c):
 * opening after N failures in a row, refusals with the time left, one
 * trial call when half-open, its verdict, the doubled open time and its
 * cap, what a success, a neutral end or a restart does, an old trial
 * ticket, a breaker that is off, and the outcome of each HTTP status.
 * The time is passed in, so nothing here sleeps.
 */
#include <pthread.h>
#include <stdint.h>

#include <check.h>

#include "breaker.h"
#include "unit.h"

#define OPEN_MS	1000

static void	 fail_n(struct breaker *, int64_t, int);
static void	 open_it(struct breaker *, int64_t);

/* n ordinary calls that pass and fail at now. */
static void
fail_n(struct breaker *b, int64_t now, int n)
{
	int64_t	retry;
	int	i;

	for (i = 0; i < n; i++) {
		ck_assert_int_eq(breaker_admit(b, now, &retry), 0);
		ck_assert_int_eq(breaker_result(b, now, BREAKER_FAILURE, 0,
		    NULL), i == n - 1 && n >= b->threshold ?
		    BREAKER_EV_OPENED : BREAKER_EV_NONE);
	}
}

/* A fresh breaker (5 failures, 1 s) opened at now. */
static void
open_it(struct breaker *b, int64_t now)
{
	breaker_init(b, 5, OPEN_MS, 10 * OPEN_MS);
	fail_n(b, now, 5);
	ck_assert_int_eq(breaker_state(b, now), BREAKER_OPEN);
}

START_TEST(test_opens_after_threshold)
{
	struct breaker		b;
	struct breaker_view	v;
	int64_t			retry;
	int			failures;

	breaker_init(&b, 5, OPEN_MS, 10 * OPEN_MS);
	ck_assert(breaker_enabled(&b));
	fail_n(&b, 100, 4);
	ck_assert_int_eq(breaker_state(&b, 100), BREAKER_CLOSED);
	/* A success in between starts the count again. */
	ck_assert_int_eq(breaker_result(&b, 100, BREAKER_SUCCESS, 0,
	    &failures), BREAKER_EV_NONE);
	ck_assert_int_eq(failures, 4);
	fail_n(&b, 100, 4);
	ck_assert_int_eq(breaker_state(&b, 100), BREAKER_CLOSED);
	ck_assert_int_eq(breaker_result(&b, 100, BREAKER_FAILURE, 0,
	    &failures), BREAKER_EV_OPENED);
	ck_assert_int_eq(failures, 5);
	ck_assert_int_eq(breaker_opens(&b), 1);

	/* Open: refused, with the time left. */
	ck_assert_int_eq(breaker_admit(&b, 350, &retry), -1);
	ck_assert_int_eq(retry, 100 + OPEN_MS - 350);
	ck_assert_int_eq(breaker_admit(&b, 100 + OPEN_MS - 1, &retry), -1);
	ck_assert_int_eq(retry, 1);
	breaker_view(&b, 350, &v);
	ck_assert_int_eq(v.state, BREAKER_OPEN);
	ck_assert_int_eq(v.failures, 5);
	ck_assert_int_eq(v.open_ms, OPEN_MS);
	ck_assert_int_eq(v.retry_ms, 750);
	ck_assert_int_eq(v.opens, 1);
	/* Past its time it reads half-open before any call comes. */
	ck_assert_int_eq(breaker_state(&b, 100 + OPEN_MS), BREAKER_HALF_OPEN);
	breaker_destroy(&b);
}
END_TEST

START_TEST(test_one_trial)
{
	struct breaker	b;
	int64_t		retry, t = 100 + OPEN_MS;
	int		ticket, failures;

	open_it(&b, 100);
	ticket = breaker_admit(&b, t, &retry);
	ck_assert_int_gt(ticket, 0);
	ck_assert_int_eq(breaker_state(&b, t), BREAKER_HALF_OPEN);
	/* Only one trial at a time: the others are refused. */
	ck_assert_int_eq(breaker_admit(&b, t, &retry), -1);
	ck_assert_int_eq(retry, 1);
	ck_assert_int_eq(breaker_admit(&b, t + 5000, &retry), -1);
	/* Its success closes the breaker. */
	ck_assert_int_eq(breaker_result(&b, t + 10, BREAKER_SUCCESS, ticket,
	    &failures), BREAKER_EV_CLOSED);
	ck_assert_int_eq(failures, 5);
	ck_assert_int_eq(breaker_state(&b, t + 10), BREAKER_CLOSED);
	ck_assert_int_eq(breaker_admit(&b, t + 10, &retry), 0);
	/* Closed means from zero: four failures do not open it again. */
	fail_n(&b, t + 20, 4);
	ck_assert_int_eq(breaker_state(&b, t + 20), BREAKER_CLOSED);
	breaker_destroy(&b);
}
END_TEST

START_TEST(test_failed_trial_doubles)
{
	struct breaker		b;
	struct breaker_view	v;
	int64_t			retry, t = 100 + OPEN_MS;
	int			ticket, i, want;

	open_it(&b, 100);
	want = OPEN_MS;
	for (i = 0; i < 6; i++) {
		ticket = breaker_admit(&b, t, &retry);
		ck_assert_int_gt(ticket, 0);
		ck_assert_int_eq(breaker_result(&b, t, BREAKER_FAILURE,
		    ticket, NULL), BREAKER_EV_OPENED);
		want = want * 2 > 10 * OPEN_MS ? 10 * OPEN_MS : want * 2;
		breaker_view(&b, t, &v);
		ck_assert_int_eq(v.state, BREAKER_OPEN);
		ck_assert_int_eq(v.open_ms, want);
		ck_assert_int_eq(breaker_admit(&b, t + want - 1, &retry), -1);
		ck_assert_int_eq(retry, 1);
		t += want;
	}
	/* 2, 4, 8, then the cap of 10 s. */
	ck_assert_int_eq(want, 10 * OPEN_MS);
	ck_assert_int_eq(breaker_opens(&b), 7);
	/* A close starts again from the first open time. */
	ck_assert_int_eq(breaker_reset(&b, NULL), BREAKER_EV_CLOSED);
	fail_n(&b, t, 5);
	breaker_view(&b, t, &v);
	ck_assert_int_eq(v.open_ms, OPEN_MS);
	breaker_destroy(&b);
}
END_TEST

START_TEST(test_neutral_and_late)
{
	struct breaker	b;
	int64_t		retry, t = 100 + OPEN_MS;
	int		ticket, again, i;

	open_it(&b, 100);
	/* A trial that ends saying nothing (refused further on) lets the
	 * next call be the trial. */
	ticket = breaker_admit(&b, t, &retry);
	ck_assert_int_gt(ticket, 0);
	ck_assert_int_eq(breaker_result(&b, t, BREAKER_NEUTRAL, ticket, NULL),
	    BREAKER_EV_NONE);
	again = breaker_admit(&b, t, &retry);
	ck_assert_int_gt(again, 0);
	ck_assert_int_ne(again, ticket);
	/* The old ticket decides nothing any more. */
	ck_assert_int_eq(breaker_result(&b, t, BREAKER_FAILURE, ticket, NULL),
	    BREAKER_EV_NONE);
	ck_assert_int_eq(breaker_state(&b, t), BREAKER_HALF_OPEN);
	/* Nor does a call let through before the breaker opened and failing
	 * late; a late success does close it. */
	ck_assert_int_eq(breaker_result(&b, t, BREAKER_FAILURE, 0, NULL),
	    BREAKER_EV_NONE);
	ck_assert_int_eq(breaker_state(&b, t), BREAKER_HALF_OPEN);
	ck_assert_int_eq(breaker_result(&b, t, BREAKER_SUCCESS, 0, NULL),
	    BREAKER_EV_CLOSED);
	/* The trial's verdict after that is an ordinary call's. */
	ck_assert_int_eq(breaker_result(&b, t, BREAKER_FAILURE, again, NULL),
	    BREAKER_EV_NONE);
	ck_assert_int_eq(breaker_state(&b, t), BREAKER_CLOSED);
	breaker_destroy(&b);

	/* Late failures while open do not extend the open time. */
	open_it(&b, 100);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(breaker_result(&b, 900, BREAKER_FAILURE, 0,
		    NULL), BREAKER_EV_NONE);
	ck_assert_int_gt(breaker_admit(&b, 100 + OPEN_MS, &retry), 0);
	breaker_destroy(&b);
}
END_TEST

START_TEST(test_reset_and_off)
{
	struct breaker	b;
	int64_t		retry;
	int		failures, i;

	open_it(&b, 100);
	ck_assert_int_eq(breaker_reset(&b, &failures), BREAKER_EV_CLOSED);
	ck_assert_int_eq(failures, 5);
	ck_assert_int_eq(breaker_admit(&b, 200, &retry), 0);
	ck_assert_int_eq(breaker_reset(&b, &failures), BREAKER_EV_NONE);
	breaker_destroy(&b);

	/* Off: every call passes, nothing is counted. */
	breaker_init(&b, 0, OPEN_MS, 10 * OPEN_MS);
	ck_assert(!breaker_enabled(&b));
	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(breaker_admit(&b, 100, &retry), 0);
		ck_assert_int_eq(breaker_result(&b, 100, BREAKER_FAILURE, 0,
		    NULL), BREAKER_EV_NONE);
	}
	ck_assert_int_eq(breaker_state(&b, 100), BREAKER_CLOSED);
	ck_assert_int_eq(breaker_opens(&b), 0);
	breaker_destroy(&b);
}
END_TEST

START_TEST(test_outcomes)
{
	ck_assert_int_eq(breaker_outcome_of(504), BREAKER_FAILURE);
	ck_assert_int_eq(breaker_outcome_of(502), BREAKER_FAILURE);
	ck_assert_int_eq(breaker_outcome_of(200), BREAKER_SUCCESS);
	/* The server answered: a tool error, bad arguments, no such tool. */
	ck_assert_int_eq(breaker_outcome_of(422), BREAKER_SUCCESS);
	ck_assert_int_eq(breaker_outcome_of(400), BREAKER_SUCCESS);
	ck_assert_int_eq(breaker_outcome_of(404), BREAKER_SUCCESS);
	/* Refusals and our own trouble say nothing of the server. */
	ck_assert_int_eq(breaker_outcome_of(503), BREAKER_NEUTRAL);
	ck_assert_int_eq(breaker_outcome_of(500), BREAKER_NEUTRAL);
	ck_assert_str_eq(breaker_state_name(BREAKER_CLOSED), "closed");
	ck_assert_str_eq(breaker_state_name(BREAKER_HALF_OPEN), "half_open");
	ck_assert_str_eq(breaker_state_name(BREAKER_OPEN), "open");
}
END_TEST

/* Threads failing and succeeding at once: the counts stay consistent
 * (and TSan sees the locking). */
struct hammer {
	struct breaker	*b;
	int		 fail;
};

static void *
hammer_run(void *arg)
{
	struct hammer	*h = arg;
	int64_t		 retry;
	int		 i, t;

	for (i = 0; i < 20000; i++) {
		t = breaker_admit(h->b, i, &retry);
		if (t >= 0)
			breaker_result(h->b, i, h->fail ? BREAKER_FAILURE :
			    BREAKER_SUCCESS, t, NULL);
	}
	return NULL;
}

START_TEST(test_threads)
{
	struct breaker		b;
	struct breaker_view	v;
	struct hammer		h[4];
	pthread_t		th[4];
	int			i;

	breaker_init(&b, 3, 10, 100);
	for (i = 0; i < 4; i++) {
		h[i].b = &b;
		h[i].fail = i % 2;
		ck_assert_int_eq(pthread_create(&th[i], NULL, hammer_run,
		    &h[i]), 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	breaker_reset(&b, NULL);
	breaker_view(&b, 0, &v);
	ck_assert_int_eq(v.state, BREAKER_CLOSED);
	ck_assert_int_eq(v.failures, 0);
	ck_assert_int_eq(v.open_ms, 10);
	breaker_destroy(&b);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("breaker");
	TCase	*tc = tcase_create("breaker");

	tcase_add_test(tc, test_opens_after_threshold);
	tcase_add_test(tc, test_one_trial);
	tcase_add_test(tc, test_failed_trial_doubles);
	tcase_add_test(tc, test_neutral_and_late);
	tcase_add_test(tc, test_reset_and_off);
	tcase_add_test(tc, test_outcomes);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
