"""HTTP front end: ready line, auth gate, routing, limits, /health."""
import errno
import json
import os
import re
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Daemon, Tap, demo_server, parse_raw,  # noqa: E402
                     raw_request, stop_ok, wait_until)

UNAUTH = {"error": "Unauthorized - invalid or missing authentication token",
          "hint": "Provide Authorization: Bearer <token> header"}


def t_ready_line(tap, d):
    tap.ok(re.fullmatch(r'\{"port":\d+,"url":"http://127\.0\.0\.1:\d+/",'
                        r'"authToken":"[0-9a-f]{64}"\}', d.ready_line),
           "ready line has port, url and a 64-hex token", d.ready_line)
    tap.eq(d.ready["url"], "http://127.0.0.1:%d/" % d.port, "url matches port")


def t_auth(tap, d):
    for name, tok in [("missing", None), ("wrong", "Bearer " + "0" * 64),
                      ("lower-case bearer", "bearer " + d.token),
                      ("three words", "Bearer " + d.token + " extra"),
                      ("two spaces", "Bearer  " + d.token),
                      ("basic", "Basic " + d.token)]:
        st, h, body = d.request("GET", "/health", token=tok or False)
        tap.eq((st, body), (401, UNAUTH), "401 for %s token" % name)
        tap.eq(h.get("content-type"), "application/json",
               "401 is JSON (%s)" % name)
    st, _, body = d.request("GET", "/no/such/route", token=False)
    tap.eq((st, body), (401, UNAUTH), "unknown path without token is 401")
    st, _, _ = d.request("GET", "/health")
    tap.eq(st, 200, "right token passes")


def t_routes(tap, d):
    st, h, body = d.request("GET", "/nope")
    tap.eq(st, 404, "unknown route is 404")
    tap.ok(isinstance(body, dict) and body.get("error") == "Not Found" and
           "POST /" in body.get("validRoutes", []) and
           "GET /health" in body.get("validRoutes", []),
           "404 body names the valid routes", body)
    st, h, body = d.request("GET", "/health?x=1&y=2")
    tap.eq(st, 200, "the query string is ignored for routing")
    st, h, body = d.request("GET", "/")
    tap.eq(st, 405, "GET / is 405")
    tap.ok(isinstance(body, dict) and h.get("allow") == "POST",
           "405 is JSON with Allow", (h, body))
    st, h, body = d.request("PATCH", "/health")
    tap.ok(st == 405 and isinstance(body, dict), "PATCH /health is a JSON 405",
           (st, body))
    st, h, body = d.request("OPTIONS", "/")
    tap.ok(st == 405 and isinstance(body, dict), "OPTIONS / is a JSON 405",
           (st, body))


def t_health(tap, d):
    st, h, body = d.request("GET", "/health")
    tap.eq(st, 200, "/health answers 200")
    tap.ok(body.get("healthy") is True, "healthy is true", body)
    tap.ok(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
                        body.get("timestamp", "")), "ISO 8601 timestamp", body)
    tap.ok(isinstance(body.get("uptime"), int) and body["uptime"] >= 0,
           "uptime in ms", body)
    tap.ok(isinstance(body.get("servers"), dict), "servers object", body)


def t_limits(tap, d):
    big = json.dumps({"toolName": "mcp__x__y", "params": {"a": "x" * 4000}})
    st, h, body = d.request("POST", "/", big)
    tap.eq(st, 413, "oversized body is 413")
    tap.ok(isinstance(body, dict) and "error" in body and
           h.get("content-type") == "application/json",
           "413 has a JSON body", (h, body))
    # Chunked body over the limit, no Content-Length.
    chunk = b"x" * 3000
    req = (b"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
           d.token.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n" +
           b"%x\r\n" % len(chunk) + chunk + b"\r\n0\r\n\r\n")
    st, h, body = parse_raw(raw_request(d.port, req))
    tap.eq(st, 413, "oversized chunked body is 413")
    tap.ok(body.startswith(b"{") and json.loads(body).get("error"),
           "chunked 413 is JSON", body[:200])
    st, h, body = parse_raw(raw_request(d.port, b"GARBAGE\r\n\r\n"))
    tap.eq(st, 400, "malformed request line is 400")
    tap.ok(body.startswith(b"{") and b"<HTML>" not in body,
           "400 is JSON, not libevent's HTML", body[:200])
    # evhttp echoes the request's version, a negative one too: the page
    # was not found to rewrite (fuzz_http).
    resp = raw_request(d.port, b"GET /health HTTP/-1.2\r\nno colon\r\n\r\n")
    st, h, body = parse_raw(resp)
    tap.ok(st == 400 and body.startswith(b"{") and b"<HTML>" not in resp,
           "400 to a request of version -1.2 is JSON", resp[:200])
    hdr = b"X-Big: " + b"a" * 8000 + b"\r\n"
    st, h, body = parse_raw(raw_request(
        d.port, b"GET /health HTTP/1.1\r\nHost: x\r\n" + hdr + b"\r\n"))
    tap.ok(400 <= st < 500 and body.startswith(b"{"),
           "headers over maxHeaderBytes get a JSON 4xx", (st, body[:100]))
    # The daemon is still fine.
    st, _, _ = d.request("GET", "/health")
    tap.eq(st, 200, "still serving after bad requests")


def t_pool_path(tap, d):
    st, h, body = d.call("mcp__nosuch__tool", {"a": 1})
    tap.eq(st, 404, "POST / through the worker pool: unknown server is 404")
    tap.ok("not found" in body.get("error", ""), "404 says not found", body)
    st, h, body = d.request("POST", "/", "{not json")
    tap.eq(st, 400, "bad JSON body is 400")
    tap.ok(body.get("error", "").startswith("Invalid JSON"),
           "400 says invalid JSON", body)
    st, h, body = d.request("POST", "/", {"params": {}})
    tap.eq(st, 400, "missing toolName is 400")
    st, h, body = d.request("POST", "/", {"toolName": 42})
    tap.eq(st, 400, "non-string toolName is 400")
    st, h, body = d.request("POST", "/", {"toolName": "justaname"})
    tap.ok(st == 400 and "mcp__" in body.get("error", ""),
           "malformed tool name is 400 and shows the form", body)
    st, h, body = d.request("POST", "/", {"toolName": "mcp__a__b",
                                          "params": [1]})
    tap.eq(st, 400, "non-object params is 400")
    # Many at once through the pool: every one answered.
    results = []

    def worker():
        c = d.conn()
        for _ in range(20):
            results.append(d.call("mcp__nosuch__t", {}, conn=c)[0])
        c.close()
    ts = [threading.Thread(target=worker) for _ in range(10)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    tap.eq(results.count(404), 200, "200 calls from 10 keep-alive clients")


def t_localhost(tap, d):
    try:
        s = socket.create_connection(("::1", d.port), timeout=2)
    except OSError as e:
        if e.errno not in (errno.EADDRNOTAVAIL, errno.ENETUNREACH,
                           errno.EAFNOSUPPORT):
            raise
        tap.skip("a client that resolves localhost to ::1 reaches the "
                 "daemon", "no IPv6 loopback here (%s)" % e)
        return
    s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nAuthorization: "
              b"Bearer " + d.token.encode() + b"\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    tap.eq(parse_raw(data)[0], 200,
           "a client that resolves localhost to ::1 reaches the daemon")


def t_max_connections(tap):
    d = Daemon({"maxConnections": 2})
    try:
        c1, c2 = d.conn(), d.conn()
        tap.eq(d.request("GET", "/health", conn=c1)[0], 200, "conn 1 served")
        tap.eq(d.request("GET", "/health", conn=c2)[0], 200, "conn 2 served")
        got = []
        t = threading.Thread(target=lambda: got.append(
            d.request("GET", "/health", timeout=10)[0]))
        t.start()
        t.join(0.7)
        tap.ok(t.is_alive() and not got,
               "a third connection waits while 2 are open (maxConnections)")
        c1.close()
        t.join(5)
        tap.eq(got, [200], "it is served once one closes")
        c2.close()
    finally:
        stop_ok(tap, d, "maxConnections")


def t_connection_accounting(tap):
    """Every way a connection can end gives its slot back."""
    import socket as so
    d = Daemon({"maxConnections": 3, "mcpServers": {}})
    tok = d.token.encode()
    auth = b"Authorization: Bearer " + tok + b"\r\n"

    def idle_close():
        s = so.create_connection(("127.0.0.1", d.port))
        time.sleep(0.02)
        s.close()

    def leave_mid_request():
        s = so.create_connection(("127.0.0.1", d.port))
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n" + auth +
                  b"Content-Length: 100\r\n\r\n{")
        time.sleep(0.02)
        s.close()
    patterns = [
        ("keep-alive then close", lambda: d.request("GET", "/health")),
        ("Connection: close", lambda: raw_request(
            d.port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: "
            b"close\r\n" + auth + b"\r\n")),
        ("HTTP/1.0", lambda: raw_request(
            d.port, b"GET /health HTTP/1.0\r\n" + auth + b"\r\n")),
        ("401", lambda: raw_request(
            d.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close"
            b"\r\n\r\n")),
        ("bad request after a good one", lambda: raw_request(
            d.port, b"GET /health HTTP/1.1\r\nHost: x\r\n" + auth +
            b"\r\nGARBAGE\r\n\r\n")),
        ("413 after a good one", lambda: raw_request(
            d.port, b"GET /health HTTP/1.1\r\nHost: x\r\n" + auth +
            b"\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: "
            b"99999999\r\n\r\n")),
        ("closed before any request", idle_close),
        ("closed in the middle of a body", leave_mid_request),
    ]
    try:
        for name, fn in patterns:
            for _ in range(8):
                fn()
            ok = wait_until(lambda: d.request("GET", "/health")[2]
                            ["connections"] == 1, 3)
            tap.ok(ok, "slots come back: %s (8 times, maxConnections 3)"
                   % name, d.request("GET", "/health")[2]["connections"])
    finally:
        stop_ok(tap, d, "connection accounting")


def t_token_file(tap):
    import os
    import tempfile
    fd, path = tempfile.mkstemp()
    os.write(fd, b"s3cret-token-for-tests-0123456789\n")
    os.close(fd)
    os.chmod(path, 0o600)
    d = Daemon({"authTokenFile": path})
    try:
        tap.ok("authToken" not in d.ready, "no token in the ready line",
               d.ready_line)
        d.token = "s3cret-token-for-tests-0123456789"
        tap.eq(d.request("GET", "/health")[0], 200, "token from the file")
        tap.eq(d.request("GET", "/health", token="Bearer nope")[0], 401,
               "other tokens refused")
    finally:
        stop_ok(tap, d, "token file")
        os.unlink(path)


def main():
    tap = Tap()
    d = Daemon({"maxBodyBytes": 2048, "maxHeaderBytes": 4096})
    try:
        for fn in (t_ready_line, t_auth, t_routes, t_health, t_limits,
                   t_pool_path, t_localhost):
            tap.run(fn, d)
    finally:
        stop_ok(tap, d, "requests")
    tap.run(t_max_connections)
    tap.run(t_connection_accounting)
    tap.run(t_token_file)
    tap.done()


if __name__ == "__main__":
    main()
