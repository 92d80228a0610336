"""Remote MCP servers over plain HTTP: server-everything in
streamableHttp mode behind the daemon (calls, validation, discovery,
a timeout, calls in parallel, the session's DELETE at shutdown, the
server killed and restarted: calls fail fast, then recover; a restart
that loses our session), and a server that cannot be reached
(restarting with backoff, 503 with Retry-After, /health)."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, Tap, stop_ok, wait_until  # noqa: E402
from remotes import Everything, free_port, require_everything  # noqa: E402


def ev(d, tool, params, **kw):
    return d.call("mcp__ev__" + tool, params, **kw)


def calls(tap, d):
    st, _, body = ev(d, "echo", {"message": "hi"})
    tap.eq((st, body), (200, {"result": "Echo: hi"}), "echo over HTTP")
    st, _, body = ev(d, "get-sum", {"a": 2, "b": 3})
    tap.ok(st == 200 and "5" in body.get("result", ""), "get-sum", body)
    st, _, body = d.request("POST", "/", {
        "toolName": "mcp__ev__get-structured-content",
        "params": {"location": "Chicago"}, "result": "full"})
    sc = body.get("result", {}).get("structuredContent", {}) \
        if isinstance(body, dict) else {}
    tap.ok(st == 200 and set(sc) == {"temperature", "conditions",
                                     "humidity"},
           "structuredContent of a remote tool", body)
    st, _, body = ev(d, "get-sum", {"a": "2", "b": 3})
    tap.ok(st == 400 and any(e["path"] == "/a"
                             for e in body.get("details", [])),
           "arguments validated against the remote tool list", body)
    st, _, body = d.request("GET", "/mcp/tools?q=echo")
    names = [t["name"] for t in body.get("tools", [])]
    tap.ok(st == 200 and "mcp__ev__echo" in names,
           "discovery lists the remote tools", body)
    t0 = time.monotonic()
    st, _, body = ev(d, "trigger-long-running-operation",
                     {"duration": 1, "steps": 4})
    tap.ok(st == 200 and "completed" in str(body) and
           time.monotonic() - t0 >= 0.9,
           "a long-running operation answered on its event stream", body)


def timeout(tap, d):
    st, _, body = ev(d, "trigger-long-running-operation",
                     {"duration": 30, "steps": 2})
    tap.eq(st, 504, "past its toolTimeouts entry: 504")
    st, _, body = ev(d, "echo", {"message": "next"})
    tap.eq((st, body), (200, {"result": "Echo: next"}),
           "and the server serves the next call")
    tap.ok("timed out after 2000 ms" in d.stderr(),
           "the timeout is logged", d.stderr()[-2000:])


def parallel(tap, d):
    """Long calls on connections of their own, short ones beside them."""
    out = []

    def one(i):
        if i < 3:
            out.append(ev(d, "trigger-long-running-operation",
                          {"duration": 1, "steps": 1})[0])
        else:
            out.append(ev(d, "echo", {"message": str(i)})[0])
    t0 = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - t0
    tap.ok(out == [200] * 12, "12 calls in parallel, 3 of them of 1 s",
           out)
    tap.ok(took < 2.8, "the three 1 s calls ran at once (%.1f s)" % took)


def health_and_metrics(tap, d):
    st, _, h = d.request("GET", "/health")
    s = h.get("servers", {}).get("ev", {}) if isinstance(h, dict) else {}
    tap.ok(st == 200 and s.get("state") == "ready" and
           s.get("protocolVersion") == "2025-11-25" and s.get("tools") == 13,
           "/health: the remote server is ready", s)
    st, _, m = d.request("GET", "/metrics")
    text = m.decode() if isinstance(m, bytes) else str(m)
    tap.ok(st == 200 and 'server="ev"' in text and
           'mcp_tool_calls_total{server="ev",tool="echo",' in text,
           "/metrics counts the remote server's calls",
           [ln for ln in text.splitlines() if 'server="ev"' in ln][:10])


def restart(tap, d, server):
    """The server killed: calls fail fast; started again: they work."""
    server.stop()
    t0 = time.monotonic()
    st, hdrs, body = ev(d, "echo", {"message": "down"})
    took = time.monotonic() - t0
    tap.ok(st in (502, 503) and took < 10,
           "server down: the call fails fast (%d in %.1f s)" % (st, took),
           body)
    ok = wait_until(lambda: d.request("GET", "/health")[2]["servers"]["ev"]
                    ["state"] in ("restarting", "starting", "failed"), 10)
    tap.ok(ok, "/health: not ready")
    st, hdrs, body = ev(d, "echo", {"message": "down"})
    tap.ok(st in (502, 503) and (st == 502 or
                                 hdrs.get("retry-after", "").isdigit()),
           "while it is down: %d (503 with Retry-After)" % st, body)
    server.start()
    ok = wait_until(lambda: ev(d, "echo", {"message": "up"})[0] == 200, 60,
                    0.5)
    tap.ok(ok, "server back: calls work again")
    log = d.stderr()
    tap.ok("restarting in" in log and "is unreachable at 127.0.0.1:" in log,
           "the failure and the backoff are logged", log[-3000:])


def stale_session(tap, d, server):
    """Restarted between two calls: our session is unknown to it (it
    answers 400 "No valid session ID"): the handshake is replayed and
    the refused call sent again, once."""
    server.stop()
    server.start()
    results = [ev(d, "echo", {"message": "s%d" % i}) for i in range(2)]
    tap.eq([(st, body) for st, _, body in results],
           [(200, {"result": "Echo: s0"}), (200, {"result": "Echo: s1"})],
           "a lost session: a new one is made, the calls succeed")
    tap.ok("no longer knows our session: starting a new one" in d.stderr(),
           "the lost session is logged", d.stderr()[-2000:])


def unreachable(tap):
    port = free_port()
    d = Daemon({"mcpServers": {"gone": {
        "type": "http", "url": "http://127.0.0.1:%d/mcp" % port}},
        "startTimeoutMs": 1000})
    try:
        st, hdrs, body = d.call("mcp__gone__echo", {"message": "x"})
        tap.ok(st == 503 and hdrs.get("retry-after", "").isdigit(),
               "unreachable from the start: 503 with Retry-After", body)
        ok = wait_until(lambda: d.stderr().count("restarting in") >= 3, 20)
        tap.ok(ok, "restarted again and again, with backoff",
               d.stderr()[-2000:])
        st, _, h = d.request("GET", "/health")
        s = h["servers"]["gone"]
        tap.ok(s["state"] in ("restarting", "starting", "failed") and
               "unreachable" in (s.get("lastError") or ""),
               "/health names the state and the error", s)
    finally:
        stop_ok(tap, d, "daemon with an unreachable server")


def main():
    tap = Tap()
    require_everything(tap)
    server = Everything("streamableHttp")
    try:
        d = Daemon({"mcpServers": {"ev": {
            "type": "http", "url": "http://127.0.0.1:%d/mcp" % server.port,
            "headers": {"X-Test": "${MCP_PROXYD_TEST_UNSET:-default}"},
            "timeoutMs": 20000,
            "toolTimeouts": {"trigger-long-running-operation": 2000}}},
            "startTimeoutMs": 20000, "drainTimeoutMs": 2000})
    except Exception:
        server.close()
        raise
    try:
        tap.run(calls, d)
        tap.run(timeout, d)
        tap.run(parallel, d)
        tap.run(health_and_metrics, d)
        tap.run(restart, d, server)
        tap.run(stale_session, d, server)
    finally:
        stop_ok(tap, d, "daemon with a Streamable HTTP server")
        tap.ok(wait_until(lambda: "Received session termination request"
                          in server.output(), 5),
               "the session is DELETEd at shutdown", server.output()[-1000:])
        server.close()
    tap.run(unreachable)
    tap.done()


if __name__ == "__main__":
    main()
