# A script written for code-executor-MCP's Python sandbox, where
# call_mcp_tool, discover_mcp_tools, get_tool_schema and search_tools are
# injected: it imports nothing of ours. test_client_python.py runs it with
# `python3 mcp_proxyd.py original_api.py`.
tools = discover_mcp_tools(search=["get-sum", "echo"])
print("tools: " + " ".join(sorted(t["name"] for t in tools
                                  if "everything" in t["name"])))

schema = get_tool_schema("mcp__everything__echo")
if schema is None or "message" not in schema["parameters"]["properties"]:
    raise SystemExit("echo has no message parameter")

print("echo: " + call_mcp_tool("mcp__everything__echo",
                               {"message": "from the original"}))
print("sum: " + call_mcp_tool("mcp__everything__get-sum", {"a": 40, "b": 2}))

try:
    call_mcp_tool("mcp__everything__get-env", {})
except Exception as e:  # the original raises a plain error with its text
    print("error: " + str(e))

print("calls: %d" % len(search_tools("echo sum", 3)))
