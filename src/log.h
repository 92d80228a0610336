/*
 * log.h: logging to stderr, one write(2) per line, with a "<N>" syslog
 * priority prefix that journald understands. Safe from any thread.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

void	log_init(int verbose);
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

#endif
