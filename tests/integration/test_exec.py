"""POST / against our C demo MCP server: results, every error status,
timeouts, crashes and restarts, garbage and floods, big results,
concurrency, server-to-client requests, and no process left behind."""
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Daemon, Tap, demo_server, group_alive,  # noqa: E402
                     stop_ok, wait_until)


def t_results(tap, d):
    st, _, body = d.call("mcp__demo__echo", {"message": "hello"})
    tap.eq((st, body), (200, {"result": "hello"}), "echo")
    st, _, body = d.call("mcp__demo__add", {"a": 2, "b": 3})
    tap.eq((st, body), (200, {"result": "5"}), "add")
    st, _, body = d.call("mcp__demo__echo", {"message": "x", "repeat": 3})
    tap.eq((st, body), (200, {"result": "xxx"}), "echo with repeat")
    big = "x" * (200 * 1024)  # over the inline limit: through a worker
    st, _, body = d.call("mcp__demo__echo", {"message": big})
    tap.ok(st == 200 and body.get("result") == big,
           "a 200 KiB argument goes through the worker pool", st)
    st, _, body = d.call("mcp__demo__add", {"a": "x" * (20 * 1024), "b": 1})
    tap.ok(st == 400 and body["details"][0]["path"] == "/a",
           "a large invalid body is validated on a worker", st)
    st, _, body = d.call("mcp__demo__structured", {"city": "Paris"})
    tap.ok(st == 200 and isinstance(body.get("result"), str) and
           "temperature" in body["result"], "structured: first text block",
           (st, body))


def t_hostile_names(tap, d):
    """Tool names are checked against one grammar before anything else."""
    def raw(name_json):
        return d.request("POST", "/", '{"toolName":%s,"params":{"message":'
                         '"x"}}' % name_json,
                         headers={"Content-Type": "application/json"})
    st, _, body = raw('"mcp__demo__echo\\u0000"')
    tap.ok(st == 400 and "NUL" in body.get("error", ""),
           "a NUL inside the name is 400, not a call of what C sees",
           (st, body))
    st, _, body = raw('"mcp__demo__echo "')
    tap.ok(st == 400 and "space" in body.get("error", ""),
           "a trailing space is 400, not a 403 about the allowlist",
           (st, body))
    st, _, body = raw(json.dumps("mcp__demo__" + "x" * 100000))
    err = body.get("error", "") if isinstance(body, dict) else ""
    tap.ok(st == 400 and "longer than 256" in err and len(err) < 400 and
           err.count("x") <= 200, "a 100,000-byte name is 400 and quoted "
           "in at most 200 bytes (%d bytes of error)" % len(err), err[:300])
    st, _, body = raw(json.dumps("mcp__demo__\u00e9cho"))
    tap.ok(st == 400 and "non-ASCII" in body.get("error", ""),
           "a non-ASCII name is 400", (st, body))
    st, _, body = raw('"mcp__demo__echo;id"')
    tap.ok(st == 400 and "tool part" in body.get("error", ""),
           "characters outside the grammar are 400", (st, body))
    st, _, body = raw('"mcp___demo__echo"')
    tap.eq(st, 400, "a server part starting with '_' is 400")


def t_errors(tap, d):
    st, _, body = d.call("mcp__demo__fail", {"message": "nope"})
    tap.eq(st, 422, "isError result is 422")
    tap.ok(body.get("error") == "nope" and
           body.get("result", {}).get("isError") is True,
           "422 carries the tool's text and the whole result", body)
    st, _, body = d.call("mcp__demo__nosuchtool", {})
    tap.eq(st, 404, "unknown tool is 404")
    st, _, body = d.call("mcp__demo__ech", {"message": "x"})
    tap.ok(st == 404 and "mcp__demo__echo" in body.get("suggestions", []),
           "404 suggests close names", body)
    st, _, body = d.call("mcp__other__echo", {})
    tap.eq(st, 404, "unknown server is 404")
    st, _, body = d.call("mcp__demo__add", {"a": "x", "b": 3})
    tap.eq(st, 400, "schema violation is 400 before the server is bothered")
    tap.ok(any(e.get("path") == "/a" for e in body.get("details", [])),
           "400 details name the path /a", body)
    st, _, body = d.call("mcp__demo__add", {"a": 1})
    tap.ok(st == 400 and "b" in body.get("required", []),
           "missing required argument is 400 and lists required", body)


def t_allowlist(tap):
    d = Daemon({"mcpServers": demo_server(),
                "allowedTools": ["mcp__demo__echo", "mcp__demo__s*"]})
    try:
        st, _, body = d.call("mcp__demo__add", {"a": 1, "b": 2})
        tap.eq(st, 403, "tool outside the allowlist is 403")
        tap.eq(body.get("error"), "Tool 'mcp__demo__add' not in allowlist",
               "403 message as the original")
        tap.eq(body.get("allowedTools"), ["mcp__demo__echo", "mcp__demo__s*"],
               "403 lists allowedTools")
        tap.ok("mcp__demo__add" in body.get("suggestion", ""),
               "403 has a suggestion", body)
        st, _, _ = d.call("mcp__demo__sleep", {"ms": 1})
        tap.eq(st, 200, "glob in the allowlist allows mcp__demo__sleep")
    finally:
        stop_ok(tap, d, "allowlist")


def t_allowlist_parsed(tap):
    """A pattern is matched server part to server: mcp__x_* cannot reach
    server x, only the servers whose names start with x_."""
    servers = demo_server("x")
    servers.update(demo_server("x_y"))
    d = Daemon({"mcpServers": servers, "allowedTools": ["mcp__x_*"]})
    try:
        codes = [d.call("mcp__x__echo", {"message": "a"})[0],
                 d.call("mcp__x_y__echo", {"message": "a"})[0]]
        tap.eq(codes, [403, 200], "mcp__x_* allows server x_y, not x")
    finally:
        stop_ok(tap, d, "parsed allowlist")


def t_timeout(tap, d):
    t0 = time.monotonic()
    st, _, body = d.call("mcp__demo__sleep", {"ms": 5000})
    took = time.monotonic() - t0
    tap.eq(st, 504, "a call past its timeout is 504")
    tap.ok(took < 3, "answered at the timeout (%.2fs, toolTimeouts 500 ms)"
           % took)
    tap.ok("timed out" in body.get("error", ""), "504 says timed out", body)
    st, _, body = d.call("mcp__demo__echo", {"message": "after"})
    tap.eq((st, body), (200, {"result": "after"}),
           "the server serves the next call")


def t_crash(tap, d):
    pids = d.children()
    st, _, body = d.call("mcp__demo__crash", {"exitCode": 7})
    tap.eq(st, 502, "crash mid-call is 502")
    tap.ok("demo" in body.get("error", "") and "7" in body.get("error", ""),
           "502 names the server and the exit status", body)
    ok = wait_until(lambda: d.call("mcp__demo__echo",
                                   {"message": "back"})[0] == 200, 10)
    tap.ok(ok, "a later call succeeds after the restart")
    tap.ok(set(d.children()) != set(pids), "the child was replaced")
    st, _, h = d.request("GET", "/health")
    tap.ok(h["servers"]["demo"]["restarts"] >= 1, "/health counts restarts",
           h)


def t_waits_for_restart(tap, d):
    """A call that arrives while the server restarts waits for it."""
    d.call("mcp__demo__crash", {})
    st, _, body = d.call("mcp__demo__echo", {"message": "waited"})
    tap.eq((st, body), (200, {"result": "waited"}),
           "a call during the restart waits and succeeds")


def t_noise(tap, d):
    done = []
    t = threading.Thread(target=lambda: done.append(
        d.call("mcp__demo__noise", {"lines": 50000}, timeout=60)))
    t.start()
    lat = []
    for _ in range(20):
        t0 = time.monotonic()
        st, _, _ = d.call("mcp__demo__echo", {"message": "q"})
        lat.append((st, time.monotonic() - t0))
    t.join(60)
    tap.ok(done and done[0][0] == 200 and done[0][2] == {"result": "noisy"},
           "a stderr flood plus a non-JSON stdout line: the call succeeds",
           done)
    tap.ok(all(s == 200 for s, _ in lat) and max(x for _, x in lat) < 2,
           "other calls are not stalled by the flood (max %.3fs)" %
           max(x for _, x in lat))


def t_big(tap, d):
    n = 5 * 1024 * 1024
    st, _, body = d.call("mcp__demo__big", {"bytes": n}, timeout=60)
    tap.ok(st == 200 and len(body.get("result", "")) == n,
           "a 5 MiB result arrives whole", (st, len(str(body))))


def t_concurrent(tap, d):
    res = []
    lock = threading.Lock()

    def one():
        r = d.call("mcp__demo__sleep", {"ms": 1000}, timeout=60)
        with lock:
            res.append(r[0])
    ts = [threading.Thread(target=one) for _ in range(200)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    took = time.monotonic() - t0
    tap.eq(res.count(200), 200, "200 concurrent 1 s sleeps all succeed")
    tap.ok(took < 5, "and overlap: %.2fs in all" % took)


def t_list_changed(tap, d):
    st, _, body = d.call("mcp__demo__toggle_extra_tool", {})
    tap.eq(st, 200, "toggle_extra_tool")
    ok = wait_until(lambda: d.call("mcp__demo__extra", {})[0] == 200, 5)
    tap.ok(ok, "tools/list_changed re-lists: the new tool is callable")
    d.call("mcp__demo__toggle_extra_tool", {})
    ok = wait_until(lambda: d.call("mcp__demo__extra", {})[0] == 404, 5)
    tap.ok(ok, "and gone again after the next change")


def t_server_requests(tap, d):
    st, _, body = d.call("mcp__demo__ask_client", {})
    tap.ok(st == 200 and "ping:ok" in body.get("result", "") and
           "-32601" in body.get("result", ""),
           "server-to-client ping answered {}, roots/list -32601", body)


def t_progress(tap, d):
    st, _, body = d.call("mcp__demo__progress", {"steps": 3})
    tap.eq((st, body), (200, {"result": "done"}),
           "progress notifications do not disturb the call")


def t_failed_server(tap):
    d = Daemon({"mcpServers": {
        "demo": {"command": os.environ.get("MCP_DEMO_SERVER")},
        "broken": {"command": "/nonexistent/mcp-server", "timeoutMs": 2000},
        "dies": {"command": os.environ.get("MCP_DEMO_SERVER"),
                 "args": ["--fail-init"]}},
        "startTimeoutMs": 5000})
    try:
        st, _, body = d.call("mcp__demo__echo", {"message": "ok"})
        tap.eq(st, 200, "a failed server does not stop the daemon")
        st, _, h = d.request("GET", "/health")
        b = h["servers"]["broken"]
        tap.ok(b["state"] != "ready" and "nonexistent" in b.get("lastError",
                                                                 ""),
               "/health says why a server failed", b)
        st, h, body = d.call("mcp__broken__x", {}, timeout=70)
        tap.ok(st == 503 and h.get("retry-after") and "broken" in
               body.get("error", ""), "a call to it is 503 with "
               "Retry-After, naming the server", (st, h, body))
        ok = wait_until(lambda: d.request("GET", "/health")[2]["servers"]
                        ["dies"]["restarts"] >= 2, 10)
        tap.ok(ok, "a server that dies at start is restarted with backoff")
    finally:
        stop_ok(tap, d, "failed servers")


def main():
    tap = Tap()
    d = Daemon({"mcpServers": demo_server(toolTimeouts={"sleep": 500}),
                "drainTimeoutMs": 2000})
    d2 = Daemon({"mcpServers": demo_server(timeoutMs=30000)})
    try:
        for fn in (t_results, t_hostile_names, t_errors, t_timeout, t_crash,
                   t_waits_for_restart, t_noise, t_big, t_list_changed,
                   t_server_requests, t_progress):
            tap.run(fn, d)
        tap.run(t_concurrent, d2)
    finally:
        pg = [os.getpgid(p) for p in d.children() + d2.children()]
        stop_ok(tap, d, "results and errors")
        stop_ok(tap, d2, "concurrent calls")
    tap.ok(pg and not any(group_alive(g) for g in pg),
           "no process left in any group the daemon created", pg)
    tap.run(t_allowlist)
    tap.run(t_allowlist_parsed)
    tap.run(t_failed_server)
    tap.done()


if __name__ == "__main__":
    main()
