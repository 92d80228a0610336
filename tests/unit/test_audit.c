/*
 * test_audit.c: the audit log's lines (JSON, member order, escaping,
 * cutting, file mode), re-opening after a rename and after the directory
 * went away, drops on a full device, on a slow reader and before open or
 * after close, whole lines when a write is cut short by RLIMIT_FSIZE,
 * the drop reports, and a writer stuck at exit.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>

#include "audit.h"
#include "unit.h"

#define HEX64	"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcdef"

static char	tdir[64];
static char	tpath[128];

static double
tnow(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits (up to 10 s) until fn() reaches want; fn()'s last value. */
static long
twait(long (*fn)(void), long want)
{
	double	until = tnow() + 10;

	while (fn() < want && tnow() < until)
		usleep(1000);
	return fn();
}

static void
tsetup(void)
{
	snprintf(tdir, sizeof(tdir), "/tmp/test_audit.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tdir));
	snprintf(tpath, sizeof(tpath), "%s/audit.log", tdir);
}

static void
tteardown(void)
{
	char	cmd[128];

	audit_close();		/* after a failed test */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* The whole file, NUL-terminated; its length in *len. */
static char *
tread(const char *path, size_t *len)
{
	FILE	*f = fopen(path, "r");
	char	*buf;
	long	 n;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

/* Parses every line of text (each must end with a newline and be one
 * whole JSON object, strictly, with nothing after it); keeps the first
 * max objects in objs. The number of lines. */
static int
tparse(char *text, json_object **objs, int max)
{
	struct json_tokener	*tok = json_tokener_new();
	json_object		*o;
	char			*p, *nl;
	int			 n = 0;

	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	for (p = text; *p != '\0'; p = nl + 1, n++) {
		nl = strchr(p, '\n');
		ck_assert_msg(nl != NULL, "a cut line: %.80s", p);
		json_tokener_reset(tok);
		o = json_tokener_parse_ex(tok, p, (int)(nl - p));
		ck_assert_msg(o != NULL && json_object_is_type(o,
		    json_type_object), "not JSON: %.*s", (int)(nl - p), p);
		ck_assert_uint_eq(json_tokener_get_parse_end(tok),
		    (size_t)(nl - p));
		if (n < max)
			objs[n] = o;
		else
			json_object_put(o);
	}
	json_tokener_free(tok);
	return n;
}

/* Asserts that o's members are keys (NULL-terminated), in that order. */
static void
tkeys(json_object *o, const char *const *keys)
{
	size_t	i = 0;

	json_object_object_foreach(o, k, v) {
		(void)v;
		ck_assert_msg(keys[i] != NULL, "extra member %s", k);
		ck_assert_str_eq(k, keys[i]);
		i++;
	}
	ck_assert_msg(keys[i] == NULL, "missing member %s", keys[i]);
}

static const char *
tstr(json_object *o, const char *key)
{
	json_object	*v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s", key);
	return json_object_get_string(v);
}

/* Seconds on the clock audit.c reads (time(2) is a coarser clock that can
 * lag it by a tick). */
static time_t
realtime_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

/* Checks the timestamp's form and that it is UTC within [t0, t1]. */
static void
ttimestamp(const char *ts, time_t t0, time_t t1)
{
	regex_t		re;
	struct tm	tm;
	time_t		t;

	ck_assert_int_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}"
	    ":[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$", REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_msg(regexec(&re, ts, 0, NULL, 0) == 0, "timestamp %s", ts);
	regfree(&re);
	memset(&tm, 0, sizeof(tm));
	ck_assert_ptr_nonnull(strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm));
	t = timegm(&tm);
	ck_assert_msg(t >= t0 && t <= t1, "timestamp %s is not now", ts);
}

START_TEST(test_lines)
{
	static const char *const full_keys[] = { "timestamp", "event",
	    "requestId", "client", "caller", "tool", "paramsSha256",
	    "status", "latencyMs", "error", "reason", "action",
	    "resultsCount", NULL };
	static const char *const bare_keys[] = { "timestamp", "event", NULL };
	struct audit_event	 full = {
		.event = "tool_call", .request_id = "req-1",
		.client = "127.0.0.1:40000", .caller = "sess\"ion",
		.tool = "srv__t\\x", .params_sha256 = HEX64, .status = 200,
		.latency_ms = 1.5, .error = "line1\nline2\001end\t",
		.reason = "bad \xff\xc3 \xe2\x82 ok \xc3\xa9",
		.extra = "\"action\":\"discover\",\"resultsCount\":3"
	};
	struct audit_event	 bare = { .event = "shutdown", .latency_ms = -1 };
	struct audit_event	 odd = { .event = "reload", .latency_ms = -1,
		.extra = "\"a\":\n1,\"b\":\"\xff\"" };
	struct audit_event	 big = { .event = "rejected", .latency_ms = 0 };
	char			 err[1300], tool[700], *extra, *text, *line;
	json_object		*o[4], *v;
	struct stat		 st;
	time_t			 t0, t1;
	mode_t			 mask;
	long			 w0 = audit_written();
	int			 i;

	/* gmtime, not localtime; our 0600, not the umask's. */
	setenv("TZ", "EST5", 1);
	tzset();
	mask = umask(0);
	strcpy(err, "x");
	for (i = 0; i < 600; i++)
		strcat(err, "\xc3\xa9");
	tool[0] = '\0';
	for (i = 0; i < 200; i++)
		strcat(tool, "\xe2\x82\xac");
	extra = malloc(20001);
	memset(extra, 'a', 20000);
	memcpy(extra, "\"pad\":\"", 7);
	strcpy(extra + 19990, "\"");
	big.error = err;
	big.tool = tool;
	big.extra = extra;

	t0 = realtime_s();
	ck_assert_int_eq(audit_open(tpath, 0), 0);
	audit_log(&full);
	audit_log(&bare);
	audit_log(&odd);
	audit_log(&big);
	free(extra);
	audit_close();
	t1 = realtime_s();
	umask(mask);
	ck_assert_int_eq(audit_written() - w0, 4);
	ck_assert_int_eq(stat(tpath, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);

	text = tread(tpath, NULL);
	line = strdup(text);
	ck_assert_int_eq(tparse(text, o, 4), 4);
	tkeys(o[0], full_keys);
	ttimestamp(tstr(o[0], "timestamp"), t0, t1);
	ck_assert_str_eq(tstr(o[0], "event"), "tool_call");
	ck_assert_str_eq(tstr(o[0], "caller"), "sess\"ion");
	ck_assert_str_eq(tstr(o[0], "tool"), "srv__t\\x");
	ck_assert_str_eq(tstr(o[0], "paramsSha256"), HEX64);
	ck_assert_str_eq(tstr(o[0], "error"), "line1\nline2\001end\t");
	ck_assert_str_eq(tstr(o[0], "reason"), "bad \xef\xbf\xbd\xef\xbf\xbd "
	    "\xef\xbf\xbd\xef\xbf\xbd ok \xc3\xa9");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(o[0],
	    "resultsCount")), 3);
	/* The text itself: numbers as specified, short escapes. */
	ck_assert_ptr_nonnull(strstr(line, "\"status\":200,\"latencyMs\":1.500,"
	    "\"error\":\"line1\\nline2\\u0001end\\t\""));
	ck_assert_ptr_nonnull(strstr(line, "\"tool\":\"srv__t\\\\x\""));
	tkeys(o[1], bare_keys);
	ck_assert_str_eq(tstr(o[1], "event"), "shutdown");
	/* extra: control characters are spaces, bad UTF-8 U+FFFD. */
	ck_assert_int_eq(json_object_get_int(json_object_object_get(o[2],
	    "a")), 1);
	ck_assert_str_eq(tstr(o[2], "b"), "\xef\xbf\xbd");
	/* Cut on a UTF-8 boundary: 1 + 511 * 2 and 85 * 3 bytes. */
	ck_assert_uint_eq(strlen(tstr(o[3], "error")), 1023);
	ck_assert_int_eq(strncmp(tstr(o[3], "error"), err, 1023), 0);
	ck_assert_uint_eq(strlen(tstr(o[3], "tool")), 255);
	ck_assert_int_eq(strncmp(tstr(o[3], "tool"), tool, 255), 0);
	ck_assert(json_object_object_get_ex(o[3], "extraTruncated", &v));
	ck_assert(json_object_get_boolean(v));
	ck_assert(!json_object_object_get_ex(o[3], "pad", NULL));
	ck_assert_ptr_nonnull(strstr(line, "\"event\":\"rejected\",\"tool\""));
	ck_assert_ptr_nonnull(strstr(line, "\"latencyMs\":0.000,\"error\""));
	for (i = 0; i < 4; i++)
		json_object_put(o[i]);
	free(text);
	free(line);
	unsetenv("TZ");
	tzset();
}
END_TEST

/* logrotate: mv, then SIGHUP. */
START_TEST(test_reopen_after_rename)
{
	struct audit_event	 ev = { .event = "tool_call", .latency_ms = -1 };
	char			 old[160], *text;
	struct stat		 st;
	long			 w0 = audit_written();

	snprintf(old, sizeof(old), "%s.1", tpath);
	ck_assert_int_eq(audit_open(tpath, 0), 0);
	ev.request_id = "before";
	audit_log(&ev);
	audit_log(&ev);
	audit_log(&ev);
	ck_assert_int_eq(twait(audit_written, w0 + 3), w0 + 3);
	ck_assert_int_eq(rename(tpath, old), 0);
	audit_reopen();
	ev.request_id = "after";
	audit_log(&ev);
	audit_log(&ev);
	audit_close();
	ck_assert_int_eq(audit_written() - w0, 5);

	text = tread(old, NULL);
	ck_assert_int_eq(tparse(text, NULL, 0), 3);
	ck_assert_ptr_null(strstr(text, "after"));
	free(text);
	text = tread(tpath, NULL);
	ck_assert_int_eq(tparse(text, NULL, 0), 2);
	ck_assert_ptr_null(strstr(text, "before"));
	free(text);
	ck_assert_int_eq(stat(tpath, &st), 0);
	ck_assert_uint_eq(st.st_mode & 077, 0);
}
END_TEST

/* The directory goes away: drops, an open attempt a second at most, and
 * lines again once the path can be created. */
START_TEST(test_reopen_fails_then_recovers)
{
	struct audit_event	 ev = { .event = "reload", .latency_ms = -1 };
	char			 sub[96], path[128], *text;
	long			 w0 = audit_written(), d0 = audit_dropped();
	int			 i;

	snprintf(sub, sizeof(sub), "%s/sub", tdir);
	snprintf(path, sizeof(path), "%s/audit.log", sub);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(audit_open(path, 0), 0);
	audit_log(&ev);
	ck_assert_int_eq(twait(audit_written, w0 + 1), w0 + 1);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(sub), 0);
	audit_reopen();
	for (i = 0; i < 5; i++)
		audit_log(&ev);
	ck_assert_int_eq(twait(audit_dropped, d0 + 5), d0 + 5);
	ck_assert_int_eq(audit_written(), w0 + 1);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	usleep(1100 * 1000);
	ev.request_id = "back";
	audit_log(&ev);
	ck_assert_int_eq(twait(audit_written, w0 + 2), w0 + 2);
	audit_close();
	text = tread(path, NULL);
	ck_assert_int_eq(tparse(text, NULL, 0), 1);
	ck_assert_ptr_nonnull(strstr(text, "\"requestId\":\"back\""));
	free(text);
	ck_assert_int_eq(audit_dropped(), d0 + 5);
}
END_TEST

/* Redirects stderr to a file of tdir; restore with tstderr_end(). */
static int
tstderr_begin(char *path, size_t len)
{
	int	fd, saved;

	snprintf(path, len, "%s/stderr", tdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	return saved;
}

static void
tstderr_end(int saved)
{
	ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
}

/* A full device: every line counted as dropped, reported once at once
 * and once more at exit, and audit_log() never waits for it. */
START_TEST(test_full_device)
{
	struct audit_event	 ev = { .event = "tool_call", .tool = "t",
		.status = 200, .latency_ms = 2 };
	char			 errpath[96], *text, *p;
	long			 w0 = audit_written(), d0 = audit_dropped();
	long			 n, sum = 0;
	double			 t;
	int			 i, saved, reports = 0;

	if (access("/dev/full", W_OK) != 0)
		return;
	saved = tstderr_begin(errpath, sizeof(errpath));
	ck_assert_int_eq(audit_open("/dev/full", 0), 0);
	t = tnow();
	for (i = 0; i < 1000; i++)
		audit_log(&ev);
	ck_assert_msg(tnow() - t < 0.5, "1000 calls took %.3f s", tnow() - t);
	ck_assert_int_eq(twait(audit_dropped, d0 + 1000), d0 + 1000);
	for (i = 0; i < 1000; i++)
		audit_log(&ev);
	audit_close();
	tstderr_end(saved);
	ck_assert_int_eq(audit_dropped() - d0, 2000);
	ck_assert_int_eq(audit_written() - w0, 0);

	text = tread(errpath, NULL);
	for (p = text; (p = strstr(p, "audit: dropped ")) != NULL; p++) {
		n = strtol(p + strlen("audit: dropped "), NULL, 10);
		ck_assert_int_gt(n, 0);
		sum += n;
		reports++;
	}
	ck_assert_msg(reports == 2, "%d reports: %s", reports, text);
	ck_assert_int_eq(sum, 2000);
	ck_assert_ptr_nonnull(strstr(text, "(write failed: No space left on "
	    "device)"));
	free(text);
}
END_TEST

/* Reads what is in the FIFO (non-blocking) onto buf at *len. */
static void
tdrain(int fd, char **buf, size_t *len, size_t *cap)
{
	ssize_t	n;

	for (;;) {
		if (*cap - *len < 65536) {
			*cap = *cap * 2 + 65536;
			*buf = realloc(*buf, *cap);
			ck_assert_ptr_nonnull(*buf);
		}
		n = read(fd, *buf + *len, *cap - *len - 1);
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	(*buf)[*len] = '\0';
}

static long
tsettled(void)
{
	return audit_written() + audit_dropped();
}

/* A reader that does not keep up: audit_log() does not wait for it, the
 * queue's bound drops lines, and what is read is whole lines. */
START_TEST(test_slow_reader)
{
	struct audit_event	 ev = { .event = "tool_call",
		.caller = "sandbox-1", .tool = "srv__tool", .status = 200,
		.latency_ms = 0.25 };
	char			 fifo[96], id[32], *buf = NULL;
	size_t			 len = 0, cap = 0;
	json_object		**objs;
	long			 w0 = audit_written(), d0 = audit_dropped();
	long			 prev = -1, cur;
	double			 t;
	int			 rfd, i, n;

	snprintf(fifo, sizeof(fifo), "%s/fifo", tdir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	rfd = open(fifo, O_RDONLY | O_NONBLOCK);
	ck_assert_int_ge(rfd, 0);
	ck_assert_int_eq(audit_open(fifo, 16384), 0);
	ev.request_id = id;
	t = tnow();
	for (i = 0; i < 10000; i++) {
		snprintf(id, sizeof(id), "%d", i);
		audit_log(&ev);
	}
	t = tnow() - t;
	ck_assert_msg(t < 0.5, "10000 calls took %.3f s", t);
	ck_assert_int_gt(audit_dropped() - d0, 0);

	/* Read until every line is written or dropped, then to EOF. */
	while (tsettled() < w0 + d0 + 10000) {
		tdrain(rfd, &buf, &len, &cap);
		usleep(1000);
	}
	audit_close();
	tdrain(rfd, &buf, &len, &cap);
	close(rfd);
	ck_assert_int_eq(tsettled(), w0 + d0 + 10000);
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(buf[len - 1], '\n');
	objs = calloc(10000, sizeof(*objs));
	n = tparse(buf, objs, 10000);
	ck_assert_int_eq(n, audit_written() - w0);
	ck_assert_int_eq(n + (audit_dropped() - d0), 10000);
	/* In the order they were logged. */
	for (i = 0; i < n; i++) {
		cur = strtol(tstr(objs[i], "requestId"), NULL, 10);
		ck_assert_int_gt(cur, prev);
		prev = cur;
		json_object_put(objs[i]);
	}
	free(objs);
	free(buf);
}
END_TEST

/* A FIFO that is never read: audit_close() gives up after ~2 s. */
START_TEST(test_stuck_writer_at_close)
{
	struct audit_event	 ev = { .event = "tool_call", .tool = "t",
		.reason = "a reason long enough to fill a pipe sooner",
		.latency_ms = -1 };
	char			 fifo[96];
	long			 w0 = audit_written(), d0 = audit_dropped();
	double			 t;
	int			 rfd, i;

	snprintf(fifo, sizeof(fifo), "%s/fifo", tdir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	rfd = open(fifo, O_RDONLY | O_NONBLOCK);
	ck_assert_int_ge(rfd, 0);
	ck_assert_int_eq(audit_open(fifo, 0), 0);
	for (i = 0; i < 5000; i++)
		audit_log(&ev);
	usleep(100 * 1000);
	t = tnow();
	audit_close();
	t = tnow() - t;
	close(rfd);
	ck_assert_msg(t >= 1.5 && t < 4, "audit_close took %.3f s", t);
	ck_assert_int_eq(tsettled(), w0 + d0 + 5000);
	ck_assert_int_gt(audit_dropped() - d0, 0);
}
END_TEST

/*
 * A write cut short: in a child, RLIMIT_FSIZE of a prime number of bytes
 * (so that no line of equal length ends on it) with SIGXFSZ ignored. The
 * file is cut back to whole lines; the rest is counted as dropped.
 */
#define TLIMIT	10007

static void
tchild_fsize(int out)
{
	struct audit_event	 ev = { .event = "tool_call",
		.caller = "sandbox-1", .tool = "srv__tool", .status = 200,
		.latency_ms = 1, .reason = "padding padding padding padding" };
	struct rlimit		 rl = { TLIMIT, TLIMIT };
	char			 id[16];
	long			 w0 = audit_written(), d0 = audit_dropped();
	long			 res[2];
	int			 i;

	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) == -1 || audit_open(tpath, 0) == -1)
		_exit(2);
	ev.request_id = id;
	for (i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "req-%05d", i);
		audit_log(&ev);
		if (i % 50 == 0)
			usleep(20000);	/* several batches */
	}
	audit_close();
	res[0] = audit_written() - w0;
	res[1] = audit_dropped() - d0;
	_exit(write(out, res, sizeof(res)) == sizeof(res) ? 0 : 3);
}

START_TEST(test_whole_lines_on_short_write)
{
	long	res[2];
	char	*text;
	size_t	len;
	pid_t	pid;
	int	p[2], status, n;

	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		tchild_fsize(p[1]);
	}
	ck_assert_int_gt(pid, 0);
	close(p[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(read(p[0], res, sizeof(res)), sizeof(res));
	close(p[0]);

	text = tread(tpath, &len);
	ck_assert_uint_gt(len, 0);
	ck_assert_uint_lt(len, TLIMIT);
	ck_assert_int_eq(text[len - 1], '\n');
	n = tparse(text, NULL, 0);
	ck_assert_int_eq(n, res[0]);
	ck_assert_int_eq(len % (size_t)n, 0);	/* lines of equal length */
	ck_assert_int_gt(res[1], 0);
	ck_assert_int_eq(res[0] + res[1], 200);
	free(text);
}
END_TEST

/* Before audit_open, after audit_close, twice open, a bad path. */
START_TEST(test_closed_drops)
{
	struct audit_event	 ev = { .event = "server_start",
		.latency_ms = -1 };
	char			 bad[128], *text;
	long			 w0 = audit_written(), d0 = audit_dropped();

	audit_close();
	audit_log(&ev);
	audit_log(NULL);
	ck_assert_int_eq(audit_dropped(), d0 + 2);
	ck_assert_int_eq(audit_open(tpath, 0), 0);
	ck_assert_int_eq(audit_open(tpath, 0), -1);
	audit_log(&ev);
	audit_close();
	audit_close();
	audit_log(&ev);
	ck_assert_int_eq(audit_dropped(), d0 + 3);
	ck_assert_int_eq(audit_written(), w0 + 1);
	/* Open again: the same file, appended to. */
	ck_assert_int_eq(audit_open(tpath, 0), 0);
	audit_log(&ev);
	audit_close();
	ck_assert_int_eq(audit_written(), w0 + 2);
	text = tread(tpath, NULL);
	ck_assert_int_eq(tparse(text, NULL, 0), 2);
	free(text);
	snprintf(bad, sizeof(bad), "%s/no/such/dir/audit.log", tdir);
	ck_assert_int_eq(audit_open(bad, 0), -1);
	audit_log(&ev);
	audit_close();
	ck_assert_int_eq(audit_dropped(), d0 + 4);
}
END_TEST

/* A file left by others: its mode is reported, not changed; a last line
 * cut by a crash is ended before ours. */
START_TEST(test_existing_file)
{
	struct audit_event	 ev = { .event = "server_exit", .status = 0,
		.latency_ms = -1 };
	char			 errpath[96], *text, *p;
	struct stat		 st;
	int			 fd, saved;

	fd = open(tpath, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fchmod(fd, 0644), 0);
	ck_assert_int_eq(write(fd, "{\"cut\":", 7), 7);
	close(fd);
	saved = tstderr_begin(errpath, sizeof(errpath));
	ck_assert_int_eq(audit_open(tpath, 0), 0);
	audit_log(&ev);
	audit_reopen();
	audit_log(&ev);
	audit_close();
	tstderr_end(saved);
	ck_assert_int_eq(stat(tpath, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0644);
	text = tread(errpath, NULL);
	p = strstr(text, "group or others");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_null(strstr(p + 1, "group or others"));	/* once */
	free(text);
	text = tread(tpath, NULL);
	ck_assert_msg(strncmp(text, "{\"cut\":\n", 8) == 0, "file: %s", text);
	ck_assert_int_eq(tparse(text + 8, NULL, 0), 2);
	free(text);
}
END_TEST

/* No path: the lines go to stderr, whole. */
START_TEST(test_stderr)
{
	struct audit_event	 ev = { .event = "shutdown", .latency_ms = -1 };
	char			 errpath[96], *text;
	long			 w0 = audit_written();
	int			 saved;

	saved = tstderr_begin(errpath, sizeof(errpath));
	ck_assert_int_eq(audit_open(NULL, 0), 0);
	audit_log(&ev);
	audit_log(&ev);
	audit_close();
	tstderr_end(saved);
	ck_assert_int_eq(audit_written(), w0 + 2);
	text = tread(errpath, NULL);
	ck_assert_int_eq(tparse(text, NULL, 0), 2);
	free(text);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("audit");
	TCase	*tc = tcase_create("audit");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, tsetup, tteardown);
	tcase_add_test(tc, test_lines);
	tcase_add_test(tc, test_reopen_after_rename);
	tcase_add_test(tc, test_reopen_fails_then_recovers);
	tcase_add_test(tc, test_full_device);
	tcase_add_test(tc, test_slow_reader);
	tcase_add_test(tc, test_stuck_writer_at_close);
	tcase_add_test(tc, test_whole_lines_on_short_write);
	tcase_add_test(tc, test_closed_drops);
	tcase_add_test(tc, test_existing_file);
	tcase_add_test(tc, test_stderr);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
