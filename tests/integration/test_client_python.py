"""The Python client (clients/python/mcp_proxyd.py) against the real
daemon and the npm reference servers: the sandbox scenario in a child
process with a session's URL and token in its environment, a script
written for the original's injected functions run unchanged, each error
class, retries of a 429 and of a 503 while a server restarts, timeouts,
keep-alive reuse, the Unix socket path (through a relay), and mypy
--strict on the client."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (CLIENTS_DIR, MCP_DEMO_SERVER, Daemon, Tap,  # noqa
                     UnixRelay, need, npm_server, python_with, stop_ok,
                     wait_until)
from clientcheck import (SESSION_TOOLS, check_scenario, servers,  # noqa
                         session)

sys.path.insert(0, os.path.join(CLIENTS_DIR, "python"))
import mcp_proxyd  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
def run_py(script, d, token, *args):
    env = dict(os.environ, MCP_PROXYD_URL="http://127.0.0.1:%d/" % d.port,
               MCP_PROXYD_TOKEN=token,
               PYTHONPATH=os.path.join(CLIENTS_DIR, "python"))
    return subprocess.run([sys.executable] + list(args) + [script], env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60)


def test_scenario(tap, d):
    p = run_py(os.path.join(HERE, "clients", "scenario.py"), d,
               session(d, SESSION_TOOLS))
    tap.eq(p.returncode, 0, "scenario.py exits 0")
    try:
        out = json.loads(p.stdout)
    except ValueError:
        tap.ok(False, "scenario.py prints JSON", p.stdout + p.stderr)
        return
    check_scenario(tap, out, "python")


def test_original_api(tap, d):
    """A script for code-executor-MCP's injected functions, run with the
    client's runner (python3 mcp_proxyd.py SCRIPT)."""
    p = run_py(os.path.join(CLIENTS_DIR, "python", "mcp_proxyd.py"), d,
               session(d, SESSION_TOOLS))
    tap.eq(p.returncode, 2, "the runner without a script: usage, exit 2")
    env = dict(os.environ, MCP_PROXYD_URL="http://127.0.0.1:%d/" % d.port,
               MCP_PROXYD_TOKEN=session(d, SESSION_TOOLS))
    p = subprocess.run([sys.executable, os.path.join(
        CLIENTS_DIR, "python", "mcp_proxyd.py"),
        os.path.join(HERE, "clients", "original_api.py")], env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, timeout=60)
    lines = p.stdout.decode().splitlines()
    tap.ok(p.returncode == 0 and lines == [
        "tools: mcp__everything__echo mcp__everything__get-sum",
        "echo: Echo: from the original",
        "sum: The sum of 40 and 2 is 42.",
        "error: Tool 'mcp__everything__get-env' not in allowlist",
        "calls: 3"],
           "a script for the original's injected functions runs unchanged",
           p.stdout.decode() + p.stderr.decode())


def test_errors(tap, d):
    c = mcp_proxyd.Client("http://127.0.0.1:%d/" % d.port,
                          session(d, ["mcp__demo__*"]), retries=0)
    try:
        c.call_mcp_tool("mcp__demo__fail", {})
        tap.ok(False, "isError: ToolError")
    except mcp_proxyd.ToolError as e:
        tap.ok(e.status == 422 and isinstance(e.result, dict) and
               e.result.get("isError") is True, "isError: ToolError", e.body)
    try:
        c.call_mcp_tool("mcp__demo__sleep", {"ms": 2000})
        tap.ok(False, "past the tool's timeout: TimedOutError")
    except mcp_proxyd.TimedOutError as e:
        tap.eq(e.status, 504, "past the tool's timeout: TimedOutError")
    try:
        c.call_mcp_tool("mcp__demo__crash", {})
        tap.ok(False, "a crash: ServerFailedError")
    except mcp_proxyd.ServerFailedError as e:
        tap.eq(e.status, 502, "a crash: ServerFailedError")
    try:
        c.request("POST", "/", "not an object")
        tap.ok(False, "a bad body: BadRequestError")
    except mcp_proxyd.BadRequestError as e:
        tap.ok(e.status == 400 and not isinstance(
            e, mcp_proxyd.InvalidParamsError), "a bad body: BadRequestError",
            e.body)
    try:
        c.request("GET", "/metrics")
        tap.ok(False, "a session on an admin route: 403")
    except mcp_proxyd.NotAllowedError as e:
        tap.eq(e.status, 403, "a session on an admin route: NotAllowedError")
    bad = mcp_proxyd.Client("http://127.0.0.1:%d/" % d.port, "0" * 64)
    try:
        bad.call_mcp_tool("mcp__demo__echo", {"message": "x"})
        tap.ok(False, "a wrong token: UnauthorizedError")
    except mcp_proxyd.UnauthorizedError as e:
        tap.eq(e.status, 401, "a wrong token: UnauthorizedError")
    slow = mcp_proxyd.Client("http://127.0.0.1:%d/" % d.port,
                             session(d, ["mcp__flaky__*"]), timeout=0.5)
    try:
        slow.call_mcp_tool("mcp__flaky__sleep", {"ms": 200})
        slow.call_mcp_tool("mcp__flaky__sleep", {"ms": 1500})
        tap.ok(False, "the client's own timeout: TimedOutError")
    except mcp_proxyd.TimedOutError as e:
        tap.eq(e.status, None, "the client's own timeout: TimedOutError, "
               "no status")
    try:
        mcp_proxyd.Client("http://127.0.0.1:1/", "t").tool_calls()
        tap.ok(False, "nothing listening: ProxyConnectionError")
    except mcp_proxyd.ProxyConnectionError:
        tap.ok(True, "nothing listening: ProxyConnectionError")
    for url, tok, what in (("", "t", "no URL"), ("ftp://x/", "t", "ftp"),
                           ("unix:rel", "t", "relative unix path"),
                           ("http://h/", "a b", "two-word token"),
                           ("http://h/", "", "no token")):
        try:
            mcp_proxyd.Client(url, tok)
            tap.ok(False, "bad %s: ValueError" % what)
        except ValueError as e:
            tap.ok("MCP_PROXYD" in str(e) or "token" in str(e),
                   "bad %s: ValueError" % what, e)
    for bad_args in ((5, {}), ("mcp__demo__echo", [1])):
        try:
            c.call_mcp_tool(*bad_args)
            tap.ok(False, "bad arguments %r: TypeError" % (bad_args,))
        except TypeError:
            tap.ok(True, "bad arguments %r: TypeError" % (bad_args,))


def test_rate_limit(tap, d):
    """A 429 with Retry-After: 1 retried after it; retries=0 raises."""
    tok = session(d, ["mcp__demo__*"],
                  rateLimit={"requests": 1, "windowSeconds": 1})
    url = "http://127.0.0.1:%d/" % d.port
    c = mcp_proxyd.Client(url, tok)
    c.call_mcp_tool("mcp__demo__echo", {"message": "1"})
    t0 = time.monotonic()
    r = c.call_mcp_tool("mcp__demo__echo", {"message": "2"})
    waited = time.monotonic() - t0
    tap.ok(r == "2" and 0.5 <= waited < 5,
           "a 429 is retried after its Retry-After (%.2f s)" % waited, r)
    c0 = mcp_proxyd.Client(url, tok, retries=0)
    try:
        c0.call_mcp_tool("mcp__demo__echo", {"message": "3"})
        c0.call_mcp_tool("mcp__demo__echo", {"message": "4"})
        tap.ok(False, "retries=0: RateLimitedError")
    except mcp_proxyd.RateLimitedError as e:
        tap.ok(e.status == 429 and e.retry_after is not None and
               1 <= e.retry_after <= 2, "retries=0: RateLimitedError with "
               "retry_after %r" % e.retry_after)


def crash_loop(d, name):
    st, _, h = d.request("GET", "/health")
    srvs = h.get("servers") if isinstance(h, dict) else None
    if isinstance(srvs, dict):
        srvs = [dict(v, name=k) for k, v in srvs.items()]
    return any(s.get("name") == name and s.get("crashLoop") is True
               for s in srvs or [])


def test_restart(tap, d, root):
    """A server that crashed and fails to start again answers 503 with
    Retry-After; the client retries, and the restarted server answers."""
    tok = session(d, ["mcp__flaky__*"])
    c = mcp_proxyd.Client("http://127.0.0.1:%d/" % d.port, tok,
                          max_retry_wait=10)
    tap.eq(c.call_mcp_tool("mcp__flaky__echo", {"message": "a"}), "a",
           "flaky server up")
    os.unlink(os.path.join(root, "ok"))
    try:
        c.call_mcp_tool("mcp__flaky__crash", {})
    except mcp_proxyd.ServerFailedError:
        pass
    tap.ok(wait_until(lambda: crash_loop(d, "flaky"), 20, 0.2),
           "the restarts fail: a crash loop")
    st, hdrs, _ = d.call("mcp__flaky__echo", {"message": "b"}, timeout=10)
    tap.ok(st == 503 and 1 <= int(hdrs.get("retry-after", 0)) <= 5,
           "then calls are answered 503 with Retry-After", (st, hdrs))
    open(os.path.join(root, "ok"), "w").close()
    t0 = time.monotonic()
    try:
        r = c.call_mcp_tool("mcp__flaky__echo", {"message": "c"})
    except mcp_proxyd.MCPProxydError as e:
        r = e
    calls = c.tool_calls()
    summ = [s for s in calls["summary"] if s["toolName"] ==
            "mcp__flaky__echo"]
    tap.ok(r == "c" and summ and summ[0]["errorCount"] >= 1 and
           summ[0]["lastCallStatus"] == "success",
           "a 503 during the restart is retried until the server is back "
           "(%.1f s)" % (time.monotonic() - t0), (r, summ))


def test_keepalive_unix(tap, d, root):
    path = os.path.join(root, "relay.sock")
    relay = UnixRelay(d.port, path)
    try:
        tok = session(d, ["mcp__demo__*"])
        for url in ("unix:" + path, path, "unix://" + path):
            c = mcp_proxyd.Client(url, tok)
            before = relay.accepted
            got = [c.call_mcp_tool("mcp__demo__echo", {"message": str(i)})
                   for i in range(5)]
            got.append(c.tool_calls()["calls"][-1])
            tap.ok(got == ["0", "1", "2", "3", "4", "mcp__demo__echo"] and
                   relay.accepted - before == 1,
                   "%s: six requests on one Unix connection" % url,
                   (got, relay.accepted - before))
            c.close()
        c = mcp_proxyd.Client("unix:" + path, tok)
        c.call_mcp_tool("mcp__demo__echo", {"message": "x"})
        # The daemon's side of the kept connection goes away while idle:
        # the next call opens a new one.
        c._conn.sock.shutdown(2)
        tap.eq(c.call_mcp_tool("mcp__demo__echo", {"message": "y"}), "y",
               "a kept connection that broke is opened again")
        c.close()
    finally:
        relay.close()
    c = mcp_proxyd.Client("unix:" + os.path.join(root, "none.sock"), "t")
    try:
        c.tool_calls()
        tap.ok(False, "no such socket: ProxyConnectionError")
    except mcp_proxyd.ProxyConnectionError as e:
        tap.ok("none.sock" in str(e), "no such socket: ProxyConnectionError",
               e)


def test_mypy(tap):
    py = python_with("mypy")
    if not need(tap, py, "mypy (Debian python3-mypy)", "mypy --strict"):
        return
    p = subprocess.run([py, "-m", "mypy", "--strict", "--no-incremental",
                        "--cache-dir=/dev/null",
                        "--python-version", "3.9",
                        os.path.join(CLIENTS_DIR, "python", "mcp_proxyd.py")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    tap.eq(p.returncode, 0, "mypy --strict --python-version 3.9 passes on "
           "the client: " + p.stdout.decode().strip().splitlines()[-1])


def main():
    tap = Tap()
    need(tap, npm_server("everything") and npm_server("memory") and
         shutil.which("node"), "@modelcontextprotocol/server-everything "
         "and -memory")
    root = tempfile.mkdtemp(prefix="mcp-client-py-")
    d = Daemon({"mcpServers": servers(root), "startTimeoutMs": 20000})
    try:
        tap.run(test_scenario, d)
        tap.run(test_original_api, d)
        tap.run(test_errors, d)
        tap.run(test_rate_limit, d)
        tap.run(test_restart, d, root)
        tap.run(test_keepalive_unix, d, root)
    finally:
        stop_ok(tap, d, "daemon")
    tap.run(test_mypy)
    shutil.rmtree(root, ignore_errors=True)
    tap.done()


if __name__ == "__main__":
    main()
