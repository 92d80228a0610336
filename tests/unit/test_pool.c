/*
 * test_pool.c: the worker pool, mailboxes and the completion hand-back,
 * with a real event_base standing in for the loop thread.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
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
	int		 done;
	pthread_t	 done_on;
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

	t->ran = 1;
	t->ran_on = pthread_self();
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
	struct tjob	jobs[500];
	int		i;

	tbase = event_base_new();
	tpool = pool_new(tbase, 4, 1000);
	ck_assert_ptr_nonnull(tpool);
	atomic_store(&tdone, 0);
	twant = 500;
	for (i = 0; i < 500; i++) {
		jobs[i] = (struct tjob){ .n = i };
		jobs[i].job.run = trun;
		jobs[i].job.done = tdone_cb;
		ck_assert_int_eq(pool_submit(tpool, &jobs[i].job), 0);
	}
	event_base_dispatch(tbase);
	ck_assert_int_eq(atomic_load(&tdone), 500);
	for (i = 0; i < 500; i++) {
		ck_assert_int_eq(jobs[i].ran, 1);
		ck_assert_int_eq(jobs[i].done, 1);
		/* run() on a worker, done() on the loop thread */
		ck_assert(!pthread_equal(jobs[i].ran_on, pthread_self()));
		ck_assert(pthread_equal(jobs[i].done_on, pthread_self()));
	}
	pool_stop(tpool);
	pool_free(tpool);
	event_base_free(tbase);
}
END_TEST

START_TEST(test_full_queue_refuses)
{
	struct tjob	jobs[8];
	int		i;

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
	/* Two are taken by the workers, three wait in the queue. */
	ck_assert_int_eq(pool_submit(tpool, &jobs[0].job), 0);
	ck_assert_int_eq(pool_submit(tpool, &jobs[1].job), 0);
	while (pool_queued(tpool) != 0)
		usleep(1000);
	for (i = 2; i < 5; i++)
		ck_assert_int_eq(pool_submit(tpool, &jobs[i].job), 0);
	ck_assert_int_eq(pool_queued(tpool), 3);
	ck_assert_int_eq(pool_submit(tpool, &jobs[5].job), -1);
	pthread_mutex_lock(&block_mtx);
	block_open = 1;
	pthread_cond_broadcast(&block_cond);
	pthread_mutex_unlock(&block_mtx);
	event_base_dispatch(tbase);
	ck_assert_int_eq(atomic_load(&tdone), 5);
	pool_stop(tpool);
	ck_assert_int_eq(pool_submit(tpool, &jobs[6].job), -1);
	pool_free(tpool);
	event_base_free(tbase);
}
END_TEST

START_TEST(test_free_hands_back_unrun_jobs)
{
	struct tjob	jobs[3];
	int		i;

	tbase = event_base_new();
	tpool = pool_new(tbase, 1, 10);
	block_open = 0;
	atomic_store(&tdone, 0);
	twant = -1;
	for (i = 0; i < 3; i++) {
		jobs[i] = (struct tjob){ .n = i };
		jobs[i].job.run = tblock_run;
		jobs[i].job.done = tdone_cb;
		ck_assert_int_eq(pool_submit(tpool, &jobs[i].job), 0);
	}
	while (pool_queued(tpool) != 2)
		usleep(1000);
	/* Let the running job finish only after the stop flag is up. */
	pthread_mutex_lock(&block_mtx);
	block_open = 1;
	pthread_cond_broadcast(&block_cond);
	pthread_mutex_unlock(&block_mtx);
	pool_stop(tpool);
	pool_free(tpool);
	/* Nothing is lost: each job got done() exactly once. */
	ck_assert_int_eq(atomic_load(&tdone), 3);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(jobs[i].done, 1);
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
	mbox_destroy(&mb);
}
END_TEST

START_TEST(test_default_workers)
{
	int n = pool_default_workers();

	ck_assert_int_ge(n, 4);
	ck_assert_int_ge(n, 2 * (int)sysconf(_SC_NPROCESSORS_ONLN) > 256 ?
	    256 : 2 * (int)sysconf(_SC_NPROCESSORS_ONLN));
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("pool");
	TCase	*tc = tcase_create("pool");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_run_and_hand_back);
	tcase_add_test(tc, test_full_queue_refuses);
	tcase_add_test(tc, test_free_hands_back_unrun_jobs);
	tcase_add_test(tc, test_mbox_many_producers);
	tcase_add_test(tc, test_default_workers);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
