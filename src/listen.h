/*
 * listen.h: the listening sockets, before evhttp gets them: TCP
 * ("host:port"; a loopback host also on the other family), Unix stream
 * sockets ("unix:/path": a stale file replaced, socketMode and
 * socketGroup applied, the file removed at exit) and sockets passed by
 * the service manager (the sd_listen_fds protocol: LISTEN_PID,
 * LISTEN_FDS). Main thread, at start and at exit only; the descriptors
 * go to http_init(), which owns them from then on.
 */
#ifndef LISTEN_H
#define LISTEN_H

#include <sys/types.h>
#include <sys/un.h>

#include <stddef.h>
#include <time.h>

/* At most CONFIG_LISTEN_MAX addresses, each with its loopback twin. */
#define LISTEN_MAX	32

struct listener {
	int		 fd;
	int		 handed;	/* evhttp owns fd (and closes it) */
	int		 family;	/* AF_INET, AF_INET6, AF_UNIX */
	int		 port;		/* TCP: the bound port */
	int		 activated;	/* from the service manager */
	int		 created;	/* our socket file: removed at exit */
	dev_t		 dev;		/* the file we created: an inode */
	ino_t		 ino;		/* number is soon reused, its */
	struct timespec	 ctim;		/* change time hardly ever */
	char		 path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	char		 name[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
	char		 addr[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
					/* the configured address it is for
					   ("" when activated) */
};

struct listeners {
	struct listener	 l[LISTEN_MAX];
	int		 n;
};

/* Takes the sockets the service manager passed (fds 3..3+LISTEN_FDS-1
 * when LISTEN_PID is ours): checked, made non-blocking and
 * close-on-exec, the LISTEN_* variables unset. Returns how many (0: none
 * were passed), or -1 with a message in err. */
int	listen_activated(struct listeners *, char *err, size_t errlen);
/* Binds and listens on each address (validated by config_listen_check);
 * Unix sockets get mode and gid ((gid_t)-1: left alone). Returns 0, or
 * -1 with a message in err (what was opened stays in ls: see
 * listen_close()). */
int	listen_open(struct listeners *, char *const *addrs, size_t naddrs,
	    int mode, gid_t gid, char *err, size_t errlen);
/* The first TCP port, or -1 without TCP; the first Unix path or NULL. */
int	listen_port(const struct listeners *);
const char *listen_first_path(const struct listeners *);
int	listen_nunix(const struct listeners *);
/*
 * A reload's new list of addresses: listeners of addresses still listed
 * stay as they are; those of new addresses are opened (and returned in
 * added: to be handed to http); those of addresses no longer listed are
 * moved out of ls into gone (to be taken from http and unlinked). The
 * Unix sockets that stay get mode and gid. 0, or -1 with a message in
 * err and ls unchanged (what was opened is closed and removed again).
 */
int	listen_update(struct listeners *ls, char *const *addrs, size_t naddrs,
	    int mode, gid_t gid, struct listeners *added,
	    struct listeners *gone, char *err, size_t errlen);
/* Closes descriptors not handed on. */
void	listen_close(struct listeners *);
/* Removes the socket files we created, if they are still ours (same
 * device, inode and change time); once only. */
void	listen_unlink(struct listeners *);

#endif
