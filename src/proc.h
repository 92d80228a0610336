/*
 * proc.h: one child process and its pipes: spawn (posix_spawn into a
 * session of its own), a bounded write queue toward its stdin whose
 * messages can be withdrawn until their first byte is written, NDJSON
 * framing of its stdout, its stderr always drained into the log (rate
 * limited), and reaping (a pidfd, or a waitpid poll).
 *
 * A struct proc belongs to the thread that runs the event_base given to
 * proc_new() (a worker); everything here runs there, except proc_kill()
 * (any thread). It knows nothing of MCP: the owner gets lines and events
 * through its hooks. No hook is ever called from inside a proc_*() call
 * the owner makes, only from the event loop, so a hook may call any
 * proc_*() function; proc_free() only from outside hooks.
 */
#ifndef PROC_H
#define PROC_H

#include <sys/types.h>

#include <stddef.h>

struct event_base;
struct proc;
struct proc_msg;

struct proc_hooks {
	/* A complete stdout line without its newline, NUL-terminated, valid
	 * during the call (proc_take_line() keeps it). */
	void	(*line)(void *arg, char *line, size_t len);
	/* A stdout line longer than max_line was dropped; head holds up to
	 * its first PROC_HEAD_MAX bytes, total is its length. */
	void	(*overflow)(void *arg, const char *head, size_t headlen,
		    size_t total);
	/* stdout reached EOF, or writing to stdin failed (what says which):
	 * the child is most likely going away. */
	void	(*closed)(void *arg, const char *what);
	/* The child was reaped: status as from waitpid, known 0 when the
	 * status was lost. */
	void	(*exited)(void *arg, int status, int known);
};

#define PROC_HEAD_MAX	512	/* bytes kept of a line to find its id */
#define PROC_DRAIN_MAX	(4 * 1024 * 1024)

/* label names the child in log lines ("server demo[0]"); it is copied.
 * Lines longer than max_line bytes are dropped; at most max_buffered bytes
 * may wait for the child's stdin (see proc_send()). readbuf is the owning
 * thread's read buffer. */
struct proc	*proc_new(struct event_base *, const struct proc_hooks *,
		    void *arg, const char *label, size_t max_line,
		    size_t max_buffered, char *readbuf, size_t readbuflen);
/* Closes the pipes and frees everything; the child, if any, is not
 * signalled (call proc_kill_group() first). */
void		 proc_free(struct proc *);

/*
 * Spawns command (searched in path when it has no "/", a relative path
 * resolved against the daemon's cwd) with argv and envp in cwd (NULL: the
 * daemon's), its stdin, stdout and stderr on pipes, in a new session, with
 * default signal dispositions and an empty signal mask. 0, or -1 with a
 * message in err.
 */
int		 proc_spawn(struct proc *, const char *command,
		    char *const argv[], char *const envp[], const char *path,
		    const char *cwd, char *err, size_t errlen);
/* The child's pid; 0 when there is none or it was reaped. */
pid_t		 proc_pid(const struct proc *);

/*
 * Queues one line for the child's stdin: head and tail (may be NULL) are
 * copied, body (may be NULL) is taken and freed once written or dropped.
 * Writes at once when nothing is waiting. While the message is not
 * completely written *handle points to it (then it is set to NULL); handle
 * may be NULL. Returns -1, having freed body and queued nothing, when
 * stdin is closed or when other messages wait and this one would bring the
 * bytes waiting over max_buffered (a child that stopped reading).
 */
int		 proc_send(struct proc *, const char *head, size_t headlen,
		    char *body, size_t bodylen, const char *tail,
		    size_t taillen, struct proc_msg **handle);
/* Withdraws a message none of which was written yet: 0. -1 when its first
 * byte is out: it will be written whole, and its handle is forgotten. */
int		 proc_cancel(struct proc *, struct proc_msg *);
/* Bytes waiting for the child's stdin. */
size_t		 proc_buffered(const struct proc *);

/* Inside the line hook: the line in a malloc'd buffer the caller owns
 * (the framer's own buffer when it can, so a long line is not copied). */
char		*proc_take_line(struct proc *, char *line, size_t len);

/* Drops what waits for stdin and closes it (EOF asks an MCP server to
 * exit). */
void		 proc_close_stdin(struct proc *);
/* Reads what the child left in its pipes (answers may be there), at most
 * PROC_DRAIN_MAX bytes, delivering lines through the hooks. */
void		 proc_drain(struct proc *);
/* Closes every pipe and resets the framers; reaping goes on. */
void		 proc_close_pipes(struct proc *);
/* sig (0: none) to the child's process group; 1 while the child is not
 * yet reaped, else 0. */
int		 proc_signal(struct proc *, int sig);
/* SIGKILL to the last process group the child led, even after it was
 * reaped (stragglers); forget: then drop the group id, so that a later
 * sweep cannot hit a reused one. */
void		 proc_kill_group(struct proc *, int forget);
/* Any thread (a second SIGTERM): SIGKILL to the live child's group. */
void		 proc_kill(struct proc *);

#endif
