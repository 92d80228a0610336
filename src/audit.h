/*
 * audit.h: the audit log, one JSON line per event, written to a file (or
 * to stderr) by a thread of its own, so that a slow or full disk never
 * delays the thread that reports an event.
 *
 * Who owns what: audit_log() copies the event and every string it points
 * to; the caller keeps what it passed and may free or reuse it at once.
 * The queue, the copies, the file descriptor and the writer thread belong
 * to this module; audit_close() frees them all. Only log.c is called.
 *
 * Threads: audit_open() and audit_close() on the main thread (start-up
 * and exit), never concurrently with each other; audit_log(),
 * audit_reopen(), audit_dropped() and audit_written() from any thread at
 * any time, before audit_open() and after audit_close() too.
 *
 * A line is written whole or not at all: what cannot be queued (the
 * queue holds max_bytes) or written (a failed write, an unopenable path)
 * is dropped, counted, and reported by the writer thread with log_warnx()
 * at most once a minute.
 */
#ifndef AUDIT_H
#define AUDIT_H

#include <stddef.h>

/*
 * One event. Members appear in the line in this order, after
 * "timestamp" (UTC, milliseconds, taken by audit_log()), as "event",
 * "requestId", "client", "caller", "tool", "paramsSha256", "status",
 * "latencyMs", "error", "reason", then the members of extra. Strings are
 * JSON-escaped by the writer (invalid UTF-8 becomes U+FFFD) and cut, on
 * a UTF-8 boundary, at 1024 bytes (error) or 256 bytes (the others).
 */
struct audit_event {
	const char	*event;		/* required: "tool_call", "rejected", "discovery", "auth_failure", "server_start", "server_exit", "reload", "shutdown" */
	const char	*request_id;	/* NULL: member omitted */
	const char	*client;	/* peer address "ip:port"; NULL: omitted */
	const char	*caller;	/* short non-secret caller id; NULL: omitted */
	const char	*tool;		/* NULL: omitted */
	const char	*params_sha256;	/* 64 hex digits; NULL: omitted */
	int		 status;	/* HTTP status; 0: omitted */
	double		 latency_ms;	/* < 0: omitted; printed with 3 decimals */
	const char	*error;		/* NULL: omitted */
	const char	*reason;	/* NULL: omitted */
	const char	*extra;		/* more members, already JSON text without braces, e.g. "\"action\":\"discover\",\"resultsCount\":3"; NULL: none */
};

/*
 * Main thread, at start: path NULL means stderr. Opens the file (mode
 * 0600, appending; a clear message via log_warn + -1 when it cannot be
 * opened, or when the log is open already) and starts the writer thread.
 * max_bytes bounds the memory queued for the writer (0: a default of
 * 4 MiB). A FIFO blocks here until it has a reader.
 */
int	audit_open(const char *path, size_t max_bytes);
/*
 * Any thread, never blocks on I/O: copies the event (all strings) into
 * one allocation with the wall-clock time now, and queues it. When the
 * queue is full (max_bytes), or before audit_open / after audit_close,
 * the line is dropped and counted. An event without event is dropped
 * too. extra longer than 16 KiB is replaced by "extraTruncated":true
 * (cut JSON would not be JSON); control characters in it become spaces.
 */
void	audit_log(const struct audit_event *);
/*
 * Any thread (the daemon calls it on SIGHUP; it is one atomic store, so
 * even a signal handler may): the writer re-opens the path before its
 * next write, so that logrotate's "mv + SIGHUP" starts a new file. No-op
 * for stderr. While the path cannot be opened, lines are dropped and the
 * open is retried at most once a second.
 */
void	audit_reopen(void);
/*
 * Any thread (a reload whose auditLog names another file): the writer
 * re-opens the log at path (a copy) instead before its next write; the
 * old file is closed. Only for a log opened with a path, not stderr.
 * -1 out of memory.
 */
int	audit_set_path(const char *path);
/*
 * Main thread, at exit: the writer writes what is queued (at most ~2 s
 * more; a write still blocked then is cancelled and its lines counted as
 * dropped), then the thread is joined and the file closed. Safe to call
 * when audit_open was never called, and more than once.
 */
void	audit_close(void);
/*
 * Any thread: lines dropped so far (queue full, write failed, or
 * partially written and cut back). For the Prometheus counter
 * audit_lines_dropped_total. Never reset, not even by audit_close().
 */
long	audit_dropped(void);
/* Any thread: lines written so far. Never reset. */
long	audit_written(void);

#endif
