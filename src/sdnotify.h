/*
 * sdnotify.h: the service manager's notification protocol (sd_notify(3)),
 * spoken directly: one datagram of "KEY=value" lines to the AF_UNIX socket
 * named by $NOTIFY_SOCKET (a path, or "@name" for an abstract one). No
 * library, so every build behaves the same under systemd.
 */
#ifndef SDNOTIFY_H
#define SDNOTIFY_H

/* Sends state ("READY=1", "STOPPING=1", ...) when $NOTIFY_SOCKET is set;
 * 0, or -1 with errno (nothing is sent when it is unset: 0). */
int	sdnotify(const char *state);

#endif
