/*
 * audit.c: the audit log's queue and writer thread.
 *
 * DESIGN. audit_log() copies an event into one allocation and appends it
 * to a mutex-protected list, signalling the condition variable when the
 * list goes from empty to non-empty; it drops (and counts) the line when
 * the allocations queued would pass max_bytes. The writer swaps the whole
 * list out, formats lines into one buffer of at most AUDIT_WRITE_MAX
 * bytes and writes each buffer with one write(2) (more only after a short
 * write). In a regular file a write that fails part-way is cut back with
 * ftruncate() to the end of its last whole line; on a pipe or a device
 * the lines that did not make it are counted as dropped. Output that
 * ends inside a line (a pipe after such a failure, a file cut by a crash)
 * gets a newline before the next line, so a broken line breaks no other.
 * The memory of a buffer's lines goes back to the queue's budget once it
 * is written.
 * Drops are counted by cause and reported at most once a minute.
 *
 * The writer can be cancelled (at exit, after AUDIT_JOIN_MS) only inside
 * write(2) and open(2), the calls that can block for ever on a FIFO; all
 * it holds then is reachable from struct audit_state, which
 * audit_close() frees after the join.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "log.h"

#define AUDIT_DEFAULT_MAX	(4 * 1024 * 1024)
#define AUDIT_WRITE_MAX		(256 * 1024)	/* bytes per write(2) */
#define AUDIT_STR_MAX		256
#define AUDIT_ERROR_MAX		1024
#define AUDIT_EXTRA_MAX		(16 * 1024)
#define AUDIT_EXTRA_CUT		"\"extraTruncated\":true"
#define AUDIT_WARN_MS		60000	/* between two drop reports */
#define AUDIT_RETRY_MS		1000	/* between two open attempts */
#define AUDIT_EXIT_MS		2000	/* writing on after audit_close() */
#define AUDIT_JOIN_MS		2500	/* then the writer is cancelled */
#define AUDIT_GATHER_MS		10	/* between two batches, at least */

/* The strings of an event, in the order of their members. */
enum audit_field {
	AUDIT_EVENT, AUDIT_REQUEST_ID, AUDIT_CLIENT, AUDIT_CALLER, AUDIT_TOOL,
	AUDIT_PARAMS, AUDIT_ERROR, AUDIT_REASON, AUDIT_EXTRA, AUDIT_NFIELDS
};

/* Why lines were dropped, each reported on its own line. */
enum audit_drop {
	AUDIT_DROP_FULL, AUDIT_DROP_WRITE, AUDIT_DROP_OPEN, AUDIT_DROP_EXIT,
	AUDIT_NDROPS
};

static const char *const audit_keys[AUDIT_NFIELDS] = {
	"event", "requestId", "client", "caller", "tool", "paramsSha256",
	"error", "reason", NULL
};

/* One queued event: a single allocation, strings in data. */
struct audit_item {
	struct audit_item	*next;
	size_t			 size;		/* counted in queued */
	struct timespec		 ts;		/* CLOCK_REALTIME */
	int			 status;
	double			 latency_ms;
	const char		*field[AUDIT_NFIELDS];	/* NULL: omitted */
	size_t			 len[AUDIT_NFIELDS];
	char			 data[];
};

/*
 * Members marked mtx are shared under the mutex; the rest belong to the
 * writer thread while it runs, and to audit_open()/audit_close() (main
 * thread) while it does not.
 */
struct audit_state {
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;		/* queued, dropped, stopping */
	int			 accepting;	/* mtx: audit_log() queues */
	int			 stopping;	/* mtx */
	int64_t			 stop_by;	/* mtx: monotonic ms */
	struct audit_item	*head, *tail;	/* mtx: the queue */
	size_t			 queued;	/* mtx: bytes in items */
	size_t			 max_bytes;	/* mtx */
	char			*new_path;	/* mtx: audit_set_path() */

	int			 running;	/* main thread: a writer to join */
	pthread_t		 thread;
	char			*path;		/* NULL: stderr */
	int			 fd;		/* -1: to be (re-)opened */
	int			 regular;	/* cut back with ftruncate() */
	int			 mid_line;	/* the output ends inside a line */
	int			 open_failing;
	int			 mode_warned;
	int64_t			 next_open;	/* monotonic ms */
	int64_t			 last_report;	/* monotonic ms */
	int64_t			 since;		/* what it covered from */
	int			 err[AUDIT_NDROPS];	/* the last errno */
	struct audit_item	*batch;		/* swapped out, being written */
	char			*buf;		/* AUDIT_WRITE_MAX bytes */
};

static struct audit_state audit = {
	.mtx = PTHREAD_MUTEX_INITIALIZER,
	.fd = -1
};
static atomic_long	audit_ndropped;
static atomic_long	audit_nwritten;
static atomic_long	audit_pending[AUDIT_NDROPS];	/* not reported yet */
static atomic_int	audit_reopen_asked;

static int64_t		 audit_now_ms(void);
static void		 audit_timespec(struct timespec *, int64_t);
static size_t		 audit_cut(const char *, size_t);
static struct audit_item *audit_copy(const struct audit_event *);
static void		 audit_drop(enum audit_drop, size_t, int);
static void		 audit_free_list(struct audit_item *);
static void		 audit_take_path(void);
static int		 audit_start(void);
static int		 audit_open_fd(void);
static int		 audit_mid_line(const struct stat *);
static int		 audit_ensure_open(void);
static void		*audit_main(void *);
static void		 audit_gather(int64_t *);
static int		 audit_report_due(int64_t *);
static void		 audit_report(int);
static void		 audit_write_batch(int64_t);
static size_t		 audit_fill(size_t *);
static int64_t		 audit_release(size_t);
static void		 audit_write_chunk(size_t, size_t);
static size_t		 audit_write_all(const char *, size_t, int *);
static size_t		 audit_bound(const struct audit_item *);
static size_t		 audit_format(const struct audit_item *, char *);
static char		*audit_member(char *, const char *, const char *,
			    size_t);
static char		*audit_escape(char *, const char *, size_t, int);
static char		*audit_escape_ascii(char *, unsigned char);
static size_t		 audit_utf8_len(const unsigned char *, size_t);

/* -------------------------------------------------------------- callers */

int
audit_open(const char *path, size_t max_bytes)
{
	if (audit.running) {
		log_warnx("audit: the audit log is open already");
		return -1;
	}
	audit.fd = path == NULL ? STDERR_FILENO : -1;
	audit.regular = audit.mid_line = audit.mode_warned = 0;
	audit.open_failing = 0;
	audit.since = audit_now_ms();
	audit.last_report = audit.since - AUDIT_WARN_MS;
	atomic_store(&audit_reopen_asked, 0);
	if (path != NULL && (audit.path = strdup(path)) == NULL) {
		log_warn("audit: %s", path);
		return -1;
	}
	if (path != NULL && audit_open_fd() == -1) {
		log_warn("audit: cannot open %s", path);
		goto fail;
	}
	if ((audit.buf = malloc(AUDIT_WRITE_MAX)) == NULL) {
		log_warn("audit: malloc");
		goto fail;
	}
	pthread_mutex_lock(&audit.mtx);
	audit.max_bytes = max_bytes == 0 ? AUDIT_DEFAULT_MAX : max_bytes;
	audit.stopping = 0;
	pthread_mutex_unlock(&audit.mtx);
	if (audit_start() == -1)
		goto fail;
	return 0;
fail:
	if (audit.path != NULL && audit.fd != -1)
		close(audit.fd);
	audit.fd = -1;
	free(audit.path);
	free(audit.buf);
	audit.path = audit.buf = NULL;
	return -1;
}

/* Starts the writer with every signal blocked (they are the loop
 * thread's), then lets audit_log() queue. */
static int
audit_start(void)
{
	pthread_condattr_t	attr;
	sigset_t		all, old;
	int			rc;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&audit.cond, &attr);
	pthread_condattr_destroy(&attr);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&audit.thread, NULL, audit_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		pthread_setname_np(audit.thread, "audit");
	if (rc != 0) {
		log_warnx("audit: pthread_create: %s", strerror(rc));
		pthread_cond_destroy(&audit.cond);
		return -1;
	}
	audit.running = 1;
	pthread_mutex_lock(&audit.mtx);
	audit.accepting = 1;
	pthread_mutex_unlock(&audit.mtx);
	return 0;
}

void
audit_log(const struct audit_event *ev)
{
	struct audit_item	*it;
	int			 wake = 0;

	if (ev == NULL || ev->event == NULL) {
		atomic_fetch_add(&audit_ndropped, 1);
		return;
	}
	it = audit_copy(ev);
	pthread_mutex_lock(&audit.mtx);
	if (!audit.accepting)
		atomic_fetch_add(&audit_ndropped, 1);
	else if (it == NULL || it->size > audit.max_bytes - audit.queued) {
		/* The first drop since the last report wakes the writer,
		 * which may have nothing else to wake up for. */
		wake = atomic_load(&audit_pending[AUDIT_DROP_FULL]) == 0;
		audit_drop(AUDIT_DROP_FULL, 1, 0);
	} else {
		wake = audit.head == NULL;
		if (audit.tail != NULL)
			audit.tail->next = it;
		else
			audit.head = it;
		audit.tail = it;
		audit.queued += it->size;
		it = NULL;
	}
	if (wake)
		pthread_cond_signal(&audit.cond);
	pthread_mutex_unlock(&audit.mtx);
	free(it);
}

/* The length of s cut at max bytes, on a UTF-8 boundary. */
static size_t
audit_cut(const char *s, size_t max)
{
	size_t	n = strnlen(s, max + 1), k;

	if (n <= max)
		return n;
	/* s[n] is the first byte left out: step back over the sequence it
	 * continues (at most 3 bytes, even in invalid UTF-8). */
	for (n = max, k = 0; n > 0 && k < 3 &&
	    ((unsigned char)s[n] & 0xc0) == 0x80; n--, k++)
		;
	return n;
}

static struct audit_item *
audit_copy(const struct audit_event *ev)
{
	const char		*src[AUDIT_NFIELDS] = { ev->event,
	    ev->request_id, ev->client, ev->caller, ev->tool,
	    ev->params_sha256, ev->error, ev->reason, ev->extra };
	size_t			 len[AUDIT_NFIELDS], size, i;
	struct audit_item	*it;
	char			*p;

	for (i = 0; i < AUDIT_NFIELDS; i++)
		len[i] = src[i] == NULL ? 0 : audit_cut(src[i],
		    i == AUDIT_ERROR ? AUDIT_ERROR_MAX : i == AUDIT_EXTRA ?
		    AUDIT_EXTRA_MAX : AUDIT_STR_MAX);
	/* Cut JSON text would not be JSON. */
	if (src[AUDIT_EXTRA] != NULL &&
	    src[AUDIT_EXTRA][len[AUDIT_EXTRA]] != '\0') {
		src[AUDIT_EXTRA] = AUDIT_EXTRA_CUT;
		len[AUDIT_EXTRA] = strlen(AUDIT_EXTRA_CUT);
	}
	for (i = 0, size = sizeof(*it); i < AUDIT_NFIELDS; i++)
		size += len[i] + 1;
	if ((it = calloc(1, size)) == NULL)
		return NULL;
	it->size = size;
	clock_gettime(CLOCK_REALTIME, &it->ts);
	it->status = ev->status;
	it->latency_ms = ev->latency_ms;
	for (i = 0, p = it->data; i < AUDIT_NFIELDS; i++) {
		if (src[i] == NULL || (i == AUDIT_EXTRA && len[i] == 0))
			continue;
		memcpy(p, src[i], len[i]);
		it->field[i] = p;
		it->len[i] = len[i];
		p += len[i] + 1;
	}
	return it;
}

void
audit_reopen(void)
{
	atomic_store(&audit_reopen_asked, 1);
}

int
audit_set_path(const char *path)
{
	char	*p;

	if ((p = strdup(path)) == NULL)
		return -1;
	pthread_mutex_lock(&audit.mtx);
	free(audit.new_path);
	audit.new_path = p;
	pthread_mutex_unlock(&audit.mtx);
	audit_reopen();
	return 0;
}

/* The writer: a path set by audit_set_path() replaces the old one. */
static void
audit_take_path(void)
{
	char	*p;

	pthread_mutex_lock(&audit.mtx);
	p = audit.new_path;
	audit.new_path = NULL;
	pthread_mutex_unlock(&audit.mtx);
	if (p == NULL)
		return;
	log_info("audit: writing to %s from now on", p);
	free(audit.path);
	audit.path = p;
	audit.mode_warned = 0;
}

void
audit_close(void)
{
	struct timespec	ts;

	pthread_mutex_lock(&audit.mtx);
	audit.accepting = 0;
	audit.stopping = 1;
	audit.stop_by = audit_now_ms() + AUDIT_EXIT_MS;
	if (audit.running)
		pthread_cond_broadcast(&audit.cond);
	pthread_mutex_unlock(&audit.mtx);
	if (!audit.running)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	audit_timespec(&ts, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
	    AUDIT_JOIN_MS);
	if (pthread_timedjoin_np(audit.thread, NULL, &ts) != 0) {
		pthread_cancel(audit.thread);
		pthread_join(audit.thread, NULL);
	}
	audit.running = 0;
	pthread_mutex_lock(&audit.mtx);
	audit_free_list(audit.batch);
	audit_free_list(audit.head);
	audit.batch = audit.head = audit.tail = NULL;
	audit.queued = 0;
	free(audit.new_path);
	audit.new_path = NULL;
	pthread_mutex_unlock(&audit.mtx);
	audit_report(1);
	if (audit.path != NULL && audit.fd != -1)
		close(audit.fd);
	audit.fd = -1;
	free(audit.path);
	free(audit.buf);
	audit.path = audit.buf = NULL;
	pthread_cond_destroy(&audit.cond);
}

/* Lines that a cancelled writer left behind. */
static void
audit_free_list(struct audit_item *it)
{
	struct audit_item	*next;

	for (; it != NULL; it = next) {
		next = it->next;
		audit_drop(AUDIT_DROP_EXIT, 1, 0);
		free(it);
	}
}

long
audit_dropped(void)
{
	return atomic_load(&audit_ndropped);
}

long
audit_written(void)
{
	return atomic_load(&audit_nwritten);
}

static int64_t
audit_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
audit_timespec(struct timespec *ts, int64_t ms)
{
	ts->tv_sec = (time_t)(ms / 1000);
	ts->tv_nsec = (long)(ms % 1000) * 1000000;
}

/* n lines dropped for why; err: the errno to report, 0: none. */
static void
audit_drop(enum audit_drop why, size_t n, int err)
{
	if (n == 0)
		return;
	atomic_fetch_add(&audit_ndropped, (long)n);
	atomic_fetch_add(&audit_pending[why], (long)n);
	if (err != 0)
		audit.err[why] = err;
}

/* --------------------------------------------------------------- writer */

static void *
audit_main(void *arg)
{
	struct timespec	ts;
	int64_t		at, stop_by;
	int		stopping;

	int64_t		last = 0;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_mutex_lock(&audit.mtx);
	for (;;) {
		while (audit.head == NULL && !audit.stopping &&
		    !audit_report_due(&at)) {
			if (at == 0) {
				pthread_cond_wait(&audit.cond, &audit.mtx);
				continue;
			}
			audit_timespec(&ts, at);
			pthread_cond_timedwait(&audit.cond, &audit.mtx, &ts);
		}
		if (!audit.stopping)
			audit_gather(&last);
		audit.batch = audit.head;
		audit.head = audit.tail = NULL;
		stopping = audit.stopping;
		stop_by = audit.stop_by;
		pthread_mutex_unlock(&audit.mtx);
		audit_write_batch(stopping ? stop_by : 0);
		audit_report(stopping);
		pthread_mutex_lock(&audit.mtx);
		if (stopping && audit.head == NULL)
			break;
	}
	pthread_mutex_unlock(&audit.mtx);
	return NULL;
}

/*
 * audit.mtx held, a line queued: let more lines come, so that a busy
 * daemon's lines go out in batches, at most one write(2) and one wake-up
 * every AUDIT_GATHER_MS. While the writer sleeps here (not on the
 * condition variable), audit_log()'s signal finds no waiter and costs no
 * system call.
 */
static void
audit_gather(int64_t *last)
{
	struct timespec	ts;
	int64_t		now = audit_now_ms(), wait = *last + AUDIT_GATHER_MS -
			    now;

	if (wait > 0 && wait <= AUDIT_GATHER_MS) {
		pthread_mutex_unlock(&audit.mtx);
		ts.tv_sec = 0;
		ts.tv_nsec = (long)wait * 1000000;
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&audit.mtx);
	}
	*last = audit_now_ms();
}

/* 1 when drops wait to be reported and may be now; else *at is when they
 * may be (0: none wait). */
static int
audit_report_due(int64_t *at)
{
	int	i;

	*at = 0;
	for (i = 0; i < AUDIT_NDROPS; i++)
		if (atomic_load(&audit_pending[i]) != 0)
			*at = audit.last_report + AUDIT_WARN_MS;
	return *at != 0 && audit_now_ms() >= *at;
}

/* Reports the drops since the last report, if that was a minute ago or
 * force is set. */
static void
audit_report(int force)
{
	char	why[512];
	int64_t	now = audit_now_ms();
	long	n, secs = (long)((now - audit.since + 999) / 1000);
	int	i;

	if (!force && now - audit.last_report < AUDIT_WARN_MS)
		return;
	for (i = 0; i < AUDIT_NDROPS; i++) {
		if ((n = atomic_exchange(&audit_pending[i], 0)) == 0)
			continue;
		if (i == AUDIT_DROP_FULL)
			snprintf(why, sizeof(why), "queue full: the audit "
			    "log is not keeping up");
		else if (i == AUDIT_DROP_WRITE)
			snprintf(why, sizeof(why), "write failed: %s",
			    strerror(audit.err[i]));
		else if (i == AUDIT_DROP_OPEN)
			snprintf(why, sizeof(why), "cannot open %s: %s",
			    audit.path, strerror(audit.err[i]));
		else
			snprintf(why, sizeof(why), "not written within %d s "
			    "of exit", AUDIT_EXIT_MS / 1000);
		log_warnx("audit: dropped %ld line%s in the last %ld s (%s)",
		    n, n == 1 ? "" : "s", secs, why);
		audit.last_report = audit.since = now;
	}
}

/* Writes audit.batch, a buffer at a time; past stop_by (when not 0,
 * audit_close() has been called) the rest is dropped. */
static void
audit_write_batch(int64_t stop_by)
{
	size_t	len, n;

	while (audit.batch != NULL) {
		len = audit_fill(&n);
		if (stop_by != 0 && audit_now_ms() > stop_by)
			audit_drop(AUDIT_DROP_EXIT, n, 0);
		else if (!audit_ensure_open())
			audit_drop(AUDIT_DROP_OPEN, n, 0);
		else
			audit_write_chunk(len, n);
		stop_by = audit_release(n);
	}
}

/* Formats the first lines of the batch into audit.buf: their count in
 * *n, the bytes returned. */
static size_t
audit_fill(size_t *n)
{
	struct audit_item	*it;
	size_t			 len = 0;

	*n = 0;
	for (it = audit.batch; it != NULL; it = it->next, (*n)++) {
		if (*n > 0 && len + audit_bound(it) > AUDIT_WRITE_MAX)
			break;
		len += audit_format(it, audit.buf + len);
	}
	return len;
}

/* Frees the first n lines of the batch and gives their bytes back;
 * returns the stop deadline, 0 while audit_close() is not waiting. */
static int64_t
audit_release(size_t n)
{
	int64_t			 stop_by;
	struct audit_item	*it;
	size_t			 bytes = 0;

	for (; n > 0; n--) {
		it = audit.batch;
		audit.batch = it->next;
		bytes += it->size;
		free(it);
	}
	pthread_mutex_lock(&audit.mtx);
	audit.queued -= bytes;
	stop_by = audit.stopping ? audit.stop_by : 0;
	pthread_mutex_unlock(&audit.mtx);
	return stop_by;
}

/* Opens audit.path (fd -1, mode 0600); -1 with errno when it cannot. */
static int
audit_open_fd(void)
{
	struct stat	st;
	int		fd, old, saved;

	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
	fd = open(audit.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600);
	pthread_setcancelstate(old, NULL);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	audit.fd = fd;
	audit.regular = S_ISREG(st.st_mode);
	audit.mid_line = audit.regular && audit_mid_line(&st);
	if (audit.regular && (st.st_mode & 077) != 0 && !audit.mode_warned) {
		log_warnx("audit: %s can be read or written by group or "
		    "others (mode %04o); it is left as it is", audit.path,
		    (unsigned int)(st.st_mode & 07777));
		audit.mode_warned = 1;
	}
	return 0;
}

/* 1 when the file (st) ends inside a line, cut by a crash: ours then
 * start on a line of their own. */
static int
audit_mid_line(const struct stat *st)
{
	char	last;
	int	fd, cut;

	if (st->st_size == 0 ||
	    (fd = open(audit.path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return 0;
	cut = pread(fd, &last, 1, st->st_size - 1) == 1 && last != '\n';
	close(fd);
	return cut;
}

/* Re-opens the path when asked to or when it failed before (once a
 * second at most); 0 when there is no descriptor to write to. */
static int
audit_ensure_open(void)
{
	int64_t	now;

	if (audit.path == NULL)
		return 1;
	if (atomic_exchange(&audit_reopen_asked, 0)) {
		audit_take_path();
		if (audit.fd != -1)
			close(audit.fd);
		audit.fd = -1;
		audit.next_open = 0;
	}
	if (audit.fd != -1)
		return 1;
	if ((now = audit_now_ms()) < audit.next_open)
		return 0;
	audit.next_open = now + AUDIT_RETRY_MS;
	if (audit_open_fd() == -1) {
		audit.err[AUDIT_DROP_OPEN] = errno;
		if (!audit.open_failing)
			log_warn("audit: cannot re-open %s", audit.path);
		audit.open_failing = 1;
		return 0;
	}
	if (audit.open_failing)
		log_info("audit: %s is open again", audit.path);
	audit.open_failing = 0;
	return 1;
}

/* Writes the n lines (len bytes) in audit.buf, whole or not at all. */
static void
audit_write_chunk(size_t len, size_t n)
{
	struct stat	 st;
	const char	*p, *end;
	size_t		 done, whole, lines = 0;
	int		 err = 0;

	if (audit.mid_line) {
		if (audit_write_all("\n", 1, &err) != 1) {
			audit_drop(AUDIT_DROP_WRITE, n, err);
			return;
		}
		audit.mid_line = 0;
	}
	if (audit.regular && fstat(audit.fd, &st) == -1) {
		audit_drop(AUDIT_DROP_WRITE, n, errno);
		return;
	}
	if ((done = audit_write_all(audit.buf, len, &err)) == len) {
		atomic_fetch_add(&audit_nwritten, (long)n);
		return;
	}
	for (whole = done; whole > 0 && audit.buf[whole - 1] != '\n'; whole--)
		;
	end = audit.buf + whole;
	for (p = audit.buf; (p = memchr(p, '\n', (size_t)(end - p))) != NULL;
	    p++)
		lines++;
	if (done > whole && (!audit.regular ||
	    ftruncate(audit.fd, st.st_size + (off_t)whole) == -1))
		audit.mid_line = 1;
	atomic_fetch_add(&audit_nwritten, (long)lines);
	audit_drop(AUDIT_DROP_WRITE, n - lines, err);
}

/* Writes on after partial writes and EINTR; the bytes written, with the
 * errno that stopped it in *err. The writer may be cancelled in here. */
static size_t
audit_write_all(const char *p, size_t len, int *err)
{
	size_t	done = 0;
	ssize_t	n;
	int	old, saved;

	while (done < len) {
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
		n = write(audit.fd, p + done, len - done);
		saved = errno;
		pthread_setcancelstate(old, NULL);
		if (n > 0)
			done += (size_t)n;
		else if (n == -1 && saved == EINTR)
			continue;
		else {
			*err = n == 0 ? EIO : saved;
			break;
		}
	}
	return done;
}

/* --------------------------------------------------------------- format */

/* The most bytes audit_format() can make of it: every byte escaped as
 * \u00XX, every byte of extra as U+FFFD. */
static size_t
audit_bound(const struct audit_item *it)
{
	size_t	n = 512, i;

	for (i = 0; i < AUDIT_EXTRA; i++)
		n += 20 + 6 * it->len[i];
	return n + 3 * it->len[AUDIT_EXTRA];
}

static size_t
audit_format(const struct audit_item *it, char *out)
{
	char	 stamp[LOG_TIMESTAMP_LEN], *o = out;
	int	 i;

	log_timestamp(&it->ts, stamp);
	o += sprintf(o, "{\"timestamp\":\"%s\"", stamp);
	for (i = AUDIT_EVENT; i <= AUDIT_PARAMS; i++)
		o = audit_member(o, audit_keys[i], it->field[i], it->len[i]);
	if (it->status != 0)
		o += sprintf(o, ",\"status\":%d", it->status);
	if (it->latency_ms >= 0 && isfinite(it->latency_ms))
		o += sprintf(o, ",\"latencyMs\":%.3f", it->latency_ms);
	for (i = AUDIT_ERROR; i <= AUDIT_REASON; i++)
		o = audit_member(o, audit_keys[i], it->field[i], it->len[i]);
	if (it->field[AUDIT_EXTRA] != NULL) {
		*o++ = ',';
		o = audit_escape(o, it->field[AUDIT_EXTRA],
		    it->len[AUDIT_EXTRA], 1);
	}
	*o++ = '}';
	*o++ = '\n';
	return (size_t)(o - out);
}

/* ,"key":"s" when s is set. */
static char *
audit_member(char *o, const char *key, const char *s, size_t n)
{
	if (s == NULL)
		return o;
	o += sprintf(o, ",\"%s\":\"", key);
	o = audit_escape(o, s, n, 0);
	*o++ = '"';
	return o;
}

/* The n bytes at s as the inside of a JSON string or, raw, as they are
 * but for control characters (spaces); invalid UTF-8 becomes U+FFFD, a
 * replacement per byte. */
static char *
audit_escape(char *o, const char *str, size_t n, int raw)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 i, k;

	for (i = 0; i < n; i += k) {
		k = 1;
		if (s[i] >= 0x80) {
			if ((k = audit_utf8_len(s + i, n - i)) == 0) {
				memcpy(o, "\xef\xbf\xbd", 3);
				o += 3;
				k = 1;
			} else {
				memcpy(o, s + i, k);
				o += k;
			}
		} else if (raw)
			*o++ = s[i] < 0x20 ? ' ' : (char)s[i];
		else
			o = audit_escape_ascii(o, s[i]);
	}
	return o;
}

/* One ASCII character inside a JSON string. */
static char *
audit_escape_ascii(char *o, unsigned char c)
{
	static const char	 from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
	const char		*p;

	if (c >= 0x20 && c != '"' && c != '\\')
		*o++ = (char)c;
	else if ((p = strchr(from, c)) != NULL) {	/* c is never NUL */
		*o++ = '\\';
		*o++ = to[p - from];
	} else
		o += sprintf(o, "\\u%04x", c);
	return o;
}

/* The length of the well-formed UTF-8 sequence (RFC 3629) that starts at
 * s, at most n bytes; 0 when there is none. */
static size_t
audit_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char	lo = 0x80, hi = 0xbf;
	size_t		len, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;		/* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f;		/* surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90;		/* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f;		/* past U+10FFFF */
	if (n < len)
		return 0;
	for (i = 1; i < len; i++, lo = 0x80, hi = 0xbf)
		if (s[i] < lo || s[i] > hi)
			return 0;
	return len;
}
