"""The Streamable HTTP client's protocol details against a scripted
server written here (http.server): the headers sent (from the
environment and a headers file, Mcp-Session-Id, MCP-Protocol-Version,
Accept), an answer on an event stream with a notification and a
server-to-client request on the way (answered by a POST), an answer
over maxMessageBytes (502, the server stays), a 500 (restart, a new
session), a forgotten session (404: a new session), and the session's
DELETE at shutdown. The GET stream of the server's own messages: refused
(405: asked for once per session), then offered (list_changed, a ping
answered by a POST, a dropped stream reopened with Last-Event-ID, a new
session's own stream and tool list, closed before the DELETE)."""
import json
import os
import queue
import select
import socket
import sys
import time
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, Tap, stop_ok, wait_until  # noqa: E402

TOOLS = [{"name": n, "inputSchema": {"type": "object"}}
         for n in ("echo", "big", "boom", "slow", "flaky")]


class Fake:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []      # (method, headers, body)
        self.sessions = 0
        self.session = None
        self.refuse_init = False
        self.dropped = False
        self.cancelled = []     # requestIds of notifications/cancelled
        self.answers = {}       # our request id -> the daemon's answer
        self.answered = threading.Condition(self.lock)
        self.get_stream = False  # GET: 405, else an event stream
        self.tools = list(TOOLS)
        self.streams = []       # the open GET streams' queues
        self.evid = 0           # the last event id sent on a GET stream
        self.get_open_at_delete = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            nreq = 0

            def do_POST(self):
                self.nreq += 1
                n = int(self.headers.get("Content-Length", 0))
                fake.post(self, json.loads(self.rfile.read(n)))

            def do_GET(self):
                fake.get(self)

            def do_DELETE(self):
                fake.record(self, "DELETE", None)
                with fake.lock:
                    fake.get_open_at_delete = any(
                        not closed(c) for c, _, _ in fake.streams)
                self.reply(200, b"", "text/plain")

            def reply(self, status, body, ctype="application/json",
                      headers=()):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever,
                         daemon=True).start()

    def record(self, h, method, body):
        with self.lock:
            self.requests.append((method, dict(h.headers.items()), body))

    def post(self, h, msg):
        self.record(h, "POST", msg)
        m = msg.get("method")
        if m == "initialize" and self.refuse_init:
            return h.reply(403, b'{"error":"no"}')
        if m == "initialize":
            with self.lock:
                self.sessions += 1
                self.session = "sess-%d" % self.sessions
            result = {"protocolVersion": "2025-11-25",
                      "capabilities": {"tools": {}},
                      "serverInfo": {"name": "fake", "version": "1"}}
            return h.reply(200, json.dumps({"jsonrpc": "2.0",
                                            "id": msg["id"],
                                            "result": result}).encode(),
                           headers=[("Mcp-Session-Id", self.session)])
        if h.headers.get("Mcp-Session-Id") != self.session:
            return h.reply(404, b'{"error":"unknown session"}')
        if "method" not in msg:             # an answer to our request
            with self.lock:
                self.answers[msg.get("id")] = msg
                self.answered.notify_all()
            return h.reply(202, b"")
        if "id" not in msg:                 # a notification
            if m == "notifications/cancelled":
                with self.lock:
                    self.cancelled.append(msg["params"].get("requestId"))
                    self.answered.notify_all()
            return h.reply(202, b"")
        if m == "ping":
            return h.reply(200, json.dumps({"jsonrpc": "2.0",
                                            "id": msg["id"],
                                            "result": {}}).encode())
        if m == "tools/list":
            return h.reply(200, json.dumps({"jsonrpc": "2.0",
                                            "id": msg["id"], "result": {
                                                "tools": self.tools}}
                                           ).encode())
        name = msg["params"]["name"]
        if name == "added":
            return h.reply(200, json.dumps({
                "jsonrpc": "2.0", "id": msg["id"], "result": {
                    "content": [{"type": "text", "text": "added"}]}}
            ).encode())
        if name == "boom":
            return h.reply(500, b"internal error")
        if name == "flaky" and h.nreq > 1 and not self.dropped:
            self.dropped = True         # a kept-alive connection closed
            h.close_connection = True   # as the request came, unanswered
            return
        if name == "flaky":
            return h.reply(200, json.dumps({
                "jsonrpc": "2.0", "id": msg["id"], "result": {
                    "content": [{"type": "text", "text": "flaky"}]}}
            ).encode())
        if name == "slow":
            return self.slow(h, msg)
        if name == "big":
            text = "x" * (2 * 1024 * 1024)
            return h.reply(200, json.dumps({
                "jsonrpc": "2.0", "id": msg["id"], "result": {
                    "content": [{"type": "text", "text": text}]}}).encode())
        self.stream(h, msg)

    def stream(self, h, msg):
        """The answer on an event stream, after a log notification and
        a roots/list request that the daemon must answer first."""
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

        def event(obj):
            data = ("event: message\r\ndata: %s\r\n\r\n" %
                    json.dumps(obj)).encode()
            h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            h.wfile.flush()
        event({"jsonrpc": "2.0", "method": "notifications/message",
               "params": {"level": "info", "data": "working"}})
        rid = "ask-%s" % msg["id"]
        event({"jsonrpc": "2.0", "id": rid, "method": "roots/list"})
        with self.lock:
            self.answered.wait_for(lambda: rid in self.answers, 20)
            got = rid in self.answers
        text = "Echo: %s (roots answered: %s)" % (
            msg["params"]["arguments"].get("message"), got)
        event({"jsonrpc": "2.0", "id": msg["id"], "result": {
            "content": [{"type": "text", "text": text}]}})
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()

    def slow(self, h, msg):
        """No answer: the stream ends when the call is cancelled."""
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        h.wfile.flush()
        with self.lock:
            self.answered.wait_for(lambda: msg["id"] in self.cancelled, 20)
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()

    def get(self, h):
        """The GET stream: 405, or events from push() until drop() or
        until the daemon closes it."""
        self.record(h, "GET", None)
        if not self.get_stream:
            return h.reply(405, b"", "text/plain", [("Allow", "POST")])
        if h.headers.get("Mcp-Session-Id") != self.session:
            return h.reply(404, b'{"error":"unknown session"}')
        q = queue.Queue()
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        with self.lock:
            self.streams.append((h.connection, q, self.session))
        try:
            self.event(h, None)         # primes: an id, empty data
            while True:
                try:
                    obj = q.get(timeout=0.1)
                except queue.Empty:
                    if closed(h.connection):
                        break
                    continue
                if obj is None:         # dropped, no last chunk
                    break
                self.event(h, obj)
        except OSError:
            pass                        # the daemon closed it
        finally:
            h.close_connection = True
            with self.lock:
                self.streams = [s for s in self.streams if s[1] is not q]

    def event(self, h, obj):
        with self.lock:
            self.evid += 1
            n = self.evid
        data = ("id: ev-%d\r\ndata: %s\r\n\r\n" %
                (n, json.dumps(obj) if obj is not None else "")).encode()
        h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        h.wfile.flush()

    def push(self, obj):
        """obj on every open GET stream (None drops them): how many."""
        with self.lock:
            qs = [q for _, q, _ in self.streams]
        for q in qs:
            q.put(obj)
        return len(qs)

    def forget(self):
        with self.lock:
            self.session = "forgotten"

    def seen(self, pred):
        with self.lock:
            return [r for r in self.requests if pred(r)]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def closed(sock):
    """The peer closed sock (readable with nothing to read)."""
    try:
        r, _, _ = select.select([sock], [], [], 0)
        return bool(r) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def gets(fake):
    return fake.seen(lambda r: r[0] == "GET")


def headers(tap, fake):
    posts = fake.seen(lambda r: r[0] == "POST")
    init = [r for r in posts if r[2].get("method") == "initialize"]
    later = [r for r in posts if r[2].get("method") == "tools/list"]
    tap.ok(init and later, "initialize and tools/list were POSTed")
    if not (init and later):
        return
    h0, h1 = init[0][1], later[0][1]
    tap.ok(h0.get("Authorization") == "Bearer from-the-environment" and
           h0.get("X-From-File") == "file-value" and
           h1.get("Authorization") == "Bearer from-the-environment",
           "headers from the environment and from headersFile", h1)
    tap.ok(h0.get("Accept") == "application/json, text/event-stream" and
           h0.get("Content-Type") == "application/json",
           "Accept and Content-Type", h0)
    tap.ok("Mcp-Session-Id" not in h0 and "MCP-Protocol-Version" not in h0
           and h1.get("Mcp-Session-Id") == "sess-1" and
           h1.get("MCP-Protocol-Version") == "2025-11-25",
           "the session id and the protocol version after initialize", h1)


def main():
    tap = Tap()
    fake = Fake()
    tmp = tempfile.mkdtemp(prefix="mcp-proto-")
    hfile = os.path.join(tmp, "headers.json")
    with open(os.open(hfile, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        json.dump({"X-From-File": "file-value"}, f)
    env = dict(os.environ, MCP_PROXYD_TEST_SECRET="from-the-environment")
    d = Daemon({"mcpServers": {"fake": {
        "url": "http://127.0.0.1:%d/mcp" % fake.port,
        "headers": {"Authorization": "Bearer ${MCP_PROXYD_TEST_SECRET}"},
        "headersFile": hfile, "timeoutMs": 20000,
        "toolTimeouts": {"slow": 500}}},
        "maxMessageBytes": 1048576, "startTimeoutMs": 20000,
        "drainTimeoutMs": 2000}, env=env)
    try:
        headers(tap, fake)
        refused(tap, fake, d)
        st, _, body = d.call("mcp__fake__echo", {"message": "hi"})
        tap.eq((st, body), (200, {"result": "Echo: hi (roots answered: "
                                  "True)"}),
               "an answer on an event stream after a notification and a "
               "server-to-client request answered on the way")
        answer = list(fake.answers.values())[:1]
        tap.ok(answer and ("result" in answer[0] or "error" in answer[0]),
               "the roots/list request got a JSON-RPC answer", answer)
        st, _, body = d.call("mcp__fake__slow", {})
        tap.eq(st, 504, "past its timeout: 504")
        ok = wait_until(lambda: fake.cancelled, 10)
        calls = fake.seen(lambda r: r[0] == "POST" and
                          r[2].get("params", {}).get("name") == "slow")
        tap.ok(ok and calls and fake.cancelled == [calls[0][2]["id"]],
               "notifications/cancelled POSTed with the call's id",
               (fake.cancelled, calls[:1]))
        st, _, body = d.call("mcp__fake__flaky", {})
        tap.ok(st == 200 and fake.dropped and fake.sessions == 1,
               "a kept-alive connection closed under a request: sent again "
               "on a new one", (st, body, fake.dropped))
        st, _, body = d.call("mcp__fake__big", {})
        tap.ok(st == 502 and "maxMessageBytes" in str(body),
               "an answer over maxMessageBytes: 502", body)
        st, _, body = d.call("mcp__fake__echo", {"message": "again"})
        tap.ok(st == 200 and fake.sessions == 1,
               "the server serves the next call in the same session", body)
        fake.forget()
        st, _, body = d.call("mcp__fake__echo", {"message": "lost"})
        tap.eq((st, body), (200, {"result": "Echo: lost (roots answered: "
                                  "True)"}),
               "a forgotten session (404): the call is sent again in a "
               "new session")
        inits = fake.seen(lambda r: r[0] == "POST" and r[2].get("method") in
                          ("initialize", "notifications/initialized"))
        tap.ok(fake.sessions == 2 and len(inits) == 4,
               "the handshake was replayed once", (fake.sessions, inits))
        tap.ok("no longer knows our session: starting a new one" in
               d.stderr(), "the lost session is logged")
        st, _, body = d.call("mcp__fake__boom", {})
        tap.ok(st == 502 and "HTTP 500" in str(body),
               "HTTP 500: the call fails with 502", body)
        ok = wait_until(lambda: d.call("mcp__fake__echo", {
            "message": "y"})[0] == 200, 30, 0.2)
        tap.ok(ok and fake.sessions == 3,
               "the server is restarted with a new session", fake.sessions)
        fake.refuse_init = True
        fake.forget()
        st, _, body = d.call("mcp__fake__echo", {"message": "z"})
        tap.ok(st in (502, 503) and
               "refused a new one (HTTP 403)" in d.stderr(),
               "a new session refused: the call fails, the server restarts",
               (st, body))
        fake.refuse_init = False
        ok = wait_until(lambda: d.call("mcp__fake__echo", {
            "message": "w"})[0] == 200, 30, 0.2)
        tap.ok(ok and fake.sessions == 4, "and comes back", fake.sessions)
    finally:
        stop_ok(tap, d, "daemon with the scripted server")
    deletes = fake.seen(lambda r: r[0] == "DELETE")
    tap.ok(len(deletes) == 1 and deletes[0][1].get("Mcp-Session-Id") ==
           "sess-4", "the session is DELETEd at shutdown",
           [r[1] for r in deletes])
    tap.ok(len(gets(fake)) == fake.sessions,
           "a GET stream refused with 405 is asked for once per session",
           (len(gets(fake)), fake.sessions))
    fake.close()
    os.unlink(hfile)
    os.rmdir(tmp)
    stream(tap)
    tap.done()


def refused(tap, fake, d):
    """A GET answered 405: asked for once, with the session's headers,
    and not again (the calls go on as before)."""
    ok = wait_until(lambda: gets(fake), 10)
    time.sleep(3)
    got = gets(fake)
    tap.ok(ok and len(got) == 1, "a GET stream refused (405) is not asked "
           "for again", len(got))
    h = got[0][1] if got else {}
    tap.ok(h.get("Accept") == "text/event-stream" and
           h.get("Mcp-Session-Id") == "sess-1" and
           h.get("MCP-Protocol-Version") == "2025-11-25" and
           "Last-Event-ID" not in h,
           "the GET's Accept, session and protocol version", h)
    tap.ok(d.stderr().count("offers no stream of its own messages "
                            "(GET: HTTP 405)") == 1,
           "the refusal is logged once")


def stream(tap):
    """A server that offers the GET stream."""
    fake = Fake()
    fake.get_stream = True
    d = Daemon({"mcpServers": {"fake": {
        "url": "http://127.0.0.1:%d/mcp" % fake.port, "timeoutMs": 20000}},
        "maxMessageBytes": 1048576, "startTimeoutMs": 20000,
        "drainTimeoutMs": 2000})
    try:
        stream_calls(tap, d, fake)
    finally:
        stop_ok(tap, d, "daemon with a server offering its GET stream")
    deletes = fake.seen(lambda r: r[0] == "DELETE")
    wait_until(lambda: not fake.streams, 5)
    tap.ok(len(deletes) == 1 and fake.get_open_at_delete is False and
           not fake.streams and deletes[0][1].get("Mcp-Session-Id") ==
           "sess-3",
           "at stop the GET stream is closed before the session's DELETE",
           (len(deletes), fake.get_open_at_delete, len(fake.streams)))
    fake.close()


def stream_calls(tap, d, fake):
    ok = wait_until(lambda: fake.streams, 10)
    tap.ok(ok, "the GET stream is opened after initialization")
    st, _, _ = d.call("mcp__fake__added", {})
    tap.eq(st, 404, "a tool the server does not have yet: 404")
    fake.tools.append({"name": "added", "description": "new one",
                       "inputSchema": {"type": "object"}})
    fake.push({"jsonrpc": "2.0",
               "method": "notifications/tools/list_changed"})
    ok = wait_until(lambda: d.call("mcp__fake__added", {})[0] == 200,
                    10, 0.2)
    tap.ok(ok, "list_changed on the GET stream: the new tool is callable")
    st, _, body = d.request("GET", "/mcp/tools?q=added")
    names = [t["name"] for t in body.get("tools", [])] \
        if isinstance(body, dict) else []
    tap.ok(st == 200 and "mcp__fake__added" in names,
           "and found by discovery", body)
    fake.push({"jsonrpc": "2.0", "id": "srv-ping-1", "method": "ping"})
    with fake.lock:
        fake.answered.wait_for(lambda: "srv-ping-1" in fake.answers, 10)
        ans = fake.answers.get("srv-ping-1")
    tap.ok(ans is not None and ans.get("result") == {},
           "a ping on the GET stream is answered by a POST with its id",
           ans)
    before = len(gets(fake))
    big = "ev-%d" % (fake.evid + 1)   # the stream is idle
    fake.push({"jsonrpc": "2.0", "method": "notifications/message",
               "params": {"level": "info", "data": "x" * 1500000}})
    ok = wait_until(lambda: "dropped an event of more than maxMessageBytes"
                    in d.stderr() and len(gets(fake)) > before and
                    fake.streams, 10)
    got = gets(fake)
    tap.ok(ok and got[-1][1].get("Last-Event-ID") == big and
           fake.sessions == 1,
           "an event over maxMessageBytes on the GET stream: dropped, the "
           "stream reopened after it, the server not restarted",
           (big, got[-1][1].get("Last-Event-ID"), fake.sessions))
    before = len(gets(fake))
    last = "ev-%d" % fake.evid
    t0 = time.monotonic()
    fake.push(None)
    ok = wait_until(lambda: len(gets(fake)) > before and fake.streams, 10)
    got = gets(fake)
    tap.ok(ok and got[-1][1].get("Last-Event-ID") == last and
           time.monotonic() - t0 >= 0.9,
           "a dropped GET stream is reopened after a backoff, with "
           "Last-Event-ID", (last, [g[1].get("Last-Event-ID")
                                    for g in got]))
    st, _, _ = d.call("mcp__fake__echo", {"message": "x"})
    tap.eq(st, 200, "calls go on beside the GET stream")
    nlists = len(fake.seen(lambda r: r[0] == "POST" and
                           r[2].get("method") == "tools/list"))
    fake.forget()
    before = len(gets(fake))
    fake.push(None)
    ok = wait_until(lambda: "refused the stream of its own messages for "
                    "our session (HTTP 404)" in d.stderr(), 10)
    time.sleep(2.5)
    tap.ok(ok and len(gets(fake)) == before + 1,
           "a GET in a forgotten session (404): no stream, not asked for "
           "again in that session", len(gets(fake)) - before)
    st, _, _ = d.call("mcp__fake__echo", {"message": "lost"})
    tap.eq(st, 200, "a forgotten session: the call goes on in a new one")
    ok = wait_until(lambda: any(g[1].get("Mcp-Session-Id") == "sess-2"
                                for g in gets(fake)) and
                    len(fake.streams) == 1, 10)
    new = [g[1] for g in gets(fake) if g[1].get("Mcp-Session-Id") ==
           "sess-2"]
    tap.ok(ok and len(new) == 1 and "Last-Event-ID" not in new[0],
           "the new session opens its own GET stream",
           (new, len(fake.streams)))
    ok = wait_until(lambda: len(fake.seen(
        lambda r: r[0] == "POST" and r[2].get("method") == "tools/list"))
        > nlists, 10)
    tap.ok(ok, "the tools are listed again in the new session")
    fake.forget()
    st, _, _ = d.call("mcp__fake__echo", {"message": "lost again"})
    ok = wait_until(lambda: [s[2] for s in fake.streams] == ["sess-3"], 10)
    tap.ok(st == 200 and ok, "a session replaced while its GET stream is "
           "open: that stream is closed, the new session's opened",
           (st, [s[2] for s in fake.streams]))


if __name__ == "__main__":
    main()
