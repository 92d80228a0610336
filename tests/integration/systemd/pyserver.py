"""A minimal MCP server in Python (stdio, stdlib only) with one tool,
hello: used to show that Python servers run under the unit's hardening."""
import json
import sys


def reply(rid, result):
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": rid,
                                 "result": result}) + "\n")
    sys.stdout.flush()


TOOL = {"name": "hello", "description": "Says hello.",
        "inputSchema": {"type": "object",
                        "properties": {"name": {"type": "string"}},
                        "required": ["name"]}}

for line in sys.stdin:
    msg = json.loads(line)
    method, rid = msg.get("method"), msg.get("id")
    if rid is None:
        continue
    if method == "initialize":
        reply(rid, {"protocolVersion": msg["params"]["protocolVersion"],
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "py", "version": "1"}})
    elif method == "tools/list":
        reply(rid, {"tools": [TOOL]})
    elif method == "tools/call":
        name = msg["params"]["arguments"]["name"]
        reply(rid, {"content": [{"type": "text", "text": "hello " + name}]})
    else:
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": rid, "error": {
            "code": -32601, "message": "no method " + method}}) + "\n")
        sys.stdout.flush()
