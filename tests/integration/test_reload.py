"""Configuration reload on SIGHUP: calls in flight keep their snapshot and
all succeed; the allowlist, limits and rate limits change live; sessions
survive; a file that does not load is refused with the key named and the
old configuration keeps serving; keys that need a restart are logged and
left alone; the service manager hears RELOADING=1 and READY=1; the audit
log and /metrics record each reload."""
import errno
import http.client
import json
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Daemon, Tap, UnixHTTPConnection,  # noqa: E402
                     demo_server, processes, stop_ok, wait_until)
import promtext  # noqa: E402


def write_config(d, cfg):
    """Replaces the daemon's file in one rename, as an editor would."""
    tmp = d.config_path + ".new"
    with open(tmp, "w") as f:
        if isinstance(cfg, str):
            f.write(cfg)
        else:
            json.dump(cfg, f)
    os.rename(tmp, d.config_path)


def reloads(d):
    """(applied, failed) from /metrics; None while the token is refused
    (a reload that rotates it is not done yet)."""
    st, _, text = d.request("GET", "/metrics")
    if st != 200:
        return None
    samples, _ = promtext.parse(text.decode() if isinstance(text, bytes)
                                else text)
    return (promtext.value(samples, "config_reloads_total", result="ok"),
            promtext.value(samples, "config_reloads_total",
                           result="failed"))


def reload(d, cfg, ok=True, token=None):
    """Writes cfg, sends SIGHUP and waits until the reload is counted
    (asking with token from the signal on, when given)."""
    before = reloads(d)
    write_config(d, cfg)
    d.signal(signal.SIGHUP)
    if token is not None:
        d.token = token
    want = (before[0] + 1, before[1]) if ok else (before[0], before[1] + 1)
    if not wait_until(lambda: reloads(d) == want, 30):
        raise AssertionError("reload not counted: %r, want %r\n%s" %
                             (reloads(d), want, d.stderr()[-3000:]))


def generation(d):
    return d.request("GET", "/health")[2]["config"]["generation"]


def sent(d, *servers):
    """Calls sent to these servers and not answered (mcp_server_inflight):
    routed, so they hold their server."""
    st, _, text = d.request("GET", "/metrics")
    samples, _ = promtext.parse(text.decode())
    return sum(v for lb, v in promtext.series(samples, "mcp_server_inflight")
               if lb["server"] in servers)


def pids(d):
    """{server: [pid, ...]} from /health."""
    servers = d.request("GET", "/health")[2]["servers"]
    if isinstance(servers, dict):
        servers = [dict(v, name=k) for k, v in servers.items()]
    return {e["name"]: e.get("pids") for e in servers}


def t_in_flight(tap):
    servers = {}
    for n in ("a", "b", "c"):
        servers.update(demo_server(n))
    d = Daemon({"mcpServers": servers})
    try:
        before = pids(d)
        results = []

        def one(server):
            results.append(d.call("mcp__%s__sleep" % server, {"ms": 3000},
                                  timeout=120)[0])
        threads = [threading.Thread(target=one, args=("abc"[i % 3],))
                   for i in range(50)]
        for t in threads:
            t.start()
        wait_until(lambda: sent(d, "a", "b", "c") >= 50, 60)
        inflight = sent(d, "a", "b", "c")
        cfg = dict(d.config)
        new = {}
        new.update(demo_server("a"))
        new.update(demo_server("b", env={"DEMO_X": "1"}))
        new.update(demo_server("d"))
        cfg["mcpServers"] = new
        cfg["maxBodyBytes"] = 4096
        cfg["workers"] = 7
        reload(d, cfg)
        for t in threads:
            t.join(120)
        tap.ok(inflight >= 50, "50 calls were in flight at the reload (sent "
               "to the servers)", inflight)
        tap.eq(results, [200] * 50, "all 50 calls in flight got 200 (to "
               "the unchanged, the changed and the removed server)")
        tap.eq(generation(d), 2, "the new configuration is generation 2")
        st, _, b = d.call("mcp__d__echo", {"message": "new"})
        tap.ok(st == 200 and b.get("result") == "new",
               "the added server's tools are callable", (st, b))
        st, _, b = d.call("mcp__c__echo", {"message": "x"})
        tap.ok(st == 404 and "no MCP server of that name" in
               str(b.get("details")), "the removed one's: unknown server",
               (st, b))
        tap.eq(d.call("mcp__b__echo", {"message": "x"})[0], 200,
               "the changed one answers")
        after = pids(d)
        tap.ok(after.get("a") == before["a"] and before["a"],
               "the unchanged server kept its child", (before, after))
        tap.ok(after.get("b") and after["b"] != before["b"],
               "the changed one runs a new child", (before, after))
        tap.ok("c" not in after and "d" in after,
               "/health: the removed one is gone, the added one is there",
               after)
        gone = before["b"] + before["c"]
        tap.ok(wait_until(lambda: not set(gone) & set(d.children()), 30),
               "the old children were stopped", (gone, d.children()))
        log = d.stderr()
        tap.ok("workers changed: takes effect at restart" in log,
               "logged: workers changed: takes effect at restart")
        tap.ok("server c removed: stopping it once its calls are done" in
               log and "server b changed: stopping" in log and
               "server d added" in log, "the server changes are logged")
        st, _, text = d.request("GET", "/metrics")
        samples, _ = promtext.parse(text.decode())
        up = sorted(lb["server"] for lb, _ in
                    promtext.series(samples, "mcp_server_up"))
        tap.eq(up, ["a", "b", "d"], "metrics: one series per live server")
        calls = {lb["server"]: v for lb, v in promtext.series(
            samples, "mcp_tool_calls_total") if lb.get("outcome") == "ok"}
        tap.ok(calls.get("b", 0) >= 17, "the changed server's counters "
               "were kept", calls)
        st, _, _ = d.request("POST", "/", "x" * 5000)
        tap.eq(st, 413, "the new maxBodyBytes applies")
    finally:
        stop_ok(tap, d, "in flight")


def t_stop_while_retiring(tap):
    """SIGTERM while a removed server (two instances, on two workers)
    still serves a long call: the drain answers it, the daemon stops
    cleanly (the retirement's timers are freed, nothing leaks)."""
    servers = demo_server("keep")
    servers.update(demo_server("gone", instances=2))
    d = Daemon({"mcpServers": servers, "workers": 2,
                "drainTimeoutMs": 1000})
    try:
        old = pids(d)["gone"]
        results = []

        def one():
            results.append(d.call("mcp__gone__sleep", {"ms": 20000},
                                  timeout=120)[0])
        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
        wait_until(lambda: sent(d, "gone") >= 2, 60)
        reload(d, dict(d.config, mcpServers=demo_server("keep")))
        tap.ok(set(old) <= set(d.children()),
               "a removed server with calls in flight keeps running", old)
        tap.eq(d.call("mcp__gone__echo", {"message": "x"})[0], 404,
               "but takes no new call")
        d.signal(signal.SIGTERM)
        for t in threads:
            t.join(120)
        tap.eq(results, [503, 503], "SIGTERM: the drain answers its calls")
        d.proc.wait(60)
        stop_ok(tap, d, "stop while retiring")
        tap.ok(not set(old) & {p.pid for p in processes()},
               "its children are gone")
    finally:
        if not d.checked:
            stop_ok(tap, d, "stop while retiring")


def t_invalid(tap):
    d = Daemon({"mcpServers": demo_server()})
    try:
        good = dict(d.config)
        reload(d, "{\"allowedTools\": [", ok=False)
        log = d.stderr()
        tap.ok(re.search(r"reload failed, the running configuration stays: "
                         r".*config\.json", log),
               "a JSON syntax error is refused, naming the file")
        tap.eq(d.call("mcp__demo__echo", {"message": "x"})[0], 200,
               "the old configuration keeps serving")
        bad = dict(good, maxBodyBytes=-5)
        reload(d, bad, ok=False)
        log = d.stderr()
        tap.ok(re.search(r"reload failed.*maxBodyBytes", log),
               "a bad value is refused, naming the key",
               log[-1500:])
        tap.eq(generation(d), 1, "still generation 1")
        tap.eq(d.call("mcp__demo__echo", {"message": "x"})[0], 200,
               "calls still succeed")
        many = dict(good["mcpServers"])
        for i in range(65):
            many.update(demo_server("s%d" % i))
        reload(d, dict(good, mcpServers=many), ok=False)
        tap.ok(re.search(r"reload failed.*mcpServers: 65 servers to start, "
                         r"but only 64 more", d.stderr()),
               "more servers than reloads may start: refused")
        tap.eq(len(d.children()), 1, "and none was started")
        reload(d, dict(good, allowedTools=["mcp__demo__add"]))
        tap.eq(generation(d), 2, "the next valid file is applied")
        tap.eq(d.call("mcp__demo__echo", {"message": "x"})[0], 403,
               "and its allowlist is in force")
    finally:
        stop_ok(tap, d, "invalid")


def t_allowlist_and_sessions(tap):
    d = Daemon({"mcpServers": demo_server(),
                "allowedTools": ["mcp__demo__echo", "mcp__demo__add"]})
    try:
        st, _, s = d.request("POST", "/sessions", {})
        tap.eq(st, 201, "a session (the daemon's tools)")
        sess = "Bearer " + s["token"]
        add = {"a": 1, "b": 2}
        cfg = dict(d.config, allowedTools=["mcp__demo__echo"])
        reload(d, cfg)
        st, _, b = d.call("mcp__demo__add", add)
        tap.ok(st == 403 and b.get("allowedTools") == ["mcp__demo__echo"],
               "narrowed: the removed tool is 403", (st, b))
        st, _, b = d.call("mcp__demo__add", add, token=sess)
        tap.ok(st == 403 and b.get("allowedTools") == ["mcp__demo__echo"],
               "and 403 for the session made before", (st, b))
        tap.eq(d.call("mcp__demo__echo", {"message": "x"}, token=sess)[0],
               200, "the session survived the reload")
        st, _, b = d.request("POST", "/sessions",
                             {"allowedTools": ["mcp__demo__add"]})
        tap.eq(st, 403, "a new session cannot ask for the removed tool")
        st, _, b = d.request("GET", "/mcp/tools?allowed=true", token=sess)
        names = sorted(t["name"] for t in b["tools"])
        tap.eq(names, ["mcp__demo__echo"],
               "discovery with allowed=true follows the daemon's list too")
        cfg = dict(d.config, allowedTools=["mcp__demo__*"])
        reload(d, cfg)
        tap.eq(d.call("mcp__demo__sleep", {"ms": 1})[0], 200,
               "widened: the daemon token gets the new tools")
        tap.eq(d.call("mcp__demo__sleep", {"ms": 1}, token=sess)[0], 403,
               "but a session's own list is not widened")
        tap.eq(d.call("mcp__demo__add", add, token=sess)[0], 200,
               "its tools are back within the daemon's")
    finally:
        stop_ok(tap, d, "allowlist")


def t_rate_limits(tap):
    limit = {"requests": 2, "windowSeconds": 600}
    d = Daemon({"mcpServers": demo_server(),
                "rateLimits": {"execute": limit, "discovery": limit}})
    try:
        echo = {"message": "x"}
        codes = [d.call("mcp__demo__echo", echo)[0] for _ in range(3)]
        tap.eq(codes, [200, 200, 429], "execute: 2 per window")
        dcodes = [d.request("GET", "/mcp/tools")[0] for _ in range(3)]
        tap.eq(dcodes, [200, 200, 429], "discovery: 2 per window")
        reload(d, dict(d.config, maxSessions=5))
        tap.eq(d.call("mcp__demo__echo", echo)[0], 429,
               "an unchanged limit keeps its buckets")
        more = {"requests": 4, "windowSeconds": 600}
        reload(d, dict(d.config, rateLimits={"execute": more}))
        codes = [d.call("mcp__demo__echo", echo)[0] for _ in range(5)]
        tap.eq(codes, [200] * 4 + [429],
               "a changed limit starts with full buckets of the new size")
        dcodes = [d.request("GET", "/mcp/tools")[0] for _ in range(5)]
        tap.eq(dcodes, [200] * 5,
               "discovery's limit back to its default (30 a minute)")
        reload(d, dict(d.config, rateLimits={}))
        codes = [d.call("mcp__demo__echo", echo)[0] for _ in range(6)]
        tap.eq(codes, [200] * 6, "execute's limit removed")
        reload(d, dict(d.config, rateLimits={"discovery": {
            "requests": 1, "windowSeconds": 600}}))
        dcodes = [d.request("GET", "/mcp/tools")[0] for _ in range(2)]
        tap.eq(dcodes, [200, 429], "discovery's limit back, at 1")
    finally:
        stop_ok(tap, d, "rate limits")


def recv_all(sock, n, timeout=30):
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            break
        if not msg.startswith(("STATUS=", "WATCHDOG=1")):
            out.append(msg)     # not the status timer's
    return out


def t_notify(tap):
    tmp = tempfile.mkdtemp(prefix="mcp-proxyd-notify-")
    path = os.path.join(tmp, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    try:
        d = Daemon({"mcpServers": demo_server()},
                   env=dict(os.environ, NOTIFY_SOCKET=path))
        msgs = recv_all(sock, 1)
        tap.ok(msgs and msgs[0].startswith("READY=1\n"), "READY=1 at start",
               msgs)
        t0 = time.monotonic()
        write_config(d, dict(d.config, maxSessions=3))
        d.signal(signal.SIGHUP)
        msgs = recv_all(sock, 2)
        t1 = time.monotonic()
        m = re.match(r"RELOADING=1\nMONOTONIC_USEC=(\d+)$",
                     msgs[0] if msgs else "")
        tap.ok(m is not None, "RELOADING=1 with MONOTONIC_USEC", msgs)
        usec = int(m.group(1)) if m else 0
        tap.ok(t0 * 1e6 - 1e5 <= usec <= t1 * 1e6 + 1e5,
               "MONOTONIC_USEC is CLOCK_MONOTONIC now", (t0, usec, t1))
        tap.ok(len(msgs) == 2 and msgs[1].startswith("READY=1\nSTATUS=") and
               "reload failed" not in msgs[1],
               "then READY=1 with a STATUS", msgs)
        write_config(d, "{")
        d.signal(signal.SIGHUP)
        msgs = recv_all(sock, 2)
        tap.ok(len(msgs) == 2 and msgs[0].startswith("RELOADING=1\n") and
               msgs[1].startswith("READY=1\nSTATUS=reload failed, "
                                  "generation 2 kept: "),
               "a failed reload: RELOADING=1, then READY=1 and the "
               "STATUS says so", msgs)
        tap.ok(len(msgs) == 2 and "config.json" in msgs[1],
               "and why", msgs)
        write_config(d, dict(d.config, maxSessions=4))
        d.signal(signal.SIGHUP)
        msgs = recv_all(sock, 2)
        tap.ok(len(msgs) == 2 and "reload failed" not in msgs[1],
               "the next good reload clears the failure from STATUS", msgs)
        d.signal(signal.SIGTERM)
        msgs = recv_all(sock, 1)
        tap.ok(msgs and msgs[0].startswith("STOPPING=1"),
               "STOPPING=1 at SIGTERM", msgs)
        d.proc.wait(30)
        stop_ok(tap, d, "notify")
    finally:
        sock.close()
        os.unlink(path)
        os.rmdir(tmp)


def audit_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(ln) for ln in f.read().splitlines()]


def t_audit_and_metrics(tap):
    tmp = tempfile.mkdtemp(prefix="mcp-proxyd-audit-")
    first = os.path.join(tmp, "audit.log")
    second = os.path.join(tmp, "audit2.log")
    d = Daemon({"mcpServers": demo_server(), "auditLog": first})
    try:
        reload(d, dict(d.config, maxSessions=9))
        reload(d, "[]", ok=False)
        wait_until(lambda: len([e for e in audit_lines(first)
                                if e["event"] == "reload"]) == 2, 10)
        ev = [e for e in audit_lines(first) if e["event"] == "reload"]
        tap.ok(len(ev) == 2 and ev[0].get("result") == "ok" and
               ev[0].get("generation") == 2, "audit: an applied reload", ev)
        tap.ok(len(ev) == 2 and ev[1].get("result") == "failed" and
               "config.json" in ev[1].get("error", ""),
               "audit: a failed one, with the reason", ev)
        rotated = first + ".1"
        os.rename(first, rotated)
        reload(d, dict(d.config))
        d.call("mcp__demo__echo", {"message": "x"})
        tap.ok(wait_until(lambda: any(e["event"] == "tool_call" for e in
                                      audit_lines(first)), 10),
               "SIGHUP still re-opens the audit log (logrotate)")
        reload(d, dict(d.config, auditLog=second))
        d.call("mcp__demo__echo", {"message": "y"})
        tap.ok(wait_until(lambda: [e["event"] for e in
                                   audit_lines(second)] ==
                          ["reload", "tool_call"], 10),
               "a new auditLog path is used from the reload on",
               audit_lines(second))
        st, _, text = d.request("GET", "/metrics")
        samples, _ = promtext.parse(text.decode() if isinstance(text, bytes)
                                    else text)
        tap.eq((promtext.value(samples, "config_reloads_total",
                               result="ok"),
                promtext.value(samples, "config_reloads_total",
                               result="failed"),
                promtext.value(samples, "config_generation")),
               (3, 1, 4), "metrics: reloads by result, the generation")
        stamp = promtext.value(
            samples, "config_last_reload_success_timestamp_seconds")
        tap.ok(abs(stamp - time.time()) < 120,
               "metrics: the last successful reload's time", stamp)
        h = d.request("GET", "/health")[2]["config"]
        tap.ok(h["generation"] == 4 and h["loaded"].endswith("Z"),
               "/health shows the generation and its load time", h)
    finally:
        stop_ok(tap, d, "audit")


def t_token_rotation(tap):
    tmp = tempfile.mkdtemp(prefix="mcp-proxyd-token-")
    path = os.path.join(tmp, "token")
    other = os.path.join(tmp, "token2")
    for p, tok in ((path, "first-token-0123456789abcdef"),
                   (other, "other-token-0123456789abcdef")):
        with open(p, "w") as f:
            f.write(tok + "\n")
        os.chmod(p, 0o600)
    d = Daemon({"mcpServers": demo_server(), "authTokenFile": path})
    try:
        d.token = "first-token-0123456789abcdef"
        tap.eq(d.request("GET", "/health")[0], 200, "the file's token")
        st, _, s = d.request("POST", "/sessions", {})
        sess = "Bearer " + s["token"]
        with open(path + ".new", "w") as f:
            f.write("second-token-0123456789abcdef\n")
        os.chmod(path + ".new", 0o600)
        os.rename(path + ".new", path)
        reload(d, dict(d.config), token="second-token-0123456789abcdef")
        tap.eq(d.request("GET", "/health", token="Bearer first-token-"
                         "0123456789abcdef")[0], 401,
               "after a reload the old token is refused")
        tap.eq(d.request("GET", "/health")[0], 200,
               "and the new one in the file works")
        tap.eq(d.call("mcp__demo__echo", {"message": "x"}, token=sess)[0],
               200, "sessions are not affected")
        with open(path, "w") as f:
            f.write("short\n")
        reload(d, dict(d.config), ok=False)
        tap.ok(re.search(r"reload failed.*token", d.stderr()),
               "a token file that does not load refuses the reload")
        tap.eq(d.request("GET", "/health")[0], 200,
               "and the token in force stays")
        with open(path, "w") as f:
            f.write("second-token-0123456789abcdef\n")
        reload(d, dict(d.config, authTokenFile=other))
        tap.ok("authTokenFile changed: takes effect at restart" in
               d.stderr(), "another path needs a restart")
        tap.eq(d.request("GET", "/health")[0], 200,
               "the running path is read again")
    finally:
        stop_ok(tap, d, "token rotation")
        for p in (path, other):
            os.unlink(p)
        os.rmdir(tmp)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def health_on(conn, token):
    conn.request("GET", "/health", headers={"Authorization": "Bearer " +
                                            token})
    r = conn.getresponse()
    r.read()
    return r.status


def t_listeners(tap):
    """listen follows the file: new addresses are opened, gone ones
    closed (a connection made before stays served), kept ones untouched,
    socketMode applied; an address that cannot be bound refuses the
    reload and changes nothing."""
    p2 = free_port()
    sock = os.path.join(tempfile.mkdtemp(prefix="mcp-proxyd-relisten-"),
                        "mcp.sock")
    cfg = {"mcpServers": demo_server(), "listen": ["127.0.0.1:0"]}
    d = Daemon(cfg)
    p1 = d.port
    try:
        kept = http.client.HTTPConnection("127.0.0.1", p1, timeout=30)
        tap.eq(health_on(kept, d.token), 200, "a kept-alive connection on "
               "the first listener")
        cfg["listen"] = ["127.0.0.1:0", "127.0.0.1:%d" % p2, "unix:" + sock]
        reload(d, dict(d.config, **cfg))
        tap.ok(health_on(http.client.HTTPConnection("127.0.0.1", p2,
                                                    timeout=30),
                         d.token) == 200 and
               health_on(UnixHTTPConnection(sock), d.token) == 200 and
               health_on(kept, d.token) == 200,
               "a reload adds a TCP and a Unix listener; the first stays")
        tap.eq(os.stat(sock).st_mode & 0o777, 0o660, "the new socket "
               "file has socketMode's default")
        d.port = p2
        cfg["listen"] = ["127.0.0.1:%d" % p2, "unix:" + sock]
        cfg["socketMode"] = "0600"
        reload(d, dict(d.config, **cfg))
        try:
            socket.create_connection(("127.0.0.1", p1), 5).close()
            refused = None
        except OSError as e:
            refused = e.errno
        tap.eq(refused, errno.ECONNREFUSED, "a listener taken out of the "
               "file is closed: ECONNREFUSED")
        tap.eq(health_on(kept, d.token), 200, "a connection it accepted "
               "before is still served")
        tap.eq(os.stat(sock).st_mode & 0o777, 0o600, "a kept socket gets "
               "the new socketMode")
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        cfg["listen"] = ["127.0.0.1:%d" % p2, "unix:" + sock,
                         "127.0.0.1:%d" % busy.getsockname()[1]]
        reload(d, dict(d.config, **cfg), ok=False)
        busy.close()
        log = d.stderr()
        tap.ok(re.search(r"reload failed.*listen: ", log) is not None,
               "an address in use refuses the reload, naming listen",
               log[-1500:])
        tap.ok(health_on(http.client.HTTPConnection("127.0.0.1", p2,
                                                    timeout=30),
                         d.token) == 200 and
               health_on(UnixHTTPConnection(sock), d.token) == 200,
               "the listeners stay as they were")
        kept.close()
    finally:
        stop_ok(tap, d, "listeners on reload")
    tap.ok(not os.path.exists(sock), "the socket file a reload made is "
           "removed at exit")


def main():
    tap = Tap()
    tap.run(t_listeners)
    tap.run(t_in_flight)
    tap.run(t_stop_while_retiring)
    tap.run(t_invalid)
    tap.run(t_allowlist_and_sessions)
    tap.run(t_rate_limits)
    tap.run(t_notify)
    tap.run(t_audit_and_metrics)
    tap.run(t_token_rotation)
    tap.done()


if __name__ == "__main__":
    main()
