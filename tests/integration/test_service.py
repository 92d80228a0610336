"""The daemon under a service manager, without one: $NOTIFY_SOCKET
(READY=1 and STATUS= once listening, STATUS= updates, WATCHDOG=1 pings
when $WATCHDOG_USEC is set, STOPPING=1 at SIGTERM), the generated token
kept out of stdout under systemd ($INVOCATION_ID, $RUNTIME_DIRECTORY),
and the schema cache's default place ($STATE_DIRECTORY, else the user's
cache directory, said at info level)."""
import os
import shutil
import signal
import socket
import stat
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, Tap, demo_server, stop_ok  # noqa: E402


class Notify:
    """A datagram socket standing in for the service manager."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mcp-proxyd-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(30)

    def recv(self):
        """One message as {KEY: value}."""
        msg = self.sock.recv(4096).decode()
        return dict(ln.split("=", 1) for ln in msg.split("\n"))

    def until(self, key, limit=50):
        for _ in range(limit):
            m = self.recv()
            if key in m:
                return m
        return {}

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir)


def t_notify(tap):
    """READY=1 with STATUS=, a STATUS= when calls are in flight, STOPPING=1
    with STATUS= at SIGTERM; the variables are not passed to servers."""
    n = Notify()
    env = dict(os.environ, NOTIFY_SOCKET=n.path)
    d = Daemon({"mcpServers": demo_server(inheritEnv=True)}, env=env)
    try:
        m = n.recv()
        tap.eq(m.get("READY"), "1", "READY=1 once listening")
        tap.eq(m.get("STATUS"), "0 calls in flight, 1 of 1 MCP server "
               "ready", "STATUS= with READY=1: calls and servers")
        kids = d.children()
        envs = [open("/proc/%d/environ" % p, "rb").read()
                for p in kids]
        tap.ok(len(envs) == 1 and all(b"NOTIFY_SOCKET=" not in e and
                                      b"PATH=" in e for e in envs),
               "NOTIFY_SOCKET is not passed on to an MCP server with "
               "inheritEnv", [e[:300] for e in envs])
        d.signal(signal.SIGTERM)
        m = n.until("STOPPING")
        tap.eq(m.get("STOPPING"), "1", "STOPPING=1 on SIGTERM")
        tap.ok(m.get("STATUS", "").startswith("draining: "),
               "STATUS= says draining", m)
        d.proc.wait(30)
        stop_ok(tap, d, "sd_notify")
    finally:
        n.close()


def t_watchdog(tap):
    """WATCHDOG_USEC=400000: a WATCHDOG=1 ping every 200 ms from the loop
    thread; none when WATCHDOG_PID names another process."""
    n = Notify()
    env = dict(os.environ, NOTIFY_SOCKET=n.path, WATCHDOG_USEC="400000")
    d = Daemon({"mcpServers": demo_server()}, env=env)
    try:
        n.until("READY")
        t0 = time.monotonic()
        pings = [n.until("WATCHDOG") for _ in range(5)]
        took = time.monotonic() - t0
        tap.ok(all(p.get("WATCHDOG") == "1" and "STATUS" in p
                   for p in pings), "WATCHDOG=1 pings with STATUS=", pings)
        tap.ok(0.6 < took < 10, "five pings take about 1 s (half the "
               "watchdog interval each): %.2f s" % took)
    finally:
        stop_ok(tap, d, "watchdog")
        n.close()
    n = Notify()
    env = dict(os.environ, NOTIFY_SOCKET=n.path, WATCHDOG_USEC="400000",
               WATCHDOG_PID="1")
    d = Daemon({"mcpServers": demo_server()}, env=env)
    try:
        n.until("READY")
        n.sock.settimeout(1.5)
        try:
            m = n.recv()
        except socket.timeout:
            m = {}
        tap.ok("WATCHDOG" not in m, "no pings when WATCHDOG_PID is another "
               "process's", m)
    finally:
        stop_ok(tap, d, "watchdog for another pid")
        n.close()


def t_token_under_systemd(tap):
    """Under systemd the generated token goes to $RUNTIME_DIRECTORY/token
    (0600), the ready line names the file, and the file goes at exit;
    without a runtime directory it is not printed at all."""
    run = tempfile.mkdtemp(prefix="mcp-proxyd-run-")
    env = dict(os.environ, INVOCATION_ID="0123456789abcdef",
               RUNTIME_DIRECTORY=run + ":/nonexistent")
    d = Daemon({"mcpServers": demo_server()}, env=env)
    path = os.path.join(run, "token")
    try:
        tap.ok("authToken" not in d.ready and
               d.ready.get("authTokenFile") == path,
               "the ready line names the token's file, not the token",
               d.ready_line)
        mode = stat.S_IMODE(os.stat(path).st_mode)
        tap.eq(mode, 0o600, "the token file is 0600")
        d.token = open(path).read().strip()
        tap.eq(d.request("GET", "/health")[0], 200,
               "the token in the file is the daemon's")
        tap.ok(d.token not in d.stderr(), "the token is not in the log")
    finally:
        stop_ok(tap, d, "token file under systemd")
    tap.ok(not os.path.exists(path), "the token file is removed at exit")
    shutil.rmtree(run)
    env = dict(os.environ, INVOCATION_ID="0123456789abcdef")
    env.pop("RUNTIME_DIRECTORY", None)
    d = Daemon({"mcpServers": demo_server()}, env=env)
    try:
        tap.ok("authToken" not in d.ready_line,
               "no runtime directory: the token is not printed",
               d.ready_line)
        tap.ok("set authTokenFile" in d.stderr(), "a warning says what to "
               "do", d.stderr()[-1500:])
    finally:
        stop_ok(tap, d, "no runtime directory")


def cache_daemon(env):
    """A daemon with no schemaCachePath (Daemon sets one: taken out)."""
    d = Daemon({"mcpServers": demo_server(), "schemaCachePath": None},
               env=env, args=())
    return d


def t_cache_default(tap):
    """$STATE_DIRECTORY holds the schema cache under systemd; run from a
    build tree the installed default is not writable and the cache goes
    to $XDG_CACHE_HOME/mcp-proxyd, said at info level, with no warning."""
    state = tempfile.mkdtemp(prefix="mcp-proxyd-state-")
    env = dict(os.environ, STATE_DIRECTORY=state)
    d = cache_daemon(env)
    try:
        d.call("mcp__demo__echo", {"message": "x"})
    finally:
        stop_ok(tap, d, "STATE_DIRECTORY")
    tap.ok(os.path.exists(os.path.join(state, "schema-cache.json")),
           "the schema cache is written into $STATE_DIRECTORY",
           os.listdir(state))
    shutil.rmtree(state)
    xdg = tempfile.mkdtemp(prefix="mcp-proxyd-xdg-")
    env = dict(os.environ, XDG_CACHE_HOME=xdg)
    env.pop("STATE_DIRECTORY", None)
    d = cache_daemon(env)
    try:
        log = d.stderr()
    finally:
        stop_ok(tap, d, "user cache")
    want = os.path.join(xdg, "mcp-proxyd", "schema-cache.json")
    tap.ok(os.path.exists(want), "uninstalled: the cache is in "
           "$XDG_CACHE_HOME/mcp-proxyd", log[-1500:])
    tap.ok("schema cache %s (the installed default" % want in log and
           "cannot" not in log and "warning" not in log.lower(),
           "said at info level, and no warning on a first run", log[-1500:])
    shutil.rmtree(xdg)


def main():
    tap = Tap()
    for fn in (t_notify, t_watchdog, t_token_under_systemd,
               t_cache_default):
        tap.run(fn)
    tap.done()


if __name__ == "__main__":
    main()
