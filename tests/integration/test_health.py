"""GET /health: 200 only while serving with every enabled server ready,
else 503 with the same body and the servers that are not ready, and why;
the per-server fields."""
import os
import re
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, Tap, demo_server, stop_ok, wait_until  # noqa

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def health(d, **kw):
    st, _, body = d.request("GET", "/health", **kw)
    return st, body


def t_crash_and_restart(tap):
    # A slow start keeps the restart's 503 long enough to be seen.
    d = Daemon({"mcpServers": demo_server(instances=2,
                                          args=["--slow-start", "1000"])})
    try:
        st, h = health(d)
        srv = h["servers"]["demo"]
        tap.ok(st == 200 and h["healthy"] is True and h["degraded"] == [],
               "200 and healthy with every server ready", h)
        tap.ok(srv["name"] == "demo" and srv["state"] == "ready" and
               srv["enabled"] is True and srv["protocolVersion"] ==
               "2025-11-25" and len(srv["pids"]) == 2 and
               all(isinstance(p, int) and p > 0 for p in srv["pids"]) and
               srv["lastError"] is None and srv["lastErrorAt"] is None and
               STAMP.match(srv["lastStartAt"] or "") and
               srv["tools"] > 0 and srv["unvalidatedTools"] == 0 and
               srv["inflight"] == 0 and srv["queued"] == 0 and
               srv["restarts"] == 0, "the per-server fields", srv)
        pids = sorted(srv["pids"])
        for p in pids:
            os.kill(p, signal.SIGKILL)
        tap.ok(wait_until(lambda: health(d)[0] == 503, 10),
               "503 once no instance is ready")

        def why():
            """The degraded entry once the exit status is in (the pipe's
            end may be seen, and the restart begun, before the reaping
            that tells the signal)."""
            h = health(d)[1]
            deg = h["degraded"]
            return h if deg and "signal 9" in deg[0]["reason"] else None
        wait_until(why, 10)
        st, h = health(d)
        deg = h["degraded"]
        tap.ok(h["healthy"] is False and len(deg) == 1 and
               deg[0]["server"] == "demo" and deg[0]["state"] in
               ("restarting", "starting") and "signal 9" in deg[0]["reason"],
               "degraded names the server and why", h.get("degraded"))
        tap.ok(set(h) >= {"servers", "timestamp", "uptime", "inflight"},
               "the 503 has the same body", sorted(h))
        tap.ok(wait_until(lambda: health(d)[0] == 200, 15),
               "200 again after the restart")
        srv = health(d)[1]["servers"]["demo"]
        tap.ok(srv["restarts"] >= 2 and sorted(srv["pids"]) != pids and
               "signal 9" in srv["lastError"] and
               STAMP.match(srv["lastErrorAt"] or ""),
               "restarts, new pids, the last error and its time", srv)
    finally:
        stop_ok(tap, d, "crash and restart")


def t_failed_and_disabled(tap):
    d = Daemon({"mcpServers": {
        "broken": {"command": "/nonexistent/mcp-server"},
        "off": {"command": "/nonexistent/too", "disabled": True}},
        "startTimeoutMs": 2000})
    try:
        st, h = health(d)
        tap.eq(st, 503, "503 while a server cannot start")
        tap.ok([x["server"] for x in h["degraded"]] == ["broken"] and
               "nonexistent" in h["degraded"][0]["reason"],
               "only the enabled server is degraded", h["degraded"])
        tap.eq(h["servers"]["broken"]["state"], "failed", "state failed")
        off = h["servers"]["off"]
        tap.ok(off["state"] == "stopped" and off["enabled"] is False and
               off["pids"] == [None], "a disabled server is stopped", off)
    finally:
        stop_ok(tap, d, "failed and disabled")


def t_draining(tap):
    d = Daemon({"mcpServers": demo_server(), "drainTimeoutMs": 10000})
    keep = d.conn()
    try:
        tap.eq(health(d, conn=keep)[0], 200, "200 before the drain")
        t = threading.Thread(target=d.call, args=("mcp__demo__sleep",
                                                  {"ms": 1500}))
        t.start()
        tap.ok(wait_until(lambda: health(d)[1]["inflight"] >= 2, 5),
               "a call in flight")
        d.signal(signal.SIGTERM)
        tap.ok(wait_until(lambda: health(d, conn=keep)[0] == 503, 5),
               "503 while draining")
        t.join(30)
        d.proc.wait(20)
    finally:
        keep.close()
        stop_ok(tap, d, "draining")


def main():
    tap = Tap()
    tap.run(t_crash_and_restart)
    tap.run(t_failed_and_disabled)
    tap.run(t_draining)
    tap.done()


if __name__ == "__main__":
    main()
