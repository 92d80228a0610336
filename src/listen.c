/*
 * listen.c: the listening sockets (see listen.h).
 *
 * A Unix socket's path may hold a file already. A socket that nobody
 * answers on (connect() is refused: a daemon that was killed left it) is
 * removed and bound again; a socket that answers belongs to a live
 * process and is left alone, and so is anything that is not a socket.
 * The file is bound under a umask of 077 and only then given its group
 * and mode, so it is never more open than asked. When we stop we remove
 * it only if the path still names the file we created (device, inode
 * and change time: a new file often gets the inode number just freed):
 * a daemon started after us may have replaced it.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"

#define LISTEN_BACKLOG		128
#define LISTEN_FDS_START	3	/* SD_LISTEN_FDS_START */

static struct listener	*listen_add(struct listeners *, int, int, char *,
			    size_t);
static int	 listen_describe(struct listener *, char *, size_t);
static int	 listen_tcp_bind(struct listeners *, int, const char *, int,
		    int, char *, size_t);
static int	 listen_tcp(struct listeners *, const char *, char *, size_t);
static int	 listen_stale(const char *, char *, size_t);
static int	 listen_remember(struct listener *, char *, size_t);
static int	 listen_unix(struct listeners *, const char *, int, gid_t,
		    char *, size_t);
static int	 listen_check_fd(int, char *, size_t);

static struct listener *
listen_add(struct listeners *ls, int fd, int family, char *err,
    size_t errlen)
{
	struct listener	*l;

	if (ls->n == LISTEN_MAX) {
		snprintf(err, errlen, "more than %d listening sockets",
		    LISTEN_MAX);
		close(fd);
		return NULL;
	}
	l = &ls->l[ls->n++];
	memset(l, 0, sizeof(*l));
	l->fd = fd;
	l->family = family;
	return l;
}

/* Fills family, port, path and name from the socket's own address. */
static int
listen_describe(struct listener *l, char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_un	*sun = (struct sockaddr_un *)&ss;
	socklen_t		 len = sizeof(ss);
	char			 a[INET6_ADDRSTRLEN];
	size_t			 plen;

	memset(&ss, 0, sizeof(ss));
	if (getsockname(l->fd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(err, errlen, "getsockname: %s", strerror(errno));
		return -1;
	}
	l->family = ss.ss_family;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		l->port = ntohs(sin->sin_port);
		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(l->name, sizeof(l->name), "%s:%d", a, l->port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		l->port = ntohs(sin6->sin6_port);
		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(l->name, sizeof(l->name), "[%s]:%d", a, l->port);
	} else if (ss.ss_family == AF_UNIX) {
		plen = len > offsetof(struct sockaddr_un, sun_path) ?
		    len - offsetof(struct sockaddr_un, sun_path) : 0;
		if (plen > sizeof(sun->sun_path))
			plen = sizeof(sun->sun_path);
		memcpy(l->path, sun->sun_path, plen);
		l->path[plen] = '\0';
		if (plen > 0 && l->path[0] == '\0')	/* abstract */
			l->path[0] = '@';
		snprintf(l->name, sizeof(l->name), "unix:%s", l->path);
	} else {
		snprintf(err, errlen, "address family %d is neither TCP nor "
		    "Unix", (int)ss.ss_family);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* TCP                                                                 */

static int
listen_tcp_bind(struct listeners *ls, int family, const char *host,
    int port, int required, char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	struct listener		*l;
	socklen_t		 len;
	int			 fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		len = sizeof(*sin);
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			goto bad;
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		len = sizeof(*sin6);
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			goto bad;
	}
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1 || bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1) {
		snprintf(err, errlen, "cannot listen on %s%s%s port %d: %s",
		    family == AF_INET6 ? "[" : "", host,
		    family == AF_INET6 ? "]" : "", port, strerror(errno));
		if (fd != -1)
			close(fd);
		if (!required)
			log_debug("%s: %s", __func__, err);
		return required ? -1 : 0;
	}
	if ((l = listen_add(ls, fd, family, err, errlen)) == NULL)
		return -1;
	return listen_describe(l, err, errlen);
bad:
	snprintf(err, errlen, "%s is not an IP address", host);
	return -1;
}

/* "host:port" as config_listen_check() allows it; a loopback host is
 * also bound on the other family with the same port (best effort), so
 * "localhost" works whichever address a client tries first. */
static int
listen_tcp(struct listeners *ls, const char *addr, char *err, size_t errlen)
{
	char		 host[64], *colon;
	const char	*h = host;
	int		 port, family, first = ls->n;

	if (snprintf(host, sizeof(host), "%s", addr) >= (int)sizeof(host) ||
	    (colon = strrchr(host, ':')) == NULL) {
		snprintf(err, errlen, "%s: expected host:port", addr);
		return -1;
	}
	*colon = '\0';
	port = atoi(colon + 1);
	if (host[0] == '[') {
		host[strlen(host) - 1] = '\0';
		h = host + 1;
	}
	if (strcmp(h, "localhost") == 0)
		h = "127.0.0.1";
	family = strchr(h, ':') != NULL ? AF_INET6 : AF_INET;
	if (listen_tcp_bind(ls, family, h, port, 1, err, errlen) == -1)
		return -1;
	port = ls->l[first].port;
	if (strcmp(h, "127.0.0.1") == 0)
		return listen_tcp_bind(ls, AF_INET6, "::1", port, 0, err,
		    errlen);
	if (strcmp(h, "::1") == 0)
		return listen_tcp_bind(ls, AF_INET, "127.0.0.1", port, 0, err,
		    errlen);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Unix                                                                */

/* Makes room for a socket at path: 0 when nothing is there (any more),
 * -1 with a message when something is and must stay. */
static int
listen_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un	sun;
	struct stat		st;
	int			fd, rc, saved;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket: not "
		    "replacing it", path);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	saved = errno;
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "address in use: something answers on "
		    "%s", path);
		return -1;
	}
	if (saved != ECONNREFUSED) {
		snprintf(err, errlen, "cannot tell whether %s is in use: %s",
		    path, strerror(saved));
		return -1;
	}
	log_info("removing the stale socket %s (nothing answers on it)",
	    path);
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove the stale socket %s: %s",
		    path, strerror(errno));
		return -1;
	}
	return 0;
}

/* What tells our socket file from one that replaced it. */
static int
listen_remember(struct listener *l, char *err, size_t errlen)
{
	struct stat	st;

	if (lstat(l->path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", l->path, strerror(errno));
		return -1;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	l->ctim = st.st_ctim;
	return 0;
}

static int
listen_unix(struct listeners *ls, const char *path, int mode, gid_t gid,
    char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct listener		*l;
	mode_t			 old;
	int			 fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: too long for a Unix socket", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if (listen_stale(path, err, errlen) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	old = umask(077);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1) {
		snprintf(err, errlen, "cannot listen on %s: %s", path,
		    errno == EADDRINUSE ? "address in use" : strerror(errno));
		close(fd);
		return -1;
	}
	if ((l = listen_add(ls, fd, AF_UNIX, err, errlen)) == NULL)
		return -1;
	l->created = 1;
	snprintf(l->path, sizeof(l->path), "%s", path);
	snprintf(l->name, sizeof(l->name), "unix:%s", path);
	if (listen_remember(l, err, errlen) == -1)
		return -1;
	if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) == -1) {
		snprintf(err, errlen, "cannot give %s the group %lu "
		    "(socketGroup): %s", path, (unsigned long)gid,
		    strerror(errno));
		return -1;
	}
	if (chmod(path, (mode_t)mode) == -1) {
		snprintf(err, errlen, "cannot give %s the mode %04o "
		    "(socketMode): %s", path, mode, strerror(errno));
		return -1;
	}
	if (listen_remember(l, err, errlen) == -1)	/* the new ctime */
		return -1;
	if (listen(fd, LISTEN_BACKLOG) == -1) {
		snprintf(err, errlen, "cannot listen on %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
listen_open(struct listeners *ls, char *const *addrs, size_t naddrs,
    int mode, gid_t gid, char *err, size_t errlen)
{
	size_t	i;
	int	rc;

	int	first, j;

	for (i = 0; i < naddrs; i++) {
		first = ls->n;
		if (strncmp(addrs[i], "unix:", 5) == 0)
			rc = listen_unix(ls, addrs[i] + 5, mode, gid, err,
			    errlen);
		else
			rc = listen_tcp(ls, addrs[i], err, errlen);
		for (j = first; j < ls->n; j++)
			snprintf(ls->l[j].addr, sizeof(ls->l[j].addr), "%s",
			    addrs[i]);
		if (rc == -1)
			return -1;
	}
	return 0;
}

static int
listen_listed(const char *addr, char *const *addrs, size_t naddrs)
{
	size_t	i;

	for (i = 0; i < naddrs; i++)
		if (strcmp(addr, addrs[i]) == 0)
			return 1;
	return 0;
}

/* A kept Unix socket of ours gets the (maybe new) mode and group; its
 * change time is remembered anew, so that it is still removed at exit. */
static void
listen_chmod(struct listener *l, int mode, gid_t gid)
{
	struct stat	st;
	char		err[256];

	if (!l->created || lstat(l->path, &st) == -1 ||
	    st.st_dev != l->dev || st.st_ino != l->ino)
		return;
	if (chmod(l->path, (mode_t)mode) == -1)
		log_warn("chmod %s", l->path);
	if (gid != (gid_t)-1 && chown(l->path, (uid_t)-1, gid) == -1)
		log_warn("chgrp %s", l->path);
	if (listen_remember(l, err, sizeof(err)) == -1)
		log_warnx("%s", err);
}

int
listen_update(struct listeners *ls, char *const *addrs, size_t naddrs,
    int mode, gid_t gid, struct listeners *added, struct listeners *gone,
    char *err, size_t errlen)
{
	struct listeners	 keep;
	char			*fresh[LISTEN_MAX];
	size_t			 nfresh = 0, i;
	int			 j;

	memset(added, 0, sizeof(*added));
	memset(gone, 0, sizeof(*gone));
	for (i = 0; i < naddrs && nfresh < LISTEN_MAX; i++) {
		for (j = 0; j < ls->n; j++)
			if (strcmp(ls->l[j].addr, addrs[i]) == 0)
				break;
		if (j == ls->n)
			fresh[nfresh++] = addrs[i];
	}
	if (listen_open(added, fresh, nfresh, mode, gid, err, errlen) == -1) {
		listen_close(added);
		listen_unlink(added);
		return -1;
	}
	memset(&keep, 0, sizeof(keep));
	for (j = 0; j < ls->n; j++) {
		if (listen_listed(ls->l[j].addr, addrs, naddrs)) {
			listen_chmod(&ls->l[j], mode, gid);
			keep.l[keep.n++] = ls->l[j];
		} else
			gone->l[gone->n++] = ls->l[j];
	}
	for (j = 0; j < added->n && keep.n < LISTEN_MAX; j++)
		keep.l[keep.n++] = added->l[j];
	*ls = keep;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Socket activation                                                   */

/* A listening stream socket, TCP or Unix: 0, else -1 with why. */
static int
listen_check_fd(int fd, char *err, size_t errlen)
{
	int		type = 0, acc = 0, fl;
	socklen_t	len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1) {
		snprintf(err, errlen, "not a socket (%s)", strerror(errno));
		return -1;
	}
	len = sizeof(acc);
	if (type != SOCK_STREAM || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN,
	    &acc, &len) == -1 || !acc) {
		snprintf(err, errlen, "not a listening stream socket");
		return -1;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
listen_activated(struct listeners *ls, char *err, size_t errlen)
{
	const char	*pid_s = getenv("LISTEN_PID");
	const char	*fds_s = getenv("LISTEN_FDS");
	struct listener	*l;
	char		*end, why[160];
	long		 pid, n = 0, i;
	int		 rc = -1;

	if (pid_s == NULL)
		return 0;
	errno = 0;
	pid = strtol(pid_s, &end, 10);
	if (errno != 0 || *end != '\0' || pid != (long)getpid() ||
	    fds_s == NULL) {
		log_info("LISTEN_PID=%s is not this process: not using any "
		    "socket of the service manager", pid_s);
		rc = 0;
		goto done;
	}
	errno = 0;
	n = strtol(fds_s, &end, 10);
	if (errno != 0 || *end != '\0' || n < 0 || n > LISTEN_MAX) {
		snprintf(err, errlen, "LISTEN_FDS=%s: expected 0 to %d "
		    "sockets", fds_s, LISTEN_MAX);
		goto done;
	}
	for (i = 0; i < n; i++) {
		int fd = LISTEN_FDS_START + (int)i;

		if (listen_check_fd(fd, why, sizeof(why)) == -1 ||
		    (l = listen_add(ls, fd, 0, why, sizeof(why))) == NULL ||
		    listen_describe(l, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "descriptor %d from the service "
			    "manager (LISTEN_FDS=%ld): %s", fd, n, why);
			goto done;
		}
		l->activated = 1;
		log_info("listening on %s (descriptor %d from the service "
		    "manager)", l->name, fd);
	}
	rc = (int)n;
done:
	/* Always, as sd_listen_fds(1) does: never for the children. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return rc;
}

/* ------------------------------------------------------------------ */

int
listen_port(const struct listeners *ls)
{
	int	i;

	for (i = 0; i < ls->n; i++)
		if (ls->l[i].family != AF_UNIX)
			return ls->l[i].port;
	return -1;
}

const char *
listen_first_path(const struct listeners *ls)
{
	int	i;

	for (i = 0; i < ls->n; i++)
		if (ls->l[i].family == AF_UNIX)
			return ls->l[i].path;
	return NULL;
}

int
listen_nunix(const struct listeners *ls)
{
	int	i, n = 0;

	for (i = 0; i < ls->n; i++)
		n += ls->l[i].family == AF_UNIX;
	return n;
}

void
listen_close(struct listeners *ls)
{
	int	i;

	for (i = 0; i < ls->n; i++) {
		if (ls->l[i].fd != -1 && !ls->l[i].handed)
			close(ls->l[i].fd);
		ls->l[i].fd = -1;
	}
}

void
listen_unlink(struct listeners *ls)
{
	struct listener	*l;
	struct stat	 st;
	int		 i;

	for (i = 0; i < ls->n; i++) {
		l = &ls->l[i];
		if (!l->created)
			continue;
		l->created = 0;
		if (lstat(l->path, &st) == -1 || st.st_dev != l->dev ||
		    st.st_ino != l->ino ||
		    st.st_ctim.tv_sec != l->ctim.tv_sec ||
		    st.st_ctim.tv_nsec != l->ctim.tv_nsec) {
			log_info("not removing %s: it is no longer the socket "
			    "we created", l->path);
			continue;
		}
		if (unlink(l->path) == -1)
			log_warn("cannot remove %s", l->path);
	}
}
