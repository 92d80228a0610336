"""POST / against the npm reference servers (server-everything,
-memory, -filesystem), also behind a wrapper that spawns a grandchild."""
import base64
import gzip
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Daemon, Tap, group_alive, npm_server,  # noqa: E402
                     require, stop_ok, wait_until)


def full(d, tool, params, mode="full"):
    return d.request("POST", "/", {"toolName": "mcp__everything__" + tool,
                                   "params": params, "result": mode})


def whole_results(tap, d):
    """"result": "full" answers the whole CallToolResult: what follows a
    first text block, structuredContent; discovery passes title and
    execution through."""
    st, _, body = d.call("mcp__everything__get-tiny-image", {})
    tap.eq((st, body), (200, {"result": "Here's the image you requested:"}),
           "default: the first text block only")
    st, _, body = full(d, "get-tiny-image", {})
    types = [b.get("type") for b in body.get("result", {}).get("content", [])]
    tap.ok(st == 200 and "image" in types and all(
        b.get("data") for b in body["result"]["content"]
        if b.get("type") == "image"),
           "result full: the image after the text", str(body)[:300])
    st, _, body = full(d, "get-resource-links", {"count": 2})
    types = [b.get("type") for b in body.get("result", {}).get("content", [])]
    tap.eq((st, types), (200, ["text", "resource_link", "resource_link"]),
           "result full: resource links")
    st, _, body = full(d, "get-resource-reference",
                       {"resourceType": "Text", "resourceId": 1})
    types = [b.get("type") for b in body.get("result", {}).get("content", [])]
    tap.eq((st, types), (200, ["text", "resource", "text"]),
           "result full: an embedded resource and the text after it")
    st, _, body = full(d, "get-structured-content", {"location": "Chicago"})
    sc = body.get("result", {}).get("structuredContent", {})
    tap.ok(st == 200 and set(sc) == {"temperature", "conditions",
                                     "humidity"},
           "result full: structuredContent", body)
    for bad in ("whole", 1, None, ["full"], "FULL"):
        st, _, body = full(d, "echo", {"message": "x"}, bad)
        tap.ok(st == 400 and "Invalid result" in body.get("error", ""),
               "result %r: 400" % (bad,), body)
    st, _, body = d.request("GET", "/mcp/tools?q=structured")
    t = [t for t in body.get("tools", [])
         if t["name"] == "mcp__everything__get-structured-content"]
    tap.ok(t and t[0].get("title") == "Get Structured Content Tool" and
           t[0].get("execution") == {"taskSupport": "forbidden"} and
           t[0].get("outputSchema", {}).get("required") ==
           ["temperature", "conditions", "humidity"] and
           "inputSchema" not in t[0],
           "discovery passes title, execution and outputSchema through", t)


def main():
    tap = Tap()
    every = npm_server("everything")
    node = shutil.which("node")
    memory = npm_server("memory")
    fs = npm_server("filesystem")
    how = "sh scripts/deps.sh test installs it"
    require(tap, [("node", node, how),
                  ("@modelcontextprotocol/server-everything", every, how),
                  ("@modelcontextprotocol/server-memory", memory, how),
                  ("@modelcontextprotocol/server-filesystem", fs, how)])
    root = tempfile.mkdtemp(prefix="mcp-fs-")
    with open(os.path.join(root, "hello.txt"), "w") as f:
        f.write("hello from the filesystem server\n")
    servers = {
        "everything": {"command": node, "args": [every],
                       "toolTimeouts": {"trigger-long-running-operation":
                                        1000}},
        # A wrapper: sh stays the parent, node is its child (a grandchild
        # of the daemon) in the same process group.
        "wrapped": {"command": "/bin/sh",
                    "args": ["-c", '"$0" "$1"; echo wrapper done >&2',
                             node, every]},
    }
    if memory:
        servers["memory"] = {"command": node, "args": [memory],
                             "env": {"MEMORY_FILE_PATH":
                                     os.path.join(root, "memory.jsonl")}}
    if fs:
        servers["fs"] = {"command": node, "args": [fs, root]}
    d = Daemon({"mcpServers": servers, "startTimeoutMs": 20000,
                "drainTimeoutMs": 2000})
    try:
        st, _, body = d.call("mcp__everything__echo", {"message": "hi"})
        tap.eq((st, body), (200, {"result": "Echo: hi"}), "everything echo")
        st, _, body = d.call("mcp__everything__get-sum", {"a": 2, "b": 3})
        tap.ok(st == 200 and "5" in body.get("result", ""), "get-sum", body)
        st, _, body = d.call("mcp__everything__get-structured-content",
                             {"location": "Chicago"})
        tap.ok(st == 200 and body.get("result") is not None,
               "get-structured-content", body)
        st, _, body = d.call("mcp__everything__get-sum", {"a": "2", "b": 3})
        tap.ok(st == 400 and any(e["path"] == "/a"
                                 for e in body.get("details", [])),
               "get-sum with a string: 400 from our validator", body)
        st, _, body = d.call("mcp__everything__get-sum", {"a": 1})
        tap.ok(st == 400 and body.get("required") == ["a", "b"],
               "missing required argument: 400 lists required", body)
        st, _, body = d.call("mcp__everything__get-structured-content",
                             {"location": "Paris"})
        tap.ok(st == 400 and "one of" in str(body.get("details")),
               "enum violation: 400", body)
        st, _, body = d.request("GET", "/mcp/tools?q=echo")
        echo = [t for t in body.get("tools", [])
                if t["name"] == "mcp__everything__echo"]
        tap.ok(echo and echo[0]["parameters"].get("$schema", "").find(
            "draft-07") >= 0 and echo[0].get("annotations", {}).get(
                "readOnlyHint") is True,
               "discovery: the server's schema untouched, annotations kept",
               echo)
        whole_results(tap, d)
        st, _, body = d.call("mcp__everything__no-such-tool", {})
        tap.eq(st, 404, "unknown tool: 404")
        st, _, body = d.call("mcp__everything__gzip-file-as-resource", {
            "name": "x.gz", "data": "data:text/plain;base64,aGVsbG8=",
            "outputType": "resource"})
        res = body.get("result", {}) if isinstance(body, dict) else {}
        block = (res.get("content") or [{}])[0]
        try:
            blob = gzip.decompress(base64.b64decode(
                block["resource"]["blob"]))
        except (KeyError, TypeError, ValueError, OSError):
            blob = None
        tap.ok(st == 200 and list(body) == ["result"] and
               list(res) == ["content"] and len(res["content"]) == 1 and
               block.get("type") == "resource" and
               sorted(block["resource"]) == ["blob", "mimeType", "uri"] and
               block["resource"]["uri"] == "demo://resource/session/x.gz"
               and block["resource"]["mimeType"] == "application/gzip" and
               blob == b"hello", "a first block that is not text: the "
               "whole CallToolResult, exactly as the server sent it",
               str(body)[:400])
        st, _, body = d.call("mcp__everything__trigger-long-running-operation",
                             {"duration": 5, "steps": 5})
        tap.eq(st, 504, "long operation past its timeout: 504")
        st, _, body = d.call("mcp__everything__echo", {"message": "again"})
        tap.eq((st, body), (200, {"result": "Echo: again"}),
               "and the server serves the next call")
        st, _, body = d.call("mcp__wrapped__echo", {"message": "w"})
        tap.eq((st, body), (200, {"result": "Echo: w"}), "behind a wrapper")
        if memory:
            st, _, body = d.call("mcp__memory__create_entities", {
                "entities": [{"name": "proxy", "entityType": "daemon",
                              "observations": ["written in C"]}]})
            tap.eq(st, 200, "memory create_entities")
            st, _, body = d.call("mcp__memory__search_nodes",
                                 {"query": "proxy"})
            tap.ok(st == 200 and "written in C" in str(body),
                   "memory search_nodes", body)
        if fs:
            st, _, body = d.call("mcp__fs__read_text_file",
                                 {"path": os.path.join(root, "hello.txt")})
            tap.ok(st == 200 and "hello from the filesystem" in str(body),
                   "filesystem read_text_file", body)
            st, _, body = d.call("mcp__fs__read_text_file",
                                 {"path": "/etc/passwd"})
            tap.ok(st == 422, "filesystem outside its root: 422", body)
    finally:
        pg = sorted({os.getpgid(p) for p in d.children()})
        stop_ok(tap, d, "the reference servers")
    tap.ok(pg and wait_until(lambda: not any(group_alive(g) for g in pg), 5),
           "no process left, grandchildren included", pg)
    shutil.rmtree(root, ignore_errors=True)
    tap.done()


if __name__ == "__main__":
    main()
