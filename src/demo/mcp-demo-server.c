/*
 * mcp-demo-server.c: a small MCP server (protocol 2025-11-25) on stdio, used
 * by the README's demo and by the integration tests of mcp-proxyd.
 *
 * It speaks newline-delimited JSON-RPC 2.0: one message per line on stdin
 * and stdout. It is single-threaded: slow work (sleep, progress, waiting for
 * the client's answers to ask_client, a delayed initialize) is kept on a
 * list of pending calls with deadlines, and poll(2) waits on stdin with a
 * timeout equal to the nearest deadline, so a long call never blocks the
 * others. Its tools exercise what a proxy must get right: pagination,
 * isError results, big replies, noise on stderr and stdout, crashes,
 * cancellation, progress, list_changed notifications (also a flood of
 * them), server-to-client requests, a server that stops reading its stdin
 * while its timers still run, a server that keeps reading but stops
 * answering anything (pings included), and schemas that are costly to
 * validate (uniqueItems, a pattern with catastrophic backtracking) which
 * the server itself does not check. Options:
 *
 *	--page-size N	tools per tools/list page (default 5, 0: one page)
 *	--stderr-hello	write one line to stderr at start
 *	--fail-init	exit 2 at start, answering nothing
 *	--slow-start MS	answer initialize MS milliseconds late
 *	--remote-ref-tool  also list "remote", whose schema a validator
 *			cannot compile (a $ref to another document)
 *	--meta-tools	also list "meta", which replies with the params._meta
 *			it was sent, and "odd\"name\\", a tool whose name
 *			holds a quote and a backslash (for label escaping)
 *	--hang-after N	handle the first N tools/call requests, then send
 *			nothing at all (no answer, no ping answer, no
 *			notification) while still reading stdin, as a server
 *			stuck in a deadlock would; it hangs right after the
 *			N-th call (0: at the first), so it can hang idle.
 *			Hung, it does not notice EOF on stdin either: only
 *			a signal ends it
 *	--hang-tool	also list "hang", which makes the server hang as
 *			above from then on (that call included): a way to
 *			hang one chosen process of several
 *	--ignore-sigterm  ignore SIGTERM (SIGKILL, or EOF on stdin when not
 *			hung, ends the process)
 *
 * Like every file of the build it gets autoconf.h (and so _GNU_SOURCE)
 * force-included by the compiler command line.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#define DEMO_NAME		"mcp-demo-server"
#define DEMO_VERSION		"0.1.0"
#define DEMO_PROTOCOL_LATEST	"2025-11-25"
#define DEMO_PAGE_SIZE		5
#define DEMO_CURSOR_PREFIX	"demo-page-"
#define DEMO_READ_CHUNK		(256 * 1024)
#define DEMO_MAX_LINE		((size_t)1 << 30)	/* json-c takes int */
#define DEMO_MAX_DEPTH		64
#define DEMO_ASK_TIMEOUT_MS	30000
#define DEMO_PROGRESS_STEP_MS	10
#define DEMO_NOISE_LINE		200
#define DEMO_ERR_MAX		512
#define DEMO_CHURN_BATCH	1024	/* notifications per write */
#define DEMO_LIST_CHANGED	\
	"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n"

enum {
	RPC_PARSE_ERROR = -32700,
	RPC_INVALID_REQUEST = -32600,
	RPC_METHOD_NOT_FOUND = -32601,
	RPC_INVALID_PARAMS = -32602,
	RPC_INTERNAL_ERROR = -32603
};

enum demo_pending_kind {
	DEMO_PENDING_SLEEP,
	DEMO_PENDING_PROGRESS,
	DEMO_PENDING_ASK,
	DEMO_PENDING_INIT
};

/* A call (or initialize) that is answered later. */
struct demo_pending {
	struct demo_pending	*next;
	enum demo_pending_kind	 kind;
	struct json_object	*id;		/* owned reference */
	int64_t			 deadline;	/* monotonic ms */
	int64_t			 ms;		/* sleep: as asked */
	struct json_object	*token;		/* progress: owned, or NULL */
	int			 step;		/* progress: steps sent */
	int			 steps;
	char			*roots_id;	/* ask: our roots/list id */
	int64_t			 ping_id;	/* ask: our ping id */
	char			*roots_answer;	/* ask: "ok 2", "error -32601" */
	char			*ping_answer;
	struct json_object	*result;	/* init: the reply, owned */
};

/* What a tool handler sees; everything is borrowed. */
struct demo_call {
	const char		*name;
	struct json_object	*id;
	struct json_object	*args;		/* always an object */
	struct json_object	*meta;		/* params._meta, or NULL */
};

/*
 * A tool's fn returns a CallToolResult to send now, or NULL: with err set,
 * the call fails with an isError result carrying err; with err empty, the
 * call was put on the pending list and is answered later.
 */
struct demo_tool {
	const char		*name;
	const char		*description;
	const char		*input_schema;
	const char		*output_schema;	/* NULL: none */
	struct json_object	*(*fn)(const struct demo_call *, char *,
				    size_t);
	int			 hidden;	/* 1: only while toggled on, 2:
						   only with --remote-ref-tool,
						   3: --meta-tools, 4:
						   --hang-tool */
	struct json_object	*input;		/* parsed at start */
	struct json_object	*output;
};

struct demo_state {
	int			 page_size;
	int			 slow_start_ms;
	int			 extra_enabled;
	int			 remote_enabled;
	int			 meta_enabled;
	int			 hang_enabled;
	int			 hang_after;	/* -1: never */
	int64_t			 ncalls;	/* tools/call requests read */
	int			 hung;		/* 1: sends nothing */
	int			 eof;		/* hung at EOF: stdin unread */
	int			 stdout_dead;
	int			 stalled;	/* 1: stdin is not read */
	int64_t			 stall_until;	/* monotonic ms, 0: for good */
	int64_t			 ask_seq;
	struct demo_pending	*pending;
	json_tokener		*tok;
	char			*buf;		/* unparsed input */
	size_t			 len;
	size_t			 cap;
	size_t			 scanned;	/* bytes of buf known to hold no '\n' */
	int			 discarding;	/* inside an over-long line */
};

static void	 demo_warnx(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static void	 demo_on_sigterm(int);
static int64_t	 demo_now_ms(void);
static int	 demo_write_all(int, const struct iovec *, int);
static void	 demo_send(struct json_object *);
static void	 demo_send_result(struct json_object *, struct json_object *);
static void	 demo_send_error(struct json_object *, int, const char *,
		    const char *);
static void	 demo_send_notification(const char *, struct json_object *);
static struct json_object *demo_text_result(const char *, size_t, int);
static struct json_object *demo_error_result(const char *);
static int	 demo_id_valid(struct json_object *);
static int	 demo_id_equal(struct json_object *, struct json_object *);
static int	 demo_arg_int(struct json_object *, const char *, int, int64_t,
		    int64_t, int64_t, int64_t *, char *, size_t);
static int	 demo_arg_string(struct json_object *, const char *, int,
		    const char *, const char **, char *, size_t);
static int	 demo_arg_number(struct json_object *, const char *, int *,
		    int64_t *, double *, char *, size_t);
static int	 demo_arg_only(struct json_object *, const char *const *,
		    const char *, char *, size_t);
static int	 demo_arg_bool(struct json_object *, const char *, int, int *,
		    char *, size_t);
static int	 demo_arg_array(struct json_object *, const char *,
		    struct json_object **, char *, size_t);
static int	 demo_match_letters(const char *);
static int	 demo_match_email(const char *);
static int	 demo_match_sku(const char *);
static void	 demo_format_double(double, char *, size_t);
static struct demo_pending *demo_pending_new(enum demo_pending_kind,
		    struct json_object *, int64_t);
static void	 demo_pending_add(struct demo_pending *);
static void	 demo_pending_free(struct demo_pending *);
static int	 demo_pending_fire(struct demo_pending *);
static void	 demo_pending_run(int64_t);
static int	 demo_pending_timeout(int64_t);
static int	 demo_poll_timeout(int64_t);
static int	 demo_reading(int64_t);
static void	 demo_ask_reply(struct demo_pending *);
static struct json_object *demo_tool_echo(const struct demo_call *, char *,
		    size_t);
static struct json_object *demo_tool_add(const struct demo_call *, char *,
		    size_t);
static struct json_object *demo_tool_sleep(const struct demo_call *, char *,
		    size_t);
static struct json_object *demo_tool_fail(const struct demo_call *, char *,
		    size_t);
static struct json_object *demo_tool_crash(const struct demo_call *, char *,
		    size_t);
static struct json_object *demo_tool_big(const struct demo_call *, char *,
		    size_t);
static struct json_object *demo_tool_noise(const struct demo_call *, char *,
		    size_t);
static struct json_object *demo_tool_structured(const struct demo_call *,
		    char *, size_t);
static struct json_object *demo_tool_toggle(const struct demo_call *, char *,
		    size_t);
static struct json_object *demo_tool_order(const struct demo_call *, char *,
		    size_t);
static struct json_object *demo_tool_progress(const struct demo_call *,
		    char *, size_t);
static struct json_object *demo_tool_ask(const struct demo_call *, char *,
		    size_t);
static struct json_object *demo_tool_extra(const struct demo_call *, char *,
		    size_t);
static struct json_object *demo_tool_unique(const struct demo_call *, char *,
		    size_t);
static struct json_object *demo_tool_meta(const struct demo_call *, char *,
		    size_t);
static struct json_object *demo_tool_match(const struct demo_call *, char *,
		    size_t);
static struct json_object *demo_tool_stall(const struct demo_call *, char *,
		    size_t);
static struct json_object *demo_tool_churn(const struct demo_call *, char *,
		    size_t);
static struct json_object *demo_tool_hang(const struct demo_call *, char *,
		    size_t);
static void	 demo_hang(const char *);
static int64_t	 demo_churn(int64_t, int);
static int	 demo_tools_init(void);
static void	 demo_tools_free(void);
static struct demo_tool *demo_tool_find(const char *);
static int	 demo_tool_listed(const struct demo_tool *);
static void	 demo_handle_initialize(struct json_object *,
		    struct json_object *);
static void	 demo_handle_tools_list(struct json_object *,
		    struct json_object *);
static void	 demo_handle_tools_call(struct json_object *,
		    struct json_object *);
static void	 demo_handle_set_level(struct json_object *,
		    struct json_object *);
static void	 demo_handle_notification(const char *, struct json_object *);
static void	 demo_handle_response(struct json_object *, struct json_object *);
static void	 demo_handle_message(struct json_object *);
static void	 demo_handle_line(char *, size_t);
static void	 demo_handle_lines(void);
static int	 demo_read_input(void);
static void	 demo_usage(void);
static int	 demo_parse_int(const char *, const char *, int, int);

static struct demo_state demo = {
	.page_size = DEMO_PAGE_SIZE,
	.hang_after = -1
};

static struct demo_tool demo_tools[] = {
	{
		"echo",
		"Echo a message back, optionally repeated.",
		"{\"type\":\"object\",\"properties\":{"
		"\"message\":{\"type\":\"string\",\"description\":"
		"\"The text to echo.\"},"
		"\"repeat\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100,"
		"\"default\":1,\"description\":\"How many times to repeat it.\"}},"
		"\"required\":[\"message\"]}",
		NULL, demo_tool_echo, 0, NULL, NULL
	}, {
		"add",
		"Add two numbers and return the sum as text.",
		"{\"type\":\"object\",\"properties\":{"
		"\"a\":{\"type\":\"number\",\"description\":\"First addend.\"},"
		"\"b\":{\"type\":\"number\",\"description\":\"Second addend.\"}},"
		"\"required\":[\"a\",\"b\"]}",
		NULL, demo_tool_add, 0, NULL, NULL
	}, {
		"sleep",
		"Wait the given number of milliseconds without blocking other "
		"calls, then reply.",
		"{\"type\":\"object\",\"properties\":{"
		"\"ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":600000,"
		"\"description\":\"Milliseconds to wait.\"}},"
		"\"required\":[\"ms\"]}",
		NULL, demo_tool_sleep, 0, NULL, NULL
	}, {
		"fail",
		"Always fail with an isError result.",
		"{\"type\":\"object\",\"properties\":{"
		"\"message\":{\"type\":\"string\",\"default\":"
		"\"the tool failed on purpose\"}}}",
		NULL, demo_tool_fail, 0, NULL, NULL
	}, {
		"crash",
		"Exit the server process at once, in the middle of the call.",
		"{\"type\":\"object\",\"properties\":{"
		"\"exitCode\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":255,"
		"\"default\":3}}}",
		NULL, demo_tool_crash, 0, NULL, NULL
	}, {
		"big",
		"Return one text block of exactly the given number of bytes.",
		"{\"type\":\"object\",\"properties\":{"
		"\"bytes\":{\"type\":\"integer\",\"minimum\":0,"
		"\"maximum\":67108864}},"
		"\"required\":[\"bytes\"]}",
		NULL, demo_tool_big, 0, NULL, NULL
	}, {
		"noise",
		"Write many lines to stderr and one non-JSON line to stdout, "
		"then reply.",
		"{\"type\":\"object\",\"properties\":{"
		"\"lines\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100000,"
		"\"default\":1000}}}",
		NULL, demo_tool_noise, 0, NULL, NULL
	}, {
		"structured",
		"Weather report for a city, as structured content.",
		"{\"type\":\"object\",\"properties\":{"
		"\"city\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z ]+$\","
		"\"minLength\":1,\"maxLength\":100},"
		"\"units\":{\"type\":\"string\",\"enum\":[\"metric\",\"imperial\"],"
		"\"default\":\"metric\"}},"
		"\"required\":[\"city\"]}",
		"{\"type\":\"object\",\"properties\":{"
		"\"temperature\":{\"type\":\"number\"},"
		"\"conditions\":{\"type\":\"string\"},"
		"\"city\":{\"type\":\"string\"}},"
		"\"required\":[\"temperature\",\"conditions\",\"city\"]}",
		demo_tool_structured, 0, NULL, NULL
	}, {
		"toggle_extra_tool",
		"Add or remove the tool named extra and notify the client that "
		"the tool list changed.",
		"{\"type\":\"object\",\"properties\":{},"
		"\"additionalProperties\":false}",
		NULL, demo_tool_toggle, 0, NULL, NULL
	}, {
		"order",
		"Place an order for a customer (nested objects and arrays).",
		"{\"type\":\"object\",\"properties\":{"
		"\"customer\":{\"type\":\"object\",\"properties\":{"
		"\"name\":{\"type\":\"string\",\"minLength\":1},"
		"\"email\":{\"type\":\"string\","
		"\"pattern\":\"^[^@ ]+@[^@ ]+\\\\.[A-Za-z]+$\"}},"
		"\"required\":[\"name\",\"email\"],"
		"\"additionalProperties\":false},"
		"\"items\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":100,"
		"\"items\":{\"type\":\"object\",\"properties\":{"
		"\"sku\":{\"type\":\"string\","
		"\"pattern\":\"^[A-Z]{3}-[0-9]{3}$\"},"
		"\"qty\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000}},"
		"\"required\":[\"sku\",\"qty\"],"
		"\"additionalProperties\":false}},"
		"\"priority\":{\"type\":\"string\","
		"\"enum\":[\"low\",\"normal\",\"high\"],\"default\":\"normal\"}},"
		"\"required\":[\"customer\",\"items\"],"
		"\"additionalProperties\":false}",
		NULL, demo_tool_order, 0, NULL, NULL
	}, {
		"progress",
		"Send a progress notification per step (when the call has a "
		"progressToken), 10 ms apart, then reply done.",
		"{\"type\":\"object\",\"properties\":{"
		"\"steps\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":20}},"
		"\"required\":[\"steps\"]}",
		NULL, demo_tool_progress, 0, NULL, NULL
	}, {
		"ask_client",
		"Send roots/list and ping requests to the client and report "
		"what it answered.",
		"{\"type\":\"object\",\"properties\":{}}",
		NULL, demo_tool_ask, 0, NULL, NULL
	}, {
		"extra",
		"A tool that exists only after toggle_extra_tool.",
		"{\"type\":\"object\",\"properties\":{}}",
		NULL, demo_tool_extra, 1, NULL, NULL
	}, {
		"unique",
		"Count the items of xs and reply \"<n> items\". The schema asks "
		"for unique items; the server does not compare them, a "
		"validator in front of it has to.",
		"{\"type\":\"object\",\"properties\":{"
		"\"xs\":{\"type\":\"array\",\"uniqueItems\":true,"
		"\"description\":\"Any JSON values, no two of them equal.\"}},"
		"\"required\":[\"xs\"]}",
		NULL, demo_tool_unique, 0, NULL, NULL
	}, {
		"match",
		"Count the words and reply \"<n> words\". Each word must match "
		"^(a|aa)+$, a pattern that backtracks catastrophically in a "
		"naive regex engine; the server does not run it, a validator in "
		"front of it has to.",
		"{\"type\":\"object\",\"properties\":{"
		"\"words\":{\"type\":\"array\",\"items\":{\"type\":\"string\","
		"\"pattern\":\"^(a|aa)+$\"}}},"
		"\"required\":[\"words\"]}",
		NULL, demo_tool_match, 0, NULL, NULL
	}, {
		"stall",
		"Reply stalling at once, then stop reading stdin for ms "
		"milliseconds (0 or absent: until the process is killed). "
		"Calls already pending (sleep, progress) still reply on time; "
		"SIGTERM still ends the process.",
		"{\"type\":\"object\",\"properties\":{"
		"\"ms\":{\"type\":\"integer\",\"minimum\":0,"
		"\"maximum\":3600000,"
		"\"description\":\"0: until the process is killed\"}}}",
		NULL, demo_tool_stall, 0, NULL, NULL
	}, {
		"churn",
		"Send notifications/tools/list_changed count times back to back, "
		"then reply \"sent <count>\".",
		"{\"type\":\"object\",\"properties\":{"
		"\"count\":{\"type\":\"integer\",\"minimum\":1,"
		"\"maximum\":1000000,\"default\":1000},"
		"\"toggle\":{\"type\":\"boolean\",\"default\":false,"
		"\"description\":\"also flip the extra tool each time, so the "
		"list really changes\"}}}",
		NULL, demo_tool_churn, 0, NULL, NULL
	}, {
		"remote",
		"A tool whose input schema refers to a remote document, which "
		"a validator cannot load (listed with --remote-ref-tool).",
		"{\"type\":\"object\",\"properties\":{\"x\":{\"$ref\":"
		"\"https://schemas.example.com/x.json\"}}}",
		NULL, demo_tool_extra, 2, NULL, NULL
	}, {
		"meta",
		"Reply with the JSON text of the call's params._meta (null "
		"without one), listed with --meta-tools.",
		"{\"type\":\"object\"}",
		NULL, demo_tool_meta, 3, NULL, NULL
	}, {
		"odd\"name\\",
		"A tool whose name holds a quote and a backslash, listed with "
		"--meta-tools; replies \"extra\".",
		"{\"type\":\"object\"}",
		NULL, demo_tool_extra, 3, NULL, NULL
	}, {
		"hang",
		"Stop answering anything, this call included, while still "
		"reading stdin (listed with --hang-tool).",
		"{\"type\":\"object\",\"properties\":{}}",
		NULL, demo_tool_hang, 4, NULL, NULL
	}
};

#define DEMO_NTOOLS	(sizeof(demo_tools) / sizeof(demo_tools[0]))

static const char *const demo_protocols[] = {
	"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"
};

static const char *const demo_log_levels[] = {
	"debug", "info", "notice", "warning", "error", "critical", "alert",
	"emergency"
};

static void
demo_warnx(const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;
	int	 n, m;
	ssize_t	 w;

	n = snprintf(line, sizeof(line), "%s: ", DEMO_NAME);
	if (n < 0)
		return;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	do {
		w = write(STDERR_FILENO, line, (size_t)n);
	} while (w == -1 && errno == EINTR);
}

static void
demo_on_sigterm(int sig)
{
	(void)sig;
	_exit(0);
}

static int64_t
demo_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write every byte of iov, waiting if fd is non-blocking. */
static int
demo_write_all(int fd, const struct iovec *iov_in, int iovcnt)
{
	struct iovec	 iov[4];
	struct pollfd	 pfd;
	ssize_t		 n;
	int		 i = 0;

	if (iovcnt > 4)
		return -1;
	memcpy(iov, iov_in, sizeof(iov[0]) * (size_t)iovcnt);
	while (i < iovcnt) {
		if (iov[i].iov_len == 0) {
			i++;
			continue;
		}
		n = writev(fd, iov + i, iovcnt - i);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				pfd.fd = fd;
				pfd.events = POLLOUT;
				(void)poll(&pfd, 1, -1);
				continue;
			}
			return -1;
		}
		while (n > 0 && i < iovcnt) {
			if ((size_t)n >= iov[i].iov_len) {
				n -= (ssize_t)iov[i].iov_len;
				iov[i].iov_len = 0;
				i++;
			} else {
				iov[i].iov_base = (char *)iov[i].iov_base + n;
				iov[i].iov_len -= (size_t)n;
				n = 0;
			}
		}
	}
	return 0;
}

/* Serialise msg on one line of stdout and release it. */
static void
demo_send(struct json_object *msg)
{
	struct iovec	 iov[2];
	const char	*s;
	size_t		 len;
	static char	 nl[] = "\n";

	if (msg == NULL) {
		demo_warnx("out of memory building a message");
		return;
	}
	if (demo.stdout_dead || demo.hung) {
		json_object_put(msg);
		return;
	}
	s = json_object_to_json_string_length(msg,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (s == NULL) {
		demo_warnx("cannot serialise a message");
		json_object_put(msg);
		return;
	}
	iov[0].iov_base = (void *)(uintptr_t)s;
	iov[0].iov_len = len;
	iov[1].iov_base = nl;
	iov[1].iov_len = 1;
	if (demo_write_all(STDOUT_FILENO, iov, 2) == -1) {
		demo_warnx("stdout: %s", strerror(errno));
		demo.stdout_dead = 1;
	}
	json_object_put(msg);
}

/* Reply to id with result; both are consumed (id is a new reference). */
static void
demo_send_result(struct json_object *id, struct json_object *result)
{
	struct json_object	*msg;

	if ((msg = json_object_new_object()) == NULL) {
		json_object_put(id);
		json_object_put(result);
		return;
	}
	json_object_object_add(msg, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(msg, "id", id);
	json_object_object_add(msg, "result", result);
	demo_send(msg);
}

/* Error reply; id is borrowed (NULL: JSON null), data may be NULL. */
static void
demo_send_error(struct json_object *id, int code, const char *message,
    const char *data)
{
	struct json_object	*msg, *err;

	if ((msg = json_object_new_object()) == NULL)
		return;
	if ((err = json_object_new_object()) == NULL) {
		json_object_put(msg);
		return;
	}
	json_object_object_add(err, "code", json_object_new_int(code));
	json_object_object_add(err, "message",
	    json_object_new_string(message));
	if (data != NULL)
		json_object_object_add(err, "data",
		    json_object_new_string(data));
	json_object_object_add(msg, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(msg, "id", json_object_get(id));
	json_object_object_add(msg, "error", err);
	demo_send(msg);
}

/* params is consumed and may be NULL. */
static void
demo_send_notification(const char *method, struct json_object *params)
{
	struct json_object	*msg;

	if ((msg = json_object_new_object()) == NULL) {
		json_object_put(params);
		return;
	}
	json_object_object_add(msg, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(msg, "method", json_object_new_string(method));
	if (params != NULL)
		json_object_object_add(msg, "params", params);
	demo_send(msg);
}

/* A CallToolResult holding one text block. */
static struct json_object *
demo_text_result(const char *text, size_t len, int is_error)
{
	struct json_object	*result = NULL, *content, *block;

	if (len > INT_MAX)
		goto fail;
	if ((result = json_object_new_object()) == NULL)
		goto fail;
	if ((content = json_object_new_array()) == NULL)
		goto fail;
	json_object_object_add(result, "content", content);
	if ((block = json_object_new_object()) == NULL)
		goto fail;
	json_object_array_add(content, block);
	json_object_object_add(block, "type", json_object_new_string("text"));
	json_object_object_add(block, "text",
	    json_object_new_string_len(text, (int)len));
	if (is_error)
		json_object_object_add(result, "isError",
		    json_object_new_boolean(1));
	return result;
fail:
	json_object_put(result);
	return NULL;
}

static struct json_object *
demo_error_result(const char *text)
{
	return demo_text_result(text, strlen(text), 1);
}

/* MCP request ids are strings or integers, never null. */
static int
demo_id_valid(struct json_object *id)
{
	return json_object_is_type(id, json_type_string) ||
	    json_object_is_type(id, json_type_int);
}

static int
demo_id_equal(struct json_object *a, struct json_object *b)
{
	if (a == NULL || b == NULL)
		return 0;
	if (json_object_is_type(a, json_type_int) &&
	    json_object_is_type(b, json_type_int))
		return json_object_get_int64(a) == json_object_get_int64(b);
	if (json_object_is_type(a, json_type_string) &&
	    json_object_is_type(b, json_type_string))
		return strcmp(json_object_get_string(a),
		    json_object_get_string(b)) == 0;
	return 0;
}

/*
 * An integer argument in [min, max]; an integral number such as 3.0 counts
 * (JSON Schema does so too). Absent: def, or an error when required.
 */
static int
demo_arg_int(struct json_object *args, const char *key, int required,
    int64_t min, int64_t max, int64_t def, int64_t *out, char *err,
    size_t errlen)
{
	struct json_object	*v;
	double			 d;
	int64_t			 i;

	if (!json_object_object_get_ex(args, key, &v)) {
		if (required) {
			snprintf(err, errlen, "missing required argument "
			    "'%s'", key);
			return -1;
		}
		*out = def;
		return 0;
	}
	if (json_object_is_type(v, json_type_int)) {
		i = json_object_get_int64(v);
		if (i == INT64_MAX && json_object_get_uint64(v) >
		    (uint64_t)INT64_MAX)
			goto range;
	} else if (json_object_is_type(v, json_type_double)) {
		d = json_object_get_double(v);
		if (!isfinite(d) || d < -9e18 || d > 9e18 ||
		    d != (double)(int64_t)d)
			goto type;
		i = (int64_t)d;
	} else
		goto type;
	if (i < min || i > max)
		goto range;
	*out = i;
	return 0;
type:
	snprintf(err, errlen, "argument '%s' must be an integer", key);
	return -1;
range:
	snprintf(err, errlen, "argument '%s' must be an integer from %" PRId64
	    " to %" PRId64, key, min, max);
	return -1;
}

/* A string argument, borrowed from args. */
static int
demo_arg_string(struct json_object *args, const char *key, int required,
    const char *def, const char **out, char *err, size_t errlen)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(args, key, &v)) {
		if (required) {
			snprintf(err, errlen, "missing required argument "
			    "'%s'", key);
			return -1;
		}
		*out = def;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string)) {
		snprintf(err, errlen, "argument '%s' must be a string", key);
		return -1;
	}
	*out = json_object_get_string(v);
	return 0;
}

/* A required finite number: *is_int says whether *ival or *dval holds it. */
static int
demo_arg_number(struct json_object *args, const char *key, int *is_int,
    int64_t *ival, double *dval, char *err, size_t errlen)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(args, key, &v)) {
		snprintf(err, errlen, "missing required argument '%s'", key);
		return -1;
	}
	*dval = json_object_get_double(v);
	if (json_object_is_type(v, json_type_int)) {
		*ival = json_object_get_int64(v);
		*is_int = *ival != INT64_MAX && *ival != INT64_MIN;
		return 0;
	}
	if (json_object_is_type(v, json_type_double) && isfinite(*dval)) {
		*is_int = 0;
		return 0;
	}
	snprintf(err, errlen, "argument '%s' must be a finite number", key);
	return -1;
}

/* additionalProperties false: every key of obj must be in allowed. */
static int
demo_arg_only(struct json_object *obj, const char *const *allowed,
    const char *where, char *err, size_t errlen)
{
	size_t	 i;
	int	 ok;

	json_object_object_foreach(obj, key, val) {
		(void)val;
		ok = 0;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				ok = 1;
		if (!ok) {
			snprintf(err, errlen, "unexpected property '%s'%s",
			    key, where);
			return -1;
		}
	}
	return 0;
}

/* A boolean argument; absent: def. */
static int
demo_arg_bool(struct json_object *args, const char *key, int def, int *out,
    char *err, size_t errlen)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(args, key, &v)) {
		*out = def;
		return 0;
	}
	if (!json_object_is_type(v, json_type_boolean)) {
		snprintf(err, errlen, "argument '%s' must be a boolean", key);
		return -1;
	}
	*out = json_object_get_boolean(v);
	return 0;
}

/* A required array argument, borrowed from args. */
static int
demo_arg_array(struct json_object *args, const char *key,
    struct json_object **out, char *err, size_t errlen)
{
	if (!json_object_object_get_ex(args, key, out)) {
		snprintf(err, errlen, "missing required argument '%s'", key);
		return -1;
	}
	if (!json_object_is_type(*out, json_type_array)) {
		snprintf(err, errlen, "argument '%s' must be an array", key);
		return -1;
	}
	return 0;
}

/* ^[A-Za-z ]+$ */
static int
demo_match_letters(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    *s == ' '))
			return 0;
	return 1;
}

/* ^[^@ ]+@[^@ ]+\.[A-Za-z]+$ */
static int
demo_match_email(const char *s)
{
	const char	*at, *dot, *p;

	if ((at = strchr(s, '@')) == NULL || at == s)
		return 0;
	if (strchr(at + 1, '@') != NULL || strchr(s, ' ') != NULL)
		return 0;
	if ((dot = strrchr(at + 1, '.')) == NULL || dot == at + 1 ||
	    dot[1] == '\0')
		return 0;
	for (p = dot + 1; *p != '\0'; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
			return 0;
	return 1;
}

/* ^[A-Z]{3}-[0-9]{3}$ */
static int
demo_match_sku(const char *s)
{
	int	 i;

	for (i = 0; i < 3; i++)
		if (s[i] < 'A' || s[i] > 'Z')
			return 0;
	if (s[3] != '-')
		return 0;
	for (i = 4; i < 7; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return s[7] == '\0';
}

/* Shortest text that reads back as d: 5, 2.5, 0.30000000000000004. */
static void
demo_format_double(double d, char *out, size_t outlen)
{
	int	 prec;

	for (prec = 15; prec <= 17; prec++) {
		snprintf(out, outlen, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			return;
	}
}

static struct demo_pending *
demo_pending_new(enum demo_pending_kind kind, struct json_object *id,
    int64_t deadline)
{
	struct demo_pending	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->kind = kind;
	p->id = json_object_get(id);
	p->deadline = deadline;
	return p;
}

static void
demo_pending_add(struct demo_pending *p)
{
	p->next = demo.pending;
	demo.pending = p;
}

static void
demo_pending_free(struct demo_pending *p)
{
	if (p == NULL)
		return;
	json_object_put(p->id);
	json_object_put(p->token);
	json_object_put(p->result);
	free(p->roots_id);
	free(p->roots_answer);
	free(p->ping_answer);
	free(p);
}

/* The deadline of p has come: 1 if p is finished and must be freed. */
static int
demo_pending_fire(struct demo_pending *p)
{
	struct json_object	*params;
	char			 text[64];

	switch (p->kind) {
	case DEMO_PENDING_SLEEP:
		snprintf(text, sizeof(text), "slept %" PRId64 " ms", p->ms);
		demo_send_result(json_object_get(p->id),
		    demo_text_result(text, strlen(text), 0));
		return 1;
	case DEMO_PENDING_PROGRESS:
		if (p->step < p->steps) {
			p->step++;
			if (p->token != NULL &&
			    (params = json_object_new_object()) != NULL) {
				snprintf(text, sizeof(text), "step %d of %d",
				    p->step, p->steps);
				json_object_object_add(params, "progressToken",
				    json_object_get(p->token));
				json_object_object_add(params, "progress",
				    json_object_new_int(p->step));
				json_object_object_add(params, "total",
				    json_object_new_int(p->steps));
				json_object_object_add(params, "message",
				    json_object_new_string(text));
				demo_send_notification("notifications/progress",
				    params);
			}
			if (p->step < p->steps) {
				p->deadline += DEMO_PROGRESS_STEP_MS;
				return 0;
			}
		}
		demo_send_result(json_object_get(p->id),
		    demo_text_result("done", 4, 0));
		return 1;
	case DEMO_PENDING_ASK:
		demo_send_result(json_object_get(p->id), demo_error_result(
		    "ask_client: the client did not answer within 30 s"));
		return 1;
	case DEMO_PENDING_INIT:
		demo_send_result(json_object_get(p->id), p->result);
		p->result = NULL;
		return 1;
	}
	return 1;
}

/* Fire every pending call whose deadline has come. */
static void
demo_pending_run(int64_t now)
{
	struct demo_pending	**pp, *p;

	pp = &demo.pending;
	while ((p = *pp) != NULL) {
		if (p->deadline <= now && demo_pending_fire(p)) {
			*pp = p->next;
			demo_pending_free(p);
		} else
			pp = &p->next;
	}
}

/* poll(2) timeout until the nearest deadline; -1 when nothing waits. */
static int
demo_pending_timeout(int64_t now)
{
	struct demo_pending	*p;
	int64_t			 best = -1;

	for (p = demo.pending; p != NULL; p = p->next)
		if (best == -1 || p->deadline < best)
			best = p->deadline;
	if (best == -1)
		return -1;
	if (best <= now)
		return 0;
	if (best - now > INT_MAX)
		return INT_MAX;
	return (int)(best - now);
}

/* poll(2) timeout: the nearest deadline or the end of a stall. */
static int
demo_poll_timeout(int64_t now)
{
	int	 t = demo_pending_timeout(now);
	int64_t	 left;

	if (!demo.stalled || demo.stall_until == 0)
		return t;
	left = demo.stall_until - now;
	if (left < 0)
		left = 0;
	if (left > INT_MAX)
		left = INT_MAX;
	return t == -1 || left < t ? (int)left : t;
}

/*
 * Whether stdin is to be read now. A stall whose time has come ends here,
 * and the lines read before it began are handled first (one of them may
 * start another stall).
 */
static int
demo_reading(int64_t now)
{
	if (demo.stalled && demo.stall_until != 0 && demo.stall_until <= now) {
		demo.stalled = 0;
		demo_handle_lines();
	}
	return !demo.stalled;
}

static void
demo_ask_reply(struct demo_pending *p)
{
	char	 text[256];

	snprintf(text, sizeof(text), "ping:%s roots:%s", p->ping_answer,
	    p->roots_answer);
	demo_send_result(json_object_get(p->id),
	    demo_text_result(text, strlen(text), 0));
}

static struct json_object *
demo_tool_echo(const struct demo_call *c, char *err, size_t errlen)
{
	struct json_object	*result;
	const char		*msg;
	char			*text;
	int64_t			 repeat, i;
	size_t			 len;

	if (demo_arg_string(c->args, "message", 1, NULL, &msg, err,
	    errlen) == -1)
		return NULL;
	if (demo_arg_int(c->args, "repeat", 0, 1, 100, 1, &repeat, err,
	    errlen) == -1)
		return NULL;
	len = strlen(msg);
	if (len > INT_MAX / 100 ||
	    (text = malloc(len * (size_t)repeat + 1)) == NULL) {
		snprintf(err, errlen, "message too long");
		return NULL;
	}
	for (i = 0; i < repeat; i++)
		memcpy(text + len * (size_t)i, msg, len);
	result = demo_text_result(text, len * (size_t)repeat, 0);
	free(text);
	return result;
}

static struct json_object *
demo_tool_add(const struct demo_call *c, char *err, size_t errlen)
{
	int64_t		 ia, ib, isum;
	double		 da, db, dsum;
	int		 inta, intb;
	char		 text[64];

	if (demo_arg_number(c->args, "a", &inta, &ia, &da, err, errlen) == -1 ||
	    demo_arg_number(c->args, "b", &intb, &ib, &db, err, errlen) == -1)
		return NULL;
	if (inta && intb && !__builtin_add_overflow(ia, ib, &isum))
		snprintf(text, sizeof(text), "%" PRId64, isum);
	else {
		dsum = da + db;
		if (!isfinite(dsum)) {
			snprintf(err, errlen, "the sum is not a finite number");
			return NULL;
		}
		demo_format_double(dsum, text, sizeof(text));
	}
	return demo_text_result(text, strlen(text), 0);
}

static struct json_object *
demo_tool_sleep(const struct demo_call *c, char *err, size_t errlen)
{
	struct demo_pending	*p;
	int64_t			 ms;

	if (demo_arg_int(c->args, "ms", 1, 0, 600000, 0, &ms, err,
	    errlen) == -1)
		return NULL;
	if ((p = demo_pending_new(DEMO_PENDING_SLEEP, c->id,
	    demo_now_ms() + ms)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->ms = ms;
	demo_pending_add(p);
	return NULL;
}

static struct json_object *
demo_tool_fail(const struct demo_call *c, char *err, size_t errlen)
{
	const char	*msg;

	if (demo_arg_string(c->args, "message", 0,
	    "the tool failed on purpose", &msg, err, errlen) == -1)
		return NULL;
	return demo_error_result(msg);
}

static struct json_object *
demo_tool_crash(const struct demo_call *c, char *err, size_t errlen)
{
	int64_t	 code;

	if (demo_arg_int(c->args, "exitCode", 0, 0, 255, 3, &code, err,
	    errlen) == -1)
		return NULL;
	demo_warnx("crash: exiting with status %d", (int)code);
	_exit((int)code);
}

static struct json_object *
demo_tool_big(const struct demo_call *c, char *err, size_t errlen)
{
	struct json_object	*result;
	char			*text;
	int64_t			 bytes;

	if (demo_arg_int(c->args, "bytes", 1, 0, 67108864, 0, &bytes, err,
	    errlen) == -1)
		return NULL;
	if ((text = malloc((size_t)bytes + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memset(text, 'x', (size_t)bytes);
	text[bytes] = '\0';
	result = demo_text_result(text, (size_t)bytes, 0);
	free(text);
	return result;
}

static struct json_object *
demo_tool_noise(const struct demo_call *c, char *err, size_t errlen)
{
	static char	 junk[] = "this is not json\n";
	struct iovec	 iov;
	char		*buf;
	size_t		 len = 0, cap = 64 * 1024;
	int64_t		 lines, i;
	int		 n;

	if (demo_arg_int(c->args, "lines", 0, 1, 100000, 1000, &lines, err,
	    errlen) == -1)
		return NULL;
	if ((buf = malloc(cap)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (i = 1; i <= lines; i++) {
		n = snprintf(buf + len, cap - len, "noise %06" PRId64 " of %06"
		    PRId64 ": %.*s\n", i, lines, DEMO_NOISE_LINE - 28,
		    "the quick brown fox jumps over the lazy dog; "
		    "the quick brown fox jumps over the lazy dog; "
		    "the quick brown fox jumps over the lazy dog; "
		    "the quick brown fox jumps over the lazy dog; "
		    "the quick brown fox jumps over the lazy dog.");
		if (n > 0)
			len += (size_t)n;
		if (cap - len < 2 * DEMO_NOISE_LINE || i == lines) {
			iov.iov_base = buf;
			iov.iov_len = len;
			(void)demo_write_all(STDERR_FILENO, &iov, 1);
			len = 0;
		}
	}
	free(buf);
	if (!demo.stdout_dead && !demo.hung) {
		iov.iov_base = junk;
		iov.iov_len = sizeof(junk) - 1;
		if (demo_write_all(STDOUT_FILENO, &iov, 1) == -1)
			demo.stdout_dead = 1;
	}
	return demo_text_result("noisy", 5, 0);
}

static struct json_object *
demo_tool_structured(const struct demo_call *c, char *err, size_t errlen)
{
	static const char *const conditions[] = {
		"sunny", "cloudy", "rain", "snow", "fog", "windy"
	};
	struct json_object	*result = NULL, *sc;
	const char		*city, *units, *s;
	char			 temp[32];
	unsigned		 h = 5381;
	double			 t;
	size_t			 len;

	if (demo_arg_string(c->args, "city", 1, NULL, &city, err,
	    errlen) == -1 ||
	    demo_arg_string(c->args, "units", 0, "metric", &units, err,
	    errlen) == -1)
		return NULL;
	if (!demo_match_letters(city) || strlen(city) > 100) {
		snprintf(err, errlen, "argument 'city' must match "
		    "^[A-Za-z ]+$ (at most 100 characters)");
		return NULL;
	}
	if (strcmp(units, "metric") != 0 && strcmp(units, "imperial") != 0) {
		snprintf(err, errlen, "argument 'units' must be \"metric\" or "
		    "\"imperial\"");
		return NULL;
	}
	/* A made-up but stable report: the same city, the same weather. */
	for (s = city; *s != '\0'; s++)
		h = h * 33 + (unsigned char)(*s | 0x20);
	t = (double)(h % 80) / 2.0 - 5.0;
	if (strcmp(units, "imperial") == 0)
		t = t * 9.0 / 5.0 + 32.0;
	snprintf(temp, sizeof(temp), "%.1f", t);

	if ((sc = json_object_new_object()) == NULL)
		goto fail;
	json_object_object_add(sc, "temperature",
	    json_object_new_double_s(strtod(temp, NULL), temp));
	json_object_object_add(sc, "conditions",
	    json_object_new_string(conditions[(h / 80) % 6]));
	json_object_object_add(sc, "city", json_object_new_string(city));
	s = json_object_to_json_string_length(sc,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (s == NULL || (result = demo_text_result(s, len, 0)) == NULL) {
		json_object_put(sc);
		goto fail;
	}
	json_object_object_add(result, "structuredContent", sc);
	return result;
fail:
	snprintf(err, errlen, "out of memory");
	return NULL;
}

static struct json_object *
demo_tool_toggle(const struct demo_call *c, char *err, size_t errlen)
{
	const char	*text;

	demo.extra_enabled = !demo.extra_enabled;
	text = demo.extra_enabled ? "extra tool added" : "extra tool removed";
	/* Twice in a row, so that clients get to debounce. */
	demo_send_notification("notifications/tools/list_changed", NULL);
	demo_send_notification("notifications/tools/list_changed", NULL);
	return demo_text_result(text, strlen(text), 0);
}

static struct json_object *
demo_tool_order(const struct demo_call *c, char *err, size_t errlen)
{
	static const char *const top_keys[] = {
		"customer", "items", "priority", NULL
	};
	static const char *const customer_keys[] = { "name", "email", NULL };
	static const char *const item_keys[] = { "sku", "qty", NULL };
	struct json_object	*customer, *items, *item;
	const char		*name, *email, *priority, *sku;
	char			 where[64], text[512];
	int64_t			 qty, units = 0;
	size_t			 i, n;

	if (demo_arg_only(c->args, top_keys, "", err, errlen) == -1)
		return NULL;
	if (!json_object_object_get_ex(c->args, "customer", &customer)) {
		snprintf(err, errlen, "missing required argument 'customer'");
		return NULL;
	}
	if (!json_object_is_type(customer, json_type_object)) {
		snprintf(err, errlen, "argument 'customer' must be an object");
		return NULL;
	}
	if (demo_arg_only(customer, customer_keys, " in customer", err,
	    errlen) == -1 ||
	    demo_arg_string(customer, "name", 1, NULL, &name, err,
	    errlen) == -1 ||
	    demo_arg_string(customer, "email", 1, NULL, &email, err,
	    errlen) == -1)
		return NULL;
	if (*name == '\0') {
		snprintf(err, errlen, "customer.name must not be empty");
		return NULL;
	}
	if (!demo_match_email(email)) {
		snprintf(err, errlen, "customer.email is not an email "
		    "address");
		return NULL;
	}
	if (!json_object_object_get_ex(c->args, "items", &items)) {
		snprintf(err, errlen, "missing required argument 'items'");
		return NULL;
	}
	if (!json_object_is_type(items, json_type_array) ||
	    (n = json_object_array_length(items)) < 1 || n > 100) {
		snprintf(err, errlen, "argument 'items' must be an array of 1 "
		    "to 100 items");
		return NULL;
	}
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(items, i);
		snprintf(where, sizeof(where), " in items[%zu]", i);
		if (!json_object_is_type(item, json_type_object)) {
			snprintf(err, errlen, "items[%zu] must be an object",
			    i);
			return NULL;
		}
		if (demo_arg_only(item, item_keys, where, err, errlen) == -1 ||
		    demo_arg_string(item, "sku", 1, NULL, &sku, err,
		    errlen) == -1 ||
		    demo_arg_int(item, "qty", 1, 1, 1000, 0, &qty, err,
		    errlen) == -1)
			return NULL;
		if (!demo_match_sku(sku)) {
			snprintf(err, errlen, "items[%zu].sku must match "
			    "^[A-Z]{3}-[0-9]{3}$", i);
			return NULL;
		}
		units += qty;
	}
	if (demo_arg_string(c->args, "priority", 0, "normal", &priority, err,
	    errlen) == -1)
		return NULL;
	if (strcmp(priority, "low") != 0 && strcmp(priority, "normal") != 0 &&
	    strcmp(priority, "high") != 0) {
		snprintf(err, errlen, "argument 'priority' must be one of "
		    "low, normal, high");
		return NULL;
	}
	snprintf(text, sizeof(text), "order for %.100s <%.100s>: %zu item%s, "
	    "%" PRId64 " unit%s, priority %s", name, email, n,
	    n == 1 ? "" : "s", units, units == 1 ? "" : "s", priority);
	return demo_text_result(text, strlen(text), 0);
}

static struct json_object *
demo_tool_progress(const struct demo_call *c, char *err, size_t errlen)
{
	struct demo_pending	*p;
	struct json_object	*token = NULL;
	int64_t			 steps;

	if (demo_arg_int(c->args, "steps", 1, 1, 20, 0, &steps, err,
	    errlen) == -1)
		return NULL;
	if (c->meta != NULL &&
	    json_object_object_get_ex(c->meta, "progressToken", &token) &&
	    !demo_id_valid(token)) {
		snprintf(err, errlen, "_meta.progressToken must be a string "
		    "or an integer");
		return NULL;
	}
	if ((p = demo_pending_new(DEMO_PENDING_PROGRESS, c->id,
	    demo_now_ms() + DEMO_PROGRESS_STEP_MS)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->token = json_object_get(token);
	p->steps = (int)steps;
	demo_pending_add(p);
	return NULL;
}

static struct json_object *
demo_tool_ask(const struct demo_call *c, char *err, size_t errlen)
{
	struct demo_pending	*p;
	struct json_object	*req;
	char			 rid[32];

	if ((p = demo_pending_new(DEMO_PENDING_ASK, c->id,
	    demo_now_ms() + DEMO_ASK_TIMEOUT_MS)) == NULL)
		goto fail;
	/* The first call uses "srv-1" and 0: a string id and a falsy one. */
	snprintf(rid, sizeof(rid), "srv-%" PRId64, demo.ask_seq + 1);
	p->ping_id = demo.ask_seq++;
	if ((p->roots_id = strdup(rid)) == NULL) {
		demo_pending_free(p);
		goto fail;
	}
	demo_pending_add(p);

	if ((req = json_object_new_object()) != NULL) {
		json_object_object_add(req, "jsonrpc",
		    json_object_new_string("2.0"));
		json_object_object_add(req, "id", json_object_new_string(rid));
		json_object_object_add(req, "method",
		    json_object_new_string("roots/list"));
		demo_send(req);
	}
	if ((req = json_object_new_object()) != NULL) {
		json_object_object_add(req, "jsonrpc",
		    json_object_new_string("2.0"));
		json_object_object_add(req, "id",
		    json_object_new_int64(p->ping_id));
		json_object_object_add(req, "method",
		    json_object_new_string("ping"));
		demo_send(req);
	}
	return NULL;
fail:
	snprintf(err, errlen, "out of memory");
	return NULL;
}

static struct json_object *
demo_tool_extra(const struct demo_call *c, char *err, size_t errlen)
{
	return demo_text_result("extra", 5, 0);
}

static struct json_object *
demo_tool_meta(const struct demo_call *c, char *err, size_t errlen)
{
	const char	*text;

	text = c->meta != NULL ? json_object_to_json_string_ext(c->meta,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "null";
	return demo_text_result(text, strlen(text), 0);
}

static struct json_object *
demo_tool_unique(const struct demo_call *c, char *err, size_t errlen)
{
	struct json_object	*xs;
	char			 text[64];

	/* Counted, not compared: uniqueItems is for the caller to check. */
	if (demo_arg_array(c->args, "xs", &xs, err, errlen) == -1)
		return NULL;
	snprintf(text, sizeof(text), "%zu items", json_object_array_length(xs));
	return demo_text_result(text, strlen(text), 0);
}

static struct json_object *
demo_tool_match(const struct demo_call *c, char *err, size_t errlen)
{
	struct json_object	*words;
	char			 text[64];
	size_t			 i, n;

	/* Strings are checked, the pattern is not: no regex runs here. */
	if (demo_arg_array(c->args, "words", &words, err, errlen) == -1)
		return NULL;
	n = json_object_array_length(words);
	for (i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(words, i),
		    json_type_string)) {
			snprintf(err, errlen, "words[%zu] must be a string", i);
			return NULL;
		}
	snprintf(text, sizeof(text), "%zu words", n);
	return demo_text_result(text, strlen(text), 0);
}

/*
 * The reply goes out at once; then demo_handle_lines() stops at the end of
 * this line and main() leaves stdin out of poll(2) until demo_reading()
 * ends the stall.
 */
static struct json_object *
demo_tool_stall(const struct demo_call *c, char *err, size_t errlen)
{
	int64_t	 ms;

	if (demo_arg_int(c->args, "ms", 0, 0, 3600000, 0, &ms, err,
	    errlen) == -1)
		return NULL;
	demo.stalled = 1;
	demo.stall_until = ms == 0 ? 0 : demo_now_ms() + ms;
	if (ms == 0)
		demo_warnx("stall: no longer reading stdin");
	else
		demo_warnx("stall: not reading stdin for %" PRId64 " ms", ms);
	return demo_text_result("stalling", 8, 0);
}

/* Nothing is sent from now on (demo_send() drops it all). */
static void
demo_hang(const char *why)
{
	if (demo.hung)
		return;
	demo.hung = 1;
	demo_warnx("hang: %s; answering nothing from now on, still reading "
	    "stdin", why);
}

/* Answered later, that is never. */
static struct json_object *
demo_tool_hang(const struct demo_call *c, char *err, size_t errlen)
{
	(void)c;
	(void)err;
	(void)errlen;
	demo_hang("the hang tool was called");
	return NULL;
}

static struct json_object *
demo_tool_churn(const struct demo_call *c, char *err, size_t errlen)
{
	int64_t	 count, sent;
	int	 toggle;
	char	 text[64];

	if (demo_arg_int(c->args, "count", 0, 1, 1000000, 1000, &count, err,
	    errlen) == -1 ||
	    demo_arg_bool(c->args, "toggle", 0, &toggle, err, errlen) == -1)
		return NULL;
	if ((sent = demo_churn(count, toggle)) == -1) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(text, sizeof(text), "sent %" PRId64, sent);
	return demo_text_result(text, strlen(text), 0);
}

/*
 * Write count list_changed notifications, DEMO_CHURN_BATCH to a write;
 * with toggle, the extra tool flips once for each of them, before it is
 * written. Returns how many were written, or -1 without memory.
 */
static int64_t
demo_churn(int64_t count, int toggle)
{
	static const char	 line[] = DEMO_LIST_CHANGED;
	const size_t		 len = sizeof(line) - 1;
	struct iovec		 iov;
	char			*buf;
	int64_t			 sent = 0, n, i;

	if ((buf = malloc(len * DEMO_CHURN_BATCH)) == NULL)
		return -1;
	for (i = 0; i < DEMO_CHURN_BATCH; i++)
		memcpy(buf + len * (size_t)i, line, len);
	while (sent < count && !demo.stdout_dead && !demo.hung) {
		n = count - sent < DEMO_CHURN_BATCH ? count - sent :
		    DEMO_CHURN_BATCH;
		for (i = 0; toggle && i < n; i++)
			demo.extra_enabled = !demo.extra_enabled;
		iov.iov_base = buf;
		iov.iov_len = len * (size_t)n;
		if (demo_write_all(STDOUT_FILENO, &iov, 1) == -1) {
			demo_warnx("stdout: %s", strerror(errno));
			demo.stdout_dead = 1;
			break;
		}
		sent += n;
	}
	free(buf);
	return sent;
}

static int
demo_tools_init(void)
{
	struct demo_tool	*t;
	size_t			 i;

	for (i = 0; i < DEMO_NTOOLS; i++) {
		t = &demo_tools[i];
		if ((t->input = json_tokener_parse(t->input_schema)) == NULL) {
			demo_warnx("bad input schema for %s", t->name);
			return -1;
		}
		if (t->output_schema != NULL &&
		    (t->output = json_tokener_parse(t->output_schema)) ==
		    NULL) {
			demo_warnx("bad output schema for %s", t->name);
			return -1;
		}
	}
	return 0;
}

static void
demo_tools_free(void)
{
	size_t	 i;

	for (i = 0; i < DEMO_NTOOLS; i++) {
		json_object_put(demo_tools[i].input);
		json_object_put(demo_tools[i].output);
		demo_tools[i].input = demo_tools[i].output = NULL;
	}
}

static int
demo_tool_listed(const struct demo_tool *t)
{
	return t->hidden == 0 || (t->hidden == 1 && demo.extra_enabled) ||
	    (t->hidden == 2 && demo.remote_enabled) ||
	    (t->hidden == 3 && demo.meta_enabled) ||
	    (t->hidden == 4 && demo.hang_enabled);
}

/* A tool that is currently listed, by name. */
static struct demo_tool *
demo_tool_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < DEMO_NTOOLS; i++)
		if (strcmp(demo_tools[i].name, name) == 0 &&
		    demo_tool_listed(&demo_tools[i]))
			return &demo_tools[i];
	return NULL;
}

static void
demo_handle_initialize(struct json_object *id, struct json_object *params)
{
	struct json_object	*result, *caps, *tools, *info, *v;
	struct demo_pending	*p;
	const char		*version = DEMO_PROTOCOL_LATEST, *asked;
	size_t			 i;

	if (json_object_is_type(params, json_type_object) &&
	    json_object_object_get_ex(params, "protocolVersion", &v) &&
	    json_object_is_type(v, json_type_string)) {
		asked = json_object_get_string(v);
		for (i = 0; i < sizeof(demo_protocols) /
		    sizeof(demo_protocols[0]); i++)
			if (strcmp(asked, demo_protocols[i]) == 0)
				version = demo_protocols[i];
	}
	if ((result = json_object_new_object()) == NULL)
		goto fail;
	json_object_object_add(result, "protocolVersion",
	    json_object_new_string(version));
	caps = json_object_new_object();
	tools = json_object_new_object();
	info = json_object_new_object();
	if (caps == NULL || tools == NULL || info == NULL) {
		json_object_put(caps);
		json_object_put(tools);
		json_object_put(info);
		json_object_put(result);
		goto fail;
	}
	json_object_object_add(tools, "listChanged",
	    json_object_new_boolean(1));
	json_object_object_add(caps, "tools", tools);
	json_object_object_add(caps, "logging", json_object_new_object());
	json_object_object_add(result, "capabilities", caps);
	json_object_object_add(info, "name", json_object_new_string(DEMO_NAME));
	json_object_object_add(info, "version",
	    json_object_new_string(DEMO_VERSION));
	json_object_object_add(result, "serverInfo", info);

	if (demo.slow_start_ms > 0) {
		if ((p = demo_pending_new(DEMO_PENDING_INIT, id,
		    demo_now_ms() + demo.slow_start_ms)) == NULL) {
			json_object_put(result);
			goto fail;
		}
		p->result = result;
		demo_pending_add(p);
		return;
	}
	demo_send_result(json_object_get(id), result);
	return;
fail:
	demo_send_error(id, RPC_INTERNAL_ERROR, "Internal error",
	    "out of memory");
}

static void
demo_handle_tools_list(struct json_object *id, struct json_object *params)
{
	struct json_object	*result = NULL, *list, *tool, *v;
	struct demo_tool	*t;
	const char		*cursor;
	char			*end, next[64];
	size_t			 i, start = 0, listed = 0, total = 0;
	unsigned long		 off;

	if (json_object_is_type(params, json_type_object) &&
	    json_object_object_get_ex(params, "cursor", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_string))
			goto bad_cursor;
		cursor = json_object_get_string(v);
		if (strncmp(cursor, DEMO_CURSOR_PREFIX,
		    strlen(DEMO_CURSOR_PREFIX)) != 0)
			goto bad_cursor;
		cursor += strlen(DEMO_CURSOR_PREFIX);
		if (*cursor < '0' || *cursor > '9')
			goto bad_cursor;
		errno = 0;
		off = strtoul(cursor, &end, 10);
		if (errno != 0 || *end != '\0' || off > DEMO_NTOOLS)
			goto bad_cursor;
		start = off;
	}
	if ((result = json_object_new_object()) == NULL ||
	    (list = json_object_new_array()) == NULL)
		goto fail;
	json_object_object_add(result, "tools", list);
	for (i = 0; i < DEMO_NTOOLS; i++) {
		t = &demo_tools[i];
		if (!demo_tool_listed(t))
			continue;
		if (total++ < start)
			continue;
		if (demo.page_size > 0 && listed == (size_t)demo.page_size) {
			snprintf(next, sizeof(next), DEMO_CURSOR_PREFIX "%zu",
			    start + listed);
			json_object_object_add(result, "nextCursor",
			    json_object_new_string(next));
			break;
		}
		if ((tool = json_object_new_object()) == NULL)
			goto fail;
		json_object_array_add(list, tool);
		json_object_object_add(tool, "name",
		    json_object_new_string(t->name));
		json_object_object_add(tool, "description",
		    json_object_new_string(t->description));
		json_object_object_add(tool, "inputSchema",
		    json_object_get(t->input));
		if (t->output != NULL)
			json_object_object_add(tool, "outputSchema",
			    json_object_get(t->output));
		listed++;
	}
	demo_send_result(json_object_get(id), result);
	return;
bad_cursor:
	demo_send_error(id, RPC_INVALID_PARAMS, "Invalid params",
	    "unknown cursor");
	return;
fail:
	json_object_put(result);
	demo_send_error(id, RPC_INTERNAL_ERROR, "Internal error",
	    "out of memory");
}

static void
demo_handle_tools_call(struct json_object *id, struct json_object *params)
{
	struct json_object	*v, *result, *empty = NULL;
	struct demo_tool	*t;
	struct demo_call	 c;
	char			 err[DEMO_ERR_MAX], msg[DEMO_ERR_MAX + 160];

	memset(&c, 0, sizeof(c));
	c.id = id;
	if (demo.hang_after >= 0 && demo.ncalls++ >= demo.hang_after)
		demo_hang("--hang-after");
	if (!json_object_is_type(params, json_type_object) ||
	    !json_object_object_get_ex(params, "name", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		demo_send_error(id, RPC_INVALID_PARAMS, "Invalid params",
		    "tools/call needs params.name, a string");
		return;
	}
	c.name = json_object_get_string(v);
	if ((t = demo_tool_find(c.name)) == NULL) {
		snprintf(msg, sizeof(msg), "Unknown tool: %.200s", c.name);
		demo_send_result(json_object_get(id), demo_error_result(msg));
		return;
	}
	if (json_object_object_get_ex(params, "_meta", &v) &&
	    json_object_is_type(v, json_type_object))
		c.meta = v;
	if (!json_object_object_get_ex(params, "arguments", &c.args) ||
	    json_object_is_type(c.args, json_type_null)) {
		if ((empty = json_object_new_object()) == NULL) {
			demo_send_error(id, RPC_INTERNAL_ERROR,
			    "Internal error", "out of memory");
			return;
		}
		c.args = empty;
	} else if (!json_object_is_type(c.args, json_type_object)) {
		snprintf(msg, sizeof(msg), "Invalid arguments for tool %s: "
		    "arguments must be an object", t->name);
		demo_send_result(json_object_get(id), demo_error_result(msg));
		return;
	}
	err[0] = '\0';
	result = t->fn(&c, err, sizeof(err));
	if (result != NULL)
		demo_send_result(json_object_get(id), result);
	else if (err[0] != '\0') {
		snprintf(msg, sizeof(msg), "Invalid arguments for tool %s: %s",
		    t->name, err);
		demo_send_result(json_object_get(id), demo_error_result(msg));
	}
	json_object_put(empty);
	if (demo.hang_after > 0 && demo.ncalls == demo.hang_after)
		demo_hang("--hang-after");
}

static void
demo_handle_set_level(struct json_object *id, struct json_object *params)
{
	struct json_object	*v;
	size_t			 i;

	if (json_object_is_type(params, json_type_object) &&
	    json_object_object_get_ex(params, "level", &v) &&
	    json_object_is_type(v, json_type_string))
		for (i = 0; i < sizeof(demo_log_levels) /
		    sizeof(demo_log_levels[0]); i++)
			if (strcmp(json_object_get_string(v),
			    demo_log_levels[i]) == 0) {
				demo_send_result(json_object_get(id),
				    json_object_new_object());
				return;
			}
	demo_send_error(id, RPC_INVALID_PARAMS, "Invalid params",
	    "level must be a syslog level name");
}

static void
demo_handle_notification(const char *method, struct json_object *params)
{
	struct demo_pending	**pp, *p;
	struct json_object	 *rid;

	if (strcmp(method, "notifications/cancelled") != 0)
		return;
	if (!json_object_is_type(params, json_type_object) ||
	    !json_object_object_get_ex(params, "requestId", &rid))
		return;
	/* Forget the call: it gets no reply, even when it comes due. */
	pp = &demo.pending;
	while ((p = *pp) != NULL) {
		if (p->kind != DEMO_PENDING_INIT && demo_id_equal(p->id, rid)) {
			*pp = p->next;
			demo_pending_free(p);
		} else
			pp = &p->next;
	}
}

/* A response to one of our requests (ask_client). */
static void
demo_handle_response(struct json_object *id, struct json_object *msg)
{
	struct demo_pending	**pp, *p;
	struct json_object	 *v, *code, *roots;
	char			  answer[64], **slot;

	for (pp = &demo.pending; (p = *pp) != NULL; pp = &p->next) {
		if (p->kind != DEMO_PENDING_ASK)
			continue;
		if (json_object_is_type(id, json_type_string) &&
		    strcmp(json_object_get_string(id), p->roots_id) == 0)
			slot = &p->roots_answer;
		else if (json_object_is_type(id, json_type_int) &&
		    json_object_get_int64(id) == p->ping_id)
			slot = &p->ping_answer;
		else
			continue;
		if (json_object_object_get_ex(msg, "error", &v)) {
			if (json_object_object_get_ex(v, "code", &code) &&
			    json_object_is_type(code, json_type_int))
				snprintf(answer, sizeof(answer), "error %"
				    PRId64, json_object_get_int64(code));
			else
				snprintf(answer, sizeof(answer), "error");
		} else if (slot == &p->roots_answer &&
		    json_object_object_get_ex(msg, "result", &v) &&
		    json_object_object_get_ex(v, "roots", &roots) &&
		    json_object_is_type(roots, json_type_array))
			snprintf(answer, sizeof(answer), "ok %zu",
			    json_object_array_length(roots));
		else
			snprintf(answer, sizeof(answer), "ok");
		free(*slot);
		*slot = strdup(answer);
		if (p->roots_answer != NULL && p->ping_answer != NULL) {
			demo_ask_reply(p);
			*pp = p->next;
			demo_pending_free(p);
		}
		return;
	}
	demo_warnx("response to an unknown request id %s",
	    json_object_to_json_string_ext(id, JSON_C_TO_STRING_PLAIN));
}

static void
demo_handle_message(struct json_object *msg)
{
	struct json_object	*method, *id = NULL, *params = NULL;
	const char		*name;
	int			 has_id;

	if (!json_object_is_type(msg, json_type_object)) {
		demo_send_error(NULL, RPC_INVALID_REQUEST, "Invalid Request",
		    "a message must be a JSON object");
		return;
	}
	has_id = json_object_object_get_ex(msg, "id", &id);
	(void)json_object_object_get_ex(msg, "params", &params);
	if (!json_object_object_get_ex(msg, "method", &method)) {
		/* Never answer a response, not even a bad one: no loops. */
		if (json_object_object_get_ex(msg, "result", NULL) ||
		    json_object_object_get_ex(msg, "error", NULL)) {
			if (has_id && demo_id_valid(id))
				demo_handle_response(id, msg);
			else
				demo_warnx("ignored a response without a "
				    "usable id");
		} else
			demo_send_error(NULL, RPC_INVALID_REQUEST,
			    "Invalid Request", "no method");
		return;
	}
	if (!json_object_is_type(method, json_type_string)) {
		demo_send_error(has_id && demo_id_valid(id) ? id : NULL,
		    RPC_INVALID_REQUEST, "Invalid Request",
		    "method must be a string");
		return;
	}
	name = json_object_get_string(method);
	if (!has_id) {
		demo_handle_notification(name, params);
		return;
	}
	if (!demo_id_valid(id)) {
		demo_send_error(NULL, RPC_INVALID_REQUEST, "Invalid Request",
		    "id must be a string or an integer");
		return;
	}
	if (strcmp(name, "initialize") == 0)
		demo_handle_initialize(id, params);
	else if (strcmp(name, "ping") == 0)
		demo_send_result(json_object_get(id), json_object_new_object());
	else if (strcmp(name, "tools/list") == 0)
		demo_handle_tools_list(id, params);
	else if (strcmp(name, "tools/call") == 0)
		demo_handle_tools_call(id, params);
	else if (strcmp(name, "logging/setLevel") == 0)
		demo_handle_set_level(id, params);
	else
		demo_send_error(id, RPC_METHOD_NOT_FOUND, "Method not found",
		    name);
}

/* One line without its '\n'; line[len] may be overwritten. */
static void
demo_handle_line(char *line, size_t len)
{
	struct json_object	*msg;
	enum json_tokener_error	 jerr;
	size_t			 end, i;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t')
			break;
	if (i == len)
		return;
	if (memchr(line, '\0', len) != NULL) {
		demo_send_error(NULL, RPC_PARSE_ERROR, "Parse error",
		    "NUL byte in the line");
		return;
	}
	/* Hand json-c the terminating NUL so a bare number can end. */
	line[len] = '\0';
	json_tokener_reset(demo.tok);
	msg = json_tokener_parse_ex(demo.tok, line, (int)len + 1);
	jerr = json_tokener_get_error(demo.tok);
	if (msg == NULL || jerr != json_tokener_success) {
		json_object_put(msg);
		demo_send_error(NULL, RPC_PARSE_ERROR, "Parse error",
		    json_tokener_error_desc(jerr == json_tokener_success ?
		    json_tokener_error_parse_unexpected : jerr));
		return;
	}
	for (end = json_tokener_get_parse_end(demo.tok); end < len; end++)
		if (line[end] != ' ' && line[end] != '\t')
			break;
	if (end < len) {
		json_object_put(msg);
		demo_send_error(NULL, RPC_PARSE_ERROR, "Parse error",
		    "trailing bytes after the message");
		return;
	}
	demo_handle_message(msg);
	json_object_put(msg);
}

/*
 * Read what stdin has and handle every complete line. Returns 0, or 1 on
 * end of file (after handling a last line that had no '\n'), -1 on error.
 */
static int
demo_read_input(void)
{
	char	*nbuf;
	size_t	 ncap;
	ssize_t	 n;

	if (demo.cap - demo.len < DEMO_READ_CHUNK) {
		ncap = demo.cap == 0 ? 2 * DEMO_READ_CHUNK : demo.cap * 2;
		if ((nbuf = realloc(demo.buf, ncap)) == NULL) {
			demo_warnx("out of memory reading stdin");
			return -1;
		}
		demo.buf = nbuf;
		demo.cap = ncap;
	}
	/* Keep one byte free for the NUL demo_handle_line() adds. */
	n = read(STDIN_FILENO, demo.buf + demo.len, demo.cap - demo.len - 1);
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		demo_warnx("stdin: %s", strerror(errno));
		return -1;
	}
	if (n == 0) {
		if (demo.len > 0 && !demo.discarding)
			demo_handle_line(demo.buf, demo.len);
		demo.len = 0;
		return 1;
	}
	demo.len += (size_t)n;
	demo_handle_lines();
	return 0;
}

/*
 * Handle the complete lines of the input buffer, up to the end of the one
 * that starts a stall; keep the rest for later. stdin is read only when no
 * complete line is left (demo_reading() sees to it after a stall), so at
 * end of file the rest is one last line.
 */
static void
demo_handle_lines(void)
{
	char	*nl, *line;
	size_t	 off = 0, rest;

	while (!demo.stalled && !demo.stdout_dead) {
		if ((nl = memchr(demo.buf + demo.scanned, '\n',
		    demo.len - demo.scanned)) == NULL) {
			demo.scanned = demo.len;
			break;
		}
		line = demo.buf + off;
		if (demo.discarding)
			demo.discarding = 0;
		else
			demo_handle_line(line, (size_t)(nl - line));
		off = (size_t)(nl - demo.buf) + 1;
		demo.scanned = off;
	}
	rest = demo.len - off;
	if (off > 0 && rest > 0)
		memmove(demo.buf, demo.buf + off, rest);
	demo.len = rest;
	demo.scanned -= off;
	if (demo.scanned == demo.len && demo.len > DEMO_MAX_LINE) {
		if (!demo.discarding) {
			demo_warnx("line longer than %zu bytes skipped",
			    DEMO_MAX_LINE);
			demo_send_error(NULL, RPC_PARSE_ERROR, "Parse error",
			    "line too long");
		}
		demo.discarding = 1;
		demo.len = demo.scanned = 0;
	}
}

static void
demo_usage(void)
{
	fprintf(stderr, "usage: %s [--page-size N] [--stderr-hello] "
	    "[--fail-init] [--slow-start MS] [--remote-ref-tool] "
	    "[--meta-tools] [--hang-after N] [--hang-tool] "
	    "[--ignore-sigterm]\n", DEMO_NAME);
}

static int
demo_parse_int(const char *opt, const char *s, int min, int max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		demo_warnx("%s: expected an integer from %d to %d, not '%s'",
		    opt, min, max, s);
		exit(64);
	}
	return (int)v;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "page-size",		required_argument, NULL, 'p' },
		{ "stderr-hello",	no_argument,	   NULL, 'H' },
		{ "fail-init",		no_argument,	   NULL, 'F' },
		{ "slow-start",		required_argument, NULL, 's' },
		{ "remote-ref-tool",	no_argument,	   NULL, 'R' },
		{ "meta-tools",		no_argument,	   NULL, 'M' },
		{ "hang-after",		required_argument, NULL, 'A' },
		{ "hang-tool",		no_argument,	   NULL, 'T' },
		{ "ignore-sigterm",	no_argument,	   NULL, 'I' },
		{ "help",		no_argument,	   NULL, 'h' },
		{ "version",		no_argument,	   NULL, 'V' },
		{ NULL,			0,		   NULL, 0 }
	};
	struct sigaction	 sa;
	struct pollfd		 pfd;
	struct demo_pending	*p;
	int			 ch, hello = 0, fail_init = 0, rc, status = 0;
	int			 ignore_term = 0;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			demo.page_size = demo_parse_int("--page-size", optarg,
			    0, 1000);
			break;
		case 'H':
			hello = 1;
			break;
		case 'F':
			fail_init = 1;
			break;
		case 's':
			demo.slow_start_ms = demo_parse_int("--slow-start",
			    optarg, 0, 600000);
			break;
		case 'R':
			demo.remote_enabled = 1;
			break;
		case 'M':
			demo.meta_enabled = 1;
			break;
		case 'A':
			demo.hang_after = demo_parse_int("--hang-after",
			    optarg, 0, INT_MAX);
			break;
		case 'T':
			demo.hang_enabled = 1;
			break;
		case 'I':
			ignore_term = 1;
			break;
		case 'h':
			demo_usage();
			return 0;
		case 'V':
			printf("%s %s\n", DEMO_NAME, DEMO_VERSION);
			return 0;
		default:
			demo_usage();
			return 64;
		}
	}
	if (optind != argc) {
		demo_usage();
		return 64;
	}
	if (hello)
		demo_warnx("hello from %s %s (pid %ld)", DEMO_NAME,
		    DEMO_VERSION, (long)getpid());
	if (fail_init) {
		demo_warnx("--fail-init: exiting with status 2");
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = ignore_term ? SIG_IGN : demo_on_sigterm;
	sigaction(SIGTERM, &sa, NULL);

	if (demo_tools_init() == -1)
		goto fail;
	if ((demo.tok = json_tokener_new_ex(DEMO_MAX_DEPTH)) == NULL)
		goto fail;
	json_tokener_set_flags(demo.tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);

	for (;;) {
		demo_pending_run(demo_now_ms());
		/* While stalled, poll(2) only waits for the timers. */
		pfd.fd = !demo.eof && demo_reading(demo_now_ms()) ?
		    STDIN_FILENO : -1;
		if (demo.stdout_dead) {
			status = 1;
			break;
		}
		pfd.events = POLLIN;
		pfd.revents = 0;
		rc = poll(&pfd, 1, demo_poll_timeout(demo_now_ms()));
		if (rc == -1) {
			if (errno == EINTR)
				continue;
			demo_warnx("poll: %s", strerror(errno));
			goto fail;
		}
		if (rc == 0)
			continue;
		if ((rc = demo_read_input()) == -1)
			goto fail;
		if (rc == 1 && !demo.hung)
			break;		/* end of file: the client is done */
		if (rc == 1)
			demo.eof = 1;	/* hung: only a signal ends it */
	}
	goto done;
fail:
	status = 1;
done:
	while ((p = demo.pending) != NULL) {
		demo.pending = p->next;
		demo_pending_free(p);
	}
	if (demo.tok != NULL)
		json_tokener_free(demo.tok);
	free(demo.buf);
	demo_tools_free();
	return status;
}
