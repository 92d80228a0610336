/*
 * pool.h: the worker threads, the bulk lane, the mailboxes between them
 * and the completion list back to the loop thread.
 *
 * Workers: `workers` threads, each running its own event_base, fed through
 * its own mailbox. A worker owns the MCP server instances that the
 * registry gives it (their pipes, timers and restarts) and runs the cheap
 * part of every tool call (parse, allowlist, validation within a small
 * budget, encoding).
 *
 * Bulk lane: as many threads again, at a lower CPU priority (nice +10),
 * fed through one queue under a condition variable. They run whatever can
 * cost more than a small bounded time: large request bodies, validation
 * over the workers' budget, large replies, tool list compilation and
 * schema cache writes. So a worker's event loop only ever runs short
 * callbacks, and the kernel scheduler keeps the bulk lane from delaying
 * it.
 *
 * A struct job is embedded (first member) in whatever moves between
 * threads. Whoever holds a job owns it; run() is set by the module that
 * hands the job on (it says what the next thread does with it), done() by
 * the module that created it. done() runs on the loop thread, or on the
 * main thread after the loop has stopped for a job that never ran (its
 * thread was gone): it must free the job and may not assume that run()
 * ever happened.
 */
#ifndef POOL_H
#define POOL_H

#include <pthread.h>
#include <stddef.h>

struct event_base;
struct timeval;

struct job {
	struct job	*next;
	void		(*run)(struct job *);	/* the receiving thread */
	void		(*done)(struct job *);	/* loop thread; frees the job */
	int		 counted;		/* holds a queueSize place */
};

/*
 * A mailbox: a mutex-protected FIFO of jobs and an eventfd. mbox_put()
 * writes the eventfd only when the list goes from empty to non-empty, so
 * a burst of puts costs one wake-up. The reading side polls mbox_fd() and
 * calls mbox_take_all(). A closed mailbox refuses puts (-1).
 */
struct mbox {
	pthread_mutex_t	 mtx;
	struct job	*head;
	struct job	*tail;
	int		 efd;
	int		 closed;
};

int		 mbox_init(struct mbox *);
void		 mbox_destroy(struct mbox *);
int		 mbox_put(struct mbox *, struct job *);
/* The same for a list of jobs linked by next, head to tail. */
int		 mbox_put_list(struct mbox *, struct job *head, struct job *tail);
/* Clears the eventfd and returns the whole list in FIFO order. */
struct job	*mbox_take_all(struct mbox *);
/* Refuses further puts and returns what was queued. */
struct job	*mbox_close(struct mbox *);
int		 mbox_fd(const struct mbox *);

enum pool_lane {
	POOL_WORKER = 0,	/* a worker, round robin */
	POOL_BULK		/* the bulk lane */
};

struct pool;

/* nworkers workers and as many bulk threads; at most queue_size jobs
 * submitted by the loop thread wait at once. Completions are read by an
 * event on loop_base (the loop thread's). The threads run at once. */
struct pool	*pool_new(struct event_base *loop_base, int nworkers,
		    int queue_size);
/* Default worker count: the online CPUs, at least 2. */
int		 pool_default_workers(void);
int		 pool_nworkers(const struct pool *);
/* A worker's event base (for the module that gives it work). */
struct event_base *pool_worker_base(struct pool *, int worker);

/* Loop thread: queue a job on a lane. -1 when queue_size submitted jobs
 * wait already or the pool is stopping (the caller answers 503). Jobs for
 * workers are handed over once per turn of the loop, a batch per worker
 * (one lock, at most one wake-up). */
int		 pool_submit(struct pool *, struct job *, enum pool_lane);
/* The same for worker w (-1: round robin). */
int		 pool_submit_to(struct pool *, struct job *, int worker);
/* Any thread: hand a job to worker w, or to the bulk lane (not counted
 * against queue_size: it is already inside). A job for a thread that has
 * stopped goes straight to done(). */
void		 pool_post(struct pool *, int worker, struct job *);
void		 pool_post_bulk(struct pool *, struct job *);
/* Any thread: a finished job goes back; done() runs on the loop thread. */
void		 pool_complete(struct pool *, struct job *);
/* Jobs submitted and not yet started, for health and metrics. */
int		 pool_queued(struct pool *);

/* The calling thread's worker index; -1 on any other thread. */
int		 pool_self(void);
/* On a worker: a timeval to add a timer of ms with, a libevent common
 * timeout when possible (timers of one duration then cost O(1)). */
const struct timeval *pool_timeout(int ms, struct timeval *);
/* On a worker: that thread's read buffer (NULL elsewhere). */
char		*pool_readbuf(size_t *len);

/*
 * Stopping. stop(worker, arg) runs on every worker, which keeps running
 * its loop until the work it started calls pool_worker_exit() there.
 * pool_stop() waits on a condition variable for every worker to exit,
 * at most deadline_ms, then stops the bulk lane and joins every thread
 * that exited. Returns 0, or -1 when a worker did not exit in time (it is
 * left running: the caller should end the process).
 */
int		 pool_stop(struct pool *, void (*stop)(int, void *), void *arg,
		    int deadline_ms);
/* On a worker: end its loop once the current callback returns. */
void		 pool_worker_exit(void);
/* After pool_stop(): runs done() for every job still queued anywhere,
 * then frees the pool. */
void		 pool_free(struct pool *);

#endif
