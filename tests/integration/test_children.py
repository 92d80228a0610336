"""Children never outlive the daemon: an MCP server gets no descriptor of
ours; when the daemon is killed with SIGKILL, its reaper kills every
server's process group (a server that ignores SIGTERM and stdin's end, and
its grandchild, included); a process a server started in a session of its
own (setsid) is found and killed when the server exits, and at shutdown."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (MCP_DEMO_SERVER, Daemon, Tap,  # noqa: E402
                     demo_server, process, processes, stop_ok,
                     wait_until)


def group_running(pgid):
    """True while a process of the group runs (zombies do not count:
    once the daemon is dead, init reaps them at its own pace)."""
    return any(p.pgid == pgid and p.state != "Z" for p in processes())


def alive(pid):
    """True while pid runs (a zombie counts as gone)."""
    p = process(pid)
    return p is not None and p.state != "Z"


def kids_of(pid, comm=None):
    return [p.pid for p in processes()
            if p.ppid == pid and (comm is None or p.comm == comm)]


def t_descriptors(tap):
    d = Daemon({"mcpServers": demo_server()})
    try:
        kid = d.children()[0]
        fds = sorted(os.listdir("/proc/%d/fd" % kid), key=int)
        tap.eq(fds, ["0", "1", "2"], "a server gets its three pipes and "
               "no other descriptor of ours")
        reaper = [p for p in d.children(reaper=True) if p != kid]
        tap.ok(len(reaper) == 1 and len(os.listdir(
            "/proc/%d/fd" % reaper[0])) == 4, "the reaper holds its pipe and "
            "0-2 only", reaper)
    finally:
        stop_ok(tap, d, "descriptors")


def t_sigkill(tap):
    # It ignores SIGTERM and the end of stdin, and has a grandchild in
    # its group that ignores SIGTERM too.
    stubborn = {"command": "/bin/sh", "args": [
        "-c", 'trap "" TERM; (trap "" TERM; exec sleep 1000) & '
              'exec "$0" --ignore-sigterm --hang-after 0', MCP_DEMO_SERVER]}
    servers = demo_server()
    servers["stubborn"] = stubborn
    d = Daemon({"mcpServers": servers})
    try:
        kids = d.children()
        pgids = sorted({os.getpgid(p) for p in kids})
        grand = [g for k in kids for g in kids_of(k, "sleep")]
        tap.ok(len(pgids) == 2 and len(grand) == 1 and
               os.getpgid(grand[0]) in pgids,
               "two servers, a grandchild in one's group", (pgids, grand))
        reaper = [p for p in d.children(reaper=True) if p not in kids]
        t0 = time.monotonic()
        d.proc.kill()
        d.proc.wait(10)
        gone = wait_until(lambda: not any(group_running(g) for g in pgids),
                          2.0)
        took = time.monotonic() - t0
        tap.ok(gone, "SIGKILL of the daemon: every server's process group "
               "is gone within 2 s (%.2f s)" % took,
               [(g, group_running(g)) for g in pgids])
        tap.ok(not alive(grand[0]), "the grandchild too")
        tap.ok(reaper and wait_until(lambda: not alive(reaper[0]), 2.0),
               "and the reaper exits")
    finally:
        stop_ok(tap, d, "killed", want=-signal.SIGKILL)
    d = Daemon({"mcpServers": demo_server()})
    try:
        tap.eq(d.call("mcp__demo__echo", {"message": "x"})[0], 200,
               "a new daemon starts clean")
    finally:
        stop_ok(tap, d, "after the SIGKILL")


def t_setsid(tap):
    # A server that starts a process in a session of its own: out of its
    # group, so no group signal reaches it.
    leaky = {"command": "/bin/sh", "args": [
        "-c", 'setsid sleep 1000 & exec "$0"', MCP_DEMO_SERVER]}
    d = Daemon({"mcpServers": {"leaky": leaky}})
    try:
        srv = d.children()[0]
        wait_until(lambda: len(kids_of(srv, "sleep")) == 1, 5)
        left = kids_of(srv, "sleep")
        tap.ok(len(left) == 1 and os.getpgid(left[0]) != os.getpgid(srv),
               "the server's child left its process group", left)
        os.kill(srv, signal.SIGKILL)
        tap.ok(wait_until(lambda: not alive(left[0]), 5),
               "when the server dies, what it left behind is killed")
        tap.ok(wait_until(lambda: len(d.children()) == 1 and
                          d.children()[0] != srv, 10),
               "and the server is restarted")
        srv = d.children()[0]
        tap.ok(wait_until(lambda: len(kids_of(srv, "sleep")) == 1, 5),
               "which leaves another one behind")
        left = kids_of(srv, "sleep")
    finally:
        log = stop_ok(tap, d, "leaky server")
    tap.ok(left and not alive(left[0]), "at shutdown it is found and "
           "killed too", left)
    tap.ok("left behind by an MCP server" in log, "and logged")
    tap.ok(not [p for p in kids_of(d.proc.pid)], "the daemon left no "
           "child of its own")


def main():
    tap = Tap()
    tap.run(t_descriptors)
    tap.run(t_sigkill)
    tap.run(t_setsid)
    tap.done()


if __name__ == "__main__":
    main()
