"""Hung and failing servers: a server that keeps reading but stops
answering is found (silence with a timed-out call, then an unanswered
ping), its calls get 502 and it is restarted; a server that answers pings
while a long call runs is never killed; an idle silent server is never
pinged; the circuit breaker opens after 5 failed calls (503 at once),
half-opens for one trial call, closes on its success and re-opens for
twice as long on its failure; a hung instance does not stop calls going
to the healthy one. Small timeouts keep it fast; the timings asserted are
orders of magnitude, except the breaker's 503 in under 50 ms."""
import json
import os
import re
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, Tap, demo_server, stop_ok, wait_until  # noqa: E402
import promtext  # noqa: E402

PING_SENT = re.compile(r"no message for \d+ ms with \d+ calls pending, "
                       r"one timed out: ping id (\d+)")


def health(d):
    return d.request("GET", "/health")


def server(d, name="demo"):
    return health(d)[2]["servers"][name]


def audit_lines(path):
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return []
    # A line being written is not whole yet.
    return [json.loads(ln) for ln in text.split("\n")[:-1]]


def audit_events(path, kind):
    return [e for e in audit_lines(path) if e.get("event") == kind]


def metric(d, name, srv="demo"):
    text = d.request("GET", "/metrics")[2]
    samples, _ = promtext.parse(text.decode() if isinstance(text, bytes)
                                else text)
    return samples.get((name, frozenset({("server", srv)})))


def timed_call(d, tool, params, conn=None):
    t0 = time.monotonic()
    st, hdrs, body = d.call(tool, params, conn=conn)
    return st, hdrs, body, time.monotonic() - t0


def in_thread(out, key, fn, *args):
    def run():
        out[key] = fn(*args)
    t = threading.Thread(target=run)
    t.start()
    return t


def t_hung_restarted(tap):
    """--hang-after 2: the third call is never answered (504 at its
    timeout); a fourth, with a long timeout, is answered 502 when the
    silence and the unanswered ping show the server is hung; the server
    is restarted (SIGTERM was enough) and answers again."""
    audit = os.path.join(tempfile.mkdtemp(prefix="mcp-proxyd-hung-"),
                         "audit.log")
    d = Daemon({"auditLog": audit, "mcpServers": demo_server(
        args=["--hang-after", "2"], timeoutMs=400,
        toolTimeouts={"echo": 8000}, unresponsiveMs=800,
        pingTimeoutMs=300)})
    try:
        for i in range(2):
            tap.eq(d.call("mcp__demo__echo", {"message": "x"})[0], 200,
                   "call %d answered before the hang" % (i + 1))
        pid = server(d)["pid"]
        out = {}
        a = in_thread(out, "a", timed_call, d, "mcp__demo__sleep",
                      {"ms": 10})
        time.sleep(0.1)
        b = in_thread(out, "b", timed_call, d, "mcp__demo__echo",
                      {"message": "y"})
        a.join(30)
        b.join(30)
        tap.eq(out["a"][0], 504, "the unanswered call times out")
        st, _, body, took = out["b"]
        tap.ok(st == 502 and "stopped responding" in body.get("error", ""),
               "the call pending at detection gets 502 'stopped "
               "responding'", (st, body))
        tap.ok(took < 6.0, "long before its own 8 s timeout (%.2f s)" % took)
        tap.ok(wait_until(lambda: d.call("mcp__demo__echo",
                                         {"message": "z"})[0] == 200, 15),
               "the restarted server answers")
        s = server(d)
        tap.ok(s["hungDetections"] == 1 and s["restarts"] >= 1 and
               s["pid"] not in (None, pid) and
               s["breaker"]["state"] == "closed",
               "one hung detection, a restart, a new pid, breaker closed", s)
        log = d.stderr()
        m = PING_SENT.search(log)
        tap.ok(m is not None, "a ping was sent after the silence")
        tap.ok(m is not None and re.search(
            r"not responding \(pid %d\): no message for \d+ ms with \d+ "
            r"calls pending .*ping id %s unanswered" % (pid, m.group(1)),
            log) is not None, "the hang is logged with the evidence")
        tap.ok("sending SIGKILL" not in log, "SIGTERM was enough")
        tap.ok(wait_until(lambda: audit_events(audit, "server_hung"), 5),
               "a server_hung audit event")
        ev = (audit_events(audit, "server_hung") or [{}])[0]
        tap.ok(ev.get("server") == "demo" and ev.get("instance") == 0 and
               ev.get("pid") == pid and ev.get("pending", 0) >= 1 and
               ev.get("msSinceLastMessage", 0) >= 800 and
               "stopped responding" in ev.get("error", ""),
               "with server, instance, pid, silence and pending calls", ev)
        tap.eq(metric(d, "mcp_server_hung_total"), 1,
               "mcp_server_hung_total counts it")
    finally:
        stop_ok(tap, d, "hung server")


def t_busy_answers_pings(tap):
    """A long call runs (in its timeout) while the server stops reading
    for a second: a call sent meanwhile times out, the silence earns a
    ping, and the server answers it once it reads again, within
    pingTimeoutMs (which ends while the long call still runs): never
    killed, and the long call completes."""
    d = Daemon({"mcpServers": demo_server(
        timeoutMs=300, toolTimeouts={"sleep": 20000}, unresponsiveMs=500,
        pingTimeoutMs=2500)})
    try:
        pid = server(d)["pid"]
        out = {}
        long_call = in_thread(out, "long", timed_call, d, "mcp__demo__sleep",
                              {"ms": 5000})
        time.sleep(0.1)
        tap.eq(d.call("mcp__demo__stall", {"ms": 1000})[0], 200,
               "the server stops reading for 1 s")
        tap.eq(d.call("mcp__demo__echo", {"message": "x"})[0], 504,
               "a call meanwhile times out")
        long_call.join(30)
        st, _, body, took = out["long"]
        tap.ok(st == 200 and took >= 4.5, "the long call completes "
               "(%.2f s)" % took, (st, body))
        log = d.stderr()
        m = PING_SENT.search(log)
        tap.ok(m is not None and re.search(
            r"ping id %s answered in \d+ ms" % m.group(1), log) is not None,
            "it was pinged and answered the ping")
        s = server(d)
        tap.ok(s["hungDetections"] == 0 and s["pid"] == pid and
               s["restarts"] == 0, "never declared hung or restarted", s)
        tap.eq(d.call("mcp__demo__echo", {"message": "x"})[0], 200,
               "and it keeps answering")
    finally:
        stop_ok(tap, d, "busy server")


def t_idle_never_pinged(tap):
    """--hang-after 1: after one call the server answers nothing, pings
    included; idle, it is never pinged (so never killed); a call that
    times out then gets it detected."""
    d = Daemon({"mcpServers": demo_server(
        args=["--hang-after", "1"], timeoutMs=300, unresponsiveMs=300,
        pingTimeoutMs=200)})
    try:
        tap.eq(d.call("mcp__demo__echo", {"message": "x"})[0], 200,
               "the one call answered")
        pid = server(d)["pid"]
        time.sleep(2.0)
        s = server(d)
        tap.ok(s["hungDetections"] == 0 and s["pid"] == pid,
               "idle for 2 s (over 4 times the ping's window): left alone",
               s)
        tap.ok(PING_SENT.search(d.stderr()) is None, "and never pinged")
        tap.eq(d.call("mcp__demo__echo", {"message": "x"})[0], 504,
               "a call to it times out")
        tap.ok(wait_until(lambda: server(d)["hungDetections"] == 1, 10),
               "then it is found hung")
    finally:
        stop_ok(tap, d, "idle server")


def breaker_state(d, name="demo"):
    return server(d, name)["breaker"]


def t_breaker(tap):
    audit = os.path.join(tempfile.mkdtemp(prefix="mcp-proxyd-hung-"),
                         "audit.log")
    servers = demo_server(timeoutMs=300, breaker={"failures": 5,
                                                  "openMs": 1000})
    servers.update(demo_server("off", timeoutMs=300, breaker=False))
    d = Daemon({"auditLog": audit, "mcpServers": servers})
    conn = d.conn()
    try:
        out = {}
        offs = [in_thread(out, i, d.call, "mcp__off__sleep", {"ms": 5000})
                for i in range(6)]
        for _ in range(3):
            tap.eq(d.call("mcp__demo__fail", {})[0], 422, "a tool error")
        b = breaker_state(d)
        tap.ok(b["state"] == "closed" and b["failures"] == 0,
               "tool errors do not count", b)
        for i in range(5):
            tap.eq(d.call("mcp__demo__sleep", {"ms": 5000})[0], 504,
                   "timeout %d" % (i + 1))
        st, hdrs, body, took = timed_call(d, "mcp__demo__echo",
                                          {"message": "x"}, conn=conn)
        tap.eq(st, 503, "the 6th call is refused")
        tap.ok(took < 0.05, "in under 50 ms (%.1f ms)" % (took * 1000))
        tap.ok(hdrs.get("retry-after") == "1", "Retry-After: 1", hdrs)
        tap.ok("circuit breaker open" in body.get("error", "") and
               body.get("breaker") == "open", "saying the breaker is open",
               body)
        st, _, h = health(d)
        deg = [x for x in h["degraded"] if x["server"] == "demo"]
        tap.ok(st == 503 and deg and deg[0]["reason"] ==
               "circuit breaker open after 5 failures" and
               h["servers"]["demo"]["breaker"]["state"] == "open" and
               h["servers"]["demo"]["breaker"]["retryAfter"] == 1 and
               h["servers"]["demo"]["breaker"]["openUntil"],
               "/health: 503, degraded, the breaker open", h)
        tap.eq(h["rejected"]["breakerOpen"], 1, "counted as rejected")
        tap.eq((metric(d, "mcp_server_breaker_state"),
                metric(d, "mcp_server_breaker_opens_total")), (2, 1),
               "metrics: state 2 (open), opened once")
        tap.ok(wait_until(lambda: breaker_state(d)["state"] == "half_open",
                          5), "half-open after openMs")
        # The trial fails: open again for twice as long.
        out2 = {}
        trial = in_thread(out2, "t", d.call, "mcp__demo__sleep",
                          {"ms": 5000})
        wait_until(lambda: server(d)["inflight"] == 1, 5)
        st, _, body = d.call("mcp__demo__echo", {"message": "x"})
        tap.ok(st == 503 and body.get("breaker") == "half_open",
               "other calls are refused during the trial", (st, body))
        trial.join(30)
        tap.eq(out2["t"][0], 504, "the trial times out")
        b = breaker_state(d)
        tap.ok(b["state"] == "open" and b["openMs"] == 2000,
               "a failed trial re-opens it for 2000 ms", b)
        st, hdrs, _ = d.call("mcp__demo__echo", {"message": "x"})
        tap.ok(st == 503 and hdrs.get("retry-after") == "2",
               "Retry-After 2", (st, hdrs))
        tap.ok(wait_until(lambda: breaker_state(d)["state"] == "half_open",
                          8), "half-open again")
        tap.eq(d.call("mcp__demo__echo", {"message": "x"})[0], 200,
               "the trial succeeds")
        b = breaker_state(d)
        tap.ok(b["state"] == "closed" and b["failures"] == 0 and
               b["openMs"] == 1000, "and closes it", b)
        tap.eq(health(d)[0], 200, "/health is 200 again")
        tap.ok(wait_until(lambda: len(audit_events(audit, "breaker_open"))
                          == 2 and audit_events(audit, "breaker_close"),
                          5), "audit: opened twice, closed")
        ev = audit_events(audit, "breaker_open")
        tap.ok(ev[0].get("server") == "demo" and
               ev[0].get("failures") == 5 and ev[0].get("openMs") == 1000
               and ev[1].get("openMs") == 2000, "with failures and openMs",
               ev)
        for t in offs:
            t.join(30)
        tap.eq(sorted(o[0] for o in out.values()), [504] * 6,
               "\"breaker\": false: six timeouts, no refusal")
        tap.eq(breaker_state(d, "off"), None, "and no breaker in /health")
        tap.eq(server(d)["hungDetections"], 0,
               "a server that answers pings is not hung")
    finally:
        conn.close()
        stop_ok(tap, d, "breaker")


def t_hung_instance(tap):
    """Two instances; one hangs (and ignores SIGTERM): calls keep going to
    the other, the hung one is killed (SIGKILL after SIGTERM) and
    restarted."""
    d = Daemon({"mcpServers": demo_server(
        instances=2, args=["--hang-tool", "--ignore-sigterm"],
        timeoutMs=400, unresponsiveMs=800, pingTimeoutMs=300)})
    try:
        pids = server(d)["pids"]
        tap.eq(d.call("mcp__demo__hang", {})[0], 504,
               "the hang call times out")
        codes = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            codes.append(d.call("mcp__demo__echo", {"message": "x"})[0])
            s = server(d)
            if s["hungDetections"] == 1 and s["ready"] == 2:
                break
            time.sleep(0.05)
        tap.ok(len(codes) > 5 and all(c == 200 for c in codes),
               "%d calls meanwhile, all answered" % len(codes), codes)
        s = server(d)
        tap.ok(s["hungDetections"] == 1 and s["ready"] == 2 and
               len(set(s["pids"]) & set(pids)) == 1,
               "one instance found hung and replaced", (pids, s))
        tap.ok("sending SIGKILL" in d.stderr(),
               "it ignored SIGTERM: SIGKILL followed")
    finally:
        stop_ok(tap, d, "hung instance")


def main():
    tap = Tap()
    tap.run(t_hung_restarted)
    tap.run(t_busy_answers_pings)
    tap.run(t_idle_never_pinged)
    tap.run(t_breaker)
    tap.run(t_hung_instance)
    tap.done()


if __name__ == "__main__":
    main()
