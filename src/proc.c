/*
 * proc.c: one child process: spawn, pipes, write queue, stdout framing,
 * stderr logging, reaping.
 *
 * The child is spawned with posix_spawn (no fork of a threaded image)
 * into its own session, so that a whole process group (npx and its
 * grandchildren) can be signalled. Our ends of its pipes are non-blocking
 * and close-on-exec. Writes toward stdin go out at once when nothing
 * waits; the rest waits in a queue of messages for EV_WRITE, bounded by
 * max_buffered. stdout goes through an NDJSON framer that keeps the head
 * of each line (to find the id of a line too long to keep). stderr is
 * always read, split into lines and logged, at most PROC_LOG_PER_S lines a
 * second. A pidfd (or a 100 ms waitpid poll when pidfd_open is missing)
 * tells when the child exits.
 */

#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "children.h"
#include "log.h"
#include "proc.h"
#include "rpc.h"

#define PROC_STDERR_LINE_MAX	(64 * 1024)
#define PROC_LOG_PER_S		200
#define PROC_EXIT_POLL_MS	100
#define PROC_PIPE_SIZE		(256 * 1024)
#define PROC_HEAD_INLINE	128	/* message heads kept in the message */
#define PROC_TAIL_INLINE	8
#define PROC_IOV_MAX		16
#define PROC_READS_PER_EVENT	8

struct proc_msg {
	struct proc_msg		*next;
	struct proc_msg		**handle;
	size_t			 off;		/* bytes written so far */
	size_t			 len;		/* head + body + tail */
	char			*body;
	size_t			 bodylen;
	size_t			 headlen;
	size_t			 taillen;
	char			 head[PROC_HEAD_INLINE];
	char			 tail[PROC_TAIL_INLINE];
};

struct proc {
	struct event_base	*base;
	struct proc_hooks	 hooks;
	void			*arg;
	char			*label;
	char			*readbuf;
	size_t			 readbuflen;
	size_t			 max_buffered;

	pid_t			 pid;		/* 0: none or reaped */
	pid_t			 pgid;		/* last group led, 0: none */
	atomic_int		 live_pgid;	/* for proc_kill() */
	int			 group_known;	/* the reaper knows pgid */
	int			 pidfd;
	int			 infd, outfd, errfd;
	struct event		*in_ev, *out_ev, *err_ev;
	struct event		*exit_ev;	/* pidfd, or the poll timer */
	struct event		*closed_ev;	/* a write failed: tell later */
	struct event		*log_ev;	/* reports suppressed lines */

	struct proc_msg		*qhead, *qtail;
	size_t			 queued;	/* bytes not yet written */

	struct rpc_framer	 out;
	struct rpc_framer	 err;
	char			 head[PROC_HEAD_MAX];
	size_t			 headlen;

	int64_t			 log_window;
	int			 log_lines;
	int			 log_suppressed;
};

static void	 proc_in_cb(evutil_socket_t, short, void *);
static void	 proc_out_cb(evutil_socket_t, short, void *);
static void	 proc_err_cb(evutil_socket_t, short, void *);
static void	 proc_exit_cb(evutil_socket_t, short, void *);
static void	 proc_closed_cb(evutil_socket_t, short, void *);
static void	 proc_log_cb(evutil_socket_t, short, void *);
static void	 proc_flush(struct proc *);
static void	 proc_write_failed(struct proc *);
static void	 proc_drop_queue(struct proc *);
static void	 proc_msg_free(struct proc_msg *);
static void	 proc_feed_out(struct proc *, const char *, size_t);
static void	 proc_on_line(void *, char *, size_t);
static void	 proc_on_overflow(void *, size_t);
static void	 proc_on_err_line(void *, char *, size_t);
static void	 proc_on_err_overflow(void *, size_t);
static int	 proc_log_ok(struct proc *);
static char	*proc_find_exec(const char *, const char *, char *, size_t);
static int	 proc_pipes(int[6], char *, size_t);
static int	 proc_events(struct proc *);

struct proc *
proc_new(struct event_base *base, const struct proc_hooks *hooks, void *arg,
    const char *label, size_t max_line, size_t max_buffered, char *readbuf,
    size_t readbuflen)
{
	struct proc	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->base = base;
	p->hooks = *hooks;
	p->arg = arg;
	p->readbuf = readbuf;
	p->readbuflen = readbuflen;
	p->max_buffered = max_buffered;
	p->pidfd = p->infd = p->outfd = p->errfd = -1;
	atomic_init(&p->live_pgid, 0);
	rpc_framer_init(&p->out, max_line);
	rpc_framer_init(&p->err, PROC_STDERR_LINE_MAX);
	if ((p->label = strdup(label)) == NULL ||
	    (p->closed_ev = event_new(base, -1, 0, proc_closed_cb, p)) ==
	    NULL ||
	    (p->log_ev = evtimer_new(base, proc_log_cb, p)) == NULL) {
		proc_free(p);
		return NULL;
	}
	return p;
}

void
proc_free(struct proc *p)
{
	if (p == NULL)
		return;
	proc_close_pipes(p);
	if (p->exit_ev != NULL)
		event_free(p->exit_ev);
	if (p->pidfd != -1)
		close(p->pidfd);
	if (p->closed_ev != NULL)
		event_free(p->closed_ev);
	if (p->log_ev != NULL)
		event_free(p->log_ev);
	rpc_framer_free(&p->out);
	rpc_framer_free(&p->err);
	free(p->label);
	free(p);
}

pid_t
proc_pid(const struct proc *p)
{
	return p->pid;
}

/* ---------------------------------------------------------------- spawn */

static char *
proc_find_exec(const char *cmd, const char *path, char *buf, size_t len)
{
	const char	*dir, *end;
	struct stat	 st;
	int		 n;

	if (strchr(cmd, '/') != NULL) {
		if (cmd[0] == '/') {
			if ((size_t)snprintf(buf, len, "%s", cmd) >= len) {
				errno = ENAMETOOLONG;
				return NULL;
			}
			return buf;
		}
		/* Relative to the daemon's cwd, not to the child's. */
		if (len < PATH_MAX) {
			errno = ENAMETOOLONG;
			return NULL;
		}
		return realpath(cmd, buf);
	}
	if (path == NULL && (path = getenv("PATH")) == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (dir = path;; dir = end + 1) {
		end = strchrnul(dir, ':');
		if (end == dir)
			n = snprintf(buf, len, "./%s", cmd);
		else
			n = snprintf(buf, len, "%.*s/%s", (int)(end - dir),
			    dir, cmd);
		if (n > 0 && (size_t)n < len && stat(buf, &st) == 0 &&
		    S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
			return buf;
		if (*end == '\0')
			break;
	}
	errno = ENOENT;
	return NULL;
}

/* Three pipes with our ends above 2, non-blocking, close-on-exec. */
static int
proc_pipes(int fds[6], char *err, size_t errlen)
{
	int	i, fd;

	for (i = 0; i < 6; i++)
		fds[i] = -1;
	if (pipe2(fds, O_CLOEXEC) == -1 || pipe2(fds + 2, O_CLOEXEC) == -1 ||
	    pipe2(fds + 4, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "cannot create pipes: %s",
		    strerror(errno));
		return -1;
	}
	/* Keep our ends off 0-2 so the dup2s of the spawn cannot collide. */
	for (i = 0; i < 6; i++) {
		if (fds[i] > 2)
			continue;
		if ((fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) == -1) {
			snprintf(err, errlen, "fcntl: %s", strerror(errno));
			return -1;
		}
		close(fds[i]);
		fds[i] = fd;
	}
	if (fcntl(fds[1], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(fds[2], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(fds[4], F_SETFL, O_NONBLOCK) == -1) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		return -1;
	}
	/* Fewer wake-ups for large replies (kept modest: pipe pages count
	 * against a per-user budget); the default 64 KiB is fine when the
	 * system refuses. */
	(void)fcntl(fds[2], F_SETPIPE_SZ, PROC_PIPE_SIZE);
	return 0;
}

/* posix_spawn with our pipes on 0-2, in a new session; 0 or an errno. */
static int
proc_posix_spawn(pid_t *pid, const char *path, const int fds[6],
    const char *cwd, char *const argv[], char *const envp[])
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	sigset_t			 sigs;
	int				 rc;

	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return rc;
	if ((rc = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return rc;
	}
	/* The child gets its pipes on 0-2 and no other descriptor of ours,
	 * close-on-exec or not. */
	if ((rc = posix_spawn_file_actions_adddup2(&fa, fds[0], 0)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, fds[3], 1)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, fds[5], 2)) != 0 ||
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0)
		goto done;
	if (cwd != NULL &&
	    (rc = posix_spawn_file_actions_addchdir_np(&fa, cwd)) != 0)
		goto done;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGPIPE);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGCHLD);
	if ((rc = posix_spawnattr_setsigdefault(&attr, &sigs)) != 0)
		goto done;
	sigemptyset(&sigs);
	if ((rc = posix_spawnattr_setsigmask(&attr, &sigs)) != 0 ||
	    (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)) != 0)
		goto done;
	rc = posix_spawn(pid, path, &fa, &attr, argv, envp);
done:
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return rc;
}

int
proc_spawn(struct proc *p, const char *command, char *const argv[],
    char *const envp[], const char *path, const char *cwd, char *err,
    size_t errlen)
{
	char	exe[PATH_MAX + 1];
	int	fds[6], i, rc;
	pid_t	pid = 0;

	if (proc_find_exec(command, path, exe, sizeof(exe)) == NULL) {
		snprintf(err, errlen, "cannot execute '%s': %s", command,
		    strerror(errno));
		return -1;
	}
	if (proc_pipes(fds, err, errlen) == -1)
		goto fail;
	children_spawn_lock();
	if ((rc = proc_posix_spawn(&pid, exe, fds, cwd, argv, envp)) == 0) {
		children_started(pid);
		p->group_known = 1;
	}
	children_spawn_unlock();
	if (rc != 0) {
		if (cwd != NULL)
			snprintf(err, errlen, "cannot execute '%s' in '%s': %s",
			    command, cwd, strerror(rc));
		else
			snprintf(err, errlen, "cannot execute '%s': %s",
			    command, strerror(rc));
		goto fail;
	}
	close(fds[0]);
	close(fds[3]);
	close(fds[5]);
	p->pid = p->pgid = pid;
	atomic_store(&p->live_pgid, (int)pid);
	p->infd = fds[1];
	p->outfd = fds[2];
	p->errfd = fds[4];
	p->headlen = 0;
	if (proc_events(p) == -1) {
		snprintf(err, errlen, "out of memory");
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		p->pid = 0;
		atomic_store(&p->live_pgid, 0);
		proc_close_pipes(p);
		return -1;
	}
	return 0;
fail:
	for (i = 0; i < 6; i++)
		if (fds[i] != -1)
			close(fds[i]);
	return -1;
}

/* The events of a fresh child: its pipes and its exit. */
static int
proc_events(struct proc *p)
{
	p->in_ev = event_new(p->base, p->infd, EV_WRITE | EV_PERSIST,
	    proc_in_cb, p);
	p->out_ev = event_new(p->base, p->outfd, EV_READ | EV_PERSIST,
	    proc_out_cb, p);
	p->err_ev = event_new(p->base, p->errfd, EV_READ | EV_PERSIST,
	    proc_err_cb, p);
	if ((p->pidfd = pidfd_open(p->pid, 0)) != -1)
		p->exit_ev = event_new(p->base, p->pidfd, EV_READ | EV_PERSIST,
		    proc_exit_cb, p);
	else
		p->exit_ev = event_new(p->base, -1, EV_PERSIST, proc_exit_cb,
		    p);
	if (p->in_ev == NULL || p->out_ev == NULL || p->err_ev == NULL ||
	    p->exit_ev == NULL) {
		if (p->exit_ev != NULL)
			event_free(p->exit_ev);
		p->exit_ev = NULL;
		if (p->pidfd != -1)
			close(p->pidfd);
		p->pidfd = -1;
		return -1;
	}
	event_add(p->out_ev, NULL);
	event_add(p->err_ev, NULL);
	if (p->pidfd != -1)
		event_add(p->exit_ev, NULL);
	else {
		struct timeval tv = { 0, PROC_EXIT_POLL_MS * 1000 };

		event_add(p->exit_ev, &tv);
	}
	return 0;
}

/* -------------------------------------------------------------- writing */

int
proc_send(struct proc *p, const char *head, size_t headlen, char *body,
    size_t bodylen, const char *tail, size_t taillen,
    struct proc_msg **handle)
{
	struct proc_msg	*m;
	size_t		 len = headlen + bodylen + taillen;

	if (handle != NULL)
		*handle = NULL;
	if (p->infd == -1 || headlen > PROC_HEAD_INLINE ||
	    taillen > PROC_TAIL_INLINE ||
	    (p->qhead != NULL && p->queued + len > p->max_buffered) ||
	    (m = calloc(1, sizeof(*m))) == NULL) {
		free(body);
		return -1;
	}
	if (headlen > 0)
		memcpy(m->head, head, headlen);
	if (taillen > 0)
		memcpy(m->tail, tail, taillen);
	m->headlen = headlen;
	m->taillen = taillen;
	m->body = body;
	m->bodylen = bodylen;
	m->len = len;
	m->handle = handle;
	if (handle != NULL)
		*handle = m;
	if (p->qtail != NULL)
		p->qtail->next = m;
	else
		p->qhead = m;
	p->qtail = m;
	p->queued += len;
	if (p->qhead == m)
		proc_flush(p);
	return 0;
}

int
proc_cancel(struct proc *p, struct proc_msg *m)
{
	struct proc_msg	**mp, *prev = NULL;

	if (m == NULL)
		return -1;
	if (m->off > 0) {
		/* Begun: it goes out whole, but nobody tracks it now. */
		m->handle = NULL;
		return -1;
	}
	for (mp = &p->qhead; *mp != NULL && *mp != m; mp = &(*mp)->next)
		prev = *mp;
	if (*mp == NULL)
		return -1;
	*mp = m->next;
	if (p->qtail == m)
		p->qtail = prev;
	p->queued -= m->len;
	proc_msg_free(m);
	return 0;
}

size_t
proc_buffered(const struct proc *p)
{
	return p->queued;
}

static void
proc_msg_free(struct proc_msg *m)
{
	if (m->handle != NULL)
		*m->handle = NULL;
	free(m->body);
	free(m);
}

static void
proc_drop_queue(struct proc *p)
{
	struct proc_msg	*m, *next;

	for (m = p->qhead; m != NULL; m = next) {
		next = m->next;
		proc_msg_free(m);
	}
	p->qhead = p->qtail = NULL;
	p->queued = 0;
	if (p->in_ev != NULL)
		event_del(p->in_ev);
}

/* Fills iov with what is left of up to PROC_IOV_MAX parts. */
static int
proc_iov(struct proc *p, struct iovec *iov)
{
	struct proc_msg	*m;
	size_t		 off, k;
	int		 n = 0;

	for (m = p->qhead; m != NULL && n + 3 <= PROC_IOV_MAX; m = m->next) {
		struct { const char *b; size_t l; } part[3] = {
			{ m->head, m->headlen }, { m->body, m->bodylen },
			{ m->tail, m->taillen }
		};

		off = m->off;
		for (k = 0; k < 3; k++) {
			if (off >= part[k].l) {
				off -= part[k].l;
				continue;
			}
			iov[n].iov_base = (char *)(uintptr_t)part[k].b + off;
			iov[n].iov_len = part[k].l - off;
			n++;
			off = 0;
		}
	}
	return n;
}

/* Writes what it can; the rest waits for EV_WRITE. */
static void
proc_flush(struct proc *p)
{
	struct iovec	 iov[PROC_IOV_MAX];
	struct proc_msg	*m;
	ssize_t		 w;
	size_t		 left;
	int		 n;

	while (p->qhead != NULL && p->infd != -1) {
		n = proc_iov(p, iov);
		do
			w = writev(p->infd, iov, n);
		while (w == -1 && errno == EINTR);
		if (w == -1 && errno == EAGAIN)
			break;
		if (w == -1) {
			if (errno != EPIPE)
				log_warn("%s: write", p->label);
			proc_write_failed(p);
			return;
		}
		for (left = (size_t)w; left > 0 && (m = p->qhead) != NULL;) {
			size_t k = m->len - m->off;

			if (k > left)
				k = left;
			m->off += k;
			left -= k;
			p->queued -= k;
			if (m->off < m->len)
				break;
			p->qhead = m->next;
			if (p->qhead == NULL)
				p->qtail = NULL;
			proc_msg_free(m);
		}
	}
	if (p->in_ev == NULL)
		return;
	if (p->qhead != NULL)
		event_add(p->in_ev, NULL);
	else
		event_del(p->in_ev);
}

static void
proc_in_cb(evutil_socket_t fd, short what, void *arg)
{
	proc_flush(arg);
}

/* stdin is broken: drop the queue and tell the owner from the loop. */
static void
proc_write_failed(struct proc *p)
{
	proc_drop_queue(p);
	if (p->infd != -1) {
		close(p->infd);
		p->infd = -1;
	}
	if (p->in_ev != NULL) {
		event_free(p->in_ev);
		p->in_ev = NULL;
	}
	event_active(p->closed_ev, EV_TIMEOUT, 0);
}

static void
proc_closed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;

	p->hooks.closed(p->arg, "closed its stdin");
}

void
proc_close_stdin(struct proc *p)
{
	proc_drop_queue(p);
	if (p->in_ev != NULL) {
		event_free(p->in_ev);
		p->in_ev = NULL;
	}
	if (p->infd != -1) {
		close(p->infd);
		p->infd = -1;
	}
}

/* -------------------------------------------------------------- reading */

static void
proc_out_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;
	ssize_t		 n;
	int		 i;

	for (i = 0; i < PROC_READS_PER_EVENT; i++) {
		n = read(fd, p->readbuf, p->readbuflen);
		if (n > 0) {
			proc_feed_out(p, p->readbuf, (size_t)n);
			/* A hook may have closed the pipes. */
			if ((size_t)n < p->readbuflen || p->outfd != fd)
				return;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1)
			log_warn("%s: read", p->label);
		event_del(p->out_ev);
		p->hooks.closed(p->arg, "closed its stdout");
		return;
	}
}

/* Feeds stdout to the framer line by line, keeping the head of the
 * current line to find the id of a line too long to keep. */
static void
proc_feed_out(struct proc *p, const char *data, size_t n)
{
	const char	*nl;
	size_t		 seg, body, k;
	int		 fd = p->outfd;

	while (n > 0 && p->outfd == fd) {
		nl = memchr(data, '\n', n);
		seg = nl != NULL ? (size_t)(nl - data) + 1 : n;
		body = nl != NULL ? seg - 1 : seg;
		if (p->headlen < PROC_HEAD_MAX) {
			k = PROC_HEAD_MAX - p->headlen;
			if (k > body)
				k = body;
			memcpy(p->head + p->headlen, data, k);
			p->headlen += k;
		}
		rpc_framer_feed(&p->out, data, seg, proc_on_line,
		    proc_on_overflow, p);
		if (nl != NULL)
			p->headlen = 0;
		data += seg;
		n -= seg;
	}
}

static void
proc_on_line(void *arg, char *line, size_t len)
{
	struct proc	*p = arg;

	p->hooks.line(p->arg, line, len);
}

static void
proc_on_overflow(void *arg, size_t total)
{
	struct proc	*p = arg;

	p->hooks.overflow(p->arg, p->head, p->headlen, total);
}

char *
proc_take_line(struct proc *p, char *line, size_t len)
{
	return rpc_framer_take(&p->out, line, len);
}

static void
proc_err_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;
	ssize_t		 n;

	do
		n = read(fd, p->readbuf, p->readbuflen);
	while (n == -1 && errno == EINTR);
	if (n > 0) {
		rpc_framer_feed(&p->err, p->readbuf, (size_t)n,
		    proc_on_err_line, proc_on_err_overflow, p);
		return;
	}
	if (n == -1 && errno == EAGAIN)
		return;
	event_del(p->err_ev);
}

/* 1 while this second's budget of stderr lines lasts. */
static int
proc_log_ok(struct proc *p)
{
	struct timespec	ts;
	struct timeval	tv = { 1, 0 };
	int64_t		ms;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (ms - p->log_window >= 1000) {
		if (p->log_suppressed > 0)
			log_info("%s: suppressed %d lines of stderr", p->label,
			    p->log_suppressed);
		p->log_window = ms;
		p->log_lines = 0;
		p->log_suppressed = 0;
	}
	if (p->log_lines < PROC_LOG_PER_S) {
		p->log_lines++;
		return 1;
	}
	/* The count is reported a second later even if nothing follows. */
	if (p->log_suppressed++ == 0 && !evtimer_pending(p->log_ev, NULL))
		evtimer_add(p->log_ev, &tv);
	return 0;
}

static void
proc_log_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;
	struct timeval	 tv = { 1, 0 };

	if (p->log_suppressed == 0)
		return;
	log_info("%s: suppressed %d lines of stderr", p->label,
	    p->log_suppressed);
	p->log_suppressed = 0;
	/* Still flooding: report again next second. */
	evtimer_add(p->log_ev, &tv);
}

static void
proc_on_err_line(void *arg, char *line, size_t len)
{
	struct proc	*p = arg;

	if (proc_log_ok(p))
		log_info("%s: %s", p->label, line);
}

static void
proc_on_err_overflow(void *arg, size_t total)
{
	struct proc	*p = arg;

	if (proc_log_ok(p))
		log_info("%s: (a stderr line of %zu bytes, not shown)",
		    p->label, total);
}

void
proc_drain(struct proc *p)
{
	size_t	total = 0;
	ssize_t	n;
	int	fd;

	while ((fd = p->outfd) != -1 && total < PROC_DRAIN_MAX &&
	    (n = read(fd, p->readbuf, p->readbuflen)) > 0) {
		total += (size_t)n;
		proc_feed_out(p, p->readbuf, (size_t)n);
	}
	while (p->errfd != -1 && total < PROC_DRAIN_MAX &&
	    (n = read(p->errfd, p->readbuf, p->readbuflen)) > 0) {
		total += (size_t)n;
		rpc_framer_feed(&p->err, p->readbuf, (size_t)n,
		    proc_on_err_line, proc_on_err_overflow, p);
	}
}

void
proc_close_pipes(struct proc *p)
{
	size_t	max;

	proc_close_stdin(p);
	if (p->out_ev != NULL)
		event_free(p->out_ev);
	if (p->err_ev != NULL)
		event_free(p->err_ev);
	p->out_ev = p->err_ev = NULL;
	if (p->outfd != -1)
		close(p->outfd);
	if (p->errfd != -1)
		close(p->errfd);
	p->outfd = p->errfd = -1;
	if (p->closed_ev != NULL)
		event_del(p->closed_ev);
	max = p->out.max;
	rpc_framer_free(&p->out);
	rpc_framer_init(&p->out, max);
	rpc_framer_free(&p->err);
	rpc_framer_init(&p->err, PROC_STDERR_LINE_MAX);
	p->headlen = 0;
}

/* -------------------------------------------------------------- reaping */

static void
proc_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;
	pid_t		 r;
	int		 status = 0;

	if (p->pid == 0)
		return;
	do
		r = waitpid(p->pid, &status, WNOHANG);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		return;		/* the poll timer goes on */
	if (r == -1)
		log_warn("%s: waitpid %d", p->label, (int)p->pid);
	else
		children_reaped(p->pid);
	event_free(p->exit_ev);
	p->exit_ev = NULL;
	if (p->pidfd != -1)
		close(p->pidfd);
	p->pidfd = -1;
	p->pid = 0;
	atomic_store(&p->live_pgid, 0);
	p->hooks.exited(p->arg, status, r != -1);
}

int
proc_signal(struct proc *p, int sig)
{
	if (p->pid == 0)
		return 0;
	if (sig != 0 && p->pgid != 0)
		(void)kill(-p->pgid, sig);
	return 1;
}

void
proc_kill_group(struct proc *p, int forget)
{
	if (p->pgid == 0)
		return;
	(void)kill(-p->pgid, SIGKILL);
	if (p->pid == 0) {
		/* Its leader reaped and the rest killed: nothing of the group
		 * for the reaper to kill; what a process of it started in a
		 * session of its own is ours now (we are a subreaper). */
		if (p->group_known)
			children_group_gone(p->pgid);
		p->group_known = 0;
		children_sweep();
	}
	if (forget && p->pid == 0)
		p->pgid = 0;
}

void
proc_kill(struct proc *p)
{
	int	pg = atomic_load(&p->live_pgid);

	if (pg > 0)
		(void)kill(-pg, SIGKILL);
}
