/*
 * pool.c: worker threads with an event loop and a mailbox each, the bulk
 * lane, and the completion list back to the loop thread.
 *
 * DESIGN. The loop thread submits jobs and never blocks: pool_submit()
 * refuses at once (-1, the caller answers 503) when queueSize submitted
 * jobs are waiting. A worker is an event_base_dispatch() loop; its mailbox
 * is a mutex-protected list plus an eventfd that is written only when the
 * list goes from empty to non-empty, so a burst costs one wake-up; the
 * worker swaps the whole list out and runs each job. Workers talk to each
 * other through the same mailboxes (a call forwarded to the worker that
 * owns its MCP server instance). The bulk lane is a plain queue under a
 * condition variable with threads at nice +10 that take one job at a time.
 * Every finished job goes back through the completion mailbox, whose
 * eventfd is read by an event on the loop thread's base; done() runs
 * there, and only there does anything reply to HTTP.
 *
 * Stopping: the stopping flag refuses new submissions; every worker gets
 * a stop job that runs the owner's stop function (ending its children)
 * and leaves its loop when that work says so; the thread then closes its
 * mailbox (anything left goes to done()), decrements the running count
 * and broadcasts the condition variable that pool_stop() waits on with a
 * deadline. The bulk lane is stopped with a flag and a broadcast.
 */

#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/time.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "pool.h"

#define POOL_MAX_WORKERS	256
#define POOL_NTIMEOUTS		32	/* distinct common timeouts per worker */
#define POOL_READBUF		(128 * 1024)
#define POOL_BULK_NICE		10

struct pool_timeout {
	int			 ms;
	const struct timeval	*tv;
};

/* What a pool thread knows about itself (thread-local). */
struct pool_thread {
	int			 worker;	/* -1: a bulk thread */
	struct event_base	*base;		/* workers only */
	struct pool_timeout	 timeouts[POOL_NTIMEOUTS];
	size_t			 ntimeouts;
	char			*readbuf;
};

struct pool_worker {
	struct pool		*pool;
	int			 index;
	pthread_t		 thread;
	int			 started;
	int			 exited;	/* under pool->mtx */
	struct event_base	*base;
	struct mbox		 mbox;
	struct event		*mbox_ev;
	struct job		 stop_job;
	struct job		*bhead, *btail;	/* the loop thread's batch */
};

struct pool {
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;		/* exits; bulk queue */
	int			 stopping;
	int			 nrunning;	/* workers and bulk threads */
	atomic_int		 queued;
	int			 queue_size;
	atomic_uint		 rr;

	int			 nworkers;
	struct pool_worker	*workers;

	/* The bulk lane, under mtx. */
	struct job		*bhead, *btail;
	int			 bidle;
	int			 bstopping;
	int			 nbulk;
	pthread_t		*bulk;

	struct mbox		 done;
	struct event		*done_ev;
	struct event		*batch_ev;	/* hands the batches over */
	int			 batched;

	void			(*stop_fn)(int, void *);
	void			*stop_arg;
};

static _Thread_local struct pool_thread *pool_me;

static void	*pool_worker_main(void *);
static void	*pool_bulk_main(void *);
static void	 pool_mbox_cb(evutil_socket_t, short, void *);
static void	 pool_done_cb(evutil_socket_t, short, void *);
static void	 pool_batch_cb(evutil_socket_t, short, void *);
static void	 pool_stop_run(struct job *);
static void	 pool_noop_done(struct job *);
static void	 pool_run_done(struct pool *, struct job *);
static void	 pool_uncount(struct pool *, struct job *);
static int	 pool_thread_init(struct pool_thread *, int,
		    struct event_base *);
static void	 pool_thread_exit(struct pool *, struct pool_thread *,
		    struct pool_worker *);
static int	 pool_start_threads(struct pool *);
static void	 pool_batch_add(struct pool *, struct pool_worker *,
		    struct job *);

/* ------------------------------------------------------------ mailboxes */

int
mbox_init(struct mbox *mb)
{
	memset(mb, 0, sizeof(*mb));
	mb->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (mb->efd == -1)
		return -1;
	if (pthread_mutex_init(&mb->mtx, NULL) != 0) {
		close(mb->efd);
		mb->efd = -1;
		return -1;
	}
	return 0;
}

void
mbox_destroy(struct mbox *mb)
{
	if (mb->efd == -1)
		return;
	close(mb->efd);
	mb->efd = -1;
	pthread_mutex_destroy(&mb->mtx);
}

int
mbox_put(struct mbox *mb, struct job *j)
{
	uint64_t	one = 1;
	int		wake;

	j->next = NULL;
	pthread_mutex_lock(&mb->mtx);
	if (mb->closed) {
		pthread_mutex_unlock(&mb->mtx);
		return -1;
	}
	wake = mb->head == NULL;
	if (mb->tail != NULL)
		mb->tail->next = j;
	else
		mb->head = j;
	mb->tail = j;
	pthread_mutex_unlock(&mb->mtx);
	if (wake && write(mb->efd, &one, sizeof(one)) == -1 &&
	    errno != EAGAIN)
		log_warn("%s: eventfd write", __func__);
	return 0;
}

int
mbox_put_list(struct mbox *mb, struct job *head, struct job *tail)
{
	uint64_t	one = 1;
	int		wake;

	tail->next = NULL;
	pthread_mutex_lock(&mb->mtx);
	if (mb->closed) {
		pthread_mutex_unlock(&mb->mtx);
		return -1;
	}
	wake = mb->head == NULL;
	if (mb->tail != NULL)
		mb->tail->next = head;
	else
		mb->head = head;
	mb->tail = tail;
	pthread_mutex_unlock(&mb->mtx);
	if (wake && write(mb->efd, &one, sizeof(one)) == -1 &&
	    errno != EAGAIN)
		log_warn("%s: eventfd write", __func__);
	return 0;
}

struct job *
mbox_take_all(struct mbox *mb)
{
	struct job	*list;
	uint64_t	 n;

	/* Read first: a put after the swap below writes the eventfd again. */
	if (read(mb->efd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("%s: eventfd read", __func__);
	pthread_mutex_lock(&mb->mtx);
	list = mb->head;
	mb->head = mb->tail = NULL;
	pthread_mutex_unlock(&mb->mtx);
	return list;
}

struct job *
mbox_close(struct mbox *mb)
{
	struct job	*list;

	pthread_mutex_lock(&mb->mtx);
	mb->closed = 1;
	list = mb->head;
	mb->head = mb->tail = NULL;
	pthread_mutex_unlock(&mb->mtx);
	return list;
}

int
mbox_fd(const struct mbox *mb)
{
	return mb->efd;
}

/* ------------------------------------------------------------ creation */

int
pool_default_workers(void)
{
	long	n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 2)
		n = 2;
	if (n > POOL_MAX_WORKERS)
		n = POOL_MAX_WORKERS;
	return (int)n;
}

struct pool *
pool_new(struct event_base *loop_base, int nworkers, int queue_size)
{
	struct pool		*p;
	struct pool_worker	*w;
	int			 i;

	if (nworkers < 1 || nworkers > POOL_MAX_WORKERS ||
	    (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->queue_size = queue_size;
	p->done.efd = -1;
	pthread_mutex_init(&p->mtx, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (mbox_init(&p->done) == -1)
		goto fail;
	p->done_ev = event_new(loop_base, mbox_fd(&p->done),
	    EV_READ | EV_PERSIST, pool_done_cb, p);
	p->batch_ev = event_new(loop_base, -1, 0, pool_batch_cb, p);
	if (p->done_ev == NULL || p->batch_ev == NULL ||
	    event_add(p->done_ev, NULL) == -1)
		goto fail;
	if ((p->workers = calloc((size_t)nworkers, sizeof(*w))) == NULL ||
	    (p->bulk = calloc((size_t)nworkers, sizeof(pthread_t))) == NULL)
		goto fail;
	p->nworkers = nworkers;
	for (i = 0; i < nworkers; i++)
		p->workers[i].mbox.efd = -1;
	for (i = 0; i < nworkers; i++) {
		w = &p->workers[i];
		w->pool = p;
		w->index = i;
		w->stop_job.run = pool_stop_run;
		w->stop_job.done = pool_noop_done;
		if ((w->base = event_base_new()) == NULL ||
		    mbox_init(&w->mbox) == -1)
			goto fail;
		w->mbox_ev = event_new(w->base, mbox_fd(&w->mbox),
		    EV_READ | EV_PERSIST, pool_mbox_cb, w);
		if (w->mbox_ev == NULL || event_add(w->mbox_ev, NULL) == -1)
			goto fail;
	}
	if (pool_start_threads(p) == -1) {
		pool_stop(p, NULL, NULL, 5000);
		pool_free(p);
		return NULL;
	}
	return p;
fail:
	pool_free(p);
	return NULL;
}

static int
pool_start_threads(struct pool *p)
{
	int	i, rc;

	for (i = 0; i < p->nworkers; i++) {
		if ((rc = pthread_create(&p->workers[i].thread, NULL,
		    pool_worker_main, &p->workers[i])) != 0) {
			errno = rc;
			log_warn("%s: worker %d", __func__, i);
			return -1;
		}
		p->workers[i].started = 1;
		pthread_mutex_lock(&p->mtx);
		p->nrunning++;
		pthread_mutex_unlock(&p->mtx);
	}
	for (i = 0; i < p->nworkers; i++) {
		if ((rc = pthread_create(&p->bulk[i], NULL, pool_bulk_main,
		    p)) != 0) {
			errno = rc;
			log_warn("%s: bulk thread %d", __func__, i);
			return -1;
		}
		pthread_mutex_lock(&p->mtx);
		p->nbulk++;
		p->nrunning++;
		pthread_mutex_unlock(&p->mtx);
	}
	return 0;
}

int
pool_nworkers(const struct pool *p)
{
	return p->nworkers;
}

struct event_base *
pool_worker_base(struct pool *p, int worker)
{
	if (worker < 0 || worker >= p->nworkers)
		return NULL;
	return p->workers[worker].base;
}

/* ----------------------------------------------------------- hand-offs */

/* A queueSize place for a job from the loop thread; -1 when none. */
static int
pool_take_place(struct pool *p, struct job *j)
{
	if (atomic_fetch_add(&p->queued, 1) >= p->queue_size) {
		atomic_fetch_sub(&p->queued, 1);
		return -1;
	}
	pthread_mutex_lock(&p->mtx);
	if (p->stopping) {
		pthread_mutex_unlock(&p->mtx);
		atomic_fetch_sub(&p->queued, 1);
		return -1;
	}
	pthread_mutex_unlock(&p->mtx);
	j->counted = 1;
	return 0;
}

int
pool_submit(struct pool *p, struct job *j, enum pool_lane lane)
{
	if (lane != POOL_BULK)
		return pool_submit_to(p, j, -1);
	if (pool_take_place(p, j) == -1)
		return -1;
	pool_post_bulk(p, j);
	return 0;
}

int
pool_submit_to(struct pool *p, struct job *j, int worker)
{
	if (pool_take_place(p, j) == -1)
		return -1;
	if (worker < 0 || worker >= p->nworkers)
		worker = (int)(atomic_fetch_add_explicit(&p->rr, 1,
		    memory_order_relaxed) % (unsigned)p->nworkers);
	pool_batch_add(p, &p->workers[worker], j);
	return 0;
}

/*
 * Loop thread: a job joins its worker's batch, handed over once the loop
 * has run the callbacks of this turn, so that the requests read in one
 * turn cost one lock and at most one wake-up per worker.
 */
static void
pool_batch_add(struct pool *p, struct pool_worker *w, struct job *j)
{
	j->next = NULL;
	if (w->btail != NULL)
		w->btail->next = j;
	else
		w->bhead = j;
	w->btail = j;
	if (!p->batched) {
		p->batched = 1;
		event_active(p->batch_ev, EV_TIMEOUT, 1);
	}
}

static void
pool_batch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool		*p = arg;
	struct pool_worker	*w;
	struct job		*j, *next;
	int			 i;

	p->batched = 0;
	for (i = 0; i < p->nworkers; i++) {
		w = &p->workers[i];
		if (w->bhead == NULL)
			continue;
		j = w->bhead;
		if (mbox_put_list(&w->mbox, w->bhead, w->btail) == -1)
			for (; j != NULL; j = next) {	/* that worker is gone */
				next = j->next;
				pool_complete(p, j);
			}
		w->bhead = w->btail = NULL;
	}
}

void
pool_post(struct pool *p, int worker, struct job *j)
{
	if (worker < 0 || worker >= p->nworkers ||
	    mbox_put(&p->workers[worker].mbox, j) == -1)
		pool_complete(p, j);	/* that worker is gone */
}

void
pool_post_bulk(struct pool *p, struct job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&p->mtx);
	if (p->bstopping) {
		pthread_mutex_unlock(&p->mtx);
		pool_complete(p, j);
		return;
	}
	if (p->btail != NULL)
		p->btail->next = j;
	else
		p->bhead = j;
	p->btail = j;
	if (p->bidle > 0)
		pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mtx);
}

void
pool_complete(struct pool *p, struct job *j)
{
	/* After pool_free() began nothing completes: done() runs there. */
	if (mbox_put(&p->done, j) == -1)
		pool_run_done(p, j);
}

int
pool_queued(struct pool *p)
{
	return atomic_load(&p->queued);
}

static void
pool_uncount(struct pool *p, struct job *j)
{
	if (j->counted) {
		j->counted = 0;
		atomic_fetch_sub(&p->queued, 1);
	}
}

/* ------------------------------------------------------ thread helpers */

int
pool_self(void)
{
	return pool_me != NULL ? pool_me->worker : -1;
}

const struct timeval *
pool_timeout(int ms, struct timeval *tv)
{
	struct pool_thread	*t = pool_me;
	const struct timeval	*common;
	size_t			 i;

	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
	if (t == NULL || t->base == NULL)
		return tv;
	for (i = 0; i < t->ntimeouts; i++)
		if (t->timeouts[i].ms == ms)
			return t->timeouts[i].tv;
	if (t->ntimeouts == POOL_NTIMEOUTS)
		return tv;
	/* Timers of one duration expire in the order they were added, so
	 * libevent keeps them in a queue instead of its heap. */
	if ((common = event_base_init_common_timeout(t->base, tv)) == NULL)
		return tv;
	t->timeouts[t->ntimeouts].ms = ms;
	t->timeouts[t->ntimeouts].tv = common;
	t->ntimeouts++;
	return common;
}

char *
pool_readbuf(size_t *len)
{
	if (pool_me == NULL || pool_me->readbuf == NULL) {
		*len = 0;
		return NULL;
	}
	*len = POOL_READBUF;
	return pool_me->readbuf;
}

void
pool_worker_exit(void)
{
	if (pool_me != NULL && pool_me->base != NULL)
		event_base_loopbreak(pool_me->base);
}

static int
pool_thread_init(struct pool_thread *t, int worker, struct event_base *base)
{
	char	name[16];

	memset(t, 0, sizeof(*t));
	t->worker = worker;
	t->base = base;
	/* Only workers read pipes. */
	if (worker >= 0 && (t->readbuf = malloc(POOL_READBUF)) == NULL)
		return -1;
	if (worker >= 0)
		snprintf(name, sizeof(name), "worker-%d", worker % 1000);
	else
		snprintf(name, sizeof(name), "bulk");
	pthread_setname_np(pthread_self(), name);
	pool_me = t;
	return 0;
}

/* The thread leaves: what reached it too late goes to done(). */
static void
pool_thread_exit(struct pool *p, struct pool_thread *t,
    struct pool_worker *w)
{
	struct job	*j, *next;

	if (w != NULL) {
		for (j = mbox_close(&w->mbox); j != NULL; j = next) {
			next = j->next;
			pool_uncount(p, j);
			pool_complete(p, j);
		}
	}
	free(t->readbuf);
	pool_me = NULL;
	pthread_mutex_lock(&p->mtx);
	if (w != NULL)
		w->exited = 1;
	p->nrunning--;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mtx);
}

/* ------------------------------------------------------------- workers */

static void *
pool_worker_main(void *arg)
{
	struct pool_worker	*w = arg;
	struct pool_thread	 t;

	if (pool_thread_init(&t, w->index, w->base) == 0)
		event_base_dispatch(w->base);
	else
		log_warnx("worker %d: out of memory", w->index);
	pool_thread_exit(w->pool, &t, w);
	return NULL;
}

static void
pool_mbox_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool_worker	*w = arg;
	struct job		*j, *next;

	for (j = mbox_take_all(&w->mbox); j != NULL; j = next) {
		next = j->next;
		j->next = NULL;
		pool_uncount(w->pool, j);
		j->run(j);
	}
}

static void *
pool_bulk_main(void *arg)
{
	struct pool		*p = arg;
	struct pool_thread	 t;
	struct job		*j;

	if (pool_thread_init(&t, -1, NULL) == -1) {
		log_warnx("bulk thread: out of memory");
		pool_thread_exit(p, &t, NULL);
		return NULL;
	}
	/* Below the workers and the loop thread: a waking worker always
	 * gets a CPU before a bulk job goes on. */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), POOL_BULK_NICE) == -1)
		log_debug("%s: setpriority: %s", __func__, strerror(errno));
	pthread_mutex_lock(&p->mtx);
	for (;;) {
		while (p->bhead == NULL && !p->bstopping) {
			p->bidle++;
			pthread_cond_wait(&p->cond, &p->mtx);
			p->bidle--;
		}
		if (p->bstopping)
			break;
		j = p->bhead;
		p->bhead = j->next;
		if (p->bhead == NULL)
			p->btail = NULL;
		pthread_mutex_unlock(&p->mtx);
		j->next = NULL;
		pool_uncount(p, j);
		j->run(j);
		pthread_mutex_lock(&p->mtx);
	}
	pthread_mutex_unlock(&p->mtx);
	pool_thread_exit(p, &t, NULL);
	return NULL;
}

/* ---------------------------------------------------------- completion */

static void
pool_run_done(struct pool *p, struct job *list)
{
	struct job	*j, *next;

	for (j = list; j != NULL; j = next) {
		next = j->next;
		j->next = NULL;
		pool_uncount(p, j);
		j->done(j);
	}
}

static void
pool_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool	*p = arg;

	pool_run_done(p, mbox_take_all(&p->done));
}

static void
pool_noop_done(struct job *j)
{
}

/* ------------------------------------------------------------ stopping */

static void
pool_stop_run(struct job *j)
{
	struct pool_worker	*w = (struct pool_worker *)(void *)((char *)j -
				    offsetof(struct pool_worker, stop_job));
	struct pool		*p = w->pool;

	if (p->stop_fn != NULL)
		p->stop_fn(w->index, p->stop_arg);
	else
		pool_worker_exit();
}

/* Wait for the running count to reach want, until the deadline. */
static int
pool_wait_running(struct pool *p, int want, const struct timespec *deadline)
{
	int	rc = 0;

	pthread_mutex_lock(&p->mtx);
	while (p->nrunning > want && rc == 0)
		rc = pthread_cond_timedwait(&p->cond, &p->mtx, deadline);
	rc = p->nrunning > want ? -1 : 0;
	pthread_mutex_unlock(&p->mtx);
	return rc;
}

int
pool_stop(struct pool *p, void (*stop)(int, void *), void *arg,
    int deadline_ms)
{
	struct timespec	 deadline;
	int		 i, rc, late = 0;

	pthread_mutex_lock(&p->mtx);
	p->stopping = 1;
	p->stop_fn = stop;
	p->stop_arg = arg;
	pthread_mutex_unlock(&p->mtx);
	pool_batch_cb(-1, 0, p);	/* the loop has stopped: hand them now */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += deadline_ms / 1000;
	deadline.tv_nsec += (long)(deadline_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	for (i = 0; i < p->nworkers; i++)
		if (p->workers[i].started &&
		    mbox_put(&p->workers[i].mbox, &p->workers[i].stop_job) ==
		    -1)
			log_debug("%s: worker %d already gone", __func__, i);
	/* The workers first: they may still hand work to the bulk lane. */
	rc = pool_wait_running(p, p->nbulk, &deadline);
	pthread_mutex_lock(&p->mtx);
	p->bstopping = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mtx);
	if (pool_wait_running(p, 0, &deadline) == -1 || rc == -1) {
		log_warnx("worker threads did not stop within %d ms",
		    deadline_ms);
		return -1;
	}
	for (i = 0; i < p->nworkers; i++)
		if (p->workers[i].started && p->workers[i].exited)
			pthread_join(p->workers[i].thread, NULL);
		else if (p->workers[i].started)
			late = 1;
	for (i = 0; i < p->nbulk; i++)
		pthread_join(p->bulk[i], NULL);
	p->nbulk = 0;
	for (i = 0; i < p->nworkers; i++)
		p->workers[i].started = 0;
	return late ? -1 : 0;
}

void
pool_free(struct pool *p)
{
	struct job	*list;
	int		 i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mtx);
	list = p->bhead;
	p->bhead = p->btail = NULL;
	pthread_mutex_unlock(&p->mtx);
	pool_run_done(p, list);
	for (i = 0; p->workers != NULL && i < p->nworkers; i++) {
		struct pool_worker *w = &p->workers[i];

		pool_run_done(p, w->bhead);
		w->bhead = w->btail = NULL;
		if (w->mbox.efd != -1)
			pool_run_done(p, mbox_close(&w->mbox));
	}
	if (p->done.efd != -1) {
		/* done() may complete more jobs: take until nothing is left,
		 * then close so that late ones run in place. */
		while ((list = mbox_take_all(&p->done)) != NULL)
			pool_run_done(p, list);
		pool_run_done(p, mbox_close(&p->done));
	}
	for (i = 0; p->workers != NULL && i < p->nworkers; i++) {
		struct pool_worker *w = &p->workers[i];

		if (w->mbox_ev != NULL)
			event_free(w->mbox_ev);
		mbox_destroy(&w->mbox);
		if (w->base != NULL)
			event_base_free(w->base);
	}
	if (p->done_ev != NULL)
		event_free(p->done_ev);
	if (p->batch_ev != NULL)
		event_free(p->batch_ev);
	mbox_destroy(&p->done);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mtx);
	free(p->workers);
	free(p->bulk);
	free(p);
}
