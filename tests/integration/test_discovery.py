"""GET /mcp/tools: keyword search, query validation, rate limits, the
allowlist switch, and partial answers when a server has no tool list."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, Tap, demo_server, stop_ok  # noqa: E402


def names(body):
    return sorted(t["name"] for t in body.get("tools", []))


def t_search(tap, d):
    st, _, body = d.request("GET", "/mcp/tools")
    tap.eq(st, 200, "discovery answers 200")
    all_names = names(body)
    tap.ok("mcp__demo__echo" in all_names and "mcp__demo__add" in all_names
           and len(all_names) >= 10, "no q: every tool (pagination "
           "followed)", all_names)
    echo = [t for t in body["tools"] if t["name"] == "mcp__demo__echo"][0]
    tap.ok(echo["parameters"].get("type") == "object" and
           "message" in echo["parameters"].get("properties", {}) and
           isinstance(echo.get("description"), str),
           "a tool has description and its inputSchema as parameters", echo)
    st_ = [t for t in body["tools"] if t["name"] == "mcp__demo__structured"]
    tap.ok(st_ and "outputSchema" in st_[0], "outputSchema when given", st_)
    tap.ok("outputSchema" not in echo, "no outputSchema when not given")
    st, _, body = d.request("GET", "/mcp/tools?q=ECHO")
    tap.eq(names(body), ["mcp__demo__echo"], "case-insensitive match on name")
    st, _, body = d.request("GET", "/mcp/tools?q=echo&q=sum")
    tap.ok("mcp__demo__echo" in names(body) and "mcp__demo__add" in
           names(body), "several q: OR (add's description says sum)",
           names(body))
    st, _, body = d.request("GET", "/mcp/tools?q=&q=echo")
    tap.eq((st, names(body)), (200, ["mcp__demo__echo"]), "empty q ignored")
    st, _, body = d.request("GET", "/mcp/tools?q=zzzznothing")
    tap.eq((st, body), (200, {"tools": []}), "no match: empty list")
    st, _, body = d.request("GET", "/mcp/tools?q=" + "a" * 101)
    tap.eq((st, body.get("error")), (400, "Search query too long (max 100 "
                                          "characters)"), "q over 100: 400")
    tap.eq(body.get("query"), "a" * 101, "400 names the offending query")
    st, _, body = d.request("GET", "/mcp/tools?q=rm%20-rf%3B")
    tap.eq((st, body.get("error")), (400, "Invalid characters in search "
                                          "query (allowed: alphanumeric, "
                                          "spaces, hyphens, underscores)"),
           "bad characters: 400")
    st, _, body = d.request("GET", "/mcp/tools?q=list+changed")
    tap.ok(st == 200, "'+' decodes to a space", body)


def t_rate_limit(tap):
    d = Daemon({"mcpServers": demo_server(),
                "rateLimits": {"discovery": {"requests": 3,
                                             "windowSeconds": 60},
                               "execute": {"requests": 2,
                                           "windowSeconds": 10}}})
    try:
        codes = [d.request("GET", "/mcp/tools?q=echo")[0] for _ in range(3)]
        tap.eq(codes, [200] * 3, "3 discoveries within the budget")
        st, h, body = d.request("GET", "/mcp/tools?q=echo")
        tap.eq(st, 429, "the 4th is 429")
        tap.eq((body.get("error"), body.get("limit"), body.get("window")),
               ("Rate limit exceeded", 3, "60s"), "429 body")
        tap.ok(isinstance(body.get("retryAfter"), int) and
               body["retryAfter"] >= 1 and
               h.get("retry-after") == str(body["retryAfter"]),
               "Retry-After header and retryAfter agree", (h, body))
        codes = [d.call("mcp__demo__echo", {"message": "x"})[0]
                 for _ in range(3)]
        tap.eq(codes, [200, 200, 429], "execution has its own budget")
        tap.eq(d.request("GET", "/health")[0], 200, "health is not limited")
    finally:
        stop_ok(tap, d, "rate limits")


def t_allowlist_switch(tap):
    d = Daemon({"mcpServers": demo_server(),
                "allowedTools": ["mcp__demo__echo"],
                "discoveryRespectsAllowlist": True})
    try:
        st, _, body = d.request("GET", "/mcp/tools")
        tap.eq(names(body), ["mcp__demo__echo"],
               "discoveryRespectsAllowlist hides tools the caller may not "
               "call")
    finally:
        stop_ok(tap, d, "discoveryRespectsAllowlist")
    d = Daemon({"mcpServers": demo_server(),
                "allowedTools": ["mcp__demo__echo"]})
    try:
        st, _, body = d.request("GET", "/mcp/tools")
        tap.ok(len(names(body)) > 1, "by default discovery shows every tool")
    finally:
        stop_ok(tap, d, "allowlist ignored by default")


def t_partial(tap):
    srv = demo_server()
    srv.update(demo_server("dies", args=["--fail-init"]))
    d = Daemon({"mcpServers": srv, "discoveryTimeoutMs": 300,
                "startTimeoutMs": 2000})
    try:
        t0 = time.monotonic()
        st, _, body = d.request("GET", "/mcp/tools?q=echo")
        took = time.monotonic() - t0
        tap.eq(st, 200, "partial answer is 200, not an error")
        tap.ok("mcp__demo__echo" in names(body), "with the tools there are")
        tap.ok(any("dies" in w for w in body.get("warnings", [])),
               "and a warning naming the server left out", body)
        tap.ok(took < 2, "within discoveryTimeoutMs (%.2fs)" % took)
    finally:
        stop_ok(tap, d, "partial answer")


def main():
    tap = Tap()
    d = Daemon({"mcpServers": demo_server(),
                "rateLimits": {"discovery": {"requests": 0}}})
    try:
        tap.run(t_search, d)
    finally:
        stop_ok(tap, d, "search")
    tap.run(t_rate_limit)
    tap.run(t_allowlist_switch)
    tap.run(t_partial)
    tap.done()


if __name__ == "__main__":
    main()
