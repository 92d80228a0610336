"""The tool schema cache: written atomically after listing, preloaded at
start so discovery and validation work before (or without) the server,
ignored when corrupt or when the server's configuration changed."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import (MCP_DEMO_SERVER, Daemon, Tap, stop_ok,  # noqa: E402
                     wait_until)


def main():
    tap = Tap()
    tmp = tempfile.mkdtemp(prefix="mcp-cache-")
    path = os.path.join(tmp, "cache.json")
    flag = os.path.join(tmp, "broken")
    # The same configuration both times; a flag file makes it fail to start.
    server = {"command": "/bin/sh",
              "args": ["-c", 'if [ -e "$0" ]; then exit 1; fi; exec "$1"',
                       flag, MCP_DEMO_SERVER], "timeoutMs": 1500}
    cfg = {"mcpServers": {"demo": server}, "schemaCachePath": path,
           "startTimeoutMs": 5000, "discoveryTimeoutMs": 200}

    d = Daemon(cfg)
    try:
        tap.ok(wait_until(lambda: os.path.exists(path), 5),
               "the cache file is written after the tools are listed")
        st, _, h = d.request("GET", "/health")
        tap.eq((h["schemaCache"]["misses"], h["schemaCache"]["hits"]),
               (1, 0), "first start: a miss")
    finally:
        stop_ok(tap, d, "first start")
    with open(path) as f:
        data = json.load(f)
    tools = data["servers"]["demo"]["tools"]
    tap.ok(any(t["name"] == "echo" for t in tools) and
           len(data["servers"]["demo"]["fingerprint"]) == 64,
           "it holds the demo tools and a fingerprint")
    tap.ok(not [n for n in os.listdir(tmp) if ".tmp." in n],
           "no temporary file left behind")

    open(flag, "w").close()
    d = Daemon(cfg)
    try:
        st, _, body = d.request("GET", "/mcp/tools?q=echo")
        tap.ok(st == 200 and [t["name"] for t in body["tools"]] ==
               ["mcp__demo__echo"] and "warnings" not in body,
               "server down: discovery answers from the cache", body)
        st, _, body = d.call("mcp__demo__add", {"a": "x", "b": 1})
        tap.ok(st == 400 and body["details"][0]["path"] == "/a",
               "and arguments are validated against the cached schema", body)
        st, _, body = d.call("mcp__demo__echo", {"message": "x"})
        tap.eq(st, 503, "a valid call gets 503 at its timeout: the server is not available")
        st, _, h = d.request("GET", "/health")
        tap.eq(h["schemaCache"]["hits"], 1, "/health counts the cache hit")
        tap.ok("schema cache" in d.stderr(), "the preload is logged")
    finally:
        stop_ok(tap, d, "server down: from the cache")
    os.unlink(flag)

    # A changed configuration does not use the old entry.
    cfg2 = dict(cfg, mcpServers={"demo": {"command": MCP_DEMO_SERVER,
                                          "args": ["--page-size", "3"]}})
    d = Daemon(cfg2)
    try:
        st, _, h = d.request("GET", "/health")
        tap.eq((h["schemaCache"]["hits"], h["schemaCache"]["misses"]),
               (0, 1), "another command line: a miss")
    finally:
        stop_ok(tap, d, "changed configuration")

    with open(path, "w") as f:
        f.write("{this is not json")
    d = Daemon(cfg)
    try:
        st, _, body = d.call("mcp__demo__echo", {"message": "ok"})
        tap.eq((st, body), (200, {"result": "ok"}),
               "a corrupt cache file is ignored, never fatal")
        tap.ok("corrupt" in d.stderr(), "and logged")
    finally:
        stop_ok(tap, d, "corrupt cache file")
    with open(path) as f:
        try:
            names = [t["name"] for t in json.load(f)["servers"]["demo"]
                     ["tools"]]
        except (ValueError, KeyError) as e:
            names = repr(e)
    tap.ok("echo" in names, "and rewritten valid", names)

    d = Daemon(dict(cfg, schemaCachePath=os.path.join(tmp, "no", "dir.json")))
    try:
        st, _, body = d.call("mcp__demo__echo", {"message": "ok"})
        tap.eq(st, 200, "an unwritable cache path does not stop the daemon")
        # Writes are coalesced: the first one comes about a second later.
        wait_until(lambda: d.request("GET", "/health")[2]["schemaCache"]
                   ["writeErrors"] >= 1, 5)
        st, _, h = d.request("GET", "/health")
        tap.eq(h["schemaCache"]["writeErrors"], 1, "the write error is "
               "counted, once")
    finally:
        stop_ok(tap, d, "unwritable cache path")
    tap.done()


if __name__ == "__main__":
    main()
