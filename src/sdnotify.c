/*
 * sdnotify.c: see sdnotify.h.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdnotify.h"

static struct sockaddr_un	sdnotify_addr;
static socklen_t		sdnotify_addrlen;	/* 0: none */
static int			sdnotify_bad;		/* unusable path */
static uint64_t			sdnotify_wd_usec;

/* The watchdog applies to us when WATCHDOG_PID is unset or our pid. */
static uint64_t
sdnotify_read_watchdog(void)
{
	const char	*usec = getenv("WATCHDOG_USEC");
	const char	*pid = getenv("WATCHDOG_PID");
	char		*end;
	uintmax_t	 v;

	if (usec == NULL || *usec == '\0')
		return 0;
	if (pid != NULL && *pid != '\0' &&
	    strtoimax(pid, NULL, 10) != (intmax_t)getpid())
		return 0;
	errno = 0;
	v = strtoumax(usec, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		return 0;
	return (uint64_t)v;
}

void
sdnotify_init(void)
{
	const char	*path = getenv("NOTIFY_SOCKET");
	size_t		 len;

	sdnotify_wd_usec = sdnotify_read_watchdog();
	if (path != NULL && *path != '\0') {
		len = strlen(path);
		if ((path[0] != '/' && path[0] != '@') ||
		    len >= sizeof(sdnotify_addr.sun_path))
			sdnotify_bad = 1;
		else {
			sdnotify_addr.sun_family = AF_UNIX;
			memcpy(sdnotify_addr.sun_path, path, len);
			if (path[0] == '@')	/* abstract namespace */
				sdnotify_addr.sun_path[0] = '\0';
			sdnotify_addrlen = (socklen_t)(offsetof(struct
			    sockaddr_un, sun_path) + len + (path[0] == '/'));
		}
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

int
sdnotify_enabled(void)
{
	return sdnotify_addrlen != 0;
}

uint64_t
sdnotify_watchdog_usec(void)
{
	return sdnotify_addrlen != 0 ? sdnotify_wd_usec : 0;
}

int
sdnotify(const char *state)
{
	size_t	len = strlen(state);
	ssize_t	n;
	int	fd, saved;

	if (sdnotify_bad) {
		errno = EINVAL;
		return -1;
	}
	if (sdnotify_addrlen == 0)
		return 0;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	n = sendto(fd, state, len, MSG_NOSIGNAL,
	    (const struct sockaddr *)&sdnotify_addr, sdnotify_addrlen);
	saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)len ? 0 : -1;
}
