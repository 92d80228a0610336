/* test_listen.c: listen.c without a daemon: Unix sockets (mode, the
 * stale, live and foreign files at the path, removal at exit) and the
 * checks of socket activation. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "listen.h"
#include "unit.h"

static char	dir[64];
static char	path[128];
static char	addr[140];
static char	err[512];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_listen.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	snprintf(addr, sizeof(addr), "unix:%s", path);
	err[0] = '\0';
}

static void
teardown(void)
{
	unlink(path);
	rmdir(dir);
}

/* Opens addr into a fresh set; returns listen_open()'s result. */
static int
open_one(struct listeners *ls, int mode)
{
	char	*addrs[] = { addr };

	memset(ls, 0, sizeof(*ls));
	return listen_open(ls, addrs, 1, mode, (gid_t)-1, err, sizeof(err));
}

START_TEST(test_unix_mode_and_unlink)
{
	struct listeners	ls;
	struct stat		st;

	ck_assert_int_eq(open_one(&ls, 0640), 0);
	ck_assert_int_eq(ls.n, 1);
	ck_assert_int_eq(ls.l[0].created, 1);
	ck_assert_str_eq(listen_first_path(&ls), path);
	ck_assert_int_eq(listen_port(&ls), -1);
	ck_assert_int_eq(listen_nunix(&ls), 1);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	ck_assert_int_ne(fcntl(ls.l[0].fd, F_GETFL) & O_NONBLOCK, 0);
	ck_assert_int_ne(fcntl(ls.l[0].fd, F_GETFD) & FD_CLOEXEC, 0);
	listen_close(&ls);
	listen_unlink(&ls);
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

START_TEST(test_unix_stale_live_foreign)
{
	struct listeners	ls, ls2;
	int			fd;

	/* Live: a second open fails and leaves the first one's file. */
	ck_assert_int_eq(open_one(&ls, 0660), 0);
	ck_assert_int_eq(open_one(&ls2, 0660), -1);
	ck_assert_msg(strstr(err, "address in use: something answers on") !=
	    NULL && strstr(err, path) != NULL, "%s", err);
	ck_assert_int_eq(access(path, F_OK), 0);
	/* Stale: nobody listens any more. */
	listen_close(&ls);
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(open_one(&ls2, 0660), 0);
	/* The first set's file is not its own any more: left alone. */
	listen_unlink(&ls);
	ck_assert_int_eq(access(path, F_OK), 0);
	listen_close(&ls2);
	listen_unlink(&ls2);
	ck_assert_int_eq(access(path, F_OK), -1);
	/* Not a socket: refused, named and kept. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(open_one(&ls, 0660), -1);
	ck_assert_msg(strstr(err, "exists and is not a socket") != NULL,
	    "%s", err);
	ck_assert_int_eq(access(path, F_OK), 0);
}
END_TEST

START_TEST(test_tcp_loopback)
{
	static char		 any[] = "127.0.0.1:0";
	struct listeners	 ls;
	char			*addrs[] = { any };

	memset(&ls, 0, sizeof(ls));
	ck_assert_int_eq(listen_open(&ls, addrs, 1, 0660, (gid_t)-1, err,
	    sizeof(err)), 0);
	ck_assert_int_ge(ls.n, 1);	/* and [::1] where there is IPv6 */
	ck_assert_int_gt(listen_port(&ls), 0);
	if (ls.n == 2)
		ck_assert_int_eq(ls.l[1].port, ls.l[0].port);
	ck_assert_ptr_null(listen_first_path(&ls));
	listen_close(&ls);
}
END_TEST

/*
 * Activation needs fd 3, which check uses for its own messages: it runs
 * in a child that checks with plain tests and says in its exit status
 * which one failed (0: all passed).
 */

/* fd 3 is made to be fd, LISTEN_PID our pid (or pid). Returns
 * listen_activated()'s result; 100 when a LISTEN_* variable is left. */
static int
activate(int fd, const char *pid, struct listeners *ls)
{
	char	buf[32];
	int	rc;

	if (fd != 3) {
		if (dup2(fd, 3) != 3)
			return 101;
		close(fd);
	}
	snprintf(buf, sizeof(buf), "%ld", (long)getpid());
	setenv("LISTEN_PID", pid != NULL ? pid : buf, 1);
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_FDNAMES", "x", 1);
	memset(ls, 0, sizeof(*ls));
	rc = listen_activated(ls, err, sizeof(err));
	if (getenv("LISTEN_PID") != NULL || getenv("LISTEN_FDS") != NULL ||
	    getenv("LISTEN_FDNAMES") != NULL)
		return 100;
	return rc;
}

static int
activation_child(void)
{
	struct listeners	ls;
	int			fd;

	/* A listening Unix socket at fd 3: taken, not ours to remove. */
	if (open_one(&ls, 0660) != 0)
		return 1;
	if (activate(ls.l[0].fd, NULL, &ls) != 1 || ls.l[0].fd != 3 ||
	    !ls.l[0].activated || ls.l[0].created ||
	    strcmp(listen_first_path(&ls), path) != 0)
		return 2;
	listen_unlink(&ls);
	if (access(path, F_OK) != 0)
		return 3;
	/* Another process's: ignored (and unset). */
	if (activate(3, "1", &ls) != 0 || ls.n != 0)
		return 4;
	close(3);
	/* A socket that does not listen: fatal, naming the descriptor. */
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    activate(fd, NULL, &ls) != -1 ||
	    strstr(err, "descriptor 3 from the service manager") == NULL ||
	    strstr(err, "not a listening stream socket") == NULL)
		return 5;
	close(3);
	/* Not a socket at all. */
	if ((fd = open("/dev/null", O_RDONLY)) == -1 ||
	    activate(fd, NULL, &ls) != -1 ||
	    strstr(err, "not a socket") == NULL)
		return 6;
	return 0;
}

START_TEST(test_activation)
{
	pid_t	pid;
	int	status;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		_exit(activation_child());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "step %d of the activation checks failed", WEXITSTATUS(status));
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("listen");
	TCase	*tc = tcase_create("listen");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_unix_mode_and_unlink);
	tcase_add_test(tc, test_unix_stale_live_foreign);
	tcase_add_test(tc, test_tcp_loopback);
	tcase_add_test(tc, test_activation);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
