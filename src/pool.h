/*
 * pool.h: the worker pool, the mailbox primitive, and the completion
 * hand-back to the loop thread.
 *
 * A struct job is embedded (first member) in whatever a module needs to
 * move between threads. Whoever holds a job owns it: the loop thread owns
 * it until pool_submit() succeeds, a worker owns it while run() runs, the
 * module that continues it (the I/O thread for a tool call) owns it until
 * it calls pool_complete(), and the loop thread owns it again in done(),
 * which must free it.
 */
#ifndef POOL_H
#define POOL_H

#include <pthread.h>
#include <stddef.h>

struct event_base;

struct job {
	struct job	*next;
	void		(*run)(struct job *);	/* worker thread */
	void		(*done)(struct job *);	/* loop thread; frees the job */
};

/*
 * A mailbox: a mutex-protected FIFO of jobs and an eventfd. mbox_put()
 * writes the eventfd only when the list goes from empty to non-empty, so
 * a burst of puts costs one wake-up. The owner of the reading side polls
 * mbox_fd() and calls mbox_take_all().
 */
struct mbox {
	pthread_mutex_t	 mtx;
	struct job	*head;
	struct job	*tail;
	int		 efd;
};

int		 mbox_init(struct mbox *);
void		 mbox_destroy(struct mbox *);
void		 mbox_put(struct mbox *, struct job *);
/* Clears the eventfd and returns the whole list in FIFO order. */
struct job	*mbox_take_all(struct mbox *);
int		 mbox_fd(const struct mbox *);

struct pool;

/* nworkers threads, at most queue_size queued jobs; completions are read
 * by an event on base (the loop thread's). */
struct pool	*pool_new(struct event_base *base, int nworkers, int queue_size);
/* Loop thread. -1 when the queue is full or the pool is stopping. */
int		 pool_submit(struct pool *, struct job *);
/* Any thread: hand a finished job back; done() runs in the loop thread. */
void		 pool_complete(struct pool *, struct job *);
/* Jobs queued and running now (for health and metrics). */
int		 pool_queued(struct pool *);
int		 pool_nworkers(const struct pool *);
/* Stop flag, condition variable broadcast, join. Queued jobs not yet run
 * are handed to done() unrun by pool_free(). */
void		 pool_stop(struct pool *);
/* After pool_stop(): runs done() for every job still queued or completed
 * but not yet collected, then frees the pool. */
void		 pool_free(struct pool *);
/* Default worker count: 2 x online cores, at least 4. */
int		 pool_default_workers(void);

#endif
