/*
 * main.c: options, configuration, start-up and shutdown order.
 *
 * Start-up: config, token, event base, the listeners (the service
 * manager's, else the configured ones, bound before anything is spawned,
 * so an address in use leaves no child behind), the
 * worker pool, the registry (each MCP server instance started on the
 * worker that owns it), then the loop runs until every server's first
 * start is over, and the ready line goes to stdout with READY=1 to the
 * service manager (sdnotify.c).
 * SIGHUP reloads the configuration (reload.c) on the loop thread.
 * Shutdown (SIGTERM/SIGINT): the HTTP side drains and leaves the loop; the
 * workers end their children and exit (pool_stop() waits for them with a
 * deadline), the leftovers are answered, and all is freed. The socket
 * files we created are removed as the drain closes the listeners. From
 * the first signal on, a second one kills every child and exits at once,
 * whatever thread is busy with what.
 */
#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "audit.h"
#include "auth.h"
#include "cache.h"
#include "children.h"
#include "config.h"
#include "defaults.h"
#include "discovery.h"
#include "exec.h"
#include "health.h"
#include "http.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "registry.h"
#include "reload.h"
#include "sdnotify.h"
#include "service.h"
#include "session.h"
#include "sessionapi.h"
#include "snapshot.h"
#include "stats.h"
#include "version.h"

#define DEFAULT_CONFIG	SYSCONFDIR "/mcp-proxyd/mcp-proxyd.json"
#define DEFAULT_LISTEN	CONFIG_DEFAULT_LISTEN
#define DEFAULT_CACHE	LOCALSTATEDIR "/lib/mcp-proxyd/schema-cache.json"
#define STOP_DEADLINE_MS	15000	/* workers ending their children */
#define FD_RESERVE		64	/* descriptors beside connections */
#define FD_PER_INSTANCE		4	/* three pipes and a pidfd */
#define FD_PER_WORKER		3	/* epoll, eventfd, a spare */
#define MAIN_ORPHANS_WAIT_MS	2000	/* left-behind processes dying */
/* Buffers this large come from mmap and go back to the system when
 * freed: with glibc's adaptive threshold, one 5 MiB answer raised it and
 * every thread's arena then kept such buffers (the soak: +47 MiB of RSS
 * after 20 of them). */
#define MAIN_MMAP_THRESHOLD	(256 * 1024)

/* What main() starts and frees. cfg is the start snapshot's: the
 * servers of the start, the counters' names and exec's startTimeoutMs
 * point into it, so main holds it to the end; reloads install newer
 * snapshots (snapshot.h). */
struct daemon {
	struct snapshot		*start;
	const struct config	*cfg;
	struct auth		*auth;
	struct event_base	*base;
	struct event		*sigs[3];
	struct pool		*pool;
	struct cache		*cache;
	struct listeners	 ls;
	int			 workers;
	char			 token_file[DEFAULTS_PATH_MAX]; /* "": none */
};

static void	usage(FILE *);
static void	on_signal(evutil_socket_t, short, void *);
static void	on_second_signal(int);
static void	wait_started(struct event_base *, int);
static void	noop_cb(evutil_socket_t, short, void *);

/* The -l options: they replace the configuration's listen. */
struct listen_args {
	char	*addr[CONFIG_LISTEN_MAX];
	size_t	 n;
};

static struct listeners	*main_listeners;
static struct registry	*main_registry;
static int		 main_signals;

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: mcp-proxyd [-htVv] [-c file] [-l address ...]\n"
	    "\n"
	    "HTTP gateway from sandboxed code to the tools of MCP servers.\n"
	    "\n"
	    "  -c, --config FILE     configuration file (default %s)\n"
	    "  -l, --listen ADDR     listen on host:port or unix:/path, "
	    "overriding the\n"
	    "                        configuration; may be repeated (default "
	    "%s;\n"
	    "                        port 0 picks a free port). Sockets passed "
	    "by the\n"
	    "                        service manager (LISTEN_FDS) replace "
	    "both.\n"
	    "  -t, --check-config    check the configuration and exit\n"
	    "  -v, --verbose         log debug messages\n"
	    "  -V, --version         print the version and exit\n"
	    "  -h, --help            print this help and exit\n"
	    "\n"
	    "Once listening it prints one JSON line on stdout:\n"
	    "  {\"port\":N,\"url\":\"http://127.0.0.1:N/\",\"authToken\":\"...\"}\n"
	    "with \"socket\":PATH for a Unix socket (and \"sockets\":[...] for "
	    "several),\n"
	    "without port and url when there is no TCP listener; no token with\n"
	    "authTokenFile, and under systemd \"authTokenFile\" names\n"
	    "$RUNTIME_DIRECTORY/token instead.\n"
	    "See mcp-proxyd(8) and mcp-proxyd.json(5).\n",
	    DEFAULT_CONFIG, DEFAULT_LISTEN);
}

static void
on_second_signal(int sig)
{
	static const char msg[] = "<4>second signal: killing the MCP servers "
	    "and exiting at once\n";

	(void)sig;
	registry_kill(main_registry);
	(void)write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct sigaction	sa;
	struct audit_event	ev;
	int			drain_ms;

	if (sig == SIGHUP) {
		(void)reload_run();
		return;
	}
	if (main_signals++ > 0)
		on_second_signal((int)sig);
	/* From now on the next one is handled in the signal handler itself:
	 * the loop may not run again (joining the workers). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_second_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	drain_ms = snapshot_current()->cfg->drain_timeout_ms;
	log_info("%s: draining (drainTimeoutMs %d)", strsignal((int)sig),
	    drain_ms);
	memset(&ev, 0, sizeof(ev));
	ev.event = "shutdown";
	ev.latency_ms = -1;
	ev.reason = sig == SIGINT ? "SIGINT" : "SIGTERM";
	audit_log(&ev);
	http_drain(drain_ms);
	/* The listeners are closed: their files lead nowhere now. */
	listen_unlink(main_listeners);
	service_notify("STOPPING=1");
}

static void
noop_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* Runs the loop until every server's first start is over, the time is up
 * or a drain ended the loop (the registry wakes the loop when a server
 * starts). */
static void
wait_started(struct event_base *base, int timeout_ms)
{
	struct timeval	 tv;
	struct event	*ev;

	if ((ev = evtimer_new(base, noop_cb, NULL)) == NULL)
		return;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(ev, &tv);
	while (!registry_all_started(main_registry) &&
	    evtimer_pending(ev, NULL) && !event_base_got_exit(base) &&
	    !event_base_got_break(base))
		event_base_loop(base, EVLOOP_ONCE);
	event_free(ev);
}

/* Descriptors the daemon needs beside its HTTP connections. */
static int
reserved_fds(const struct config *cfg, int workers)
{
	size_t	i;
	int	n = FD_RESERVE + FD_PER_WORKER * workers;

	for (i = 0; i < cfg->nservers; i++)
		if (!cfg->servers[i].disabled)
			n += FD_PER_INSTANCE * (cfg->servers[i].instances > 0 ?
			    cfg->servers[i].instances : 1);
	return n;
}

/* The ready line: port and url for TCP, socket (and sockets) for Unix
 * sockets, the token itself only when it is ours to show (not from
 * authTokenFile, not written to a file, not under systemd). */
static char *
ready_line(const struct daemon *d, const char *token)
{
	const struct listeners	*ls = &d->ls;
	json_object	*o, *a = NULL;
	char		 url[64], *line;
	int		 i, port = listen_port(ls);

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if (port >= 0) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
		json_object_object_add(o, "port", json_object_new_int(port));
		json_object_object_add(o, "url", json_object_new_string(url));
	}
	if (listen_first_path(ls) != NULL)
		json_object_object_add(o, "socket",
		    json_object_new_string(listen_first_path(ls)));
	if (listen_nunix(ls) > 1 && (a = json_object_new_array()) != NULL) {
		for (i = 0; i < ls->n; i++)
			if (ls->l[i].family == AF_UNIX)
				json_object_array_add(a,
				    json_object_new_string(ls->l[i].path));
		json_object_object_add(o, "sockets", a);
	}
	if (d->token_file[0] != '\0')
		json_object_object_add(o, "authTokenFile",
		    json_object_new_string(d->token_file));
	else if (d->cfg->auth_token_file == NULL && !defaults_under_systemd())
		json_object_object_add(o, "authToken",
		    json_object_new_string(token));
	line = strdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return line;
}

static void
print_ready(const struct daemon *d, char *token)
{
	const struct config	*cfg = d->cfg;
	const struct listeners	*ls = &d->ls;
	char			*line, names[1024];
	size_t			 off = 0;
	int			 i;

	if ((line = ready_line(d, token)) == NULL)
		fatalx("cannot write the ready line");
	printf("%s\n", line);
	fflush(stdout);
	explicit_bzero(line, strlen(line));
	free(line);
	names[0] = '\0';
	for (i = 0; i < ls->n && off < sizeof(names); i++)
		off += (size_t)snprintf(names + off, sizeof(names) - off,
		    "%s%s", i > 0 ? ", " : "", ls->l[i].name);
	log_info("mcp-proxyd %s listening on %s, %d workers, %zu MCP "
	    "server%s", MCP_PROXYD_VERSION, names, d->workers, cfg->nservers,
	    cfg->nservers == 1 ? "" : "s");
	service_ready();
}

/* One more -l address, checked as the configuration's are. */
static int
add_listen(struct listen_args *la, char *addr)
{
	const char	*why;

	if (la->n == CONFIG_LISTEN_MAX) {
		fprintf(stderr, "mcp-proxyd: more than %d -l options\n",
		    CONFIG_LISTEN_MAX);
		return -1;
	}
	if ((why = config_listen_check(addr)) != NULL) {
		fprintf(stderr, "mcp-proxyd: -l %s: %s\n", addr, why);
		return -1;
	}
	la->addr[la->n++] = addr;
	return 0;
}

static int
parse_args(int argc, char *argv[], const char **config_path,
    struct listen_args *la, int *check, int *verbose)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "check-config", no_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	ch;

	while ((ch = getopt_long(argc, argv, "c:l:tvVh", longopts, NULL))
	    != -1) {
		switch (ch) {
		case 'c':
			*config_path = optarg;
			break;
		case 'l':
			if (add_listen(la, optarg) == -1)
				return -1;
			break;
		case 't':
			*check = 1;
			break;
		case 'v':
			(*verbose)++;
			break;
		case 'V':
			printf("mcp-proxyd %s\n", MCP_PROXYD_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mcp-proxyd: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

/* The configuration, with its warnings logged; -t ends here. */
static struct config *
load_config(const char *path, int check)
{
	struct config	*cfg;
	char		 err[CONFIG_ERR_MAX];
	size_t		 i;

	if ((cfg = config_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "mcp-proxyd: %s\n", err);
		exit(1);
	}
	for (i = 0; cfg->warnings != NULL && cfg->warnings[i] != NULL; i++)
		log_warnx("%s", cfg->warnings[i]);
	if (check) {
		printf("%s: configuration OK (%zu MCP server%s)\n", cfg->path,
		    cfg->nservers, cfg->nservers == 1 ? "" : "s");
		config_free(cfg);
		exit(0);
	}
	return cfg;
}

/* A generated token under systemd goes to a 0600 file in the runtime
 * directory, never to the journal. */
static void
save_token(struct daemon *d, const char *token)
{
	char	err[CONFIG_ERR_MAX];

	if (defaults_token_path(d->token_file, sizeof(d->token_file)) == -1) {
		d->token_file[0] = '\0';
		if (defaults_under_systemd())
			log_warnx("no authTokenFile and no RuntimeDirectory: "
			    "the generated token is not shown under systemd; "
			    "set authTokenFile");
		return;
	}
	if (auth_token_write_file(d->token_file, token, err,
	    sizeof(err)) == -1)
		fatalx("cannot save the generated token: %s", err);
	log_info("the generated admin token is in %s", d->token_file);
}

/* The daemon's token: from authTokenFile, else a random one. */
static void
load_auth(struct daemon *d, char *token, size_t len)
{
	char	err[CONFIG_ERR_MAX];

	if (d->cfg->auth_token_file != NULL) {
		if (auth_token_read_file(d->cfg->auth_token_file, token, len,
		    err, sizeof(err)) == -1)
			fatalx("%s", err);
	} else {
		if (auth_token_generate(token) == -1)
			fatalx("cannot generate an auth token");
		save_token(d, token);
	}
	if ((d->auth = auth_new(token)) == NULL)
		fatalx("cannot set up the auth token");
}

/* After the drain: the workers end their children, then all is freed. */
static void
shutdown_all(struct pool *pool, struct cache *cache)
{
	struct registry	*reg;

	log_info("stopping workers and MCP servers");
	if (pool_stop(pool, registry_stop_worker, main_registry,
	    STOP_DEADLINE_MS) == -1) {
		registry_kill(main_registry);
		log_warnx("exiting without waiting for the workers");
		_exit(1);
	}
	reg = main_registry;
	main_registry = NULL;
	registry_free(reg);
	pool_free(pool);	/* answers what is left; nothing is lost */
	cache_flush(cache);
}

/* The first snapshot: current, and held by main for the daemon's life. */
static void
load_snapshot(struct daemon *d, const char *path, int check)
{
	struct config	*cfg = load_config(path, check);

	if ((d->start = snapshot_new(cfg)) == NULL)
		fatalx("cannot build the allowlist");
	snapshot_install(d->start);
	d->start = snapshot_hold();
	d->cfg = d->start->cfg;
	stats_config(d->start->generation, d->start->loaded);
}

/*
 * The loop thread's event base. evhttp turns a connection's read and write
 * events on and off several times per request; with the changelist those
 * changes reach epoll once per loop iteration, not one epoll_ctl each.
 */
static struct event_base *
loop_base_new(void)
{
	struct event_config	*ec;
	struct event_base	*base;

	if ((ec = event_config_new()) == NULL)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

/* The sockets the service manager passed, if any: taken before any
 * thread exists, since taking them unsets LISTEN_* in the environment. */
static void
take_activated(struct daemon *d)
{
	char	err[512];

	if (listen_activated(&d->ls, err, sizeof(err)) == -1)
		fatalx("%s", err);
}

/* The listening sockets: the service manager's, else -l's, else the
 * configuration's, else the default. */
static void
open_listeners(struct daemon *d, const struct listen_args *la)
{
	static char	 dflt_addr[] = DEFAULT_LISTEN;
	char		*dflt[] = { dflt_addr };
	char		 err[512];
	int		 n = d->ls.n;

	if (n > 0) {
		if (la->n > 0 || d->cfg->nlisten > 0)
			log_info("%d socket%s from the service manager: "
			    "ignoring %s", n, n == 1 ? "" : "s", la->n > 0 ?
			    "-l" : "listen in the configuration");
		return;
	}
	if (la->n > 0)
		n = listen_open(&d->ls, la->addr, la->n, d->cfg->socket_mode,
		    d->cfg->socket_gid, err, sizeof(err));
	else if (d->cfg->nlisten > 0)
		n = listen_open(&d->ls, d->cfg->listen, d->cfg->nlisten,
		    d->cfg->socket_mode, d->cfg->socket_gid, err, sizeof(err));
	else
		n = listen_open(&d->ls, dflt, 1, d->cfg->socket_mode,
		    d->cfg->socket_gid, err, sizeof(err));
	if (n == -1) {
		listen_close(&d->ls);
		listen_unlink(&d->ls);
		fatalx("%s", err);
	}
}

/* The loop thread's side: event base, listeners (bound first, so an
 * address in use exits before any child exists) and signals. */
static void
start_front(struct daemon *d, const struct listen_args *la)
{
	const int	signums[3] = { SIGTERM, SIGINT, SIGHUP };
	int		fds[LISTEN_MAX];
	int		i;

	signal(SIGPIPE, SIG_IGN);
	if ((d->base = loop_base_new()) == NULL)
		fatalx("cannot create the event base");
	if (children_attach(d->base) == -1)
		fatalx("cannot start the sweep of left-behind processes");
	d->workers = d->cfg->workers > 0 ? d->cfg->workers :
	    pool_default_workers();
	open_listeners(d, la);
	for (i = 0; i < d->ls.n; i++)
		fds[i] = d->ls.l[i].fd;
	if (http_init(d->base, d->cfg, fds, d->ls.n, d->auth,
	    reserved_fds(d->cfg, d->workers)) == -1) {
		listen_unlink(&d->ls);
		fatalx("cannot serve the listening sockets");
	}
	for (i = 0; i < d->ls.n; i++)
		d->ls.l[i].handed = 1;	/* evhttp's now */
	for (i = 0; i < 3; i++) {
		d->sigs[i] = evsignal_new(d->base, signums[i], on_signal, NULL);
		if (d->sigs[i] == NULL || event_add(d->sigs[i], NULL) == -1)
			fatalx("cannot install signal handlers");
	}
}

/* The service manager's STATUS= line (service.c's timer). */
static void
status_text(char *buf, size_t len, void *arg)
{
	size_t	ready, enabled;
	char	failed[SERVICE_STATUS_MAX];

	(void)arg;
	if (main_registry == NULL) {
		snprintf(buf, len, "starting");
		return;
	}
	ready = registry_nready(main_registry, &enabled);
	reload_status(failed, sizeof(failed));
	snprintf(buf, len, "%s%s%s%ld call%s in flight, %zu of %zu MCP "
	    "server%s ready", failed, failed[0] != '\0' ? "; " : "",
	    http_draining() ? "draining: " : "", http_inflight(),
	    http_inflight() == 1 ? "" : "s", ready, enabled,
	    enabled == 1 ? "" : "s");
}

/* The workers, the schema cache, the registry and the routes; then every
 * MCP server instance starts on its worker. */
static void
start_back(struct daemon *d)
{
	const struct config	*cfg = d->cfg;

	if ((d->pool = pool_new(d->base, d->workers, cfg->queue_size)) == NULL)
		fatalx("cannot start %d workers", d->workers);
	char			 path[DEFAULTS_PATH_MAX];

	if (cfg->schema_cache_path == NULL)
		defaults_cache_path(DEFAULT_CACHE, path, sizeof(path));
	if ((d->cache = cache_open(cfg->schema_cache_path != NULL ?
	    cfg->schema_cache_path : path)) == NULL)
		fatalx("cannot set up the schema cache");
	if ((main_registry = registry_new(cfg, d->pool, d->cache)) == NULL)
		fatalx("cannot create the server registry");
	if (stats_init(cfg) == -1)
		fatalx("cannot set up the counters");
	exec_init(d->pool, main_registry, cfg);
	exec_register();
	discovery_register(main_registry, cfg);
	health_register(d->pool, main_registry, d->cache);
	metrics_register(d->pool, main_registry, d->cache);
	if (session_init(d->base, d->auth, cfg, d->start->allow) == -1)
		fatalx("cannot set up sessions");
	sessionapi_register();
	if (registry_start(main_registry) == -1)
		fatalx("cannot start the MCP servers");
	if (service_start(d->base, status_text, NULL) == -1)
		fatalx("cannot set up the service manager's status timer");
}

static void
free_all(struct daemon *d)
{
	int	i;

	service_stop();
	if (d->token_file[0] != '\0' && unlink(d->token_file) == -1)
		log_warn("cannot remove %s", d->token_file);

	discovery_free();
	http_free();
	exec_free();
	stats_free();
	session_free_all();
	for (i = 0; i < 3; i++)
		event_free(d->sigs[i]);
	cache_free(d->cache);
	event_base_free(d->base);
	auth_free(d->auth);
	snapshot_clear();
	snapshot_release(d->start);
	reload_free();
}

int
main(int argc, char *argv[])
{
	const char		*config_path = DEFAULT_CONFIG;
	struct listen_args	 la;
	struct daemon		 d;
	char		 token[AUTH_TOKEN_MAX + 1];
	int		 check = 0, verbose = 0;

	memset(&d, 0, sizeof(d));
	memset(&la, 0, sizeof(la));
	main_listeners = &d.ls;
	(void)mallopt(M_MMAP_THRESHOLD, MAIN_MMAP_THRESHOLD);
	if (parse_args(argc, argv, &config_path, &la, &check,
	    &verbose) == -1)
		return 1;
	log_init(verbose);
	event_set_log_callback(log_libevent);
	sdnotify_init();
	load_snapshot(&d, config_path, check);
	/* Before any thread: the reaper is forked, LISTEN_* unset. */
	(void)children_init();
	take_activated(&d);
	load_auth(&d, token, sizeof(token));
	if (audit_open(d.cfg->audit_log, 0) == -1)
		fatalx("cannot open the audit log %s", d.cfg->audit_log);
	start_front(&d, &la);
	start_back(&d);
	/* Listeners follow the file, unless -l or the service manager gave
	 * them. */
	if (reload_init(d.cfg->path, d.auth, main_registry, la.n > 0 ||
	    (d.ls.n > 0 && d.ls.l[0].activated) ? NULL : &d.ls) == -1)
		fatalx("out of memory");

	wait_started(d.base, d.cfg->start_timeout_ms);
	/* A drain that finished during the start (SIGTERM) skips all this. */
	if (!event_base_got_exit(d.base)) {
		print_ready(&d, token);
		explicit_bzero(token, sizeof(token));
		event_base_dispatch(d.base);
	}
	explicit_bzero(token, sizeof(token));

	shutdown_all(d.pool, d.cache);
	children_finish(MAIN_ORPHANS_WAIT_MS);
	listen_unlink(&d.ls);
	free_all(&d);
	audit_close();
	log_info("exited cleanly");
	return 0;
}
