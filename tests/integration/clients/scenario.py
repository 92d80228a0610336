"""The sandbox scenario with the Python client (run by mcp-proxyctl exec
or with MCP_PROXYD_URL/MCP_PROXYD_TOKEN set): prints one JSON object that
test_client_python.py and test_ctl_exec.py compare with what the TypeScript
client prints for scenario.ts."""
import json
import sys

import mcp_proxyd as m

out = {}
out["echo"] = m.call_mcp_tool("mcp__everything__echo", {"message": "hi"})
out["sum"] = m.call_mcp_tool("mcp__everything__get-sum", {"a": 2, "b": 3})
m.call_mcp_tool("mcp__memory__create_entities", {"entities": [
    {"name": "sandbox", "entityType": "client",
     "observations": ["speaks HTTP"]}]})
found = m.call_mcp_tool("mcp__memory__search_nodes", {"query": "sandbox"})
out["search"] = json.loads(found)["entities"][0]["observations"] \
    if isinstance(found, str) else found
out["structured"] = m.call_mcp_tool("mcp__everything__get-structured-content",
                                    {"location": "Chicago"},
                                    full=True)["structuredContent"]
try:
    m.call_mcp_tool("mcp__everything__get-env", {})
    out["denied"] = "no error"
except m.NotAllowedError as e:
    out["denied"] = {"error": type(e).__name__, "status": e.status,
                     "allowed": e.allowed_tools}
try:
    m.call_mcp_tool("mcp__everything__get-sum", {"a": "2", "b": None})
except m.InvalidParamsError as e:
    out["invalid"] = {"error": type(e).__name__, "paths": sorted(e.paths)}
try:
    m.call_mcp_tool("mcp__everything__ech", {"message": "x"})
except m.ToolNotFoundError as e:
    out["notfound"] = {"error": type(e).__name__,
                       "suggested": "mcp__everything__echo" in e.suggestions}
schema = m.get_tool_schema("mcp__everything__get-sum")
out["schema"] = {"title": schema and schema.get("title"),
                 "required": schema and schema["parameters"]["required"]}
out["noschema"] = m.get_tool_schema("mcp__everything__nope")
out["search_tools"] = [t["name"] for t in m.search_tools("get-sum", 5)]
out["calls"] = m.tool_calls()["calls"]
json.dump(out, sys.stdout, sort_keys=True)
print()
