/*
 * reload.h: the configuration reload on SIGHUP (systemctl reload).
 *
 * reload_run() re-reads the file the daemon started with. A file that
 * config_load() refuses is logged with its message (the file, the key,
 * the problem) and the running configuration stays. Otherwise keys that
 * only take effect at a restart are logged ("KEY changed: takes effect at
 * restart") and keep their running values, and the rest is applied: a new
 * snapshot (snapshot.h) becomes current and the loop-thread modules are
 * given its settings (http, exec, discovery, session); listeners of
 * addresses new to listen are opened and given to http, those of
 * addresses no longer there closed (their files removed), the ones that
 * stay untouched (an address that cannot be bound refuses the reload);
 * servers are
 * started, restarted and stopped as the file says (registry.c); with
 * authTokenFile, the file is read again and its token becomes the daemon
 * token (a file that cannot be read refuses the reload). Requests in
 * flight keep the snapshot they started with. Either way the audit log
 * is re-opened (logrotate), the reload is audited ("reload", with
 * "result" and for a failure the error), counted (stats_reload()) and
 * told to the service manager: RELOADING=1 with MONOTONIC_USEC at the
 * start, READY=1 at the end (service.c adds the STATUS line, which
 * says that the reload failed and why, through reload_status(), until
 * one succeeds).
 *
 * Loop thread only. Calls config, snapshot, auth, audit, sdnotify,
 * service, stats, http, listen, exec, discovery, session and registry;
 * nothing calls back.
 */
#ifndef RELOAD_H
#define RELOAD_H

struct auth;
struct config;
struct config_server;
struct listeners;
struct registry;

/* The file to re-read on SIGHUP (a copy is kept), the gate whose daemon
 * token authTokenFile gives, the servers' registry, and the listeners
 * when they follow the file (NULL when -l or the service manager gave
 * them: listen, socketMode and socketGroup then need a restart). -1 out
 * of memory. */
int	reload_init(const char *path, struct auth *, struct registry *,
	    struct listeners *);
/* SIGHUP: see above. 0 applied, -1 rejected. */
int	reload_run(void);
/* For the STATUS= line: "reload failed, generation N kept: why" while the
 * last reload was refused, else "". */
void	reload_status(char *buf, size_t len);
/* Logs each key of nc that differs from oc but cannot change at run time
 * and gives it oc's value (mcpServers is not one). The number of such
 * keys, or -1 out of memory. Pure but for the log; for the unit tests. */
int	reload_pin(struct config *nc, const struct config *oc);
/* 1 when two server definitions are the same in every key. */
int	reload_server_eq(const struct config_server *,
	    const struct config_server *);
void	reload_free(void);

#endif
