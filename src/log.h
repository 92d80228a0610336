/*
 * log.h: logging to stderr, one write(2) per line, with a "<N>" syslog
 * priority prefix that journald understands. Safe from any thread.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

void	log_init(int verbose);
/* A command-line tool's lines start "progname: " instead of "<N>". */
void	log_init_tool(const char *progname);
void	log_set_verbose(int verbose);
int	log_get_verbose(void);
/* log_warn appends strerror(errno); log_warnx does not. */
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Start-up failures and broken invariants only: logs and exits 1. */
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
/*
 * For event_set_log_callback(): libevent's own messages, mapped to
 * log_debug (EVENT_LOG_DEBUG), log_info (EVENT_LOG_MSG) or log_warnx
 * (EVENT_LOG_WARN, EVENT_LOG_ERR) with a "libevent: " prefix. At most
 * LOG_LIBEVENT_BURST lines a second; the rest are counted and reported in
 * one "suppressed N libevent messages" line before the next one that is
 * logged, or by log_libevent_flush(). Safe from any thread.
 */
#define LOG_LIBEVENT_BURST	10
void	log_libevent(int severity, const char *msg);
void	log_libevent_flush(void);

/* ts (CLOCK_REALTIME) as ISO 8601 in UTC with milliseconds,
 * "2026-12-01T20:21:09.123Z", into out (LOG_TIMESTAMP_LEN bytes). */
#define LOG_TIMESTAMP_LEN	32
struct timespec;
void	log_timestamp(const struct timespec *ts, char *out);

#endif
