/*
 * pool.c: worker threads with a bounded job queue, mailboxes, and the
 * completion hand-back to the loop thread.
 *
 * DESIGN. The loop thread submits jobs; pool_submit() never blocks: a full
 * queue is an immediate -1 (the caller answers 503). Workers wait on a
 * condition variable and are signalled only when one of them is idle, so a
 * busy pool costs no wake-ups. A finished job is handed back through the
 * completion mailbox: the thread that makes the list non-empty writes the
 * eventfd once, the loop thread's event swaps the whole list out and runs
 * every done() there (evhttp is not thread-safe; done() is the only place
 * that replies). Stopping is a flag plus a broadcast; workers finish the job
 * in hand and exit; pool_free() gives every job still queued to done()
 * unrun so that nothing is lost.
 */

#include <sys/eventfd.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "pool.h"

struct pool {
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cond;
	struct job	*head;
	struct job	*tail;
	int		 queued;
	int		 queue_size;
	int		 idle;
	int		 stopping;
	int		 nworkers;
	pthread_t	*threads;
	struct mbox	 done;
	struct event	*done_ev;
};

static void	*pool_worker(void *);
static void	 pool_done_cb(evutil_socket_t, short, void *);
static void	 pool_run_done(struct job *);

int
mbox_init(struct mbox *mb)
{
	memset(mb, 0, sizeof(*mb));
	mb->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (mb->efd == -1)
		return -1;
	if (pthread_mutex_init(&mb->mtx, NULL) != 0) {
		close(mb->efd);
		return -1;
	}
	return 0;
}

void
mbox_destroy(struct mbox *mb)
{
	if (mb->efd != -1)
		close(mb->efd);
	mb->efd = -1;
	pthread_mutex_destroy(&mb->mtx);
}

void
mbox_put(struct mbox *mb, struct job *j)
{
	uint64_t	one = 1;
	int		wake;

	j->next = NULL;
	pthread_mutex_lock(&mb->mtx);
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

int
mbox_fd(const struct mbox *mb)
{
	return mb->efd;
}

int
pool_default_workers(void)
{
	long	n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	n *= 2;
	if (n < 4)
		n = 4;
	if (n > 256)
		n = 256;
	return (int)n;
}

struct pool *
pool_new(struct event_base *base, int nworkers, int queue_size)
{
	struct pool	*p;
	int		 i;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->nworkers = 0;
	p->queue_size = queue_size;
	if (mbox_init(&p->done) == -1) {
		free(p);
		return NULL;
	}
	if (pthread_mutex_init(&p->mtx, NULL) != 0 ||
	    pthread_cond_init(&p->cond, NULL) != 0)
		goto fail;
	p->done_ev = event_new(base, mbox_fd(&p->done), EV_READ | EV_PERSIST,
	    pool_done_cb, p);
	if (p->done_ev == NULL || event_add(p->done_ev, NULL) == -1)
		goto fail;
	if ((p->threads = calloc((size_t)nworkers, sizeof(pthread_t))) == NULL)
		goto fail;
	for (i = 0; i < nworkers; i++) {
		if (pthread_create(&p->threads[i], NULL, pool_worker, p) != 0) {
			log_warnx("%s: cannot start worker %d", __func__, i);
			pool_stop(p);
			pool_free(p);
			return NULL;
		}
		p->nworkers++;
	}
	return p;
fail:
	if (p->done_ev != NULL)
		event_free(p->done_ev);
	mbox_destroy(&p->done);
	free(p->threads);
	free(p);
	return NULL;
}

int
pool_submit(struct pool *p, struct job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&p->mtx);
	if (p->stopping || p->queued >= p->queue_size) {
		pthread_mutex_unlock(&p->mtx);
		return -1;
	}
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued++;
	if (p->idle > 0)
		pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mtx);
	return 0;
}

void
pool_complete(struct pool *p, struct job *j)
{
	mbox_put(&p->done, j);
}

int
pool_queued(struct pool *p)
{
	int	n;

	pthread_mutex_lock(&p->mtx);
	n = p->queued;
	pthread_mutex_unlock(&p->mtx);
	return n;
}

int
pool_nworkers(const struct pool *p)
{
	return p->nworkers;
}

static void *
pool_worker(void *arg)
{
	struct pool	*p = arg;
	struct job	*j;

	pthread_mutex_lock(&p->mtx);
	for (;;) {
		while (p->head == NULL && !p->stopping) {
			p->idle++;
			pthread_cond_wait(&p->cond, &p->mtx);
			p->idle--;
		}
		if (p->stopping)
			break;
		j = p->head;
		p->head = j->next;
		if (p->head == NULL)
			p->tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->mtx);
		j->next = NULL;
		j->run(j);
		pthread_mutex_lock(&p->mtx);
	}
	pthread_mutex_unlock(&p->mtx);
	return NULL;
}

static void
pool_run_done(struct job *list)
{
	struct job	*j, *next;

	for (j = list; j != NULL; j = next) {
		next = j->next;
		j->next = NULL;
		j->done(j);
	}
}

static void
pool_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool	*p = arg;

	pool_run_done(mbox_take_all(&p->done));
}

void
pool_stop(struct pool *p)
{
	int	i;

	pthread_mutex_lock(&p->mtx);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mtx);
	for (i = 0; i < p->nworkers; i++)
		pthread_join(p->threads[i], NULL);
	p->nworkers = 0;
}

void
pool_free(struct pool *p)
{
	struct job	*list;

	if (p == NULL)
		return;
	/* Jobs never run still get done(): their owners free them there. */
	pthread_mutex_lock(&p->mtx);
	list = p->head;
	p->head = p->tail = NULL;
	p->queued = 0;
	pthread_mutex_unlock(&p->mtx);
	pool_run_done(list);
	pool_run_done(mbox_take_all(&p->done));
	if (p->done_ev != NULL)
		event_free(p->done_ev);
	mbox_destroy(&p->done);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mtx);
	free(p->threads);
	free(p);
}
