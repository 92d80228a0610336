/*
 * service.c: see service.h. Loop thread only.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "sdnotify.h"
#include "service.h"

static struct event	*service_timer;
static service_status_fn service_status;
static void		*service_arg;
static char		 service_last[SERVICE_STATUS_MAX];

/* Sends state, a newline and STATUS= with the text of now. */
static void
service_send(const char *state, int force_status)
{
	char	status[SERVICE_STATUS_MAX], msg[64 + SERVICE_STATUS_MAX];
	int	changed;

	status[0] = '\0';
	if (service_status != NULL)
		service_status(status, sizeof(status), service_arg);
	changed = strcmp(status, service_last) != 0;
	if (!changed && !force_status && state[0] == '\0')
		return;
	snprintf(msg, sizeof(msg), "%s%sSTATUS=%s", state,
	    state[0] != '\0' ? "\n" : "", status);
	if (sdnotify(msg) == -1)
		log_warn("cannot notify the service manager (%s)",
		    state[0] != '\0' ? state : "STATUS");
	memcpy(service_last, status, sizeof(service_last));
}

static void
service_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	service_send(sdnotify_watchdog_usec() != 0 ? "WATCHDOG=1" : "", 0);
}

int
service_start(struct event_base *base, service_status_fn fn, void *arg)
{
	struct timeval	tv;
	uint64_t	usec = sdnotify_watchdog_usec();

	service_status = fn;
	service_arg = arg;
	if (!sdnotify_enabled())
		return 0;
	if (usec != 0) {
		usec /= 2;
		log_info("watchdog: a ping every %llu ms",
		    (unsigned long long)(usec / 1000));
	} else
		usec = (uint64_t)SERVICE_STATUS_MS * 1000;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	service_timer = event_new(base, -1, EV_PERSIST, service_tick, NULL);
	if (service_timer == NULL || event_add(service_timer, &tv) == -1)
		return -1;
	return 0;
}

void
service_ready(void)
{
	service_send("READY=1", 1);
}

void
service_notify(const char *state)
{
	service_send(state, 1);
}

void
service_stop(void)
{
	if (service_timer != NULL)
		event_free(service_timer);
	service_timer = NULL;
}
