"""The audit log (JSON lines, no params, no tokens, re-opened on SIGHUP)
and request ids (X-Request-Id honoured or made, echoed, logged, passed to
the MCP server in params._meta)."""
import hashlib
import json
import os
import re
import signal
import stat
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Daemon, Tap, demo_server, raw_request,  # noqa: E402
                     parse_raw, stop_ok, wait_until)

SECRET = "s3cr3t-param-value-7f3a"
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
GENERATED = re.compile(r"^[0-9a-f]{16}$")


def read_lines(path):
    """Every line of an audit file, parsed; raises on a bad line."""
    with open(path) as f:
        text = f.read()
    if text and not text.endswith("\n"):
        raise AssertionError("the last line is cut: %r" % text[-200:])
    return [json.loads(ln) for ln in text.splitlines()]


def events(lines, kind):
    return [e for e in lines if e.get("event") == kind]


def audit_daemon(extra=None):
    cfg = {"mcpServers": demo_server(args=["--meta-tools"]),
           "allowedTools": ["mcp__demo__echo", "mcp__demo__meta",
                            "mcp__demo__sleep"],
           "rateLimits": {"discovery": {"requests": 2,
                                        "windowSeconds": 60}}}
    cfg.update(extra or {})
    d = Daemon(cfg)
    return d


def sequence(d):
    """Calls of every kind; returns the request id of the ok call."""
    st, h, _ = d.call("mcp__demo__echo", {"message": SECRET},
                      headers={"X-Request-Id": "call-1"})
    assert st == 200, st
    assert d.call("mcp__demo__add", {"a": 1, "b": 2})[0] == 403
    assert d.call("mcp__demo__echo", {"repeat": SECRET})[0] == 400
    assert d.request("GET", "/health", token="Bearer " + "x" * 20)[0] == 401
    st, _, found = d.request("GET", "/mcp/tools?q=echo&q=sleep")
    assert st == 200, st
    d.request("GET", "/mcp/tools?q=x")
    assert d.request("GET", "/mcp/tools?q=x")[0] == 429
    return h["x-request-id"], len(found["tools"])


def t_audit_file(tap):
    path = os.path.join(tempfile.mkdtemp(prefix="mcp-proxyd-audit-"),
                        "audit.log")
    d = audit_daemon({"auditLog": path})
    try:
        rid, nfound = sequence(d)
        tap.eq(rid, "call-1", "a sane X-Request-Id is kept")
        tap.ok(wait_until(lambda: len(events(read_lines(path),
                                             "rejected")) >= 3, 5),
               "the lines reach the file")
        tap.eq(stat.S_IMODE(os.stat(path).st_mode), 0o600,
               "the audit file is created 0600")
        lines = read_lines(path)
        tap.ok(all(STAMP.match(e.get("timestamp", "")) for e in lines),
               "every line parses, with an ISO 8601 UTC timestamp in ms")
        check_call(tap, events(lines, "tool_call"), d)
        check_rejected(tap, events(lines, "rejected"))
        check_others(tap, lines, nfound)
        with open(path) as f:
            text = f.read()
        tap.ok(SECRET not in text, "no params in the audit log")
        tap.ok(d.token not in text and
               hashlib.sha256(d.token.encode()).hexdigest()[:12] not in text,
               "neither the token nor its digest in the audit log")
        check_rotation(tap, d, path)
    finally:
        stop_ok(tap, d, "audit file")
    lines = read_lines(path)
    tap.ok(len(events(lines, "shutdown")) == 1,
           "the shutdown is audited", lines[-3:])
    exits = events(lines, "server_exit")
    tap.ok(len(exits) == 1 and exits[0]["expected"] is True and
           exits[0]["server"] == "demo", "the server's exit is audited",
           exits)


def check_call(tap, calls, d):
    ok = [e for e in calls if e.get("requestId") == "call-1"]
    tap.eq(len(ok), 1, "one tool_call line for the ok call")
    if not ok:
        return
    e = ok[0]
    args = json.dumps({"message": SECRET}, separators=(",", ":"))
    tap.eq(e.get("paramsSha256"), hashlib.sha256(args.encode()).hexdigest(),
           "paramsSha256 is the SHA-256 of the arguments as sent")
    tap.ok(e.get("tool") == "mcp__demo__echo" and e.get("status") == 200 and
           isinstance(e.get("latencyMs"), (int, float)) and
           e["latencyMs"] >= 0, "tool, status and latency", e)
    tap.ok(re.match(r"^127\.0\.0\.1:\d+$", e.get("client", "")) is not None,
           "client is the peer address", e.get("client"))
    tap.ok(re.match(r"^[0-9a-f]{12}$", e.get("caller", "")) is not None,
           "caller is a short id", e.get("caller"))


def check_rejected(tap, rejected):
    reasons = sorted(e.get("reason") for e in rejected)
    tap.eq(reasons, ["allowlist", "rate_limit", "validation"],
           "rejected: allowlist, validation, rate limit")
    val = [e for e in rejected if e.get("reason") == "validation"]
    tap.ok(val and val[0].get("status") == 400 and "message" in
           val[0].get("error", "") and len(val[0].get("paramsSha256", ""))
           == 64, "a validation failure says why (without the params)",
           val)


def check_others(tap, lines, nfound):
    auth = events(lines, "auth_failure")
    tap.ok(len(auth) == 1 and auth[0].get("status") == 401 and
           "caller" not in auth[0], "auth_failure, without a caller", auth)
    disc = events(lines, "discovery")
    tap.ok(disc and disc[0].get("action") == "discover" and
           disc[0].get("endpoint") == "/mcp/tools" and
           disc[0].get("searchTerms") == ["echo", "sleep"] and
           disc[0].get("resultsCount") == nfound and
           disc[0].get("clientId") == disc[0].get("caller"),
           "discovery with the original's fields", disc[:1])
    start = events(lines, "server_start")
    tap.ok(len(start) == 1 and start[0].get("server") == "demo" and
           start[0].get("pid", 0) > 0, "server_start with its pid", start)


def check_rotation(tap, d, path):
    before = len(read_lines(path))
    os.rename(path, path + ".1")
    d.signal(signal.SIGHUP)
    tap.ok(wait_until(lambda: "re-opening the audit log" in d.stderr(), 5),
           "SIGHUP is logged")
    d.call("mcp__demo__echo", {"message": "x"},
           headers={"X-Request-Id": "after-hup"})
    tap.ok(wait_until(lambda: os.path.exists(path) and any(
        e.get("requestId") == "after-hup" for e in read_lines(path)), 5),
        "after SIGHUP the next line goes to a new file at the path")
    tap.eq(stat.S_IMODE(os.stat(path).st_mode), 0o600, "also 0600")
    tap.eq(len(read_lines(path + ".1")), before,
           "the old file keeps its lines, and gets no more")


def t_audit_stderr(tap):
    d = Daemon({"mcpServers": demo_server()})
    try:
        d.call("mcp__demo__echo", {"message": "x"},
               headers={"X-Request-Id": "to-stderr"})
        tap.ok(wait_until(lambda: '"requestId":"to-stderr"' in d.stderr(),
                          5), "without auditLog the lines go to stderr")
        line = [ln for ln in d.stderr().splitlines()
                if '"requestId":"to-stderr"' in ln][0]
        tap.eq(json.loads(line).get("event"), "tool_call",
               "a whole JSON line on stderr")
    finally:
        stop_ok(tap, d, "audit stderr")


def t_audit_unwritable(tap):
    try:
        d = Daemon({"auditLog": "/nonexistent-dir/audit.log"})
        stop_ok(tap, d, "started with an unwritable audit log")
        tap.ok(False, "an audit log that cannot be opened stops the start")
    except RuntimeError as e:
        tap.ok("audit" in str(e) and "/nonexistent-dir/audit.log" in str(e),
               "an audit log that cannot be opened: exit with a message",
               str(e)[-600:])


def t_request_ids(tap):
    d = audit_daemon({"mcpServers": demo_server(args=["--meta-tools"],
                                                timeoutMs=300)})
    try:
        st, h, body = d.call("mcp__demo__meta", {},
                             headers={"X-Request-Id": "abc.DEF_1:2-3"})
        tap.eq(h.get("x-request-id"), "abc.DEF_1:2-3", "echoed")
        tap.eq(json.loads(body["result"]) if st == 200 else body,
               {"mcp-proxyd/requestId": "abc.DEF_1:2-3"},
               "passed to the server in params._meta")
        ids = []
        for bad in ("bad id", "x" * 129, "é", ""):
            hdr = {"X-Request-Id": bad} if bad else None
            ids.append(d.request("GET", "/health", headers=hdr)[1]
                       .get("x-request-id", ""))
        tap.ok(all(GENERATED.match(i) for i in ids) and
               len(set(ids)) == len(ids),
               "bad or missing ids are replaced by new ones", ids)
        tap.eq(d.request("GET", "/health", headers={
            "X-Request-Id": "y" * 128})[1].get("x-request-id"), "y" * 128,
            "128 bytes are kept")
        st, h, _ = d.request("GET", "/health", token=False)
        tap.ok(st == 401 and GENERATED.match(h.get("x-request-id", "")),
               "a 401 carries one too")
        raw = raw_request(d.port, b"GET /health HTTP/1.1\r\nHost: x\r\n"
                          b"Authorization: Bearer " + d.token.encode() +
                          b"\r\nContent-Length: x\r\n\r\n")
        st, h, _ = parse_raw(raw)
        tap.ok(st == 400 and GENERATED.match(h.get("x-request-id", "")),
               "so does libevent's 400, rewritten", (st, h))
        st, h, _ = d.call("mcp__demo__sleep", {"ms": 3000},
                          headers={"X-Request-Id": "slow-one"})
        tap.eq(st, 504, "a call that times out")
        tap.ok(wait_until(lambda: re.search(r"timed out.*request slow-one",
                                            d.stderr()) is not None, 5),
               "the log line about it names the request")
    finally:
        stop_ok(tap, d, "request ids")


def main():
    tap = Tap()
    tap.run(t_audit_file)
    tap.run(t_audit_stderr)
    tap.run(t_audit_unwritable)
    tap.run(t_request_ids)
    tap.done()


if __name__ == "__main__":
    main()
