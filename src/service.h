/*
 * service.h: the daemon under a service manager (systemd), on the loop
 * thread: the STATUS= line (calls in flight, MCP servers ready) and the
 * watchdog's WATCHDOG=1 pings, both from one timer on the loop thread, so
 * a loop that is stuck stops the pings and the service manager restarts
 * the daemon (WatchdogSec=).
 *
 * The timer fires every half watchdog interval when there is a watchdog,
 * else every SERVICE_STATUS_MS; STATUS= is sent when its text changed
 * (and with every ping). Nothing runs when there is no $NOTIFY_SOCKET.
 */
#ifndef SERVICE_H
#define SERVICE_H

#include <stddef.h>

#define SERVICE_STATUS_MS	5000
#define SERVICE_STATUS_MAX	256

struct event_base;

/* Writes the status text (one line, no "STATUS=") into buf. */
typedef void	(*service_status_fn)(char *buf, size_t len, void *arg);

/* After sdnotify_init(); 0, or -1 when the timer cannot be set up. */
int	service_start(struct event_base *, service_status_fn, void *arg);
/* Sends "READY=1" with the current status. */
void	service_ready(void);
/* Sends state (e.g. "STOPPING=1") with the current status. */
void	service_notify(const char *state);
void	service_stop(void);

#endif
