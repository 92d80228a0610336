/*
 * mcp-proxyctl.c: the command-line helper for executors and operators.
 * Options, then one request to mcp-proxyd (ctlcmd.c builds it, ctltarget.c
 * finds the daemon and the admin token, ctlhttp.c sends it), then the
 * answer: the daemon's JSON on stdout (pretty-printed, or raw), an HTTP
 * error on stderr. Exit 0 on a 2xx answer, 1 when the request failed
 * (an HTTP error, no connection, a bad answer), 2 on a usage error. The
 * admin token is never printed.
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctlcmd.h"
#include "ctlexec.h"
#include "ctlhttp.h"
#include "ctlstubs.h"
#include "ctltarget.h"
#include "log.h"

#define CTL_DEFAULT_CONFIG	SYSCONFDIR "/mcp-proxyd/mcp-proxyd.json"
#define CTL_DEFAULT_TIMEOUT	10
#define CTL_TIMEOUT_MAX		86400
#define CTL_ERR_MAX		(3 * 4096)

enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAIL = 1,
	CTL_EXIT_USAGE = 2
};

/* Long options without a short form. */
enum {
	CTL_OPT_URL = 256,
	CTL_OPT_TOKEN_FILE,
	CTL_OPT_TIMEOUT,
	CTL_OPT_RAW,
	CTL_OPT_TOOLS,
	CTL_OPT_TTL,
	CTL_OPT_LABEL,
	CTL_OPT_MAX_CONCURRENT,
	CTL_OPT_RATE,
	CTL_OPT_TOKEN_ONLY,
	CTL_OPT_UNIX,
	CTL_OPT_SUMMARY,
	CTL_OPT_LANG,
	CTL_OPT_SERVER
};

struct ctl_opts {
	struct ctltarget_opts	target;
	struct ctlcmd_create	create;
	struct ctlexec_opts	exec;
	struct ctlstubs_opts	stubs;
	const char		*stubs_given;	/* an option of stubs */
	int			timeout_s;
	int			raw;
};

static void	ctl_help(void);
static int	ctl_usage_error(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static int	ctl_parse_args(int *, char *[], struct ctl_opts *);
static int	ctl_option(int, const char *, struct ctl_opts *);
static int	ctl_create_option(int, const char *, struct ctlcmd_create *);
static int	ctl_exec_option(int, const char *, struct ctl_opts *);
static int	ctl_stubs_option(int, const char *, struct ctl_opts *);
static int	ctl_split_command(int *, char *[], struct ctl_opts *);
static int	ctl_run(const struct ctl_opts *, const struct ctlcmd_req *,
		    const struct ctltarget *);
static int	ctl_answer(const struct ctl_opts *, const struct ctlcmd_req *,
		    const struct ctltarget *, const struct ctlhttp_reply *);
static json_object *ctl_parse_json(const struct ctlhttp_reply *);
static int	ctl_print(const struct ctl_opts *, const struct ctlcmd_req *,
		    const struct ctlhttp_reply *, const char *);
static void	ctl_http_error(const struct ctlcmd_req *,
		    const struct ctltarget *, const struct ctlhttp_reply *);
static void	ctl_sanitize(char *, const char *, size_t);

static const struct option ctl_longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "url", required_argument, NULL, CTL_OPT_URL },
	{ "token-file", required_argument, NULL, CTL_OPT_TOKEN_FILE },
	{ "timeout", required_argument, NULL, CTL_OPT_TIMEOUT },
	{ "raw", no_argument, NULL, CTL_OPT_RAW },
	{ "tools", required_argument, NULL, CTL_OPT_TOOLS },
	{ "ttl", required_argument, NULL, CTL_OPT_TTL },
	{ "label", required_argument, NULL, CTL_OPT_LABEL },
	{ "max-concurrent", required_argument, NULL, CTL_OPT_MAX_CONCURRENT },
	{ "rate", required_argument, NULL, CTL_OPT_RATE },
	{ "token-only", no_argument, NULL, CTL_OPT_TOKEN_ONLY },
	{ "unix", required_argument, NULL, CTL_OPT_UNIX },
	{ "summary", required_argument, NULL, CTL_OPT_SUMMARY },
	{ "lang", required_argument, NULL, CTL_OPT_LANG },
	{ "server", required_argument, NULL, CTL_OPT_SERVER },
	{ "output", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void
ctl_help(void)
{
	printf(
	    "usage: mcp-proxyctl [options] command [argument ...]\n"
	    "\n"
	    "Talk to mcp-proxyd with its admin token.\n"
	    "\n"
	    "Commands:\n"
	    "  session create [--tools A,B] [--ttl SECONDS] [--label TEXT]\n"
	    "                 [--max-concurrent N] [--rate N[/SECONDS]] "
	    "[--token-only]\n"
	    "                        make a session; prints it with its token\n"
	    "  session list          list the sessions (without tokens)\n"
	    "  session show ID       one session, with its calls\n"
	    "  session revoke ID     end a session now\n"
	    "  calls                 the calls made so far (GET /mcp/calls)\n"
	    "  health                the daemon's health (exit 1: "
	    "unhealthy)\n"
	    "  tools [WORD ...]      find tools by name or description\n"
	    "  stubs --lang ts|py [--server NAME] [-o DIR]\n"
	    "                        write typed functions for the tools the "
	    "token may call,\n"
	    "                        one module per server (mcp_NAME.ts or "
	    ".py)\n"
	    "  exec [session create's options] [--unix PATH] [--summary FILE]\n"
	    "       -- COMMAND [ARG ...]\n"
	    "                        run COMMAND with a session of its own "
	    "in its\n"
	    "                        environment (%s, %s),\n"
	    "                        revoke it when COMMAND ends, print its "
	    "calls\n"
	    "                        (stderr or FILE); exit with COMMAND's "
	    "status\n"
	    "\n"
	    "Options:\n"
	    "  -c, --config FILE     the daemon's configuration: its listen "
	    "address and\n"
	    "                        authTokenFile (default %s,\n"
	    "                        when it exists and something is missing)\n"
	    "      --url URL         the daemon, http://host:port "
	    "(or $%s)\n"
	    "      --token-file FILE the admin token's file (or the token in "
	    "$%s)\n"
	    "      --timeout SECONDS for the whole request (default %d)\n"
	    "      --raw             print the answer as sent, not "
	    "pretty-printed\n"
	    "  -V, --version         print the version and exit\n"
	    "  -h, --help            print this help and exit\n"
	    "\n"
	    "Exit status: 0 success, 1 the request failed, 2 usage error;\n"
	    "exec: COMMAND's (128+N when signal N killed it), 125 no session,"
	    "\n126 COMMAND cannot run, 127 COMMAND not found.\n"
	    "See mcp-proxyctl(1).\n", CTLTARGET_ENV_URL, CTLTARGET_ENV_TOKEN,
	    CTL_DEFAULT_CONFIG, CTLTARGET_ENV_URL, CTLTARGET_ENV_TOKEN,
	    CTL_DEFAULT_TIMEOUT);
}

/* The message, the short usage; returns -1. */
static int
ctl_usage_error(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "mcp-proxyctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: mcp-proxyctl [-c file] [--url url] "
	    "[--token-file file] [--timeout seconds] [--raw]\n"
	    "                    command [argument ...]  (see "
	    "mcp-proxyctl --help)\n");
	return -1;
}

/* -1 after a usage error; exits for --help and --version. *argcp ends
 * before exec's "--". */
static int
ctl_parse_args(int *argcp, char *argv[], struct ctl_opts *o)
{
	int	ch, argc;

	memset(o, 0, sizeof(*o));
	o->timeout_s = CTL_DEFAULT_TIMEOUT;
	if (ctl_split_command(argcp, argv, o) == -1)
		return -1;
	argc = *argcp;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:ho:V", ctl_longopts, NULL))
	    != -1) {
		switch (ch) {
		case 'h':
			ctl_help();
			exit(CTL_EXIT_OK);
		case 'V':
			printf("mcp-proxyctl %s\n", PACKAGE_VERSION);
			exit(CTL_EXIT_OK);
		case ':':
			return ctl_usage_error("%s needs an argument",
			    argv[optind - 1]);
		case '?':
			if (optopt != 0)
				return ctl_usage_error("unknown option '-%c'",
				    optopt);
			return ctl_usage_error("unknown option '%s'",
			    argv[optind - 1]);
		default:
			if (ctl_option(ch, optarg, o) == -1)
				return -1;
		}
	}
	return 0;
}

/* One option with its argument. */
static int
ctl_option(int ch, const char *arg, struct ctl_opts *o)
{
	switch (ch) {
	case 'c':
		o->target.config = arg;
		return 0;
	case CTL_OPT_URL:
		o->target.url = arg;
		return 0;
	case CTL_OPT_TOKEN_FILE:
		o->target.token_file = arg;
		return 0;
	case CTL_OPT_TIMEOUT:
		if (ctlcmd_parse_int(arg, 1, CTL_TIMEOUT_MAX, &o->timeout_s)
		    == -1)
			return ctl_usage_error("--timeout '%.64s': a number of "
			    "seconds from 1 to %d", arg, CTL_TIMEOUT_MAX);
		return 0;
	case CTL_OPT_RAW:
		o->raw = 1;
		return 0;
	case CTL_OPT_UNIX:
	case CTL_OPT_SUMMARY:
		return ctl_exec_option(ch, arg, o);
	case CTL_OPT_LANG:
	case CTL_OPT_SERVER:
	case 'o':
		return ctl_stubs_option(ch, arg, o);
	default:
		return ctl_create_option(ch, arg, &o->create);
	}
}

/* An option of "exec" alone. */
static int
ctl_exec_option(int ch, const char *arg, struct ctl_opts *o)
{
	if (ch == CTL_OPT_UNIX) {
		if (!ctlexec_unix_path_ok(arg))
			return ctl_usage_error("--unix '%.64s': an absolute "
			    "path of at most 107 bytes", arg);
		o->exec.unix_path = arg;
		if (o->create.exec_given == NULL)
			o->create.exec_given = "unix";
		return 0;
	}
	if (arg[0] == '\0')
		return ctl_usage_error("--summary needs a file name");
	o->exec.summary = arg;
	if (o->create.exec_given == NULL)
		o->create.exec_given = "summary";
	return 0;
}

/* An option of "stubs". */
static int
ctl_stubs_option(int ch, const char *arg, struct ctl_opts *o)
{
	switch (ch) {
	case CTL_OPT_LANG:
		if (strcmp(arg, "ts") == 0)
			o->stubs.lang = CTLSTUBS_TS;
		else if (strcmp(arg, "py") == 0)
			o->stubs.lang = CTLSTUBS_PY;
		else
			return ctl_usage_error("--lang '%.64s': ts or py", arg);
		o->stubs_given = o->stubs_given != NULL ? o->stubs_given :
		    "--lang";
		return 0;
	case CTL_OPT_SERVER:
		if (arg[0] == '\0')
			return ctl_usage_error("--server needs a server name");
		o->stubs.server = arg;
		o->stubs_given = o->stubs_given != NULL ? o->stubs_given :
		    "--server";
		return 0;
	default:
		if (arg[0] == '\0')
			return ctl_usage_error("-o needs a directory");
		o->stubs.outdir = arg;
		o->stubs_given = o->stubs_given != NULL ? o->stubs_given :
		    "-o";
		return 0;
	}
}

/* With "exec" before the first "--", what follows it is exec's command:
 * argv ends there (for other commands "--" ends the options as usual). */
static int
ctl_split_command(int *argc, char *argv[], struct ctl_opts *o)
{
	int	i, exec = 0;

	for (i = 1; i < *argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		exec = exec || strcmp(argv[i], "exec") == 0;
	}
	if (i == *argc || !exec)
		return 0;
	if (i + 1 == *argc)
		return ctl_usage_error("no command after '--'");
	o->exec.argv = argv + i + 1;
	argv[i] = NULL;
	*argc = i;
	return 0;
}

/* An option of "session create". */
static int
ctl_create_option(int ch, const char *arg, struct ctlcmd_create *c)
{
	int	i;

	for (i = 0; ctl_longopts[i].name != NULL; i++)
		if (ctl_longopts[i].val == ch && c->given == NULL)
			c->given = ctl_longopts[i].name;	/* no "--" */
	switch (ch) {
	case CTL_OPT_TOOLS:
		c->tools = arg;
		return 0;
	case CTL_OPT_LABEL:
		c->label = arg;
		return 0;
	case CTL_OPT_TOKEN_ONLY:
		c->token_only = 1;
		return 0;
	case CTL_OPT_TTL:
		if (ctlcmd_parse_duration(arg, &c->ttl_s) == -1)
			return ctl_usage_error("--ttl '%.64s': seconds, or a "
			    "number with s, m, h or d", arg);
		return 0;
	case CTL_OPT_MAX_CONCURRENT:
		if (ctlcmd_parse_int(arg, 1, 1000000, &c->max_concurrent) == -1)
			return ctl_usage_error("--max-concurrent '%.64s': a "
			    "positive number", arg);
		return 0;
	case CTL_OPT_RATE:
		if (ctlcmd_parse_rate(arg, &c->rate_requests,
		    &c->rate_window_s) == -1)
			return ctl_usage_error("--rate '%.64s': N or N/SECONDS "
			    "(requests per window)", arg);
		return 0;
	}
	return ctl_usage_error("unknown option");
}

/* Sends the request and handles its answer; the exit status. */
static int
ctl_run(const struct ctl_opts *o, const struct ctlcmd_req *req,
    const struct ctltarget *t)
{
	struct ctlhttp_call	call;
	struct ctlhttp_reply	reply;
	char			err[CTL_ERR_MAX];
	int			rc;

	memset(&call, 0, sizeof(call));
	call.method = req->method;
	call.target = req->target;
	call.token = t->token;
	call.body = req->body;
	call.timeout_s = o->timeout_s;
	if (ctlhttp_request(&t->url, &call, &reply, err, sizeof(err)) == -1) {
		fprintf(stderr, "mcp-proxyctl: %s %s: %s\n", req->method,
		    req->target, err);
		return CTL_EXIT_FAIL;
	}
	rc = ctl_answer(o, req, t, &reply);
	ctlhttp_reply_free(&reply);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "mcp-proxyctl: cannot write the answer to "
		    "standard output\n");
		rc = CTL_EXIT_FAIL;
	}
	return rc;
}

static int
ctl_answer(const struct ctl_opts *o, const struct ctlcmd_req *req,
    const struct ctltarget *t, const struct ctlhttp_reply *reply)
{
	if (reply->status >= 200 && reply->status < 300) {
		if (ctl_print(o, req, reply, t->url.text) == -1)
			return CTL_EXIT_FAIL;
		return CTL_EXIT_OK;
	}
	/* An unhealthy daemon's state is worth reading too. */
	if (req->health && reply->status == 503)
		(void)ctl_print(o, req, reply, t->url.text);
	ctl_http_error(req, t, reply);
	return CTL_EXIT_FAIL;
}

/* The body as a JSON object or array; NULL if it is not one. */
static json_object *
ctl_parse_json(const struct ctlhttp_reply *reply)
{
	struct json_tokener	*tok;
	json_object		*o = NULL;
	size_t			 end;

	if (reply->len > (size_t)INT_MAX || (tok = json_tokener_new()) ==
	    NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, reply->body, (int)reply->len);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (o != NULL && (end != reply->len && strspn(reply->body + end,
	    " \t\r\n") != reply->len - end)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* A successful answer on stdout; -1 (said on stderr) when it is not the
 * JSON expected. */
static int
ctl_print(const struct ctl_opts *o, const struct ctlcmd_req *req,
    const struct ctlhttp_reply *reply, const char *url)
{
	json_object	*j = NULL, *tok;

	if (o->raw && !(req->create && o->create.token_only)) {
		fwrite(reply->body, 1, reply->len, stdout);
		if (reply->len == 0 || reply->body[reply->len - 1] != '\n')
			putchar('\n');
		return 0;
	}
	if ((j = ctl_parse_json(reply)) == NULL)
		goto fail;
	if (req->create && o->create.token_only) {
		if (!json_object_object_get_ex(j, "token", &tok) ||
		    !json_object_is_type(tok, json_type_string))
			goto fail;
		printf("%s\n", json_object_get_string(tok));
	} else
		printf("%s\n", json_object_to_json_string_ext(j,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
	return 0;
fail:
	json_object_put(j);
	fprintf(stderr, "mcp-proxyctl: %s %s: the answer from %s (HTTP %d) is "
	    "not the JSON expected\n", req->method, req->target, url,
	    reply->status);
	return -1;
}

/* "METHOD path: HTTP status reason: the daemon's error" on stderr. */
static void
ctl_http_error(const struct ctlcmd_req *req, const struct ctltarget *t,
    const struct ctlhttp_reply *reply)
{
	json_object	*j, *e;
	char		 msg[1024] = "", reason[128];

	if ((j = ctl_parse_json(reply)) != NULL &&
	    json_object_is_type(j, json_type_object) &&
	    json_object_object_get_ex(j, "error", &e) &&
	    json_object_is_type(e, json_type_string))
		ctl_sanitize(msg, json_object_get_string(e), sizeof(msg));
	json_object_put(j);
	ctl_sanitize(reason, reply->reason, sizeof(reason));
	fprintf(stderr, "mcp-proxyctl: %s %s: HTTP %d%s%s%s%s", req->method,
	    req->target, reply->status, reason[0] != '\0' ? " " : "", reason,
	    msg[0] != '\0' ? ": " : "", msg);
	if (reply->status == 401)
		fprintf(stderr, " (the token came from %s)", t->token_from);
	fputc('\n', stderr);
}

/* Copies s, control characters replaced by '?'. */
static void
ctl_sanitize(char *out, const char *s, size_t outlen)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i + 1 < outlen; i++)
		out[i] = (unsigned char)s[i] < ' ' || s[i] == 0x7f ? '?' : s[i];
	out[i] = '\0';
}

int
main(int argc, char *argv[])
{
	struct ctl_opts		o;
	struct ctlcmd_req	req;
	struct ctltarget	t;
	char			err[CTL_ERR_MAX];
	int			rc;

	signal(SIGPIPE, SIG_IGN);
	log_init(0);
	log_init_tool("mcp-proxyctl");
	if (ctl_parse_args(&argc, argv, &o) == -1)
		return CTL_EXIT_USAGE;
	if (ctlcmd_build(argc - optind, argv + optind, &o.create,
	    &req, err, sizeof(err)) == -1) {
		ctlcmd_req_free(&req);
		ctl_usage_error("%s", err);
		return CTL_EXIT_USAGE;
	}
	if (req.stubs != (o.stubs_given != NULL) || (req.stubs &&
	    o.stubs.lang == CTLSTUBS_NONE)) {
		ctlcmd_req_free(&req);
		ctl_usage_error("%s%s", req.stubs ? "stubs needs --lang ts or "
		    "--lang py" : o.stubs_given, req.stubs ? "" : " is an "
		    "option of 'stubs' only");
		return CTL_EXIT_USAGE;
	}
	if ((req.exec != 0) != (o.exec.argv != NULL)) {
		ctlcmd_req_free(&req);
		ctl_usage_error("%s", req.exec ? "exec needs '--' and the "
		    "command to run" : "'--' and a command go with exec only");
		return CTL_EXIT_USAGE;
	}
	if (ctltarget_resolve(&o.target, CTL_DEFAULT_CONFIG, &t, err,
	    sizeof(err)) == -1) {
		ctlcmd_req_free(&req);
		fprintf(stderr, "mcp-proxyctl: %s\n", err);
		return CTL_EXIT_USAGE;
	}
	o.exec.timeout_s = o.timeout_s;
	o.stubs.timeout_s = o.timeout_s;
	if (req.exec)
		rc = ctlexec_run(&o.exec, &req, &t);
	else if (req.stubs)
		rc = ctlstubs_run(&o.stubs, &t);
	else
		rc = ctl_run(&o, &req, &t);
	ctltarget_clear(&t);
	ctlcmd_req_free(&req);
	return rc;
}
