"""Sessions: tokens of their own, allowlists within the daemon's, their own
rate buckets, concurrency caps and call logs; expiry, revocation with a
call in flight, the admin routes refused to a session token."""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Daemon, Tap, demo_server, raw_request,  # noqa
                     stop_ok, wait_until)
import promtext  # noqa: E402

DAEMON_TOOLS = ["mcp__demo__echo", "mcp__demo__add", "mcp__demo__sleep"]


def daemon(extra=None):
    cfg = {"mcpServers": demo_server(), "allowedTools": DAEMON_TOOLS}
    cfg.update(extra or {})
    return Daemon(cfg)


def create(d, **body):
    st, _, s = d.request("POST", "/sessions", body)
    if st != 201:
        raise AssertionError("POST /sessions: %d %r" % (st, s))
    return s, "Bearer " + s["token"]


def t_isolation(tap):
    d = daemon({"rateLimits": {"execute": {"requests": 6,
                                           "windowSeconds": 60}}})
    try:
        s1, t1 = create(d, allowedTools=["mcp__demo__echo"], label="one")
        s2, t2 = create(d, allowedTools=["mcp__demo__add"])
        tap.ok(len(s1["token"]) == 64 and s1["sessionId"] not in
               s1["token"] and s1["allowedTools"] == ["mcp__demo__echo"] and
               s1["label"] == "one" and s1["expiresAt"].endswith("Z"),
               "201 with a 64-hex token, an id not derived from it", s1)
        body = b'{"label":"raw"}'
        raw = raw_request(d.port, b"POST /sessions HTTP/1.1\r\nHost: x\r\n"
                          b"Authorization: Bearer " + d.token.encode() +
                          b"\r\nConnection: close\r\nContent-Length: " +
                          str(len(body)).encode() + b"\r\n\r\n" + body)
        tap.eq(raw.split(b"\r\n", 1)[0], b"HTTP/1.1 201 Created",
               "the 201's status line says Created (fuzz_http found "
               "'201 Unknown')")
        out = {}

        def run(name, tok, tool, params):
            out[name] = [d.call(tool, params, token=tok)[0]
                         for _ in range(5)]
        ts = [threading.Thread(target=run, args=a) for a in (
            ("s1", t1, "mcp__demo__echo", {"message": "x"}),
            ("s2", t2, "mcp__demo__add", {"a": 1, "b": 2}))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        tap.eq(out, {"s1": [200] * 5, "s2": [200] * 5},
               "two sessions call in parallel, each its own tool")
        tap.eq(d.call("mcp__demo__add", {"a": 1, "b": 2}, token=t1)[0], 403,
               "a session cannot call a tool outside its allowlist")
        st, _, c1 = d.request("GET", "/mcp/calls", token=t1)
        st2, _, c2 = d.request("GET", "/mcp/calls", token=t2)
        tap.ok(c1["calls"] == ["mcp__demo__echo"] * 5 + ["mcp__demo__add"]
               and c2["calls"] == ["mcp__demo__add"] * 5,
               "each session sees its own calls", (c1["calls"], c2["calls"]))
        e = c1["summary"][0]
        tap.ok(e["toolName"] == "mcp__demo__echo" and e["callCount"] == 5 and
               e["successCount"] == 5 and e["errorCount"] == 0 and
               e["lastCallStatus"] == "success" and e["totalDurationMs"] > 0
               and c1["summary"][1]["lastErrorMessage"].startswith(
                   "Tool 'mcp__demo__add' not in allowlist"),
               "the summary has the original's fields", c1["summary"])
        # Each token has its own bucket of the daemon's execute limit (6).
        tap.eq(d.call("mcp__demo__echo", {"message": "x"}, token=t1)[0], 429,
               "session one has spent its 6 calls")
        tap.eq(d.call("mcp__demo__add", {"a": 1, "b": 2}, token=t2)[0], 200,
               "session two still has its own")
        tap.eq(d.call("mcp__demo__echo", {"message": "x"})[0], 200,
               "and so has the daemon token")
        st, _, all_ = d.request("GET", "/mcp/calls")
        # 5 + 5 + the 403 + session two's and the daemon's last (the 429
        # had no toolName read: refused before its body).
        tap.ok(len(all_["calls"]) == 13,
               "the daemon token sees every caller's calls", all_["calls"])
    finally:
        stop_ok(tap, d, "isolation")


def t_limits_of_a_session(tap):
    d = daemon({"maxSessions": 3})
    try:
        st, _, b = d.request("POST", "/sessions",
                             {"allowedTools": ["mcp__demo__*"]})
        tap.ok(st == 403 and "'mcp__demo__*'" in b["error"],
               "a session cannot widen the daemon's allowlist", (st, b))
        s, tok = create(d, maxConcurrent=1)
        tap.eq(s["allowedTools"], DAEMON_TOOLS,
               "without allowedTools: the daemon's")
        th = threading.Thread(target=d.call, args=(
            "mcp__demo__sleep", {"ms": 1000}), kwargs={"token": tok})
        th.start()
        time.sleep(0.3)
        st, h, b = d.call("mcp__demo__echo", {"message": "x"}, token=tok)
        tap.ok(st == 429 and "maxConcurrent" in b["error"] and
               h.get("retry-after") == "1",
               "maxConcurrent 1: a second call at once is 429", (st, b))
        th.join(30)
        _, tok2 = create(d, rateLimit={"requests": 2, "windowSeconds": 60})
        codes = [d.call("mcp__demo__echo", {"message": "x"},
                        token=tok2)[0] for _ in range(3)]
        tap.eq(codes, [200, 200, 429], "its own rateLimit of 2")
        create(d)
        st, h, b = d.request("POST", "/sessions", {})
        tap.ok(st == 503 and "maxSessions" in b["error"] and
               h.get("retry-after") == "5",
               "maxSessions 3: the 4th is refused, Retry-After", (st, b))
        rej = d.request("GET", "/health")[2]["rejected"]
        tap.eq((rej["sessionBusy"], rej["maxSessions"]), (1, 1),
               "/health counts the maxConcurrent and maxSessions refusals")
        st, _, b = d.request("POST", "/sessions",
                             b'{"label": "' + b"x" * 65536 + b'"}')
        tap.ok(st == 413 and "64 KiB" in b["error"],
               "a session request over 64 KiB is 413", (st, b))
        bad = [{"ttlSeconds": 0}, {"nope": 1}, {"allowedTools": "x"},
               {"label": "x" * 129}, {"rateLimit": {"windowSeconds": 5}},
               {"maxConcurrent": "2"}]
        codes = [d.request("POST", "/sessions", b)[0] for b in bad]
        codes.append(d.request("POST", "/sessions", b"{")[0])
        tap.eq(codes, [400] * 7, "bad session requests are 400")
    finally:
        stop_ok(tap, d, "limits")


def t_admin_routes(tap):
    d = daemon()
    try:
        s, tok = create(d)
        codes = {(m, p): d.request(m, p, token=tok)[0] for m, p in (
            ("GET", "/sessions"), ("POST", "/sessions"),
            ("GET", "/sessions/" + s["sessionId"]),
            ("DELETE", "/sessions/" + s["sessionId"]),
            ("GET", "/health"), ("GET", "/metrics"))}
        tap.ok(set(codes.values()) == {403},
               "the admin routes answer 403 to a session token", codes)
        codes = [d.request("GET", "/mcp/tools?q=echo", token=tok)[0],
                 d.request("GET", "/mcp/calls", token=tok)[0],
                 d.call("mcp__demo__echo", {"message": "x"}, token=tok)[0]]
        tap.eq(codes, [200, 200, 200], "the sandbox routes are open to it")
        tap.eq(d.request("GET", "/sessions/nosuch")[0], 404,
               "an unknown session is 404")
    finally:
        stop_ok(tap, d, "admin routes")


def t_expiry_and_revoke(tap):
    d = daemon()
    try:
        s, tok = create(d, ttlSeconds=1)
        tap.eq(d.call("mcp__demo__echo", {"message": "x"}, token=tok)[0],
               200, "a 1-second session works")
        time.sleep(1.1)
        tap.eq(d.call("mcp__demo__echo", {"message": "x"}, token=tok)[0],
               401, "then its token is refused")
        tap.ok(wait_until(lambda: d.request("GET", "/sessions")[2]
                          ["sessions"] == [], 3), "and it is reaped")
        s, tok = create(d)
        res = {}

        def slow():
            res["call"] = d.call("mcp__demo__sleep", {"ms": 1500},
                                 token=tok)[0]
        th = threading.Thread(target=slow)
        th.start()
        time.sleep(0.4)
        st, _, b = d.request("DELETE", "/sessions/" + s["sessionId"])
        tap.ok(st == 200 and b.get("revoked") is True and
               b.get("inflight") == 1, "revoked with a call in flight", b)
        tap.eq(d.call("mcp__demo__echo", {"message": "x"}, token=tok)[0],
               401, "a revoked token is refused at once")
        th.join(30)
        tap.eq(res.get("call"), 200, "the call in flight completes")
        st, _, all_ = d.request("GET", "/mcp/calls")
        tap.ok(all_["calls"][-1] == "mcp__demo__sleep",
               "and is counted in the daemon-wide log", all_["calls"])
        text = d.request("GET", "/metrics")[2].decode()
        m, _ = promtext.parse(text)
        got = [promtext.value(m, n) for n in (
            "sessions_active", "sessions_created_total",
            "sessions_expired_total", "sessions_revoked_total")]
        tap.eq(got, [0, 2, 1, 1], "sessions in /metrics")
        events = [json.loads(ln)["event"] for ln in d.stderr().splitlines()
                  if ln.startswith('{"timestamp"') and "session_" in ln]
        tap.eq(events, ["session_created", "session_expired",
                        "session_created", "session_revoked"],
               "sessions in the audit log")
    finally:
        stop_ok(tap, d, "expiry and revoke")


def main():
    tap = Tap()
    tap.run(t_isolation)
    tap.run(t_limits_of_a_session)
    tap.run(t_admin_routes)
    tap.run(t_expiry_and_revoke)
    tap.done()


if __name__ == "__main__":
    main()
