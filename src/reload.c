/*
 * reload.c: the configuration reload on SIGHUP (see reload.h).
 *
 * What changes live (new snapshot, handed to the loop-thread modules):
 * allowedTools, the HTTP limits and timeouts, maxConnections,
 * maxSessions, discoveryTimeoutMs, discoveryRespectsAllowlist, the rate
 * limits, drainTimeoutMs, auditLog's path and the daemon token in
 * authTokenFile (re-read each time). The servers are compared by name
 * (registry.c restarts changed ones, stops removed ones, starts new
 * ones). What needs a restart is pinned here to its running value with a
 * warning: listen, socketMode, socketGroup, workers, queueSize,
 * authTokenFile's path, the schema
 * cache, maxMessageBytes, startTimeoutMs and the servers' defaults
 * (docs/architecture.md, "Reload").
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "auth.h"
#include "config.h"
#include "discovery.h"
#include "exec.h"
#include "http.h"
#include "listen.h"
#include "log.h"
#include "registry.h"
#include "reload.h"
#include "sdnotify.h"
#include "service.h"
#include "session.h"
#include "snapshot.h"
#include "stats.h"

static void	reload_changed(const char *);
static int	reload_str_eq(const char *, const char *);
static int	reload_strv_eq(char *const *, size_t, char *const *, size_t);
static int	reload_env_eq(const struct config_server *,
		    const struct config_server *);
static int	reload_remote_eq(const struct config_server *,
		    const struct config_server *);
static int	reload_tt_eq(const struct config_server *,
		    const struct config_server *);
static int	reload_breaker_eq(const struct config_breaker *,
		    const struct config_breaker *);
static int	reload_starts(const struct config *);
static void	reload_servers(struct snapshot *);
static int	reload_pin_str(const char *, char **, const char *);
static int	reload_pin_listen(struct config *, const struct config *);
static void	reload_listen_add(const struct listener *);
static int	reload_listen(const struct config *, const struct config *,
		    char *, size_t);
static void	reload_notify(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static void	reload_audit(int, unsigned long, const char *);
static void	reload_apply(struct snapshot *, const char *);
static int	reload_token(const struct config *, char *, char *, size_t);
static int	reload_room(const struct config *, char *, size_t);
static void	reload_failed(const char *);

static char		*reload_path;
static struct auth	*reload_auth;
static struct registry	*reload_reg;
static struct listeners	*reload_ls;	/* NULL: they need a restart */
static char		 reload_err[CONFIG_ERR_MAX];	/* the last reload's */

int
reload_init(const char *path, struct auth *auth, struct registry *reg,
    struct listeners *ls)
{
	free(reload_path);
	reload_auth = auth;
	reload_reg = reg;
	reload_ls = ls;
	reload_path = strdup(path);
	return reload_path == NULL ? -1 : 0;
}

void
reload_free(void)
{
	free(reload_path);
	reload_path = NULL;
}

/* ------------------------------------------------ what needs a restart */

static void
reload_changed(const char *key)
{
	log_warnx("%s changed: takes effect at restart", key);
}

static int
reload_str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
reload_strv_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
	size_t	i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (!reload_str_eq(a[i], b[i]))
			return 0;
	return 1;
}

static int
reload_env_eq(const struct config_server *a, const struct config_server *b)
{
	size_t	i;

	if (a->nenv != b->nenv)
		return 0;
	for (i = 0; i < a->nenv; i++)
		if (!reload_str_eq(a->env[i].key, b->env[i].key) ||
		    !reload_str_eq(a->env[i].value, b->env[i].value))
			return 0;
	return 1;
}

/* A remote server's own keys: transport, URL, headers (the headersFile's
 * included, as read now) and TLS options. */
static int
reload_remote_eq(const struct config_server *a, const struct config_server *b)
{
	size_t	i;

	if (a->transport != b->transport || !reload_str_eq(a->url, b->url) ||
	    a->tls != b->tls || a->nheaders != b->nheaders ||
	    !reload_str_eq(a->headers_file, b->headers_file) ||
	    !reload_str_eq(a->tls_opts.ca_file, b->tls_opts.ca_file) ||
	    !reload_str_eq(a->tls_opts.cert_file, b->tls_opts.cert_file) ||
	    !reload_str_eq(a->tls_opts.key_file, b->tls_opts.key_file) ||
	    a->tls_opts.insecure != b->tls_opts.insecure)
		return 0;
	for (i = 0; i < a->nheaders; i++)
		if (!reload_str_eq(a->headers[i].key, b->headers[i].key) ||
		    !reload_str_eq(a->headers[i].value, b->headers[i].value))
			return 0;
	return 1;
}

static int
reload_tt_eq(const struct config_server *a, const struct config_server *b)
{
	size_t	i;

	if (a->ntool_timeouts != b->ntool_timeouts)
		return 0;
	for (i = 0; i < a->ntool_timeouts; i++)
		if (!reload_str_eq(a->tool_timeouts[i].tool,
		    b->tool_timeouts[i].tool) ||
		    a->tool_timeouts[i].timeout_ms !=
		    b->tool_timeouts[i].timeout_ms)
			return 0;
	return 1;
}

static int
reload_breaker_eq(const struct config_breaker *a,
    const struct config_breaker *b)
{
	return a->enabled == b->enabled && a->failures == b->failures &&
	    a->open_ms == b->open_ms;
}

/* Every member of a server's definition. */
int
reload_server_eq(const struct config_server *a, const struct config_server *b)
{
	return reload_remote_eq(a, b) && reload_str_eq(a->command, b->command) &&
	    reload_strv_eq(a->args, a->nargs, b->args, b->nargs) &&
	    reload_env_eq(a, b) && reload_str_eq(a->cwd, b->cwd) &&
	    a->inherit_env == b->inherit_env &&
	    a->timeout_ms == b->timeout_ms && reload_tt_eq(a, b) &&
	    a->max_concurrent == b->max_concurrent &&
	    a->max_queued == b->max_queued &&
	    a->max_buffered_bytes == b->max_buffered_bytes &&
	    a->instances == b->instances && a->disabled == b->disabled &&
	    a->unresponsive_ms == b->unresponsive_ms &&
	    a->ping_timeout_ms == b->ping_timeout_ms &&
	    reload_breaker_eq(&a->breaker, &b->breaker);
}

/* How many servers of nc a reload must start (new or changed ones). */
static int
reload_starts(const struct config *nc)
{
	const struct config_server	*cs;
	size_t				 i;
	int				 s, n = 0;

	for (i = 0; i < nc->nservers; i++) {
		s = registry_find_server(reload_reg, nc->servers[i].name,
		    strlen(nc->servers[i].name));
		cs = s == -1 ? NULL : registry_server_config(reload_reg,
		    (size_t)s);
		if (cs == NULL || !reload_server_eq(cs, &nc->servers[i]))
			n++;
	}
	return n;
}

/*
 * The servers of snap, now current: a new one is started; a changed one
 * is started anew and then the old one retired (a call in between finds
 * the old one and holds it: no call misses the server); a removed one is
 * retired. Unchanged ones are left alone.
 */
static void
reload_servers(struct snapshot *snap)
{
	const struct config	*nc = snap->cfg;
	const char		*name;
	size_t			 s, n = registry_nservers(reload_reg), i;
	int			 found;

	for (s = 0; s < n; s++) {
		if (!registry_live(reload_reg, s))
			continue;
		name = registry_server_name(reload_reg, s);
		for (i = 0; i < nc->nservers; i++)
			if (strcmp(nc->servers[i].name, name) == 0)
				break;
		if (i < nc->nservers && reload_server_eq(
		    registry_server_config(reload_reg, s), &nc->servers[i]))
			continue;
		if (i < nc->nservers && registry_add(reload_reg, snap, i) ==
		    -1) {
			log_warnx("server %s: cannot start its new definition: "
			    "the old one keeps running", name);
			continue;
		}
		log_info("server %s %s: stopping it once its calls are done",
		    name, i < nc->nservers ? "changed" : "removed");
		registry_retire(reload_reg, s);
	}
	for (i = 0; i < nc->nservers; i++) {
		found = registry_find_server(reload_reg, nc->servers[i].name,
		    strlen(nc->servers[i].name)) != -1;
		if (!found && registry_add(reload_reg, snap, i) == -1)
			log_warnx("server %s: cannot start it",
			    nc->servers[i].name);
		else if (!found)
			log_info("server %s added", nc->servers[i].name);
	}
}

/* 1 when it differed (now pinned), 0 when not, -1 out of memory. */
static int
reload_pin_str(const char *key, char **nv, const char *ov)
{
	char	*p = NULL;

	if (reload_str_eq(*nv, ov))
		return 0;
	reload_changed(key);
	if (ov != NULL && (p = strdup(ov)) == NULL)
		return -1;
	free(*nv);
	*nv = p;
	return 1;
}

/* The same for the listen array. */
static int
reload_pin_listen(struct config *nc, const struct config *oc)
{
	char	**v;
	size_t	  i;

	if (reload_strv_eq(nc->listen, nc->nlisten, oc->listen, oc->nlisten))
		return 0;
	reload_changed("listen");
	if ((v = calloc(oc->nlisten + 1, sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < oc->nlisten; i++)
		if ((v[i] = strdup(oc->listen[i])) == NULL) {
			while (i-- > 0)
				free(v[i]);
			free(v);
			return -1;
		}
	for (i = 0; i < nc->nlisten; i++)
		free(nc->listen[i]);
	free(nc->listen);
	nc->listen = v;
	nc->nlisten = oc->nlisten;
	return 1;
}

#define RELOAD_PIN(key, field) do {					\
	if (nc->field != oc->field) {					\
		reload_changed(key);					\
		nc->field = oc->field;					\
		n++;							\
	}								\
} while (0)

#define RELOAD_PIN_STR(key, field) do {					\
	if ((r = reload_pin_str(key, &nc->field, oc->field)) == -1)	\
		return -1;						\
	n += r;								\
} while (0)

int
reload_pin(struct config *nc, const struct config *oc)
{
	int	n = 0, r;

	if (reload_ls == NULL) {
		if ((r = reload_pin_listen(nc, oc)) == -1)
			return -1;
		n += r;
		RELOAD_PIN_STR("socketGroup", socket_group);
		nc->socket_gid = oc->socket_gid;	/* socketGroup's */
		RELOAD_PIN("socketMode", socket_mode);
	}
	RELOAD_PIN_STR("authTokenFile", auth_token_file);
	RELOAD_PIN_STR("schemaCachePath", schema_cache_path);
	if ((nc->audit_log == NULL) != (oc->audit_log == NULL))
		RELOAD_PIN_STR("auditLog", audit_log);
	RELOAD_PIN("workers", workers);
	RELOAD_PIN("queueSize", queue_size);
	RELOAD_PIN("maxMessageBytes", max_message_bytes);
	RELOAD_PIN("startTimeoutMs", start_timeout_ms);
	RELOAD_PIN("schemaCacheTtlSeconds", schema_cache_ttl_s);
	RELOAD_PIN("unresponsiveMs", unresponsive_ms);
	RELOAD_PIN("pingTimeoutMs", ping_timeout_ms);
	if (!reload_breaker_eq(&nc->breaker, &oc->breaker)) {
		reload_changed("breaker");
		nc->breaker = oc->breaker;
		n++;
	}
	return n;
}

/* ------------------------------------------------------------- reload */

static void
reload_notify(const char *fmt, ...)
{
	va_list	ap;
	char	msg[CONFIG_ERR_MAX + 64];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sdnotify(msg) == -1)
		log_warn("cannot notify the service manager");
}

static void
reload_audit(int ok, unsigned long gen, const char *err)
{
	struct audit_event	ev;
	char			extra[80];

	snprintf(extra, sizeof(extra), "\"result\":\"%s\",\"generation\":%lu",
	    ok ? "ok" : "failed", gen);
	memset(&ev, 0, sizeof(ev));
	ev.event = "reload";
	ev.latency_ms = -1;
	ev.error = err;
	ev.extra = extra;
	audit_log(&ev);
}

/* The daemon token from authTokenFile (token[0] is 0 without one): 0, or
 * -1 with the message in err. */
static int
reload_token(const struct config *cfg, char *token, char *err,
    size_t errlen)
{
	token[0] = '\0';
	if (cfg->auth_token_file == NULL)
		return 0;
	return auth_token_read_file(cfg->auth_token_file, token,
	    AUTH_TOKEN_MAX + 1, err, errlen);
}

/* 0 when the registry has a slot for every server to start, else -1. */
static int
reload_room(const struct config *cfg, char *err, size_t errlen)
{
	int	n;

	if (reload_reg == NULL ||
	    (size_t)(n = reload_starts(cfg)) <= registry_room(reload_reg))
		return 0;
	snprintf(err, errlen, "%s: mcpServers: %d servers to start, but only "
	    "%zu more may be started by reloads until a restart", cfg->path,
	    n, registry_room(reload_reg));
	return -1;
}

/* snap becomes current; the loop-thread modules get its settings. The
 * old one stays valid until they all have let go of it. */
static void
reload_apply(struct snapshot *snap, const char *token)
{
	struct snapshot	*old = snapshot_hold();

	if (snap->cfg->audit_log != NULL && !reload_str_eq(
	    snap->cfg->audit_log, old->cfg->audit_log) &&
	    audit_set_path(snap->cfg->audit_log) == -1)
		log_warn("auditLog %s", snap->cfg->audit_log);
	snapshot_install(snap);
	if (token[0] != '\0' && reload_auth != NULL)
		auth_set_admin(reload_auth, token);
	http_reconfigure(snap->cfg);
	exec_reconfigure(snap->cfg);
	discovery_reconfigure(snap->cfg);
	session_reconfigure(snap->cfg, snap->allow);
	if (reload_reg != NULL)
		reload_servers(snap);
	stats_config(snap->generation, snap->loaded);
	snapshot_release(old);
}

static void
reload_failed(const char *err)
{
	const struct snapshot	*cur = snapshot_current();

	log_warnx("reload failed, the running configuration stays: %s", err);
	reload_audit(0, cur->generation, err);
	stats_reload(0);
	snprintf(reload_err, sizeof(reload_err), "%s", err);
	service_notify("READY=1");
}

void
reload_status(char *buf, size_t len)
{
	if (reload_err[0] == '\0' && len > 0)
		buf[0] = '\0';
	else if (reload_err[0] != '\0')
		snprintf(buf, len, "reload failed, generation %lu kept: %s",
		    snapshot_current()->generation, reload_err);
}

/* A new listener goes to http; its entry in reload_ls is marked as
 * handed over (or closed when http cannot take it). */
static void
reload_listen_add(const struct listener *a)
{
	struct listener	*l = NULL;
	int		 i;

	for (i = 0; i < reload_ls->n; i++)
		if (reload_ls->l[i].fd == a->fd && !reload_ls->l[i].handed)
			l = &reload_ls->l[i];
	if (l == NULL)
		return;
	if (http_listen_add(l->fd) == -1) {
		log_warnx("cannot accept connections on %s", l->name);
		close(l->fd);
		l->fd = -1;
		return;
	}
	l->handed = 1;
	log_info("listening on %s", l->name);
}

/* The listeners a reload's configuration gives (when they follow the
 * file): new addresses are opened first, so one that cannot be bound
 * refuses the reload with nothing changed. */
static int
reload_listen(const struct config *nc, const struct config *oc, char *err,
    size_t errlen)
{
	static char		 dflt_addr[] = CONFIG_DEFAULT_LISTEN;
	char			*dflt[] = { dflt_addr }, why[512];
	struct listeners	 added, gone;
	int			 i;

	if (reload_ls == NULL || (reload_strv_eq(nc->listen, nc->nlisten,
	    oc->listen, oc->nlisten) && nc->socket_mode == oc->socket_mode &&
	    nc->socket_gid == oc->socket_gid))
		return 0;
	if (listen_update(reload_ls, nc->nlisten > 0 ? nc->listen : dflt,
	    nc->nlisten > 0 ? nc->nlisten : 1, nc->socket_mode,
	    nc->socket_gid, &added, &gone, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "listen: %s", why);
		return -1;
	}
	for (i = 0; i < added.n; i++)
		reload_listen_add(&added.l[i]);
	for (i = 0; i < gone.n; i++) {
		if (gone.l[i].handed)
			http_listen_remove(gone.l[i].fd);
		else if (gone.l[i].fd != -1)
			close(gone.l[i].fd);
		log_info("no longer listening on %s", gone.l[i].name);
	}
	listen_unlink(&gone);
	return 0;
}

int
reload_run(void)
{
	struct config	*cfg;
	struct snapshot	*snap;
	struct timespec	 ts;
	char		 err[CONFIG_ERR_MAX];
	char		 token[AUTH_TOKEN_MAX + 1];
	size_t		 i;
	int		 n;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	reload_notify("RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000 +
	    (unsigned long long)ts.tv_nsec / 1000);
	log_info("SIGHUP: re-opening the audit log, reloading %s",
	    reload_path);
	audit_reopen();
	if ((cfg = config_load(reload_path, err, sizeof(err))) == NULL) {
		reload_failed(err);
		return -1;
	}
	for (i = 0; cfg->warnings != NULL && cfg->warnings[i] != NULL; i++)
		log_warnx("%s", cfg->warnings[i]);
	if ((n = reload_pin(cfg, snapshot_current()->cfg)) == -1) {
		config_free(cfg);
		reload_failed("out of memory");
		return -1;
	}
	if (reload_token(cfg, token, err, sizeof(err)) == -1 ||
	    reload_room(cfg, err, sizeof(err)) == -1 ||
	    reload_listen(cfg, snapshot_current()->cfg, err,
	    sizeof(err)) == -1) {
		explicit_bzero(token, sizeof(token));
		config_free(cfg);
		reload_failed(err);
		return -1;
	}
	if ((snap = snapshot_new(cfg)) == NULL) {
		explicit_bzero(token, sizeof(token));
		reload_failed("out of memory");
		return -1;
	}
	reload_apply(snap, token);
	explicit_bzero(token, sizeof(token));
	log_info("configuration reloaded: generation %lu%s", snap->generation,
	    n > 0 ? " (some changes take effect at restart)" : "");
	reload_audit(1, snap->generation, NULL);
	stats_reload(1);
	reload_err[0] = '\0';
	service_notify("READY=1");
	return 0;
}
