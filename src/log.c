/*
 * log.c: one line per write(2) on stderr, prefixed "<N>" (syslog priority)
 * so that journald files each line at the right level. Lines are cut at
 * LOG_LINE_MAX bytes; control characters are escaped so a child's stderr
 * cannot forge lines.
 */

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"

#define LOG_LINE_MAX	4096

enum {
	PRI_ERR = 3,
	PRI_WARNING = 4,
	PRI_INFO = 6,
	PRI_DEBUG = 7
};

static void	vlog(int, int, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));

static atomic_int log_verbose;
/* Set by a command-line tool: its name replaces the "<N>" prefix. */
static const char *log_progname;

/* log_libevent()'s budget: the second it is for, lines logged in it, and
 * lines dropped since the last report. */
static pthread_mutex_t	log_ev_mtx = PTHREAD_MUTEX_INITIALIZER;
static time_t		log_ev_second;
static int		log_ev_lines;
static long		log_ev_suppressed;

void
log_init(int verbose)
{
	atomic_store(&log_verbose, verbose);
}

void
log_init_tool(const char *progname)
{
	log_progname = progname;
}

void
log_set_verbose(int verbose)
{
	atomic_store(&log_verbose, verbose);
}

int
log_get_verbose(void)
{
	return atomic_load(&log_verbose);
}

static void
vlog(int pri, int with_errno, const char *fmt, va_list ap)
{
	char	 msg[LOG_LINE_MAX], line[LOG_LINE_MAX + 8];
	size_t	 n, i, o;
	int	 saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	if (with_errno && n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));

	if (log_progname != NULL)
		o = (size_t)snprintf(line, sizeof(line), "%s: ", log_progname);
	else
		o = (size_t)snprintf(line, sizeof(line), "<%d>", pri);
	for (i = 0; msg[i] != '\0' && o < sizeof(line) - 5; i++) {
		unsigned char c = (unsigned char)msg[i];

		if (c == '\n' || c == '\r' || (c < 0x20 && c != '\t') ||
		    c == 0x7f) {
			o += (size_t)snprintf(line + o, sizeof(line) - o,
			    "\\x%02x", c);
			continue;
		}
		line[o++] = (char)c;
	}
	line[o++] = '\n';
	/* One write per line: concurrent lines never interleave. */
	while (write(STDERR_FILENO, line, o) == -1 && errno == EINTR)
		;
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(PRI_WARNING, 1, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(PRI_WARNING, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(PRI_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (atomic_load(&log_verbose) < 1)
		return;
	va_start(ap, fmt);
	vlog(PRI_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(PRI_ERR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(PRI_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

void
log_libevent(int severity, const char *msg)
{
	struct timespec	now;
	long		suppressed = 0;
	int		pass;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&log_ev_mtx);
	if (now.tv_sec != log_ev_second) {
		log_ev_second = now.tv_sec;
		log_ev_lines = 0;
	}
	pass = log_ev_lines < LOG_LIBEVENT_BURST;
	if (pass) {
		log_ev_lines++;
		suppressed = log_ev_suppressed;
		log_ev_suppressed = 0;
	} else
		log_ev_suppressed++;
	pthread_mutex_unlock(&log_ev_mtx);
	if (!pass)
		return;
	if (suppressed > 0)
		log_warnx("suppressed %ld libevent message%s", suppressed,
		    suppressed == 1 ? "" : "s");
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}

void
log_libevent_flush(void)
{
	long	suppressed;

	pthread_mutex_lock(&log_ev_mtx);
	suppressed = log_ev_suppressed;
	log_ev_suppressed = 0;
	pthread_mutex_unlock(&log_ev_mtx);
	if (suppressed > 0)
		log_warnx("suppressed %ld libevent message%s", suppressed,
		    suppressed == 1 ? "" : "s");
}

void
log_timestamp(const struct timespec *ts, char *out)
{
	struct tm	tm;
	size_t		n;

	gmtime_r(&ts->tv_sec, &tm);
	n = strftime(out, LOG_TIMESTAMP_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, LOG_TIMESTAMP_LEN - n, ".%03ldZ",
	    ts->tv_nsec / 1000000);
}
