"""Graceful drain on SIGTERM: in-flight calls finish, new ones get 503,
the drain timeout bounds the wait, a second signal exits at once, and no
child process is left behind."""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Daemon, Tap, demo_server, group_alive,  # noqa: E402
                     sanitizer_reports, stop_ok, wait_until)

SHUTTING = "Service Unavailable - server is shutting down"


def start_calls(d, n, ms):
    results = [None] * n

    def one(i):
        try:
            results[i] = d.call("mcp__demo__sleep", {"ms": ms}, timeout=60)
        except Exception as e:  # noqa: BLE001
            results[i] = ("exception", repr(e))
    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    return ts, results


def inflight(d):
    st, _, body = d.request("GET", "/health")
    return body.get("inflight", 0) - 1 if st == 200 else -1


def t_drain_completes(tap):
    d = Daemon({"mcpServers": demo_server(), "drainTimeoutMs": 20000})
    pgids = [os.getpgid(p) for p in d.children()]
    tap.ok(len(pgids) == 1, "one demo server child", pgids)
    keep = d.conn()
    tap.eq(d.request("GET", "/health", conn=keep)[0], 200,
           "keep-alive connection open before the drain")
    ts, results = start_calls(d, 30, 1500)
    tap.ok(wait_until(lambda: inflight(d) >= 30, 5),
           "30 slow calls in flight")
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    time.sleep(0.2)
    st, h, body = d.request("GET", "/health", conn=keep)
    tap.eq((st, body), (503, {"error": SHUTTING}),
           "a request on an open connection gets 503 while draining")
    try:
        d.request("GET", "/health", timeout=2)
        refused = "answered"
    except ConnectionRefusedError:
        refused = True
    except OSError as e:
        refused = repr(e)
    tap.eq(refused, True, "new connections are refused (ECONNREFUSED)")
    for t in ts:
        t.join(30)
    codes = [r[0] if isinstance(r[0], int) else r for r in results]
    tap.eq(codes, [200] * 30, "every accepted call got its reply")
    tap.ok(all(r[2].get("result") == "slept 1500 ms" for r in results
               if isinstance(r[0], int)), "replies are the tool's results")
    d.proc.wait(30)
    took = time.monotonic() - t0
    stop_ok(tap, d, "after the drain")
    tap.ok(took < 10, "drain took %.2fs (calls were 1.5 s)" % took)
    tap.ok(not any(group_alive(g) for g in pgids),
           "no process left in the children's process groups")
    tap.ok("exited cleanly" in d.stderr(), "clean exit logged")


def t_drain_timeout(tap):
    d = Daemon({"mcpServers": demo_server(), "drainTimeoutMs": 500})
    pgids = [os.getpgid(p) for p in d.children()]
    ts, results = start_calls(d, 5, 30000)
    tap.ok(wait_until(lambda: inflight(d) >= 5, 5), "5 long calls in flight")
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    d.proc.wait(30)
    took = time.monotonic() - t0
    stop_ok(tap, d, "after the drain timeout")
    tap.ok(took < 6, "exited %.2fs after SIGTERM (timeout 0.5 s)" % took)
    for t in ts:
        t.join(10)
    tap.eq([r[0] for r in results], [503] * 5,
           "unfinished calls are answered 503 at the timeout")
    tap.ok(not any(group_alive(g) for g in pgids), "no process left")


def t_second_signal(tap):
    d = Daemon({"mcpServers": demo_server(), "drainTimeoutMs": 60000})
    pgids = [os.getpgid(p) for p in d.children()]
    ts, results = start_calls(d, 2, 60000)
    tap.ok(wait_until(lambda: inflight(d) >= 2, 5), "2 long calls in flight")
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    time.sleep(0.3)
    tap.ok(d.proc.poll() is None, "still draining after the first SIGTERM")
    d.signal(signal.SIGINT)
    d.proc.wait(10)
    tap.ok(time.monotonic() - t0 < 5, "a second signal exits at once")
    stop_ok(tap, d, "second signal", want=1)
    tap.ok(wait_until(lambda: not any(group_alive(g) for g in pgids), 5),
           "children killed")
    for t in ts:
        t.join(10)


SLOW_START_MS = 12000


def t_signal_during_start(tap):
    """SIGTERM before the servers have started still ends the daemon."""
    import json
    import subprocess
    import tempfile
    from harness import MCP_DEMO_SERVER, MCP_PROXYD, REAPER_NAME, processes
    tmp = tempfile.mkdtemp(prefix="mcp-start-")
    cfg = os.path.join(tmp, "c.json")
    with open(cfg, "w") as f:
        json.dump({"mcpServers": {"slow": {"command": MCP_DEMO_SERVER,
                                           "args": ["--slow-start",
                                                    str(SLOW_START_MS)]}},
                   "schemaCachePath": os.path.join(tmp, "cache.json"),
                   "startTimeoutMs": 20000}, f)
    log = open(os.path.join(tmp, "stderr.log"), "wb+")
    p = subprocess.Popen([MCP_PROXYD, "-c", cfg], stdout=subprocess.PIPE,
                         stderr=log)
    time.sleep(0.5)
    kids = [k.pgid for k in processes()
            if k.ppid == p.pid and k.comm != REAPER_NAME]
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "hung"
    took = time.monotonic() - t0
    log.seek(0)
    bad = sanitizer_reports(log.read().decode("utf-8", "replace"))
    tap.ok(rc == 0 and not bad, "SIGTERM during the start: exit 0, no "
           "sanitizer report", (rc, bad))
    # The limit is well below the server's start time, so that waiting
    # for it cannot pass.
    tap.ok(took < SLOW_START_MS / 2000, "without waiting for the slow "
           "server (%.2f s; it starts in %d ms)" % (took, SLOW_START_MS))
    tap.ok(p.stdout.read() == b"", "and no ready line")
    tap.ok(kids and wait_until(lambda: not any(group_alive(g) for g in kids),
                               5), "no process left", kids)


def main():
    tap = Tap()
    tap.run(t_drain_completes)
    tap.run(t_drain_timeout)
    tap.run(t_second_signal)
    tap.run(t_signal_during_start)
    tap.done()


if __name__ == "__main__":
    main()
