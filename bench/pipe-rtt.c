/*
 * pipe-rtt.c: the floor of one MCP call's transport. It starts a child
 * process (itself, re-executed with --child) connected by two pipes, like
 * mcp-proxyd starts an MCP server, and measures the round trip of one small
 * JSON-RPC line: written to the child's stdin, echoed back by the child line
 * by line on its stdout, read back whole. No JSON is parsed on either side,
 * so this is what a call costs before any proxy or server does any work.
 *
 *	pipe-rtt [-x] [-n rounds] [-w warmup]
 *
 * -x pins the parent to the first CPU it may use and the child to the next
 * one, so every message crosses CPUs (without it the scheduler decides,
 * and usually runs both on one CPU, which is the cheaper case).
 *
 * prints one JSON line on stdout (microseconds):
 *	{"n":20000,"p50_us":..,"p99_us":..,"mean_us":..,"min_us":..,"max_us":..}
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <sched.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RTT_LINE	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\"," \
			"\"params\":{\"name\":\"echo\",\"arguments\":" \
			"{\"message\":\"hello\"}}}\n"
#define RTT_BUF		65536
#define RTT_DEFAULT_N	20000
#define RTT_DEFAULT_W	1000
#define RTT_MAX_N	10000000

static int	rtt_child(void);
static int	rtt_write_all(int, const char *, size_t);
static int	rtt_read_n(int, char *, size_t);
static int64_t	rtt_now_ns(void);
static int	rtt_cmp(const void *, const void *);
static double	rtt_pct(const int64_t *, size_t, double);
static void	rtt_usage(void);
static int	rtt_cpus(int *, int *);

/* The child: copy stdin to stdout one complete line at a time. */
static int
rtt_child(void)
{
	static char	 buf[RTT_BUF];
	size_t		 have = 0, i, last;
	ssize_t		 n;

	for (;;) {
		if (have == sizeof(buf))
			return 1;	/* a line longer than the buffer */
		n = read(STDIN_FILENO, buf + have, sizeof(buf) - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? 0 : 1;
		have += (size_t)n;
		last = 0;
		for (i = have; i > 0; i--) {
			if (buf[i - 1] == '\n') {
				last = i;
				break;
			}
		}
		if (last == 0)
			continue;
		if (rtt_write_all(STDOUT_FILENO, buf, last) == -1)
			return 1;
		memmove(buf, buf + last, have - last);
		have -= last;
	}
}

static int
rtt_write_all(int fd, const char *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
rtt_read_n(int fd, char *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = read(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int64_t
rtt_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
rtt_cmp(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples, in microseconds. */
static double
rtt_pct(const int64_t *v, size_t n, double p)
{
	size_t	rank;

	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)v[rank - 1] / 1000.0;
}

/* The first two CPUs this process may run on; -1 if there is only one. */
static int
rtt_cpus(int *a, int *b)
{
	cpu_set_t	set;
	int		cpu;

	*a = *b = -1;
	if (sched_getaffinity(0, sizeof(set), &set) == -1)
		return -1;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		if (*a == -1)
			*a = cpu;
		else {
			*b = cpu;
			return 0;
		}
	}
	return -1;
}

static void
rtt_usage(void)
{
	fprintf(stderr, "usage: pipe-rtt [-x] [-n rounds] [-w warmup]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	static const char	 line[] = RTT_LINE;
	char			 back[sizeof(line)];
	int64_t			*ns = NULL, t0, sum = 0;
	long			 n = RTT_DEFAULT_N, warm = RTT_DEFAULT_W, i;
	int			 to[2] = { -1, -1 }, from[2] = { -1, -1 };
	int			 ch, status, rc = EXIT_FAILURE;
	int			 cross = 0, cpu_parent = -1, cpu_child = -1;
	cpu_set_t		 set;
	pid_t			 pid = -1;
	const size_t		 len = sizeof(line) - 1;

	if (argc == 2 && strcmp(argv[1], "--child") == 0)
		return rtt_child();
	while ((ch = getopt(argc, argv, "n:w:x")) != -1) {
		switch (ch) {
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 'w':
			warm = strtol(optarg, NULL, 10);
			break;
		case 'x':
			cross = 1;
			break;
		default:
			rtt_usage();
		}
	}
	if (optind != argc || n < 1 || n > RTT_MAX_N || warm < 0 ||
	    warm > RTT_MAX_N)
		rtt_usage();
	signal(SIGPIPE, SIG_IGN);
	if (cross && rtt_cpus(&cpu_parent, &cpu_child) == -1) {
		fprintf(stderr, "pipe-rtt: -x needs two CPUs\n");
		goto fail;
	}
	if ((ns = calloc((size_t)n, sizeof(*ns))) == NULL) {
		perror("pipe-rtt: calloc");
		goto fail;
	}
	if (pipe2(to, O_CLOEXEC) == -1 || pipe2(from, O_CLOEXEC) == -1) {
		perror("pipe-rtt: pipe2");
		goto fail;
	}
	if ((pid = fork()) == -1) {
		perror("pipe-rtt: fork");
		goto fail;
	}
	if (pid == 0) {
		if (dup2(to[0], STDIN_FILENO) == -1 ||
		    dup2(from[1], STDOUT_FILENO) == -1)
			_exit(127);
		if (cross) {
			CPU_ZERO(&set);
			CPU_SET(cpu_child, &set);
			if (sched_setaffinity(0, sizeof(set), &set) == -1)
				_exit(127);
		}
		execl("/proc/self/exe", "pipe-rtt", "--child", (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	to[0] = from[1] = -1;
	if (cross) {
		CPU_ZERO(&set);
		CPU_SET(cpu_parent, &set);
		if (sched_setaffinity(0, sizeof(set), &set) == -1) {
			perror("pipe-rtt: sched_setaffinity");
			goto fail;
		}
	}

	for (i = -warm; i < n; i++) {
		t0 = rtt_now_ns();
		if (rtt_write_all(to[1], line, len) == -1 ||
		    rtt_read_n(from[0], back, len) == -1) {
			fprintf(stderr, "pipe-rtt: the child went away\n");
			goto fail;
		}
		if (i >= 0)
			ns[i] = rtt_now_ns() - t0;
		if (memcmp(back, line, len) != 0) {
			fprintf(stderr, "pipe-rtt: the child echoed another "
			    "line\n");
			goto fail;
		}
	}
	for (i = 0; i < n; i++)
		sum += ns[i];
	qsort(ns, (size_t)n, sizeof(*ns), rtt_cmp);
	printf("{\"n\":%ld,\"cross_cpu\":%s,\"p50_us\":%.1f,\"p99_us\":%.1f,\"mean_us\":%.1f,"
	    "\"min_us\":%.1f,\"max_us\":%.1f}\n", n, cross ? "true" : "false",
	    rtt_pct(ns, (size_t)n, 50), rtt_pct(ns, (size_t)n, 99),
	    (double)sum / (double)n / 1000.0, (double)ns[0] / 1000.0,
	    (double)ns[n - 1] / 1000.0);
	rc = EXIT_SUCCESS;
fail:
	if (to[1] != -1)
		close(to[1]);
	if (from[0] != -1)
		close(from[0]);
	if (to[0] != -1)
		close(to[0]);
	if (from[1] != -1)
		close(from[1]);
	if (pid > 0 && waitpid(pid, &status, 0) == pid && rc == EXIT_SUCCESS &&
	    !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		fprintf(stderr, "pipe-rtt: the child failed\n");
		rc = EXIT_FAILURE;
	}
	free(ns);
	return rc;
}
