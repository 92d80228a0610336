/*
 * children.h: every process the daemon starts, and what becomes of them
 * when it ends, however it ends.
 *
 * - The daemon is a child subreaper (PR_SET_CHILD_SUBREAPER): a process
 *   that an MCP server started and then left behind (one that called
 *   setsid(2), out of the server's process group) becomes our child when
 *   its parent dies. A sweep kills and reaps every child we did not start
 *   ourselves: on the loop thread within a second of each server's exit
 *   (children_sweep() asks for one), and at the end.
 * - A reaper process, forked before any thread, holds the read end of a
 *   pipe and the list of the process groups we lead; when the pipe closes
 *   because the daemon died (SIGKILL included), it sends SIGKILL to every
 *   group still on the list, then exits. Its name is "mcp-proxyd-reap".
 *
 * Threads: children_init() before any thread is started; the rest from
 * any thread (a mutex; children_spawn_lock() is held across the spawn, so
 * that a sweep never mistakes a child just started for an orphan).
 */
#ifndef CHILDREN_H
#define CHILDREN_H

#include <sys/types.h>

#define CHILDREN_REAPER_NAME	"mcp-proxyd-reap"

/* 0, or -1 (logged): the daemon runs on without the guarantees. */
int	children_init(void);
void	children_spawn_lock(void);
void	children_spawn_unlock(void);
/* Under the spawn lock: pid was started, leading its own process group. */
void	children_started(pid_t pid);
/* pid was reaped (waitpid): it is no longer our child. */
void	children_reaped(pid_t pid);
/* The group pgid was sent SIGKILL after its leader was reaped: the reaper
 * may forget it. */
void	children_group_gone(pid_t pgid);
/* After children_init(), on the loop thread: a timer there does the
 * sweeps. 0, or -1. */
struct event_base;
int	children_attach(struct event_base *);
/* Any thread: asks for a sweep: within a second the loop thread kills
 * (SIGKILL) and reaps the children we did not start, orphans of dead
 * servers. */
void	children_sweep(void);
/* At exit, after every server was stopped: sweeps until no orphan is left
 * (at most wait_ms), then ends the reaper. */
void	children_finish(int wait_ms);

#endif
