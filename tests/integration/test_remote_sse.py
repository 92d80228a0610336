"""Remote MCP servers over the 2024-11-05 HTTP+SSE transport:
server-everything in sse mode behind the daemon. The GET event stream
names the endpoint, messages are POSTed there and answered on the
stream: the handshake, calls, validation, a timeout, calls in parallel;
the server killed (its stream ends: restarting) and started again."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, Tap, stop_ok, wait_until  # noqa: E402
from remotes import Everything, require_everything  # noqa: E402


def ev(d, tool, params):
    return d.call("mcp__old__" + tool, params)


def main():
    tap = Tap()
    require_everything(tap)
    server = Everything("sse")
    try:
        d = Daemon({"mcpServers": {"old": {
            "type": "sse", "url": "http://127.0.0.1:%d/sse" % server.port,
            "timeoutMs": 20000,
            "toolTimeouts": {"trigger-long-running-operation": 2000}}},
            "startTimeoutMs": 20000, "drainTimeoutMs": 2000})
    except Exception:
        server.close()
        raise
    try:
        st, _, h = d.request("GET", "/health")
        s = h["servers"]["old"]
        tap.ok(s["state"] == "ready" and
               s["protocolVersion"] == "2025-11-25" and s["tools"] >= 10,
               "the handshake and the tool list over HTTP+SSE", s)
        st, _, body = ev(d, "echo", {"message": "hi"})
        tap.eq((st, body), (200, {"result": "Echo: hi"}), "echo")
        st, _, body = ev(d, "get-sum", {"a": 2, "b": 3})
        tap.ok(st == 200 and "5" in body.get("result", ""), "get-sum", body)
        st, _, body = ev(d, "get-sum", {"a": "x", "b": 3})
        tap.eq(st, 400, "validation against the listed schema")
        st, _, body = ev(d, "trigger-long-running-operation",
                         {"duration": 30, "steps": 2})
        tap.eq(st, 504, "a timeout: 504")
        out = []
        threads = [threading.Thread(target=lambda i=i: out.append(
            ev(d, "echo", {"message": str(i)})[0])) for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        tap.eq(out, [200] * 10, "10 calls in parallel")
        server.stop()
        ok = wait_until(lambda: "closed its event stream" in d.stderr() or
                        "closed the connection" in d.stderr(), 10)
        tap.ok(ok, "the stream's end is noticed at once",
               d.stderr()[-1500:])
        t0 = time.monotonic()
        st, hdrs, body = ev(d, "echo", {"message": "down"})
        tap.ok(st == 503 and hdrs.get("retry-after", "").isdigit() and
               time.monotonic() - t0 < 10, "down: 503 with Retry-After at "
               "once", body)
        server.start()
        ok = wait_until(lambda: ev(d, "echo", {"message": "up"})[0] == 200,
                        60, 0.5)
        tap.ok(ok, "back: calls work again")
    finally:
        stop_ok(tap, d, "daemon with an HTTP+SSE server")
        server.close()
    tap.done()


if __name__ == "__main__":
    main()
