"""What the client tests share: the daemon's servers for them, sessions,
and what the sandbox scenario (clients/scenario.py, .ts, .mjs) must print
whatever the language."""
import os
import shutil

from harness import MCP_DEMO_SERVER, npm_server

SESSION_TOOLS = ["mcp__everything__e*", "mcp__everything__get-sum",
                 "mcp__everything__get-structured-content",
                 "mcp__memory__*"]

# What scenario.py (and scenario.ts) print, but for the parts checked
# on their own below.
EXPECTED = {
    "echo": "Echo: hi",
    "sum": "The sum of 2 and 3 is 5.",
    "search": ["speaks HTTP"],
    "denied": {"error": "NotAllowedError", "status": 403,
               "allowed": SESSION_TOOLS},
    "invalid": {"error": "InvalidParamsError", "paths": ["/a", "/b"]},
    "notfound": {"error": "ToolNotFoundError", "suggested": True},
    "schema": {"title": "Get Sum Tool", "required": ["a", "b"]},
    "noschema": None,
    "search_tools": ["mcp__everything__get-sum"],
    "calls": ["mcp__everything__echo", "mcp__everything__get-sum",
              "mcp__memory__create_entities", "mcp__memory__search_nodes",
              "mcp__everything__get-structured-content",
              "mcp__everything__get-env", "mcp__everything__get-sum",
              "mcp__everything__ech"],
}


def check_scenario(tap, out, who):
    """The scenario's output against EXPECTED, one assertion per part."""
    for k, want in EXPECTED.items():
        tap.eq(out.get(k), want, "%s: %s" % (who, k))
    sc = out.get("structured") or {}
    tap.ok(set(sc) == {"temperature", "conditions", "humidity"} and
           isinstance(sc.get("temperature"), (int, float)),
           "%s: structuredContent through full" % who, sc)


def servers(root):
    node = shutil.which("node")
    flaky = os.path.join(root, "flaky.sh")
    with open(flaky, "w") as f:
        # Starts the demo server while the file ok exists, else fails.
        f.write('#!/bin/sh\n[ -e "%s/ok" ] || exit 1\nexec "%s"\n'
                % (root, MCP_DEMO_SERVER))
    os.chmod(flaky, 0o755)
    open(os.path.join(root, "ok"), "w").close()
    return {
        "everything": {"command": node, "args": [npm_server("everything")]},
        "memory": {"command": node, "args": [npm_server("memory")],
                   "env": {"MEMORY_FILE_PATH":
                           os.path.join(root, "memory.jsonl")}},
        "demo": {"command": MCP_DEMO_SERVER, "args": [],
                 "toolTimeouts": {"sleep": 300}},
        "flaky": {"command": flaky, "args": []},
    }


def session(d, tools=None, **extra):
    """A new session's token (POST /sessions with the daemon token)."""
    body = {"ttlSeconds": 300}
    if tools is not None:
        body["allowedTools"] = tools
    body.update(extra)
    st, _, b = d.request("POST", "/sessions", body)
    if st != 201:
        raise RuntimeError("POST /sessions: %d %r" % (st, b))
    return b["token"]
