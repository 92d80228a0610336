/*
 * children.c: the daemon's child processes and what becomes of them when
 * it ends (see children.h).
 */
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "children.h"
#include "log.h"

#define CHILDREN_LINE_MAX	32
#define CHILDREN_LIST_MAX	4096	/* bytes of one task's children file */

/* A growable set of pids. */
struct pidset {
	pid_t	*v;
	size_t	 n, cap;
};

static struct {
	pthread_mutex_t	 mtx;
	struct pidset	 known;		/* started and not reaped yet */
	pid_t		 reaper;	/* 0: none */
	int		 fd;		/* the reaper's pipe; -1: none */
	atomic_int	 sweep;		/* a sweep is wanted */
	struct event	*tick;		/* on the loop thread's base */
} ch = { PTHREAD_MUTEX_INITIALIZER, { NULL, 0, 0 }, 0, -1, 0, NULL };

static int	pidset_add(struct pidset *, pid_t);
static void	pidset_del(struct pidset *, pid_t);
static int	pidset_has(const struct pidset *, pid_t);
static void	reaper_main(int) __attribute__((noreturn));
static void	reaper_line(struct pidset *, const char *);
static void	reaper_tell(char, pid_t);
static int	children_list(pid_t *, size_t);
static int	children_orphans(void);
static void	children_tick_cb(evutil_socket_t, short, void *);

static int
pidset_add(struct pidset *s, pid_t pid)
{
	pid_t	*v;

	if (s->n == s->cap) {
		if ((v = realloc(s->v, (s->cap * 2 + 16) * sizeof(*v))) ==
		    NULL)
			return -1;
		s->v = v;
		s->cap = s->cap * 2 + 16;
	}
	s->v[s->n++] = pid;
	return 0;
}

static void
pidset_del(struct pidset *s, pid_t pid)
{
	size_t	i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == pid) {
			s->v[i] = s->v[--s->n];
			return;
		}
}

static int
pidset_has(const struct pidset *s, pid_t pid)
{
	size_t	i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == pid)
			return 1;
	return 0;
}

/* ------------------------------------------------------------ the reaper */

/* "+PGID" or "-PGID". */
static void
reaper_line(struct pidset *groups, const char *line)
{
	long	g = strtol(line + 1, NULL, 10);

	if (g <= 1)
		return;
	if (line[0] == '+')
		(void)pidset_add(groups, (pid_t)g);
	else if (line[0] == '-')
		pidset_del(groups, (pid_t)g);
}

/* The forked reaper: reads the pipe until the daemon is gone, then kills
 * every group left on its list. Only _exit() ends it. */
static void
reaper_main(int fd)
{
	struct pidset	 groups = { NULL, 0, 0 };
	char		 buf[4096], line[CHILDREN_LINE_MAX];
	size_t		 len = 0, i;
	ssize_t		 n;
	int		 devnull;

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	(void)prctl(PR_SET_NAME, CHILDREN_REAPER_NAME, 0, 0, 0);
	/* Keep nothing of the daemon's but stderr (for nothing) and the
	 * pipe: not the listeners, not stdout (the ready line's readers
	 * wait for its end). */
	if ((devnull = open("/dev/null", O_RDWR)) != -1) {
		(void)dup2(devnull, 0);
		(void)dup2(devnull, 1);
	}
	if (dup2(fd, 3) == -1)
		_exit(1);
	(void)close_range(4, ~0U, 0);
	for (;;) {
		n = read(3, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = 0; i < (size_t)n; i++) {
			if (buf[i] != '\n') {
				if (len < sizeof(line) - 1)
					line[len++] = buf[i];
				continue;
			}
			line[len] = '\0';
			reaper_line(&groups, line);
			len = 0;
		}
	}
	for (i = 0; i < groups.n; i++)
		(void)kill(-groups.v[i], SIGKILL);
	_exit(0);
}

/* One line to the reaper; a reaper that is gone is reported once. */
static void
reaper_tell(char op, pid_t pgid)
{
	static int	warned;
	char		line[CHILDREN_LINE_MAX];
	int		len;

	if (ch.fd == -1)
		return;
	len = snprintf(line, sizeof(line), "%c%d\n", op, (int)pgid);
	if (write(ch.fd, line, (size_t)len) != len && !warned) {
		warned = 1;
		log_warn("the reaper process is gone: MCP servers will not be "
		    "killed if the daemon dies");
	}
}

int
children_init(void)
{
	int	fds[2];
	pid_t	pid;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == -1)
		log_warn("PR_SET_CHILD_SUBREAPER");
	if (pipe2(fds, O_CLOEXEC) == -1) {
		log_warn("cannot start the reaper: pipe");
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("cannot start the reaper: fork");
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[1]);
		reaper_main(fds[0]);
	}
	close(fds[0]);
	ch.fd = fds[1];
	ch.reaper = pid;
	return 0;
}

/* ----------------------------------------------------------- the others */

void
children_spawn_lock(void)
{
	pthread_mutex_lock(&ch.mtx);
}

void
children_spawn_unlock(void)
{
	pthread_mutex_unlock(&ch.mtx);
}

void
children_started(pid_t pid)
{
	if (pidset_add(&ch.known, pid) == -1)
		log_warnx("out of memory: child %d may be swept", (int)pid);
	reaper_tell('+', pid);
}

void
children_reaped(pid_t pid)
{
	pthread_mutex_lock(&ch.mtx);
	pidset_del(&ch.known, pid);
	pthread_mutex_unlock(&ch.mtx);
}

void
children_group_gone(pid_t pgid)
{
	reaper_tell('-', pgid);
}

/* Our children now, from every thread's children file: how many (at most
 * max kept). */
static int
children_list(pid_t *out, size_t max)
{
	DIR		*d;
	struct dirent	*e;
	char		 path[320], buf[CHILDREN_LIST_MAX], *s, *end;
	FILE		*f;
	size_t		 n = 0, len;
	long		 pid;

	if ((d = opendir("/proc/self/task")) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children",
		    e->d_name);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = '\0';
		for (s = buf; (pid = strtol(s, &end, 10)) > 0 && end != s;
		    s = end)
			if (n < max)
				out[n++] = (pid_t)pid;
	}
	closedir(d);
	return (int)n;
}

/* Under the lock: kills the children we did not start and reaps those
 * that are dead; how many are not reaped yet. Never waits. */
static int
children_orphans(void)
{
	pid_t	kids[512];
	int	n, i, left = 0, st;
	char	path[64], comm[32] = "";
	FILE	*f;

	n = children_list(kids, sizeof(kids) / sizeof(kids[0]));
	for (i = 0; i < n; i++) {
		if (kids[i] == ch.reaper || pidset_has(&ch.known, kids[i]))
			continue;
		if (waitpid(kids[i], &st, WNOHANG) == kids[i])
			continue;	/* killed before, now reaped */
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)kids[i]);
		if ((f = fopen(path, "re")) != NULL) {
			if (fgets(comm, sizeof(comm), f) != NULL)
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		if (kill(kids[i], SIGKILL) == 0)
			log_info("killed process %d (%s), left behind by an MCP "
			    "server that has exited", (int)kids[i], comm);
		left++;
	}
	return left;
}

void
children_sweep(void)
{
	atomic_store(&ch.sweep, 1);
}

/* The loop thread, once a second: a sweep when one is wanted, again
 * while some are not reaped yet. Opening /proc files here, not on the
 * workers, keeps the loop thread's reuse of descriptor numbers on one
 * thread (its epoll changelist deletes closed descriptors late). */
static void
children_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	int	left;

	if (!atomic_exchange(&ch.sweep, 0))
		return;
	pthread_mutex_lock(&ch.mtx);
	left = children_orphans();
	pthread_mutex_unlock(&ch.mtx);
	if (left > 0)
		atomic_store(&ch.sweep, 1);
}

int
children_attach(struct event_base *base)
{
	struct timeval	tv = { 1, 0 };

	if ((ch.tick = event_new(base, -1, EV_PERSIST, children_tick_cb,
	    NULL)) == NULL || event_add(ch.tick, &tv) == -1)
		return -1;
	return 0;
}

void
children_finish(int wait_ms)
{
	struct timespec	 ts = { 0, 10 * 1000 * 1000 };
	int		 waited, left = 1;

	if (ch.tick != NULL)
		event_free(ch.tick);
	ch.tick = NULL;
	for (waited = 0; waited <= wait_ms && left > 0; waited += 10) {
		pthread_mutex_lock(&ch.mtx);
		left = children_orphans();
		pthread_mutex_unlock(&ch.mtx);
		if (left > 0)
			nanosleep(&ts, NULL);
	}
	if (left > 0)
		log_warnx("%d processes left behind by MCP servers did not "
		    "die", left);
	if (ch.fd != -1) {
		close(ch.fd);
		ch.fd = -1;
	}
	for (waited = 0; ch.reaper != 0 && waited < 1000; waited += 10) {
		if (waitpid(ch.reaper, NULL, WNOHANG) != 0)
			ch.reaper = 0;
		else
			nanosleep(&ts, NULL);
	}
	free(ch.known.v);
	ch.known.v = NULL;
	ch.known.n = ch.known.cap = 0;
}
