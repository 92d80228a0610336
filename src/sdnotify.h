/*
 * sdnotify.h: the service manager's notification protocol (sd_notify(3)),
 * spoken directly: one datagram of "KEY=value" lines to the AF_UNIX socket
 * named by $NOTIFY_SOCKET (a path, or "@name" for an abstract one). No
 * library, so every build behaves the same under systemd.
 *
 * sdnotify_init() runs once in main before any thread or child exists: it
 * keeps $NOTIFY_SOCKET and the watchdog's interval ($WATCHDOG_USEC, when
 * $WATCHDOG_PID is unset or ours) and removes the three variables from the
 * environment, so an MCP server started with inheritEnv cannot speak for
 * the daemon. After it, sdnotify() may be called from any thread.
 */
#ifndef SDNOTIFY_H
#define SDNOTIFY_H

#include <stdint.h>

void	 sdnotify_init(void);
/* 1 when there is a service manager to notify. */
int	 sdnotify_enabled(void);
/* The watchdog interval in microseconds; 0: no watchdog. */
uint64_t sdnotify_watchdog_usec(void);
/* Sends state ("READY=1", "STOPPING=1", ...) when $NOTIFY_SOCKET was set;
 * 0, or -1 with errno (nothing is sent when it was unset: 0). */
int	 sdnotify(const char *state);

#endif
