/*
 * ctlexec.c: mcp-proxyctl exec (see ctlexec.h). The session is made with
 * the admin token; the command gets MCP_PROXYD_URL and MCP_PROXYD_TOKEN
 * (the session's) and nothing else added, and never the admin token: a
 * variable that holds it is left out. Signals: SIGINT, SIGTERM, SIGHUP and
 * SIGQUIT that another process sends us are passed on to the command;
 * those a terminal sends reach the command by themselves (it is in our
 * process group), so they are not sent twice. The session is revoked once
 * the command has ended, however it ended.
 */
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ctlexec.h"
#include "ctlhttp.h"

#define CTLEXEC_ID_MAX		128
#define CTLEXEC_ERR_MAX		(3 * 4096)

extern char	**environ;

static const int ctlexec_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define CTLEXEC_NSIGNALS	\
	(sizeof(ctlexec_signals) / sizeof(ctlexec_signals[0]))

/* The signal mask before ctlexec_spawn() blocked the forwarded signals and
 * SIGCHLD (the command gets it back; ctlexec_wait() restores it). */
static sigset_t	ctlexec_oldmask;

static int	ctlexec_request(const struct ctlexec_opts *,
		    const struct ctltarget *, const char *, const char *,
		    const char *, json_object **);
static int	ctlexec_create(const struct ctlexec_opts *,
		    const struct ctlcmd_req *, const struct ctltarget *, char *,
		    char *, size_t);
static char	**ctlexec_env(const struct ctlexec_opts *,
		    const struct ctltarget *, const char *);
static void	ctlexec_env_free(char **);
static void	ctlexec_ignore(void);
static void	ctlexec_blockset(sigset_t *);
static pid_t	ctlexec_spawn(const struct ctlexec_opts *, char **, int *);
static int	ctlexec_wait(pid_t, int);
static void	ctlexec_revoke(const struct ctlexec_opts *,
		    const struct ctltarget *, const char *, FILE *);

int
ctlexec_unix_path_ok(const char *path)
{
	struct sockaddr_un	sun;

	return path[0] == '/' && strlen(path) < sizeof(sun.sun_path);
}

int
ctlexec_run(const struct ctlexec_opts *o, const struct ctlcmd_req *req,
    const struct ctltarget *t)
{
	char	 id[CTLEXEC_ID_MAX + 1], token[AUTH_TOKEN_MAX + 1];
	char	**env = NULL;
	FILE	*out = stderr;
	pid_t	 pid;
	int	 rc = CTLEXEC_EXIT_FAIL, exec_errno = 0;

	if (o->summary != NULL && (out = fopen(o->summary, "we")) == NULL) {
		fprintf(stderr, "mcp-proxyctl: exec: --summary %s: %s\n",
		    o->summary, strerror(errno));
		return CTLEXEC_EXIT_FAIL;
	}
	if (ctlexec_create(o, req, t, id, token, sizeof(token)) == -1)
		goto done;
	if ((env = ctlexec_env(o, t, token)) == NULL)
		fprintf(stderr, "mcp-proxyctl: exec: out of memory\n");
	else if ((pid = ctlexec_spawn(o, env, &exec_errno)) != -1)
		rc = ctlexec_wait(pid, exec_errno);
	ctlexec_revoke(o, t, id, out);
done:
	explicit_bzero(token, sizeof(token));
	ctlexec_env_free(env);
	if (out != stderr && fclose(out) == EOF) {
		fprintf(stderr, "mcp-proxyctl: exec: --summary %s: %s\n",
		    o->summary, strerror(errno));
		if (rc == 0)
			rc = CTLEXEC_EXIT_FAIL;
	}
	return rc;
}

/* One request with the admin token; 0 with the answer's JSON object in
 * *answer (a 2xx), or -1 said on stderr. */
static int
ctlexec_request(const struct ctlexec_opts *o, const struct ctltarget *t,
    const char *method, const char *target, const char *body,
    json_object **answer)
{
	struct ctlhttp_call	 call;
	struct ctlhttp_reply	 reply;
	json_object		*j, *e;
	char			 err[CTLEXEC_ERR_MAX];

	*answer = NULL;
	memset(&call, 0, sizeof(call));
	call.method = method;
	call.target = target;
	call.token = t->token;
	call.body = body;
	call.timeout_s = o->timeout_s;
	if (ctlhttp_request(&t->url, &call, &reply, err, sizeof(err)) == -1) {
		fprintf(stderr, "mcp-proxyctl: exec: %s %s: %s\n", method,
		    target, err);
		return -1;
	}
	j = json_tokener_parse(reply.body);
	if (reply.status >= 200 && reply.status < 300 && j != NULL &&
	    json_object_is_type(j, json_type_object)) {
		ctlhttp_reply_free(&reply);
		*answer = j;
		return 0;
	}
	fprintf(stderr, "mcp-proxyctl: exec: %s %s: HTTP %d: %.512s\n",
	    method, target, reply.status, j != NULL &&
	    json_object_object_get_ex(j, "error", &e) ?
	    json_object_get_string(e) : "not the JSON expected");
	if (reply.status == 401)
		fprintf(stderr, "mcp-proxyctl: exec: (the token came from "
		    "%s)\n", t->token_from);
	json_object_put(j);
	ctlhttp_reply_free(&reply);
	return -1;
}

/* The session: its id and token. 0, or -1 said on stderr. */
static int
ctlexec_create(const struct ctlexec_opts *o, const struct ctlcmd_req *req,
    const struct ctltarget *t, char *id, char *token, size_t tokenlen)
{
	json_object	*j, *vid, *vtok;
	int		 rc = -1;

	if (ctlexec_request(o, t, "POST", req->target, req->body, &j) == -1)
		return -1;
	if (!json_object_object_get_ex(j, "sessionId", &vid) ||
	    !json_object_is_type(vid, json_type_string) ||
	    json_object_get_string_len(vid) > CTLEXEC_ID_MAX ||
	    strspn(json_object_get_string(vid), "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_-") !=
	    (size_t)json_object_get_string_len(vid) ||
	    !json_object_object_get_ex(j, "token", &vtok) ||
	    !json_object_is_type(vtok, json_type_string) ||
	    (size_t)json_object_get_string_len(vtok) >= tokenlen)
		fprintf(stderr, "mcp-proxyctl: exec: POST /sessions: the "
		    "answer has no usable sessionId and token\n");
	else {
		snprintf(id, CTLEXEC_ID_MAX + 1, "%s",
		    json_object_get_string(vid));
		snprintf(token, tokenlen, "%s", json_object_get_string(vtok));
		rc = 0;
	}
	json_object_put(j);
	return rc;
}

/* Our environment without MCP_PROXYD_URL, MCP_PROXYD_TOKEN and anything
 * that holds the admin token, plus the session's URL and token. */
static char **
ctlexec_env(const struct ctlexec_opts *o, const struct ctltarget *t,
    const char *token)
{
	char		**env;
	const char	*val;
	size_t		  n = 0, i;

	for (i = 0; environ != NULL && environ[i] != NULL; i++)
		;
	if ((env = calloc(i + 3, sizeof(*env))) == NULL)
		return NULL;
	for (i = 0; environ != NULL && environ[i] != NULL; i++) {
		if (strncmp(environ[i], CTLTARGET_ENV_URL "=",
		    sizeof(CTLTARGET_ENV_URL)) == 0 ||
		    strncmp(environ[i], CTLTARGET_ENV_TOKEN "=",
		    sizeof(CTLTARGET_ENV_TOKEN)) == 0)
			continue;
		val = strchr(environ[i], '=');
		if (val != NULL && strcmp(val + 1, t->token) == 0) {
			fprintf(stderr, "mcp-proxyctl: exec: not passing "
			    "%.*s to the command: it holds the admin token\n",
			    (int)(val - environ[i]), environ[i]);
			continue;
		}
		env[n++] = environ[i];
	}
	/* The two we add are ours to free: after the inherited ones. */
	if (asprintf(&env[n], "%s=%s%s%s", CTLTARGET_ENV_URL, o->unix_path !=
	    NULL ? "unix:" : t->url.text, o->unix_path != NULL ?
	    o->unix_path : "", o->unix_path != NULL ? "" : "/") == -1) {
		env[n] = NULL;
		ctlexec_env_free(env);
		return NULL;
	}
	if (asprintf(&env[n + 1], "%s=%s", CTLTARGET_ENV_TOKEN, token) == -1) {
		free(env[n]);
		env[n] = env[n + 1] = NULL;
		ctlexec_env_free(env);
		return NULL;
	}
	return env;
}

static void
ctlexec_env_free(char **env)
{
	size_t	i;

	if (env == NULL)
		return;
	for (i = 0; env[i] != NULL; i++)
		if (strncmp(env[i], CTLTARGET_ENV_TOKEN "=",
		    sizeof(CTLTARGET_ENV_TOKEN)) == 0 && env[i + 1] == NULL) {
			explicit_bzero(env[i], strlen(env[i]));
			free(env[i]);
			free(env[i - 1]);	/* the URL before it */
			break;
		}
	free(env);
}

/* The forwarded signals and SIGCHLD: blocked while the command runs and
 * taken with sigwaitinfo() (no handler: a sanitizer runtime that defers
 * handlers cannot hold one up while we wait). */
static void
ctlexec_blockset(sigset_t *set)
{
	size_t	i;

	sigemptyset(set);
	for (i = 0; i < CTLEXEC_NSIGNALS; i++)
		sigaddset(set, ctlexec_signals[i]);
	sigaddset(set, SIGCHLD);
}

/* The forwarded signals are ignored from now on (while revoking: the
 * session must be revoked whatever comes). */
static void
ctlexec_ignore(void)
{
	size_t	i;

	for (i = 0; i < CTLEXEC_NSIGNALS; i++)
		(void)signal(ctlexec_signals[i], SIG_IGN);
}

/*
 * Forks and runs the command; its pid, or -1 said on stderr. A failed
 * exec is reported through a close-on-exec pipe: its errno in *exec_errno
 * (the child then exits 126 or 127).
 */
static pid_t
ctlexec_spawn(const struct ctlexec_opts *o, char **env, int *exec_errno)
{
	sigset_t	block;
	pid_t		pid;
	ssize_t		n;
	size_t		i;
	int		p[2], e;

	if (pipe2(p, O_CLOEXEC) == -1) {
		fprintf(stderr, "mcp-proxyctl: exec: pipe: %s\n",
		    strerror(errno));
		return -1;
	}
	ctlexec_blockset(&block);
	sigprocmask(SIG_BLOCK, &block, &ctlexec_oldmask);
	if ((pid = fork()) == 0) {
		for (i = 0; i < CTLEXEC_NSIGNALS; i++)
			signal(ctlexec_signals[i], SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		sigprocmask(SIG_SETMASK, &ctlexec_oldmask, NULL);
		close(p[0]);
		execvpe(o->argv[0], o->argv, env);
		e = errno;
		(void)!write(p[1], &e, sizeof(e));
		_exit(e == ENOENT ? CTLEXEC_EXIT_NOTFOUND :
		    CTLEXEC_EXIT_NOEXEC);
	}
	e = errno;
	close(p[1]);
	if (pid == -1) {
		sigprocmask(SIG_SETMASK, &ctlexec_oldmask, NULL);
		close(p[0]);
		fprintf(stderr, "mcp-proxyctl: exec: fork: %s\n", strerror(e));
		return -1;
	}
	do
		n = read(p[0], exec_errno, sizeof(*exec_errno));
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(*exec_errno))
		*exec_errno = 0;
	close(p[0]);
	if (*exec_errno != 0)
		fprintf(stderr, "mcp-proxyctl: exec: cannot run '%s': %s\n",
		    o->argv[0], strerror(*exec_errno));
	return pid;
}

/*
 * Waits for the command, passing on the signals another process sends us
 * (a terminal's reach the command by itself: they are not sent twice);
 * its exit status, or 128+N for signal N.
 */
static int
ctlexec_wait(pid_t pid, int exec_errno)
{
	sigset_t	set;
	siginfo_t	si;
	pid_t		r;
	int		status;

	ctlexec_blockset(&set);
	while ((r = waitpid(pid, &status, WNOHANG)) != pid) {
		if (r == -1 && errno != EINTR) {
			fprintf(stderr, "mcp-proxyctl: exec: waitpid: %s\n",
			    strerror(errno));
			return CTLEXEC_EXIT_FAIL;
		}
		if (sigwaitinfo(&set, &si) == -1 || si.si_signo == SIGCHLD)
			continue;
		if (si.si_code <= 0)	/* kill(2) or sigqueue(3) */
			(void)kill(pid, si.si_signo);
	}
	if (exec_errno != 0)
		return exec_errno == ENOENT ? CTLEXEC_EXIT_NOTFOUND :
		    CTLEXEC_EXIT_NOEXEC;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* Revokes the session and writes its final calls (one JSON line). */
static void
ctlexec_revoke(const struct ctlexec_opts *o, const struct ctltarget *t,
    const char *id, FILE *out)
{
	json_object	*j;
	char		 target[sizeof("/sessions/") + CTLEXEC_ID_MAX];

	ctlexec_ignore();
	snprintf(target, sizeof(target), "/sessions/%s", id);
	if (ctlexec_request(o, t, "DELETE", target, NULL, &j) == -1) {
		fprintf(stderr, "mcp-proxyctl: exec: session %s was not "
		    "revoked: it ends at its expiry\n", id);
		return;
	}
	fprintf(out, "%s\n", json_object_to_json_string_ext(j,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
}
