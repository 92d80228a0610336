#!/usr/bin/env python3
"""test_demo_server.py: black-box tests of mcp-demo-server over its stdio.

Starts the server binary ($MCP_DEMO_SERVER, default ./src/mcp-demo-server)
with pipes, speaks newline-delimited JSON-RPC to it as an MCP client would,
and prints TAP. Python standard library only.
"""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

BIN = os.environ.get("MCP_DEMO_SERVER", "./src/mcp-demo-server")
TIMEOUT = 5.0
# The tools for hostile callers and broken servers, listed last, with
# their input schemas (descriptions of the tools aside) as they must be.
HOSTILE_TOOLS = [
    ("unique", {"type": "object", "properties": {"xs": {
        "type": "array", "uniqueItems": True,
        "description": "Any JSON values, no two of them equal."}},
        "required": ["xs"]}),
    ("match", {"type": "object", "properties": {"words": {
        "type": "array", "items": {"type": "string",
                                   "pattern": "^(a|aa)+$"}}},
        "required": ["words"]}),
    ("stall", {"type": "object", "properties": {"ms": {
        "type": "integer", "minimum": 0, "maximum": 3600000,
        "description": "0: until the process is killed"}}}),
    ("churn", {"type": "object", "properties": {
        "count": {"type": "integer", "minimum": 1, "maximum": 1000000,
                  "default": 1000},
        "toggle": {"type": "boolean", "default": False,
                   "description": "also flip the extra tool each time, "
                   "so the list really changes"}}}),
]
EXPECTED_TOOLS = {
    "echo", "add", "sleep", "fail", "crash", "big", "noise", "structured",
    "toggle_extra_tool", "order", "progress", "ask_client",
} | {name for name, _ in HOSTILE_TOOLS}
LIST_CHANGED = "notifications/tools/list_changed"


class Server:
    """One server process; messages from its stdout arrive on a queue."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [BIN, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self.inbox = queue.Queue()
        self.stash = []          # messages read but not yet claimed
        self.stderr = []
        self.next_id = 1
        self.lock = threading.Lock()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self):
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                msg = {"_raw": line.decode("utf-8", "replace").rstrip("\n")}
            msg["_t"] = time.monotonic()
            self.inbox.put(msg)
        self.inbox.put(None)

    def _read_stderr(self):
        for line in self.proc.stderr:
            with self.lock:
                self.stderr.append(line.decode("utf-8", "replace"))

    def stderr_text(self):
        with self.lock:
            return "".join(self.stderr)

    def send_raw(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, msg):
        self.send_raw(json.dumps(msg).encode() + b"\n")

    def request(self, method, params=None, rid=None):
        if rid is None:
            rid = self.next_id
            self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return rid

    def notify(self, method, params=None):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    def wait(self, pred, timeout=TIMEOUT, what="a message"):
        """First message (stashed or new) for which pred is true."""
        for i, msg in enumerate(self.stash):
            if pred(msg):
                return self.stash.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for " + what)
            try:
                msg = self.inbox.get(timeout=left)
            except queue.Empty:
                continue
            if msg is None:
                self.inbox.put(None)
                raise AssertionError("server closed stdout waiting for "
                                     + what)
            if pred(msg):
                return msg
            self.stash.append(msg)

    def response(self, rid, timeout=TIMEOUT):
        return self.wait(lambda m: m.get("id") == rid and "method" not in m
                         and ("result" in m or "error" in m),
                         timeout, "the response to id %r" % (rid,))

    def call(self, method, params=None, timeout=TIMEOUT):
        return self.response(self.request(method, params), timeout)

    def tool(self, name, arguments=None, timeout=TIMEOUT):
        params = {"name": name}
        if arguments is not None:
            params["arguments"] = arguments
        msg = self.call("tools/call", params, timeout)
        check("result" in msg, "tools/call %s gave no result: %r" % (name, msg))
        return msg["result"]

    def handshake(self, version="2025-11-25"):
        msg = self.call("initialize", {
            "protocolVersion": version, "capabilities": {"roots": {}},
            "clientInfo": {"name": "test_demo_server", "version": "1"}})
        self.notify("notifications/initialized")
        return msg

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def text_of(result):
    content = result.get("content")
    check(isinstance(content, list) and len(content) == 1,
          "expected one content block: %r" % (result,))
    check(content[0].get("type") == "text", "not a text block: %r" % result)
    return content[0]["text"]


def no_response(srv, ids, timeout, what):
    """Check that no response to any of ids arrives within timeout."""
    try:
        msg = srv.wait(lambda m: m.get("id") in ids and "method" not in m,
                       timeout, what)
    except AssertionError:
        return
    raise AssertionError("%s: answered %r" % (what, msg))


def list_all_tools(srv):
    tools, cursor, pages = [], None, 0
    while True:
        msg = srv.call("tools/list", {"cursor": cursor} if cursor else {})
        check("result" in msg, "tools/list failed: %r" % msg)
        tools += msg["result"]["tools"]
        pages += 1
        cursor = msg["result"].get("nextCursor")
        if cursor is None:
            return tools, pages
        check(isinstance(cursor, str), "nextCursor not a string")
        check(pages < 20, "pagination does not end")


# ---------------------------------------------------------------- tests
# Most tests share one server, started by the first test.
S = None


def t_initialize():
    global S
    S = Server()
    msg = S.handshake("2025-06-18")
    res = msg["result"]
    check(res["protocolVersion"] == "2025-06-18", "version: %r" % res)
    check(res["capabilities"]["tools"]["listChanged"] is True, "caps")
    check("logging" in res["capabilities"], "logging capability")
    check(res["serverInfo"] == {"name": "mcp-demo-server",
                                "version": "0.1.0"}, "serverInfo")


def t_initialize_unknown_version():
    res = S.call("initialize", {"protocolVersion": "1999-01-01",
                                "capabilities": {}})["result"]
    check(res["protocolVersion"] == "2025-11-25", "got %r" % res)


def t_tools_list_paginated():
    tools, pages = list_all_tools(S)
    names = [t["name"] for t in tools]
    check(len(names) == 16, "expected 16 tools, got %d" % len(names))
    check(pages == 4, "expected 4 pages of 5, got %d" % pages)
    check(set(names) == EXPECTED_TOOLS and len(names) == len(set(names)),
          "tools: %r" % names)
    check(names[-4:] == [name for name, _ in HOSTILE_TOOLS],
          "the new tools are not listed last: %r" % names)
    for name, schema in HOSTILE_TOOLS:
        got = [t for t in tools if t["name"] == name][0]["inputSchema"]
        check(got == schema, "%s inputSchema: %r" % (name, got))
    for t in tools:
        schema = t.get("inputSchema")
        check(isinstance(schema, dict) and schema.get("type") == "object",
              "%s has no object inputSchema" % t["name"])
        check(isinstance(t.get("description"), str), "description")
    st = [t for t in tools if t["name"] == "structured"][0]
    check(st["outputSchema"]["required"] == ["temperature", "conditions",
                                             "city"], "outputSchema")
    order = [t for t in tools if t["name"] == "order"][0]["inputSchema"]
    check(order["additionalProperties"] is False, "order schema")
    check(order["properties"]["items"]["items"]["properties"]["sku"]
          ["pattern"] == "^[A-Z]{3}-[0-9]{3}$", "sku pattern")


def t_tools_list_bad_cursor():
    msg = S.call("tools/list", {"cursor": "bogus"})
    check(msg.get("error", {}).get("code") == -32602, "got %r" % msg)


def t_echo():
    check(text_of(S.tool("echo", {"message": "hi"})) == "hi", "echo")
    res = S.tool("echo", {"message": "ab", "repeat": 3})
    check(text_of(res) == "ababab" and not res.get("isError"), "repeat")
    res = S.tool("echo", {"message": "x", "repeat": 101})
    check(res.get("isError") is True, "repeat 101 accepted: %r" % res)
    long = "\u00e9t\u00e9 " * (1024 * 1024)     # a request line of ~7 MB
    res = S.tool("echo", {"message": long}, timeout=20)
    check(text_of(res) == long, "a long line came back changed")


def t_add():
    check(text_of(S.tool("add", {"a": 2, "b": 3})) == "5", "2+3")
    check(text_of(S.tool("add", {"a": 1.5, "b": 1})) == "2.5", "1.5+1")
    check(text_of(S.tool("add", {"a": -7, "b": 0.25})) == "-6.75", "-7+.25")
    res = S.tool("add", {"a": "2", "b": 3})
    check(res.get("isError") is True and "'a'" in text_of(res),
          "string accepted: %r" % res)
    check(S.tool("add", {"a": 1}).get("isError") is True, "missing b")


def t_fail():
    res = S.tool("fail")
    check(res.get("isError") is True, "not isError")
    check(text_of(res) == "the tool failed on purpose", text_of(res))
    res = S.tool("fail", {"message": "boom"})
    check(res.get("isError") is True and text_of(res) == "boom", "message")


def t_bad_arguments():
    res = S.tool("sleep", {"ms": -1})
    check(res.get("isError") is True and "ms" in text_of(res), "ms -1")
    res = S.tool("sleep", {"ms": "10"})
    check(res.get("isError") is True, "ms as string")
    msg = S.call("tools/call", {"name": "echo", "arguments": [1, 2]})
    check(msg["result"].get("isError") is True, "array arguments")
    msg = S.call("tools/call", {"arguments": {}})
    check(msg.get("error", {}).get("code") == -32602, "no name: %r" % msg)


def t_big():
    n = 16 * 1024 * 1024
    text = text_of(S.tool("big", {"bytes": n}, timeout=20))
    check(len(text) == n, "length %d, not %d" % (len(text), n))
    check(text == "x" * n, "content")
    check(text_of(S.tool("big", {"bytes": 0})) == "", "zero bytes")
    check(S.tool("big", {"bytes": 67108865}).get("isError") is True, "max")


def t_unknown_tool():
    res = S.tool("nosuch", {})
    check(res.get("isError") is True, "not isError: %r" % res)
    check(text_of(res) == "Unknown tool: nosuch", text_of(res))


def t_parse_error():
    S.send_raw(b'{"jsonrpc":"2.0","id":77,"method":\n')
    msg = S.wait(lambda m: "error" in m and m.get("id") is None,
                 what="a parse error")
    check(msg["error"]["code"] == -32700, "code %r" % msg)
    S.send_raw(b'{"jsonrpc":"2.0","id":78,"method":"ping"} junk\n')
    msg = S.wait(lambda m: "error" in m and m.get("id") is None,
                 what="a parse error")
    check(msg["error"]["code"] == -32700, "trailing bytes: %r" % msg)
    check(S.call("ping")["result"] == {}, "server alive after bad lines")


def t_unknown_method():
    msg = S.call("resources/frobnicate", {})
    check(msg["error"]["code"] == -32601, "code %r" % msg)
    check(msg["error"]["message"] == "Method not found", "message")


def t_ping():
    msg = S.call("ping")
    check(msg["result"] == {}, "ping %r" % msg)
    rid = S.request("ping", rid="string-id")
    check(S.response(rid)["result"] == {}, "string id")


CANCELLED_ID = "to-be-cancelled"


def t_concurrent_sleeps():
    start = time.monotonic()
    S.request("tools/call", {"name": "sleep", "arguments": {"ms": 400}},
              rid=CANCELLED_ID)
    ids = [S.request("tools/call", {"name": "sleep",
                                    "arguments": {"ms": 300}})
           for _ in range(20)]
    S.notify("notifications/cancelled",
             {"requestId": CANCELLED_ID, "reason": "test"})
    ping = S.call("ping")
    check(ping["_t"] - start < 0.2, "ping blocked by sleeps")
    for rid in ids:
        res = S.response(rid)["result"]
        check(text_of(res) == "slept 300 ms", text_of(res))
    elapsed = time.monotonic() - start
    check(0.29 <= elapsed < 1.5, "20 sleeps of 300 ms took %.2f s" % elapsed)


def t_cancellation():
    # The cancelled 400 ms sleep must never be answered.
    time.sleep(0.35)
    S.call("ping")
    try:
        msg = S.response(CANCELLED_ID, timeout=0.1)
    except AssertionError:
        return
    raise AssertionError("cancelled call answered: %r" % msg)


def t_toggle_extra_tool():
    rid = S.request("tools/call", {"name": "toggle_extra_tool",
                                   "arguments": {}})
    res = S.response(rid)
    check(text_of(res["result"]) == "extra tool added", "reply")
    changed = [m for m in S.stash
               if m.get("method") == "notifications/tools/list_changed"]
    check(len(changed) == 2, "%d list_changed before the reply"
          % len(changed))
    check(all(m["_t"] <= res["_t"] for m in changed), "order")
    for m in changed:
        S.stash.remove(m)
    tools, _ = list_all_tools(S)
    check("extra" in [t["name"] for t in tools], "extra not listed")
    check(len(tools) == 17, "%d tools with extra" % len(tools))
    check(text_of(S.tool("extra", {})) == "extra", "call extra")
    check(text_of(S.tool("toggle_extra_tool", {})) == "extra tool removed",
          "second toggle")
    tools, _ = list_all_tools(S)
    check("extra" not in [t["name"] for t in tools], "extra still listed")
    check(S.tool("extra", {}).get("isError") is True, "extra still callable")
    S.stash = [m for m in S.stash
               if m.get("method") != "notifications/tools/list_changed"]


def t_ask_client():
    rid = S.request("tools/call", {"name": "ask_client", "arguments": {}})
    roots = S.wait(lambda m: m.get("method") == "roots/list",
                   what="roots/list")
    ping = S.wait(lambda m: m.get("method") == "ping", what="ping")
    check(roots["id"] == "srv-1", "roots/list id %r" % roots["id"])
    check(ping["id"] == 0 and ping["id"] is not False, "ping id %r"
          % ping["id"])
    S.send({"jsonrpc": "2.0", "id": 0, "result": {}})
    S.send({"jsonrpc": "2.0", "id": "srv-1",
            "error": {"code": -32601, "message": "Method not found"}})
    res = S.response(rid)["result"]
    check(text_of(res) == "ping:ok roots:error -32601", text_of(res))
    # A second call, answered the other way round, with two roots.
    rid = S.request("tools/call", {"name": "ask_client", "arguments": {}})
    roots = S.wait(lambda m: m.get("method") == "roots/list",
                   what="roots/list")
    ping = S.wait(lambda m: m.get("method") == "ping", what="ping")
    check(roots["id"] != "srv-1" and ping["id"] != 0, "ids reused")
    S.send({"jsonrpc": "2.0", "id": roots["id"], "result": {"roots": [
        {"uri": "file:///a"}, {"uri": "file:///b"}]}})
    S.send({"jsonrpc": "2.0", "id": ping["id"],
            "error": {"code": -32000, "message": "no"}})
    res = S.response(rid)["result"]
    check(text_of(res) == "ping:error -32000 roots:ok 2", text_of(res))


def t_progress():
    rid = S.request("tools/call", {"name": "progress",
                                   "arguments": {"steps": 3},
                                   "_meta": {"progressToken": "tok-1"}})
    res = S.response(rid)
    check(text_of(res["result"]) == "done", "reply")
    notes = [m for m in S.stash if m.get("method") == "notifications/progress"]
    for m in notes:
        S.stash.remove(m)
    got = [(m["params"]["progressToken"], m["params"]["progress"],
            m["params"]["total"]) for m in notes]
    check(got == [("tok-1", 1, 3), ("tok-1", 2, 3), ("tok-1", 3, 3)],
          "progress: %r" % got)
    check(all(m["_t"] <= res["_t"] for m in notes), "order")
    # Without a token: no notifications, still done.
    res = S.tool("progress", {"steps": 2})
    check(text_of(res) == "done", "no token")
    check(not [m for m in S.stash if m.get("method") ==
               "notifications/progress"], "notified without a token")


def t_structured():
    res = S.tool("structured", {"city": "New York", "units": "imperial"})
    sc = res.get("structuredContent")
    check(isinstance(sc, dict), "no structuredContent: %r" % res)
    check(sc["city"] == "New York" and isinstance(sc["conditions"], str)
          and isinstance(sc["temperature"], (int, float)), "fields %r" % sc)
    check(json.loads(text_of(res)) == sc, "text is not the JSON of it")
    again = S.tool("structured", {"city": "New York", "units": "imperial"})
    check(again["structuredContent"] == sc, "not stable")
    res = S.tool("structured", {"city": "P4ris"})
    check(res.get("isError") is True, "pattern not enforced")
    res = S.tool("structured", {"city": "Paris", "units": "kelvin"})
    check(res.get("isError") is True, "enum not enforced")


def t_order():
    args = {"customer": {"name": "Ann", "email": "ann@example.org"},
            "items": [{"sku": "ABC-123", "qty": 2},
                      {"sku": "XYZ-999", "qty": 1}],
            "priority": "high"}
    res = S.tool("order", args)
    check(res.get("isError") is not True, "rejected: %r" % res)
    check(text_of(res) == "order for Ann <ann@example.org>: 2 items, "
          "3 units, priority high", text_of(res))
    bad = dict(args, items=[{"sku": "abc-123", "qty": 1}])
    check(S.tool("order", bad).get("isError") is True, "bad sku")
    bad = dict(args, extra=1)
    check(S.tool("order", bad).get("isError") is True, "extra property")
    bad = dict(args, items=[])
    check(S.tool("order", bad).get("isError") is True, "minItems")
    bad = dict(args, customer={"name": "Ann", "email": "nope"})
    check(S.tool("order", bad).get("isError") is True, "email")


def t_noise():
    before = S.stderr_text().count("noise ")
    rid = S.request("tools/call", {"name": "noise",
                                   "arguments": {"lines": 50}})
    res = S.response(rid)
    check(text_of(res["result"]) == "noisy", "reply")
    raw = [m for m in S.stash if "_raw" in m]
    check(len(raw) == 1 and raw[0]["_raw"] == "this is not json",
          "stdout junk: %r" % raw)
    check(raw[0]["_t"] <= res["_t"], "junk after the reply")
    S.stash.remove(raw[0])
    deadline = time.monotonic() + 2
    while S.stderr_text().count("noise ") < before + 50:
        check(time.monotonic() < deadline, "stderr lines missing")
        time.sleep(0.02)
    line = [x for x in S.stderr_text().splitlines() if "noise " in x][0]
    check(150 <= len(line) <= 250, "line of %d bytes" % len(line))


def t_unique():
    check(text_of(S.tool("unique", {"xs": [1, "1", [1], {"a": 1}]}))
          == "4 items", "four different items")
    check(text_of(S.tool("unique", {"xs": []})) == "0 items", "empty")
    # Left to the caller's validator: duplicates are counted, not refused.
    res = S.tool("unique", {"xs": [{"a": [1, 2]}, {"a": [1, 2]}, 3]})
    check(text_of(res) == "3 items" and not res.get("isError"),
          "duplicates: %r" % res)
    res = S.tool("unique", {"xs": list(range(100000))}, timeout=20)
    check(text_of(res) == "100000 items", text_of(res))
    res = S.tool("unique", {})
    check(res.get("isError") is True and "'xs'" in text_of(res),
          "missing xs: %r" % res)
    res = S.tool("unique", {"xs": {"0": 1}})
    check(res.get("isError") is True, "object for xs: %r" % res)


def t_match():
    check(text_of(S.tool("match", {"words": ["a", "aa", "aaa"]}))
          == "3 words", "three words")
    check(text_of(S.tool("match", {"words": []})) == "0 words", "none")
    # A backtracking regex engine would take ages over this; the server
    # runs none, so it answers at once and does not refuse the word.
    start = time.monotonic()
    res = S.tool("match", {"words": ["a" * 10000 + "b", "b"]})
    check(text_of(res) == "2 words" and not res.get("isError"),
          "hostile words: %r" % res)
    check(time.monotonic() - start < 1, "took %.2f s"
          % (time.monotonic() - start))
    res = S.tool("match", {"words": ["a", 1]})
    check(res.get("isError") is True and "words[1]" in text_of(res),
          "a number among the words: %r" % res)
    res = S.tool("match", {"words": "aa"})
    check(res.get("isError") is True, "a string for words: %r" % res)
    check(S.tool("match", {}).get("isError") is True, "missing words")


def churn(srv, arguments, timeout=TIMEOUT):
    """Call churn; the reply and how many list_changed came before it."""
    rid = srv.request("tools/call", {"name": "churn",
                                     "arguments": arguments})
    res = srv.response(rid, timeout)
    notes = [m for m in srv.stash if m.get("method") == LIST_CHANGED]
    check(all(m["_t"] <= res["_t"] for m in notes), "order")
    srv.stash = [m for m in srv.stash if m.get("method") != LIST_CHANGED]
    srv.call("ping")            # nothing more arrives after the reply
    check(not [m for m in srv.stash if m.get("method") == LIST_CHANGED],
          "list_changed after the reply")
    return text_of(res["result"]), len(notes)


def extra_listed(srv):
    return "extra" in [t["name"] for t in list_all_tools(srv)[0]]


def t_churn():
    check(churn(S, {"count": 1}) == ("sent 1", 1), "count 1")
    check(churn(S, {}) == ("sent 1000", 1000), "default count")
    got = churn(S, {"count": 100000}, timeout=30)
    check(got == ("sent 100000", 100000), "count 100000: %r" % (got,))
    check(not extra_listed(S), "extra listed without toggle")
    check(churn(S, {"count": 3, "toggle": True}) == ("sent 3", 3), "3")
    check(extra_listed(S), "three flips: extra not listed")
    check(text_of(S.tool("extra", {})) == "extra", "call extra")
    check(churn(S, {"count": 2049, "toggle": True}) == ("sent 2049", 2049),
          "2049 with toggle")
    check(not extra_listed(S), "2049 more flips: extra still listed")
    for bad in ({"count": 0}, {"count": 1000001}, {"count": "5"},
                {"toggle": 1}, {"toggle": "true"}):
        res = S.tool("churn", bad)
        check(res.get("isError") is True, "%r accepted: %r" % (bad, res))
    check(not [m for m in S.stash if m.get("method") == LIST_CHANGED],
          "refused calls sent list_changed")


def t_stall_bad_arguments():
    for bad in ({"ms": -1}, {"ms": 3600001}, {"ms": "10"}, {"ms": 1.5}):
        res = S.tool("stall", bad)
        check(res.get("isError") is True and "'ms'" in text_of(res),
              "%r accepted: %r" % (bad, res))
    check(S.call("ping")["result"] == {}, "still reading")


def t_crash():
    rid = S.request("tools/call", {"name": "crash",
                                   "arguments": {"exitCode": 7}})
    try:
        S.proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError("server did not exit")
    check(S.proc.returncode == 7, "exit status %r" % S.proc.returncode)
    try:
        msg = S.response(rid, timeout=0.5)
    except AssertionError:
        return
    raise AssertionError("crash replied: %r" % msg)


def t_many_sleeps():
    srv = Server()
    try:
        srv.handshake()
        start = time.monotonic()
        lines = b"".join(json.dumps({
            "jsonrpc": "2.0", "id": i, "method": "tools/call",
            "params": {"name": "sleep", "arguments": {"ms": 200}}}).encode()
            + b"\n" for i in range(1000, 1500))
        srv.send_raw(lines)
        for i in range(1000, 1500):
            srv.response(i)
        elapsed = time.monotonic() - start
        check(elapsed < 1.5, "500 sleeps of 200 ms took %.2f s" % elapsed)
    finally:
        srv.close()


def t_stall_short():
    srv = Server()
    try:
        srv.handshake()
        sleep = srv.request("tools/call", {"name": "sleep",
                                           "arguments": {"ms": 200}})
        prog = srv.request("tools/call", {"name": "progress",
                                          "arguments": {"steps": 3},
                                          "_meta": {"progressToken": 9}})
        # The line after the stall, read with it, must wait too.
        stall = {"jsonrpc": "2.0", "id": "stall", "method": "tools/call",
                 "params": {"name": "stall", "arguments": {"ms": 800}}}
        early = {"jsonrpc": "2.0", "id": "early", "method": "ping"}
        start = time.monotonic()
        srv.send_raw(json.dumps(stall).encode() + b"\n" +
                     json.dumps(early).encode() + b"\n")
        res = srv.response("stall")
        check(text_of(res["result"]) == "stalling", "reply %r" % res)
        check(res["_t"] - start < 0.3, "stalling came after %.2f s"
              % (res["_t"] - start))
        late = srv.request("ping")
        no_response(srv, ("early", late), 0.4, "pings while stalled")
        # Timers still fire while stdin is not read.
        msg = srv.response(sleep)
        check(text_of(msg["result"]) == "slept 200 ms", "sleep")
        check(msg["_t"] - res["_t"] < 0.6, "sleep late: %.2f s"
              % (msg["_t"] - res["_t"]))
        msg = srv.response(prog)
        check(text_of(msg["result"]) == "done" and msg["_t"] - res["_t"]
              < 0.6, "progress late or wrong: %r" % msg)
        notes = [m for m in srv.stash
                 if m.get("method") == "notifications/progress"]
        check(len(notes) == 3, "%d progress notifications" % len(notes))
        for rid in ("early", late):
            msg = srv.response(rid)
            check(msg["result"] == {}, "ping %r" % msg)
            check(msg["_t"] - res["_t"] >= 0.7, "ping answered %.2f s "
                  "after stalling" % (msg["_t"] - res["_t"]))
        check(text_of(srv.tool("echo", {"message": "back"})) == "back",
              "reads again")
    finally:
        srv.close()


def fill_stdin(srv, limit=64 << 20):
    """Write pings without blocking until the pipe is full; bytes taken."""
    line = json.dumps({"jsonrpc": "2.0", "id": "fill",
                       "method": "ping"}).encode() + b"\n"
    chunk = line * (65536 // len(line))
    fd = srv.proc.stdin.fileno()
    os.set_blocking(fd, False)
    total = 0
    try:
        while total < limit:
            total += os.write(fd, chunk)
    except BlockingIOError:
        return total
    finally:
        os.set_blocking(fd, True)
    raise AssertionError("%d bytes written and the pipe is not full"
                         % total)


def t_stall_for_good():
    srv = Server()
    try:
        srv.handshake()
        sleep = srv.request("tools/call", {"name": "sleep",
                                           "arguments": {"ms": 300}})
        res = srv.tool("stall", {})
        check(text_of(res) == "stalling", "reply %r" % res)
        ping = srv.request("ping")
        no_response(srv, (ping,), 1.2, "a ping while stalled")
        check(text_of(srv.response(sleep)["result"]) == "slept 300 ms",
              "the sleep still replies")
        total = fill_stdin(srv)
        check(total < 16 << 20, "the pipe took %d bytes" % total)
        srv.proc.send_signal(signal.SIGTERM)
        check(srv.proc.wait(timeout=TIMEOUT) == 0,
              "exit status %r" % srv.proc.returncode)
    finally:
        srv.close()


def t_stall_zero():
    srv = Server()
    try:
        srv.handshake()
        check(text_of(srv.tool("stall", {"ms": 0})) == "stalling", "reply")
        ping = srv.request("ping")
        no_response(srv, (ping,), 0.5, "a ping while stalled")
        srv.proc.send_signal(signal.SIGTERM)
        check(srv.proc.wait(timeout=TIMEOUT) == 0,
              "exit status %r" % srv.proc.returncode)
    finally:
        srv.close()


def t_eof_exits_zero():
    srv = Server()
    try:
        srv.handshake()
        srv.request("tools/call", {"name": "sleep",
                                   "arguments": {"ms": 60000}})
        srv.proc.stdin.close()
        check(srv.proc.wait(timeout=TIMEOUT) == 0,
              "exit status %r" % srv.proc.returncode)
    finally:
        srv.close()


def t_sigterm_exits_zero():
    srv = Server()
    try:
        srv.handshake()
        srv.proc.send_signal(signal.SIGTERM)
        check(srv.proc.wait(timeout=TIMEOUT) == 0,
              "exit status %r" % srv.proc.returncode)
    finally:
        srv.close()


def t_hang_after():
    srv = Server("--hang-after", "2")
    try:
        srv.handshake()
        for i in range(2):
            check(text_of(srv.tool("echo", {"message": "m%d" % i})) ==
                  "m%d" % i, "call %d answered" % i)
        # Hung right after the second call: not even a ping is answered,
        # but stdin is still read (the pipe does not fill).
        ping = srv.request("ping")
        call = srv.request("tools/call", {"name": "echo",
                                          "arguments": {"message": "x"}})
        line = json.dumps({"jsonrpc": "2.0", "id": "fill",
                           "method": "ping"}).encode() + b"\n"
        writer = threading.Thread(target=srv.send_raw,
                                  args=(line * ((4 << 20) // len(line)),))
        writer.start()
        # A pipe that fills blocks the writer for good; reading 4 MiB may
        # take a while under a sanitizer on a loaded machine.
        writer.join(60)
        check(not writer.is_alive(), "4 MiB of pings were not read")
        no_response(srv, (ping, call, "fill"), 0.5, "a hung server")
        check("hang: --hang-after" in srv.stderr_text(), "said so on stderr")
        # EOF does not end it either; SIGTERM does.
        srv.proc.stdin.close()
        time.sleep(0.3)
        check(srv.proc.poll() is None, "a hung server noticed EOF")
        srv.proc.send_signal(signal.SIGTERM)
        check(srv.proc.wait(timeout=TIMEOUT) == 0,
              "exit status %r" % srv.proc.returncode)
    finally:
        srv.close()


def t_hang_tool_ignore_sigterm():
    srv = Server("--hang-tool", "--ignore-sigterm")
    try:
        srv.handshake()
        tools, _ = list_all_tools(srv)
        check("hang" in {t["name"] for t in tools}, "hang listed")
        check(srv.call("ping").get("result") == {}, "ping before")
        call = srv.request("tools/call", {"name": "hang", "arguments": {}})
        ping = srv.request("ping")
        no_response(srv, (call, ping), 0.5, "after the hang tool")
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        check(srv.proc.poll() is None, "SIGTERM was not ignored")
        srv.proc.kill()
        check(srv.proc.wait(timeout=TIMEOUT) == -signal.SIGKILL,
              "exit status %r" % srv.proc.returncode)
    finally:
        srv.close()


def t_fail_init():
    srv = Server("--fail-init")
    try:
        check(srv.proc.wait(timeout=TIMEOUT) == 2,
              "exit status %r" % srv.proc.returncode)
        try:
            msg = srv.wait(lambda m: True, timeout=0.5)
        except AssertionError:
            return
        raise AssertionError("answered: %r" % msg)
    finally:
        srv.close()


def t_stderr_hello_slow_start():
    srv = Server("--stderr-hello", "--slow-start", "300", "--page-size", "0")
    try:
        start = time.monotonic()
        rid = srv.request("initialize", {"protocolVersion": "2025-11-25",
                                         "capabilities": {}})
        ping = srv.call("ping")
        init = srv.response(rid)
        check(init["result"]["protocolVersion"] == "2025-11-25", "init")
        check(init["_t"] - start >= 0.29, "initialize not delayed")
        check(ping["_t"] < init["_t"], "ping waited for initialize")
        check("hello" in srv.stderr_text(), "no hello on stderr: %r"
              % srv.stderr_text())
        msg = srv.call("tools/list")
        check("nextCursor" not in msg["result"], "paginated with size 0")
        check({t["name"] for t in msg["result"]["tools"]} == EXPECTED_TOOLS,
              "one page holds every tool")
    finally:
        srv.close()


TESTS = [
    ("initialize negotiates the requested version", t_initialize),
    ("initialize falls back to 2025-11-25", t_initialize_unknown_version),
    ("tools/list pages of 5, all tools with schemas", t_tools_list_paginated),
    ("tools/list rejects an unknown cursor", t_tools_list_bad_cursor),
    ("echo", t_echo),
    ("add", t_add),
    ("fail gives isError", t_fail),
    ("bad arguments give isError, no crash", t_bad_arguments),
    ("big returns exactly the bytes asked", t_big),
    ("unknown tool", t_unknown_tool),
    ("bad JSON line gives -32700", t_parse_error),
    ("unknown method gives -32601", t_unknown_method),
    ("ping", t_ping),
    ("20 concurrent sleeps finish together", t_concurrent_sleeps),
    ("cancelled sleep is never answered", t_cancellation),
    ("toggle_extra_tool and list_changed", t_toggle_extra_tool),
    ("ask_client round trip", t_ask_client),
    ("progress notifications", t_progress),
    ("structured content", t_structured),
    ("order validates nested arguments", t_order),
    ("noise on stderr and stdout", t_noise),
    ("unique counts its items and does not compare them", t_unique),
    ("match counts words and runs no regex", t_match),
    ("churn sends exactly count list_changed before its reply", t_churn),
    ("stall refuses bad ms", t_stall_bad_arguments),
    ("crash exits with the code, no reply", t_crash),
    ("500 concurrent sleeps", t_many_sleeps),
    ("stall 800 ms: stdin waits, timers fire, then it reads again",
     t_stall_short),
    ("stall for good: the pipe fills, SIGTERM still exits 0",
     t_stall_for_good),
    ("stall with ms 0 is for good too", t_stall_zero),
    ("EOF on stdin exits 0", t_eof_exits_zero),
    ("SIGTERM exits 0", t_sigterm_exits_zero),
    ("--hang-after 2: answers two calls, then nothing; ignores EOF",
     t_hang_after),
    ("--hang-tool, --ignore-sigterm", t_hang_tool_ignore_sigterm),
    ("--fail-init exits 2 without answering", t_fail_init),
    ("--stderr-hello, --slow-start, --page-size 0",
     t_stderr_hello_slow_start),
]


def main():
    print("1..%d" % len(TESTS), flush=True)
    failed = 0
    for n, (name, fn) in enumerate(TESTS, 1):
        try:
            fn()
            print("ok %d - %s" % (n, name), flush=True)
        except Exception as e:  # report and go on with the next test
            failed += 1
            print("not ok %d - %s" % (n, name), flush=True)
            for line in ("%s: %s" % (type(e).__name__, e)).splitlines():
                print("# " + line[:500], flush=True)
    if S is not None:
        S.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
