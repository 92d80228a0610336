/*
 * main.c: options, configuration, start-up and shutdown order.
 *
 * Start-up: config, token, event base, registry (its children, served on
 * the same base), worker pool, HTTP listeners, wait for the servers' first
 * start, then the ready line on stdout and sd_notify(READY=1).
 * Shutdown (SIGTERM/SIGINT):
 * the HTTP side drains and leaves the loop; then the workers stop, the
 * registry ends every child, the leftovers are answered, and all is freed.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "allowlist.h"
#include "auth.h"
#include "cache.h"
#include "config.h"
#include "discovery.h"
#include "exec.h"
#include "health.h"
#include "http.h"
#include "log.h"
#include "pool.h"
#include "registry.h"
#include "version.h"

#define DEFAULT_CONFIG	SYSCONFDIR "/mcp-proxyd/mcp-proxyd.json"
#define DEFAULT_LISTEN	"127.0.0.1:0"
#define DEFAULT_CACHE	LOCALSTATEDIR "/lib/mcp-proxyd/schema-cache.json"

static void	usage(FILE *);
static void	on_signal(evutil_socket_t, short, void *);
static void	notify(const char *);

static const struct config *main_cfg;
static struct registry	*main_registry;
static int		 main_signals;

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: mcp-proxyd [-htVv] [-c file] [-l address]\n"
	    "\n"
	    "HTTP gateway from sandboxed code to the tools of MCP servers.\n"
	    "\n"
	    "  -c, --config FILE     configuration file (default %s)\n"
	    "  -l, --listen ADDR     listen on host:port, overriding the "
	    "configuration\n"
	    "                        (default %s; port 0 picks a free port)\n"
	    "  -t, --check-config    check the configuration and exit\n"
	    "  -v, --verbose         log debug messages\n"
	    "  -V, --version         print the version and exit\n"
	    "  -h, --help            print this help and exit\n"
	    "\n"
	    "Once listening it prints one JSON line on stdout:\n"
	    "  {\"port\":N,\"url\":\"http://127.0.0.1:N/\",\"authToken\":\"...\"}\n"
	    "See mcp-proxyd(8) and mcp-proxyd.json(5).\n",
	    DEFAULT_CONFIG, DEFAULT_LISTEN);
}

static void
notify(const char *state)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, state);
#else
	(void)state;
#endif
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGHUP) {
		log_info("SIGHUP: logging goes to stderr, nothing to re-open");
		return;
	}
	if (main_signals++ > 0) {
		log_warnx("second %s: exiting at once", strsignal((int)sig));
		registry_kill(main_registry);
		_exit(1);
	}
	log_info("%s: draining (drainTimeoutMs %d)", strsignal((int)sig),
	    main_cfg->drain_timeout_ms);
	notify("STOPPING=1");
	http_drain(main_cfg->drain_timeout_ms);
}

int
main(int argc, char *argv[])
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
	const char		*config_path = DEFAULT_CONFIG, *listen = NULL;
	struct config		*cfg;
	struct event_base	*base;
	struct event		*sigs[3];
	struct pool		*pool;
	struct auth		*auth;
	struct allowlist	*allow;
	struct cache		*cache;
	char			 err[CONFIG_ERR_MAX], token[4097];
	int			 ch, check = 0, verbose = 0, port, workers, i;
	int			 reserved;
	const int		 signums[3] = { SIGTERM, SIGINT, SIGHUP };

	while ((ch = getopt_long(argc, argv, "c:l:tvVh", longopts, NULL))
	    != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("mcp-proxyd %s\n", MCP_PROXYD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mcp-proxyd: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		return 1;
	}
	log_init(verbose);

	if ((cfg = config_load(config_path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "mcp-proxyd: %s\n", err);
		return 1;
	}
	for (i = 0; cfg->warnings != NULL && cfg->warnings[i] != NULL; i++)
		log_warnx("%s", cfg->warnings[i]);
	if (check) {
		printf("%s: configuration OK (%zu MCP server%s)\n", cfg->path,
		    cfg->nservers, cfg->nservers == 1 ? "" : "s");
		config_free(cfg);
		return 0;
	}
	main_cfg = cfg;
	if (listen == NULL)
		listen = cfg->listen != NULL ? cfg->listen : DEFAULT_LISTEN;

	if (cfg->auth_token_file != NULL) {
		if (auth_token_read_file(cfg->auth_token_file, token,
		    sizeof(token), err, sizeof(err)) == -1)
			fatalx("%s", err);
	} else if (auth_token_generate(token) == -1)
		fatalx("cannot generate an auth token");
	if ((auth = auth_new(token)) == NULL)
		fatalx("cannot set up the auth token");
	if ((allow = allowlist_new(cfg->allowed_tools, cfg->nallowed_tools))
	    == NULL)
		fatalx("cannot build the allowlist");

	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL)
		fatalx("cannot create the event base");

	/* By default the children's pipes are served by the loop thread too:
	 * a call then costs no thread hand-off (docs/architecture.md). */
	main_registry = registry_new_shared(cfg, base);
	if (main_registry == NULL)
		fatalx("cannot create the server registry");
	if ((cache = cache_open(cfg->schema_cache_path != NULL ?
	    cfg->schema_cache_path : DEFAULT_CACHE)) == NULL)
		fatalx("cannot set up the schema cache");
	registry_set_cache(main_registry, cache);
	if (registry_start(main_registry) == -1)
		fatalx("cannot start the server registry");

	workers = cfg->workers > 0 ? cfg->workers : pool_default_workers();
	if ((pool = pool_new(base, workers, cfg->queue_size)) == NULL)
		fatalx("cannot start %d workers", workers);

	for (i = 0, reserved = 64; (size_t)i < cfg->nservers; i++)
		reserved += 4 * cfg->servers[i].instances;
	if ((port = http_init(base, cfg, listen, auth, reserved)) == -1)
		fatalx("cannot listen on %s", listen);
	exec_init(pool, main_registry, cfg, allow);
	exec_register();
	discovery_register(main_registry, cfg, allow);
	health_register(pool, main_registry, cache);

	for (i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(base, signums[i], on_signal, NULL);
		if (sigs[i] == NULL || event_add(sigs[i], NULL) == -1)
			fatalx("cannot install signal handlers");
	}

	registry_wait_started(main_registry, cfg->start_timeout_ms);

	/* A drain that finished during the start (SIGTERM) skips all this. */
	if (!event_base_got_exit(base)) {
		if (cfg->auth_token_file != NULL)
			printf("{\"port\":%d,\"url\":\"http://127.0.0.1:%d/\"}\n",
			    port, port);
		else
			printf("{\"port\":%d,\"url\":\"http://127.0.0.1:%d/\","
			    "\"authToken\":\"%s\"}\n", port, port, token);
		fflush(stdout);
		log_info("mcp-proxyd %s listening on %s (port %d), %d "
		    "workers, %zu MCP server%s", MCP_PROXYD_VERSION, listen,
		    port, workers, cfg->nservers, cfg->nservers == 1 ? "" : "s");
		notify("READY=1");
	}
	explicit_bzero(token, sizeof(token));
	if (!event_base_got_exit(base))
		event_base_dispatch(base);

	log_info("stopping workers and MCP servers");
	pool_stop(pool);
	registry_stop(main_registry);
	pool_free(pool);	/* answers what is left; nothing is lost */
	discovery_free();
	http_free();
	exec_free();
	for (i = 0; i < 3; i++)
		event_free(sigs[i]);
	registry_free(main_registry);
	cache_free(cache);
	event_base_free(base);
	allowlist_free(allow);
	auth_free(auth);
	config_free(cfg);
	log_info("exited cleanly");
	return 0;
}
