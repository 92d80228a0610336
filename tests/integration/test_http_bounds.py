"""HTTP bounds: what a hostile client can make the daemon spend.

The 401 of a request without a valid token comes as soon as its headers
are in, before its body is read; slow headers and bodies get a 408 within
headerTimeoutMs and bodyTimeoutMs and give their connection slot back;
descriptors are counted (maxConnections is clamped to RLIMIT_NOFILE) and
accept() failing for want of descriptors does not spin.
"""
import json
import os
import re
import select
import shutil
import tempfile
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Daemon, Tap, wait_until  # noqa: E402

UNAUTH = {"error": "Unauthorized - invalid or missing authentication token",
          "hint": "Provide Authorization: Bearer <token> header"}
SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer", "LeakSanitizer")
BIG = 8000000   # under the default maxBodyBytes (8 MiB): evhttp would read it


def open_log(d):
    """The daemon's stderr log, opened through its descriptor: it stays
    readable even if something removes the file meanwhile."""
    try:
        return open("/proc/%d/fd/2" % d.proc.pid, "rb")
    except OSError:
        return open(d.log_path, "rb")


def log_of(d):
    with open_log(d) as f:
        return f.read().decode("utf-8", "replace")


def stop_clean(tap, d, name):
    f = open_log(d)
    rc = d.stop()
    d.checked = True
    tap.eq(rc, 0, "%s: exit 0 after SIGTERM" % name)
    with f:
        log = f.read().decode("utf-8", "replace")
    found = [m for m in SANITIZER_REPORTS if m in log]
    tap.ok(not found, "%s: no sanitizer report in stderr" % name,
           log[-4000:] if found else None)


def connect(d, timeout=10.0):
    s = socket.create_connection(("127.0.0.1", d.port), timeout=timeout)
    s.settimeout(timeout)
    return s


def read_until_eof(s, timeout=10.0):
    """(data, seconds to the first byte, seconds to EOF or None)."""
    start = time.monotonic()
    deadline = start + timeout
    data, first = b"", None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, first, None
        r, _, _ = select.select([s], [], [], left)
        if not r:
            continue
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return data, first, time.monotonic() - start
        if not chunk:
            return data, first, time.monotonic() - start
        if first is None:
            first = time.monotonic() - start
        data += chunk


def split_responses(data):
    """[(status, headers, body)] of the responses in data, in order."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", "0"))
        out.append((int(lines[0].split()[1]), hdrs, rest[:n]))
        data = rest[n:]
    return out


def read_one(s, timeout=10.0):
    """One response on a keep-alive connection: (status, headers, body)."""
    s.settimeout(timeout)
    data = b""
    while True:
        got = split_responses(data)
        if got and len(got[0][2]) >= int(got[0][1].get("content-length",
                                                         "0")):
            return got[0]
        chunk = s.recv(65536)
        if not chunk:
            return got[0] if got else (0, {}, data)
        data += chunk


def jbody(body):
    try:
        return json.loads(body)
    except ValueError:
        return body


def post_head(auth, extra=b"", length=BIG, chunked=False):
    h = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    if auth is not None:
        h += b"Authorization: " + auth + b"\r\n"
    if chunked:
        h += b"Transfer-Encoding: chunked\r\n"
    else:
        h += b"Content-Length: %d\r\n" % length
    return h + extra + b"\r\n"


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serves(d):
    try:
        return d.request("GET", "/health", timeout=5)[0] == 200
    except OSError:
        return False


def health_conns(d):
    st, _, body = d.request("GET", "/health", timeout=10)
    return body.get("connections") if st == 200 else None


# ---------------------------------------------------------------- early 401

def early_401(tap, d, name, head, after=b""):
    """Send head (and after), never the body: the 401 and EOF come at once."""
    s = connect(d)
    try:
        s.sendall(head + after)
        data, first, eof = read_until_eof(s, 10)
    finally:
        s.close()
    got = split_responses(data)
    st, h, body = got[0] if got else (0, {}, data)
    tap.ok(st == 401 and jbody(body) == UNAUTH and len(got) == 1,
           "%s: the 401 JSON, alone" % name, data[:400])
    tap.ok(h.get("www-authenticate") == "Bearer" and
           h.get("connection") == "close" and
           h.get("content-type") == "application/json",
           "%s: WWW-Authenticate: Bearer, Connection: close" % name, h)
    tap.ok(first is not None and first < 2.0,
           "%s: the 401 comes at once, the body never sent (%s s)"
           % (name, first and round(first, 3)))
    tap.ok(eof is not None and eof < 2.5,
           "%s: then EOF (%s s)" % (name, eof and round(eof, 3)))


def t_early_401(tap, d):
    tok = d.token.encode()
    early_401(tap, d, "wrong token, Content-Length 8000000",
              post_head(b"Bearer " + b"0" * 64))
    early_401(tap, d, "no Authorization, Content-Length 8000000",
              post_head(None))
    early_401(tap, d, "chunked, headers only", post_head(b"Bearer x",
                                                         chunked=True))
    early_401(tap, d, "chunked, first chunk-size line sent",
              post_head(None, chunked=True), b"7a1200\r\n")
    early_401(tap, d, "Expect: 100-continue (no 100 before the 401)",
              post_head(b"Bearer nope", b"Expect: 100-continue\r\n"))
    early_401(tap, d, "lower-case scheme", post_head(b"bearer " + tok))
    for name, fold in (("an empty", b" \r\n"), ("a", b"\t x\r\n")):
        early_401(tap, d, "right token folded with %s continuation line"
                  % name, b"POST / HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Bearer " + tok + b"\r\n" + fold +
                  b"Content-Length: %d\r\n\r\n" % BIG)
    early_401(tap, d, "first of two Authorization headers is wrong",
              post_head(b"Bearer nope", b"Authorization: Bearer " + tok +
                        b"\r\n"))
    early_401(tap, d, "PUT with a body", post_head(None).replace(
        b"POST /", b"PUT /", 1))


def t_early_401_keepalive(tap, d):
    """The same refusal as a keep-alive connection's second request (the
    bufferevent's output is frozen between responses: the page was once
    sent as libevent's HTML 413)."""
    tok = d.token.encode()
    for first in (b"GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: "
                  b"Bearer " + tok + b"\r\n\r\n",
                  b"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                  + tok + b"\r\nContent-Length: 2\r\n\r\n{}"):
        s = connect(d)
        try:
            s.sendall(first)
            time.sleep(0.3)
            s.sendall(post_head(b"Bearer " + b"0" * 64))
            data, _, eof = read_until_eof(s, 10)
        finally:
            s.close()
        got = split_responses(data)
        tap.ok(len(got) == 2 and got[1][0] == 401 and
               jbody(got[1][2]) == UNAUTH and got[1][1].get(
                   "connection") == "close" and eof is not None,
               "a wrong token on a kept-alive connection after %s: the 401 "
               "JSON, then EOF" % first.split(b" ", 1)[0].decode(),
               data[:600])


def t_scanner_agrees(tap, d):
    """Tokens evhttp accepts are not refused early: a valid request with
    the header spelled differently gets to the tool call (404: no such
    server), not a 401."""
    tok = d.token.encode()
    body = json.dumps({"toolName": "mcp__nosuch__t", "params": {}}).encode()
    for name, line in [
            ("lower-case header name", b"authorization: Bearer " + tok),
            ("spaces and a tab around the value",
             b"AUTHORIZATION:    Bearer " + tok + b" \t "),
            ("right token first, wrong one second",
             b"Authorization: Bearer " + tok +
             b"\r\nAuthorization: Bearer nope")]:
        req = (b"POST / HTTP/1.1\r\nHost: x\r\n" + line +
               b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
               % len(body) + body)
        s = connect(d)
        try:
            s.sendall(req)
            data, _, _ = read_until_eof(s, 10)
        finally:
            s.close()
        got = split_responses(data)
        tap.ok(got and got[0][0] == 404 and b"not found" in got[0][2],
               "valid token, %s: the request runs (404 unknown server)"
               % name, data[:300])


def t_early_401_rss(tap, d):
    """A client that streams its 8 MB body anyway: the 401 comes, the body
    is discarded, the daemon's memory does not grow by the body size."""
    d.request("GET", "/health")
    before = rss_kb(d.proc.pid)
    s = connect(d)
    sent = [0]

    def pump():
        chunk = b"x" * 65536
        try:
            while sent[0] < BIG:
                sent[0] += s.send(chunk[:BIG - sent[0]])
        except OSError:
            pass
    try:
        s.sendall(post_head(b"Bearer " + b"1" * 64))
        t = threading.Thread(target=pump)
        t.start()
        data, first, eof = read_until_eof(s, 10)
        t.join(15)
    finally:
        s.close()
    time.sleep(0.3)
    grew = rss_kb(d.proc.pid) - before
    got = split_responses(data)
    tap.ok(got and got[0][0] == 401 and jbody(got[0][2]) == UNAUTH,
           "a body streamed anyway: the 401 still arrives", data[:300])
    tap.ok(first is not None and first < 2.0 and eof is not None,
           "... at once (%s s), then EOF" % (first and round(first, 3)))
    tap.ok(grew < BIG // 1024 // 4,
           "RSS grew by %d kB for a %d kB body (%d kB sent), under a "
           "quarter of it" % (grew, BIG // 1024, sent[0] // 1024))


# ---------------------------------------------------------------- still works

def t_valid_requests(tap, d):
    tok = d.token.encode()
    st, _, body = d.call("mcp__nosuch__t", {"a": "x" * 1000000}, timeout=30)
    tap.ok(st == 404 and "not found" in body.get("error", ""),
           "a valid 1 MB body is read and handled", (st, body))
    # Keep-alive: a body-less 401 keeps the connection; the body limit
    # is not left at 0 for the next request.
    c = d.conn()
    try:
        codes = [d.request("GET", "/health", conn=c)[0] for _ in range(3)]
        codes.append(d.request("GET", "/health", token=False, conn=c)[0])
        codes.append(d.call("mcp__nosuch__t", {"a": "y" * 50000},
                            conn=c)[0])
        codes.append(d.request("GET", "/health", conn=c)[0])
        tap.eq(codes, [200, 200, 200, 401, 404, 200],
               "keep-alive: 3 x 200, a 401 without a body, then a body "
               "and a GET on the same connection")
    finally:
        c.close()
    # Pipelined: three requests in one write.
    body = json.dumps({"toolName": "mcp__nosuch__t"}).encode()
    auth = b"Authorization: Bearer " + tok + b"\r\n"
    reqs = (b"GET /health HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n" +
            b"POST / HTTP/1.1\r\nHost: x\r\n" + auth +
            b"Content-Length: %d\r\n\r\n" % len(body) + body +
            b"GET /health HTTP/1.1\r\nHost: x\r\n" + auth +
            b"Connection: close\r\n\r\n")
    s = connect(d)
    try:
        s.sendall(reqs)
        data, _, eof = read_until_eof(s, 10)
    finally:
        s.close()
    tap.eq([r[0] for r in split_responses(data)], [200, 404, 200],
           "three pipelined requests, one with a body: three answers")
    # Pipelined: a good request, then one refused for its token.
    s = connect(d)
    try:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n" +
                  post_head(b"Bearer bad"))
        data, first, eof = read_until_eof(s, 10)
    finally:
        s.close()
    got = split_responses(data)
    tap.ok([r[0] for r in got] == [200, 401] and eof is not None and
           eof < 2.5, "pipelined: 200, then the 401 before the body, "
           "then EOF (%s s)" % (eof and round(eof, 3)), data[:500])


# ---------------------------------------------------------------- slow clients

def dribble(s, payload, interval, limit=10.0):
    """Send payload one byte per interval until an answer comes; then read
    to EOF. (data, seconds from the first byte to the answer)."""
    start = time.monotonic()
    data, answered = b"", None
    for i in range(len(payload)):
        try:
            s.send(payload[i:i + 1])
        except OSError:
            break
        r, _, _ = select.select([s], [], [], interval)
        if r:
            answered = time.monotonic() - start
            break
        if time.monotonic() - start > limit:
            break
    rest, _, _ = read_until_eof(s, 5)
    return data + rest, answered


def timeout_body(what):
    key = {"headers": "headerTimeoutMs", "body": "bodyTimeoutMs"}[what]
    return {"error": "Request Timeout - the request %s did not arrive "
            "within %s (1000 ms)" % (what, key)}


def check_408(tap, name, data, answered, what):
    got = split_responses(data)
    st, h, body = got[0] if got else (0, {}, data)
    tap.ok(st == 408 and jbody(body) == timeout_body(what) and
           h.get("connection") == "close",
           "%s: 408 with the %s message, Connection: close" % (name, what),
           data[:300])
    tap.ok(answered is not None and 0.8 <= answered <= 3.0,
           "%s: after about 1 s (%s s)" % (name,
                                           answered and round(answered, 2)))


def t_header_timeout(tap, d):
    tok = d.token.encode()
    slow = (b"GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
            tok + b"\r\n\r\n")
    s = connect(d)
    try:
        data, answered = dribble(s, slow, 0.2)
    finally:
        s.close()
    check_408(tap, "headers, one byte every 200 ms", data, answered,
              "headers")
    tap.ok(wait_until(lambda: health_conns(d) == 1, 5),
           "its slot is free again", health_conns(d))

    s = connect(d)
    try:
        data, first, eof = read_until_eof(s, 8)
    finally:
        s.close()
    check_408(tap, "a connection that sends nothing", data, first,
              "headers")
    tap.ok(eof is not None, "... and is closed")

    # Four dribblers hold the four slots, and keep their sockets open
    # after their 408; a fifth client waits for the first of them to time
    # out, not longer.
    socks = [connect(d) for _ in range(4)]
    results = [None] * 4
    answered_at = []

    def run(i):
        start = time.monotonic()
        results[i] = dribble(socks[i], slow, 0.2)
        if results[i][1] is not None:
            answered_at.append(start + results[i][1])
    ts = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    try:
        st = d.request("GET", "/health", timeout=15)[0]
    except OSError as e:
        st = repr(e)
    served = time.monotonic()
    for t in ts:
        t.join(15)
    for s in socks:
        s.close()
    first = min(answered_at) if answered_at else served
    # Served only once the first dribbler's 408 freed a slot (timed from
    # that 408, not from t0: on a loaded machine the dribblers' threads
    # start late, and t0 with them).
    tap.ok(st == 200 and answered_at and served >= first - 0.05,
           "maxConnections 4, four dribblers: a fifth client waits (%.2f s)"
           " for the first 408, then is served (status %r)" %
           (served - t0, st))
    tap.ok(served - first <= 0.6,
           "... %.2f s after the first dribbler's 408: its slot came back "
           "at once, though it kept its socket open" % (served - first))
    tap.eq([split_responses(r[0])[0][0] if r and split_responses(r[0])
            else None for r in results], [408] * 4,
           "each dribbler got its 408")

    # Idle keep-alive is idleTimeoutMs's business; a request is timed from
    # its own first byte.
    s = connect(d)
    try:
        s.sendall(slow)
        first = read_one(s)[0]
        time.sleep(1.6)
        s.sendall(slow)
        second = read_one(s)[0]
        tap.eq((first, second), (200, 200),
               "a keep-alive connection idle for 1.6 s still serves")
        time.sleep(0.5)
        data, answered = dribble(s, slow, 0.2)
        check_408(tap, "a second request dribbled on it", data, answered,
                  "headers")
    finally:
        s.close()


def t_body_timeout(tap, d):
    tok = d.token.encode()
    head = post_head(b"Bearer " + tok, length=60)
    body = json.dumps({"toolName": "mcp__nosuch__t", "params": {}}).encode()
    body += b" " * (60 - len(body))
    s = connect(d)
    try:
        s.sendall(head)
        data, answered = dribble(s, body, 0.2)
    finally:
        s.close()
    check_408(tap, "body, one byte every 200 ms", data, answered, "body")

    s = connect(d)
    try:
        s.sendall(post_head(b"Bearer " + tok, chunked=True))
        data, answered = dribble(s, b"3c\r\n" + body + b"\r\n0\r\n\r\n",
                                 0.2)
    finally:
        s.close()
    check_408(tap, "chunked body, one byte every 200 ms", data, answered,
              "body")

    s = connect(d)
    try:
        s.sendall(head)
        data, first, eof = read_until_eof(s, 8)
    finally:
        s.close()
    check_408(tap, "headers but no body", data, first, "body")
    tap.ok(wait_until(lambda: health_conns(d) == 1, 5),
           "their slots are free again", health_conns(d))
    st, _, b = d.request("POST", "/", body)
    tap.eq(st, 404, "a body sent at once is still handled")


# ---------------------------------------------------------------- descriptors

WRAPPER = """#!%(python)s
import os, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (%(soft)d, %(hard)d))
for _ in range(%(extra)d):
    os.set_inheritable(os.open("/dev/null", os.O_RDONLY), True)
os.execv(%(real)r, [%(real)r] + sys.argv[1:])
"""


def limited_daemon(config, soft, hard, extra=0):
    """The daemon started with RLIMIT_NOFILE soft/hard and extra open
    descriptors (what preexec_fn would do), through an exec wrapper."""
    real = harness.MCP_PROXYD
    tmp = tempfile.mkdtemp(prefix="mcp-proxyd-nofile-")
    path = os.path.join(tmp, "mcp-proxyd")
    with open(path, "w") as f:
        f.write(WRAPPER % {"python": sys.executable, "soft": soft,
                           "hard": hard, "extra": extra, "real": real})
    os.chmod(path, 0o755)
    harness.MCP_PROXYD = path
    try:
        d = Daemon(config)
    finally:
        harness.MCP_PROXYD = real
        shutil.rmtree(tmp, ignore_errors=True)
    return d


def t_fd_limits(tap):
    d = limited_daemon({"mcpServers": {}, "workers": 2,
                        "maxConnections": 1000, "headerTimeoutMs": 60000},
                       128, 128, extra=70)
    try:
        log = log_of(d)
        m = re.search(r"maxConnections 1000 lowered to (\d+): "
                      r"RLIMIT_NOFILE is 128", log)
        tap.ok(m is not None, "the clamp is logged (RLIMIT_NOFILE 128)",
               log[-2000:])
        tap.ok("RLIMIT_NOFILE is 128" in log,
               "the descriptor limit is logged at start")
        used = len(os.listdir("/proc/%d/fd" % d.proc.pid))
        limit = int(m.group(1)) if m else 0
        tap.diag("descriptors in use: %d of 128; maxConnections %d"
                 % (used, limit))
        tap.ok(128 - used < limit,
               "fewer descriptors left (%d) than connections allowed (%d): "
               "accept() will fail" % (128 - used, limit))
        socks = []
        for _ in range(128 - used + 30):
            socks.append(socket.create_connection(("127.0.0.1", d.port),
                                                  timeout=5))
        time.sleep(0.5)
        c0 = cpu_seconds(d.proc.pid)
        time.sleep(2.0)
        spent = cpu_seconds(d.proc.pid) - c0
        tap.ok(spent < 0.2, "%d connections, more than the descriptors: "
               "%.2f s of CPU in 2 s (no busy loop)" % (len(socks), spent))
        log = log_of(d)
        tap.ok("cannot accept a connection: Too many open files" in log,
               "accept() failing is logged", log[-2000:])
        tap.ok(len(re.findall("cannot accept a connection", log)) <= 2,
               "... rate limited")
        for s in socks:
            s.close()
        tap.ok(wait_until(lambda: serves(d), 10),
               "serves normally once they have closed")
        tap.ok(rejected(d, "acceptPaused") >= 1,
               "the pauses are counted in /health")
    finally:
        stop_clean(tap, d, "RLIMIT_NOFILE 128")

    d = limited_daemon({"mcpServers": {}, "workers": 2,
                        "maxConnections": 1000}, 48, 48)
    try:
        log = log_of(d)
        tap.ok(re.search(r"maxConnections 1000 lowered to \d+: "
                         r"RLIMIT_NOFILE is 48", log) is not None,
               "ulimit -n 48: the clamp is logged", log[-2000:])
        socks = [socket.create_connection(("127.0.0.1", d.port), timeout=5)
                 for _ in range(60)]
        time.sleep(0.3)
        c0 = cpu_seconds(d.proc.pid)
        time.sleep(2.0)
        spent = cpu_seconds(d.proc.pid) - c0
        tap.ok(spent < 0.2, "60 connections at ulimit -n 48: %.2f s of "
               "CPU in 2 s" % spent)
        for s in socks:
            s.close()
        tap.ok(wait_until(lambda: serves(d), 10),
               "serves normally once they have closed")
    finally:
        stop_clean(tap, d, "RLIMIT_NOFILE 48")

    d = limited_daemon({"mcpServers": {}, "workers": 2}, 256, 512)
    try:
        tap.ok("RLIMIT_NOFILE raised from 256 to 512" in log_of(d),
               "the soft limit is raised to the hard one", log_of(d)[-2000:])
        tap.eq(d.request("GET", "/health")[0], 200, "and it serves")
    finally:
        stop_clean(tap, d, "RLIMIT_NOFILE 256/512")


def rejected(d, what):
    return d.request("GET", "/health")[2]["rejected"][what]


def main():
    tap = Tap()
    d = Daemon({"mcpServers": {}})
    try:
        for fn in (t_early_401, t_early_401_keepalive, t_scanner_agrees, t_early_401_rss,
                   t_valid_requests):
            tap.run(fn, d)
        n = rejected(d, "earlyUnauthorized")
        tap.ok(n >= 8, "the early 401s are counted in /health (%d)" % n)
    finally:
        stop_clean(tap, d, "default limits")
    d = Daemon({"mcpServers": {}, "headerTimeoutMs": 1000,
                "bodyTimeoutMs": 1000, "maxConnections": 4})
    try:
        for fn in (t_header_timeout, t_body_timeout):
            tap.run(fn, d)
        tap.ok(rejected(d, "headerTimeout") >= 3 and
               rejected(d, "bodyTimeout") >= 3,
               "the 408s are counted in /health", d.request(
                   "GET", "/health")[2]["rejected"])
    finally:
        stop_clean(tap, d, "1 s timeouts")
    tap.run(t_fd_limits)
    tap.done()


if __name__ == "__main__":
    main()
