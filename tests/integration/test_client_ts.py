"""The TypeScript client (clients/ts/mcp-proxyd.ts and its .mjs) against
the real daemon and the npm reference servers: the sandbox scenario under
Deno (with --allow-net for the daemon only: Deno refuses anything else)
and under Node, a script written for the original's injected globals run
unchanged under Deno, errors, retries and timeouts, the Unix socket path
under Deno; the .mjs is what the pinned tsc emits from the .ts; the .ts
passes tsc --strict and deno check."""
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import (CLIENTS_DIR, Daemon, Tap, UnixRelay, need,  # noqa
                     npm_bin, npm_server, stop_ok)
from clientcheck import (SESSION_TOOLS, check_scenario, servers,  # noqa
                         session)

HERE = os.path.dirname(os.path.abspath(__file__))
TS = os.path.join(CLIENTS_DIR, "ts")
TSC_FLAGS = ["--strict", "--target", "es2022", "--module", "esnext"]


def run(cmd, env=None, timeout=120):
    p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def sandbox_env(d, token, deno_dir, **extra):
    env = dict(os.environ, MCP_PROXYD_URL="http://127.0.0.1:%d/" % d.port,
               MCP_PROXYD_TOKEN=token, DENO_DIR=deno_dir, NO_COLOR="1")
    env.update(extra)
    return env


def deno_run(deno, d, args, env):
    return run([deno, "run", "--no-prompt",
                "--allow-net=127.0.0.1:%d" % d.port,
                "--allow-env=MCP_PROXYD_URL,MCP_PROXYD_TOKEN"] + args, env)


def parse(tap, name, rc, out, err):
    tap.eq(rc, 0, name + ": exit 0")
    try:
        return json.loads(out)
    except ValueError:
        tap.ok(False, name + ": prints JSON", out + err)
        return {}


def test_deno_scenario(tap, d, deno, deno_dir):
    env = sandbox_env(d, session(d, SESSION_TOOLS), deno_dir)
    rc, out, err = deno_run(deno, d, [os.path.join(
        HERE, "clients", "scenario.ts"), str(d.port + 1)], env)
    out = parse(tap, "deno scenario.ts", rc, out, err)
    check_scenario(tap, out, "deno")
    tap.eq(out.get("refused"), ["NotCapable", "NotCapable"],
           "deno: any other address is refused by Deno itself")


def test_node_scenario(tap, d, node):
    env = sandbox_env(d, session(d, SESSION_TOOLS), "")
    rc, out, err = run([node, os.path.join(HERE, "clients", "scenario.mjs")],
                       env)
    check_scenario(tap, parse(tap, "node scenario.mjs", rc, out, err),
                   "node")


def test_original_api(tap, d, deno, deno_dir):
    env = sandbox_env(d, session(d, SESSION_TOOLS), deno_dir)
    rc, out, err = run([deno, "run", "--no-prompt", "--preload",
                        os.path.join(TS, "mcp-proxyd-globals.mjs"),
                        "--allow-net=127.0.0.1:%d" % d.port,
                        "--allow-env=MCP_PROXYD_URL,MCP_PROXYD_TOKEN",
                        os.path.join(HERE, "clients", "original_api.ts")],
                       env)
    tap.ok(rc == 0 and out.splitlines() == [
        "tools: mcp__everything__echo mcp__everything__get-sum",
        "echo: Echo: from the original",
        "sum: The sum of 40 and 2 is 42.",
        "error: Tool 'mcp__everything__get-env' not in allowlist",
        "calls: 3"],
           "deno: a script for the original's injected globals runs "
           "unchanged", out + err)
    env = sandbox_env(d, session(d, SESSION_TOOLS), deno_dir)
    del env["MCP_PROXYD_TOKEN"]
    rc, out, err = deno_run(deno, d, [os.path.join(
        HERE, "clients", "scenario.ts"), "1"], env)
    tap.ok(rc != 0 and "MCP_PROXYD_TOKEN" in err,
           "deno without a token: a clear error", err[-500:])


def test_errors(tap, d, runner, name, root, deno_dir):
    """errors.mjs under node or deno."""
    relay = None
    extra = {"TOKEN_DEMO": session(d, ["mcp__demo__*"]),
             "TOKEN_RL": session(d, ["mcp__demo__*"], rateLimit={
                 "requests": 1, "windowSeconds": 1})}
    script = os.path.join(HERE, "clients", "errors.mjs")
    if name == "deno":
        path = os.path.join(root, "relay.sock")
        relay = UnixRelay(d.port, path)
        extra["UNIX_URL"] = "unix:" + path
        cmd = [runner, "run", "--no-prompt",
               "--allow-net=127.0.0.1:%d,unix:%s,mcp-proxyd.invalid"
               % (d.port, path),
               "--allow-read=" + path, "--allow-write=" + path,
               "--allow-env", script]
    else:
        cmd = [runner, script]
    try:
        rc, out, err = run(cmd, sandbox_env(d, "unused", deno_dir, **extra))
    finally:
        if relay is not None:
            relay.close()
    out = parse(tap, name + " errors.mjs", rc, out, err)
    want = {
        "tool": {"error": "ToolError", "status": 422, "isError": True},
        "timeout": {"error": "TimedOutError", "status": 504},
        "crash": {"error": "ServerFailedError", "status": 502},
        "own_timeout": {"error": "TimedOutError", "status": None},
        "unauthorized": {"error": "UnauthorizedError", "status": 401},
        "unreachable": {"error": "ProxyConnectionError", "status": None},
        "bad_url": {"error": "MCPProxydError", "status": None},
        "bad_params": {"error": "TypeError", "status": None},
        "retried": "2",
        "rate_limited": {"error": "RateLimitedError", "status": 429,
                         "retryAfter": 1},
    }
    for k, v in want.items():
        tap.eq(out.get(k), v, "%s: %s" % (name, k))
    tap.ok(500 <= out.get("waitedMs", 0) < 5000,
           "%s: a 429 retried after its Retry-After (%s ms)" %
           (name, out.get("waitedMs")))
    if name == "deno":
        tap.eq(out.get("unix"), ["0", "1", "2"],
               "deno: calls over a Unix socket (Deno.createHttpClient)")


def test_mjs(tap, tsc, deno, deno_dir):
    out = tempfile.mkdtemp(prefix="mcp-tsc-")
    try:
        rc, o, e = run([tsc] + TSC_FLAGS + ["--outDir", out,
                                            os.path.join(TS,
                                                         "mcp-proxyd.ts")])
        tap.ok(rc == 0 and filecmp.cmp(os.path.join(out, "mcp-proxyd.js"),
                                       os.path.join(TS, "mcp-proxyd.mjs"),
                                       shallow=False),
               "mcp-proxyd.mjs is what tsc emits from mcp-proxyd.ts (else: "
               "tsc %s --outDir DIR mcp-proxyd.ts and copy DIR/mcp-proxyd.js)"
               % " ".join(TSC_FLAGS), o + e)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    rc, o, e = run([tsc, "--noEmit"] + TSC_FLAGS +
                   [os.path.join(TS, "mcp-proxyd.ts")])
    tap.eq((rc, o + e), (0, ""), "tsc --noEmit --strict mcp-proxyd.ts")
    rc, o, e = run([deno, "check", os.path.join(TS, "mcp-proxyd.ts"),
                    os.path.join(TS, "mcp-proxyd-globals.mjs"),
                    os.path.join(HERE, "clients", "scenario.ts")],
                   dict(os.environ, DENO_DIR=deno_dir, NO_COLOR="1"))
    tap.eq(rc, 0, "deno check mcp-proxyd.ts, the globals and scenario.ts")
    if rc != 0:
        tap.diag(o + e)


def main():
    tap = Tap()
    node = shutil.which("node")
    need(tap, npm_server("everything") and npm_server("memory") and node,
         "@modelcontextprotocol/server-everything and -memory")
    deno, tsc = npm_bin("deno"), npm_bin("tsc")
    need(tap, deno, "deno (npm deno)")
    need(tap, tsc, "tsc (npm typescript)")
    root = tempfile.mkdtemp(prefix="mcp-client-ts-")
    deno_dir = os.path.join(root, "deno")
    tap.run(test_mjs, tsc, deno, deno_dir)
    d = Daemon({"mcpServers": servers(root), "startTimeoutMs": 20000})
    try:
        tap.run(test_deno_scenario, d, deno, deno_dir)
        tap.run(test_node_scenario, d, node)
        tap.run(test_original_api, d, deno, deno_dir)
        tap.run(test_errors, d, node, "node", root, deno_dir)
        tap.run(test_errors, d, deno, "deno", root, deno_dir)
    finally:
        stop_ok(tap, d, "daemon")
    shutil.rmtree(root, ignore_errors=True)
    tap.done()


if __name__ == "__main__":
    main()
