/*
 * test_pool.c: the workers, the bulk lane, mailboxes, forwarding, the
 * completion hand-back and stopping, with a real event_base standing in
 * for the loop thread.
 */
#include <sys/resource.h>
#include <sys/time.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "pool.h"
#include "unit.h"

struct tjob {
	struct job	 job;
	int		 n;
	int		 ran;
	pthread_t	 ran_on;
	int		 self;		/* pool_self() where it ran */
	int		 nice;		/* its thread's nice value */
	int		 done;
	pthread_t	 done_on;
	int		 want_worker;	/* forwarding test: post here next */
};

static struct pool	*tpool;
static struct event_base *tbase;
static atomic_int	 tdone;
static int		 twant;
static pthread_mutex_t	 block_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 block_cond = PTHREAD_COND_INITIALIZER;
static int		 block_open;

static void
trun(struct job *j)
{
	struct tjob *t = (struct tjob *)j;

	t->ran++;
	t->ran_on = pthread_self();
	t->self = pool_self();
	t->nice = getpriority(PRIO_PROCESS, (id_t)gettid());
	pool_complete(tpool, j);
}

static void
tblock_run(struct job *j)
{
	pthread_mutex_lock(&block_mtx);
	while (!block_open)
		pthread_cond_wait(&block_cond, &block_mtx);
	pthread_mutex_unlock(&block_mtx);
	trun(j);
}

static void
tdone_cb(struct job *j)
{
	struct tjob *t = (struct tjob *)j;

	t->done++;
	t->done_on = pthread_self();
	if (atomic_fetch_add(&tdone, 1) + 1 == twant)
		event_base_loopbreak(tbase);
}

START_TEST(test_run_and_hand_back)
{
	static struct tjob	jobs[500];
	int			i;

	tbase = event_base_new();
	tpool = pool_new(tbase, 3, 1000);
	ck_assert_ptr_nonnull(tpool);
	ck_assert_int_eq(pool_nworkers(tpool), 3);
	atomic_store(&tdone, 0);
	twant = 500;
	for (i = 0; i < 500; i++) {
		jobs[i] = (struct tjob){ .n = i };
		jobs[i].job.run = trun;
		jobs[i].job.done = tdone_cb;
		ck_assert_int_eq(pool_submit(tpool, &jobs[i].job, i % 2 ?
		    POOL_BULK : POOL_WORKER), 0);
	}
	event_base_dispatch(tbase);
	ck_assert_int_eq(atomic_load(&tdone), 500);
	ck_assert_int_eq(pool_queued(tpool), 0);
	for (i = 0; i < 500; i++) {
		ck_assert_int_eq(jobs[i].ran, 1);
		ck_assert_int_eq(jobs[i].done, 1);
		/* run() on a pool thread, done() on the loop thread */
		ck_assert(!pthread_equal(jobs[i].ran_on, pthread_self()));
		ck_assert(pthread_equal(jobs[i].done_on, pthread_self()));
		if (i % 2) {
			/* the bulk lane: not a worker, and below them */
			ck_assert_int_eq(jobs[i].self, -1);
			ck_assert_int_eq(jobs[i].nice, 10);
		} else {
			ck_assert_int_ge(jobs[i].self, 0);
			ck_assert_int_lt(jobs[i].self, 3);
			ck_assert_int_eq(jobs[i].nice, 0);
		}
	}
	/* Round robin: every worker had its share. */
	for (i = 0; i < 6; i += 2)
		ck_assert_int_ne(jobs[i].self, jobs[i + 2].self);
	ck_assert_int_eq(pool_stop(tpool, NULL, NULL, 5000), 0);
	pool_free(tpool);
	event_base_free(tbase);
}
END_TEST

/* A job hops to a given worker and runs there. */
static void
thop_run(struct job *j)
{
	struct tjob	*t = (struct tjob *)j;
	struct timeval	 tv;

	if (t->want_worker >= 0 && pool_self() != t->want_worker) {
		pool_post(tpool, t->want_worker, j);
		return;
	}
	/* On a worker the thread helpers work. */
	ck_assert(pool_timeout(250, &tv) == pool_timeout(250, &tv));
	trun(j);
}

START_TEST(test_forward)
{
	static struct tjob	jobs[40];
	size_t			len;
	int			i;

	tbase = event_base_new();
	tpool = pool_new(tbase, 2, 100);
	atomic_store(&tdone, 0);
	twant = 40;
	ck_assert_int_eq(pool_self(), -1);
	ck_assert_ptr_null(pool_readbuf(&len));
	for (i = 0; i < 40; i++) {
		jobs[i] = (struct tjob){ .n = i, .want_worker = i % 2 };
		jobs[i].job.run = thop_run;
		jobs[i].job.done = tdone_cb;
		ck_assert_int_eq(pool_submit(tpool, &jobs[i].job, i % 4 < 2 ?
		    POOL_WORKER : POOL_BULK), 0);
	}
	event_base_dispatch(tbase);
	for (i = 0; i < 40; i++) {
		ck_assert_int_eq(jobs[i].ran, 1);
		ck_assert_int_eq(jobs[i].self, i % 2);
	}
	ck_assert_int_eq(pool_stop(tpool, NULL, NULL, 5000), 0);
	pool_free(tpool);
	event_base_free(tbase);
}
END_TEST

START_TEST(test_full_queue_refuses)
{
	static struct tjob	jobs[8];
	int			i;

	tbase = event_base_new();
	tpool = pool_new(tbase, 2, 3);
	block_open = 0;
	atomic_store(&tdone, 0);
	twant = 5;
	for (i = 0; i < 8; i++) {
		jobs[i] = (struct tjob){ .n = i };
		jobs[i].job.run = tblock_run;
		jobs[i].job.done = tdone_cb;
	}
	/* One blocks each worker; three then wait in their mailboxes. Jobs
	 * for workers are handed over when the loop turns. */
	ck_assert_int_eq(pool_submit(tpool, &jobs[0].job, POOL_WORKER), 0);
	ck_assert_int_eq(pool_submit(tpool, &jobs[1].job, POOL_WORKER), 0);
	ck_assert_int_eq(pool_queued(tpool), 2);
	usleep(20000);
	ck_assert_int_eq(pool_queued(tpool), 2);	/* not yet handed over */
	event_base_loop(tbase, EVLOOP_NONBLOCK);
	while (pool_queued(tpool) != 0)
		usleep(1000);
	for (i = 2; i < 5; i++)
		ck_assert_int_eq(pool_submit(tpool, &jobs[i].job,
		    i == 4 ? POOL_BULK : POOL_WORKER), 0);
	event_base_loop(tbase, EVLOOP_NONBLOCK);
	/* The bulk one starts at once; two wait behind the blocked workers. */
	while (pool_queued(tpool) > 2)
		usleep(1000);
	usleep(20000);
	ck_assert_int_eq(pool_queued(tpool), 2);
	ck_assert_int_eq(pool_submit_to(tpool, &jobs[5].job, 1), 0);
	ck_assert_int_eq(pool_submit(tpool, &jobs[6].job, POOL_WORKER), -1);
	ck_assert_int_eq(pool_submit(tpool, &jobs[6].job, POOL_BULK), -1);
	twant = 6;
	pthread_mutex_lock(&block_mtx);
	block_open = 1;
	pthread_cond_broadcast(&block_cond);
	pthread_mutex_unlock(&block_mtx);
	event_base_dispatch(tbase);
	ck_assert_int_eq(atomic_load(&tdone), 6);
	ck_assert_int_eq(pool_stop(tpool, NULL, NULL, 5000), 0);
	ck_assert_int_eq(pool_submit(tpool, &jobs[7].job, POOL_WORKER), -1);
	pool_free(tpool);
	event_base_free(tbase);
}
END_TEST

static void *
topen_later(void *arg)
{
	usleep(200000);
	pthread_mutex_lock(&block_mtx);
	block_open = 1;
	pthread_cond_broadcast(&block_cond);
	pthread_mutex_unlock(&block_mtx);
	return NULL;
}

START_TEST(test_free_hands_back_unrun_jobs)
{
	static struct tjob	jobs[4];
	pthread_t		t;
	int			i;

	tbase = event_base_new();
	tpool = pool_new(tbase, 1, 10);
	block_open = 0;
	atomic_store(&tdone, 0);
	twant = -1;
	/* One blocks the bulk thread, two wait behind it. */
	for (i = 0; i < 3; i++) {
		jobs[i] = (struct tjob){ .n = i };
		jobs[i].job.run = tblock_run;
		jobs[i].job.done = tdone_cb;
		ck_assert_int_eq(pool_submit(tpool, &jobs[i].job, POOL_BULK),
		    0);
	}
	while (pool_queued(tpool) != 2)
		usleep(1000);
	pthread_create(&t, NULL, topen_later, NULL);
	ck_assert_int_eq(pool_stop(tpool, NULL, NULL, 5000), 0);
	pthread_join(t, NULL);
	/* A job for a worker that has stopped goes to done(). */
	jobs[3] = (struct tjob){ .n = 3 };
	jobs[3].job.run = trun;
	jobs[3].job.done = tdone_cb;
	pool_post(tpool, 0, &jobs[3].job);
	pool_free(tpool);
	/* Nothing is lost: each job got done() exactly once, the two that
	 * waited without running. */
	ck_assert_int_eq(atomic_load(&tdone), 4);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(jobs[i].done, 1);
	ck_assert_int_eq(jobs[0].ran, 1);
	ck_assert_int_eq(jobs[1].ran + jobs[2].ran, 0);
	ck_assert_int_eq(jobs[3].ran, 0);
	event_base_free(tbase);
}
END_TEST

/* Stopping waits for each worker's own stop work, then joins. */
static atomic_int	tstopped;

static void
texit_cb(evutil_socket_t fd, short what, void *arg)
{
	atomic_fetch_add(&tstopped, 1);
	pool_worker_exit();
}

static void
tstop(int worker, void *arg)
{
	struct timeval	tv = { 0, 300000 };

	ck_assert_int_eq(pool_self(), worker);
	ck_assert_ptr_eq(arg, &tstopped);
	event_base_once(pool_worker_base(tpool, worker), -1, EV_TIMEOUT,
	    texit_cb, NULL, &tv);
}

START_TEST(test_stop_waits_for_workers)
{
	struct timespec	t0, t1;
	double		ms;

	tbase = event_base_new();
	tpool = pool_new(tbase, 3, 10);
	atomic_store(&tstopped, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(pool_stop(tpool, tstop, &tstopped, 5000), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1000 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	ck_assert_int_eq(atomic_load(&tstopped), 3);
	ck_assert(ms >= 290 && ms < 3000);
	pool_free(tpool);
	event_base_free(tbase);
}
END_TEST

struct putter {
	struct mbox	*mb;
	struct job	*jobs;
	int		 n;
};

static void *
put_thread(void *arg)
{
	struct putter	*p = arg;
	int		 i;

	for (i = 0; i < p->n; i++)
		mbox_put(p->mb, &p->jobs[i]);
	return NULL;
}

START_TEST(test_mbox_many_producers)
{
	struct mbox	 mb;
	struct job	 jobs[4][1000];
	struct putter	 p[4];
	pthread_t	 t[4];
	struct job	*list;
	int		 i, got = 0;

	ck_assert_int_eq(mbox_init(&mb), 0);
	for (i = 0; i < 4; i++) {
		p[i] = (struct putter){ &mb, jobs[i], 1000 };
		pthread_create(&t[i], NULL, put_thread, &p[i]);
	}
	while (got < 4000) {
		list = mbox_take_all(&mb);
		for (; list != NULL; list = list->next)
			got++;
	}
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(got, 4000);
	ck_assert_ptr_null(mbox_take_all(&mb));
	/* A closed mailbox refuses and hands back what it held. */
	ck_assert_int_eq(mbox_put(&mb, &jobs[0][0]), 0);
	ck_assert_ptr_eq(mbox_close(&mb), &jobs[0][0]);
	ck_assert_int_eq(mbox_put(&mb, &jobs[0][1]), -1);
	mbox_destroy(&mb);
}
END_TEST

START_TEST(test_default_workers)
{
	int	n = pool_default_workers();
	long	cpus = sysconf(_SC_NPROCESSORS_ONLN);

	ck_assert_int_eq(n, cpus < 2 ? 2 : cpus > 256 ? 256 : (int)cpus);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("pool");
	TCase	*tc = tcase_create("pool");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_run_and_hand_back);
	tcase_add_test(tc, test_forward);
	tcase_add_test(tc, test_full_queue_refuses);
	tcase_add_test(tc, test_free_hands_back_unrun_jobs);
	tcase_add_test(tc, test_stop_waits_for_workers);
	tcase_add_test(tc, test_mbox_many_producers);
	tcase_add_test(tc, test_default_workers);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
