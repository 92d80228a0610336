"""mcp-proxyctl stubs against the real daemon and server-everything,
-memory and -filesystem: GET /mcp/tools?allowed=true; the TypeScript
modules pass tsc --noEmit --strict and deno check, the Python ones
py_compile and mypy --strict; a session token gets only its tools; names
mapped as documented; the stubs called for real under Deno and Python
(structuredContent typed); usage and output errors."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import (CLIENTS_DIR, TOP_BUILDDIR, Daemon, Tap, need,  # noqa
                     npm_bin, npm_server, python_with, stop_ok)
from clientcheck import session  # noqa

MCP_PROXYCTL = os.environ.get(
    "MCP_PROXYCTL", os.path.join(TOP_BUILDDIR, "src", "ctl", "mcp-proxyctl"))
MODULES = ["mcp_everything", "mcp_fs", "mcp_memory"]
SESSION = ["mcp__everything__echo", "mcp__everything__get-sum",
           "mcp__everything__get-structured-content"]


def run(cmd, env=None, timeout=120, cwd=None):
    p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, cwd=cwd,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def ctl(d, args, token=None):
    env = dict(os.environ, MCP_PROXYD_URL="http://127.0.0.1:%d/" % d.port,
               MCP_PROXYD_TOKEN=token or d.token)
    return run([MCP_PROXYCTL] + args, env)


def stubs(tap, d, lang, out, token=None, extra=()):
    os.makedirs(out, exist_ok=True)
    rc, o, e = ctl(d, ["stubs", "--lang", lang, "-o", out] + list(extra),
                   token)
    return rc, o, e


def test_allowed(tap, d):
    tok = session(d, SESSION)
    st, _, b = d.request("GET", "/mcp/tools?allowed=true",
                         token="Bearer " + tok)
    tap.eq(sorted(t["name"] for t in b.get("tools", [])), sorted(SESSION),
           "GET /mcp/tools?allowed=true: a session's tools only")
    st, _, b = d.request("GET", "/mcp/tools?q=echo&allowed=false",
                         token="Bearer " + tok)
    tap.ok(st == 200 and len(b.get("tools", [])) >= 1,
           "allowed=false: every tool, as without it", b)
    st, _, b = d.request("GET", "/mcp/tools?allowed=1")
    tap.ok(st == 400 and "allowed" in b.get("error", ""),
           "allowed=1: 400", b)


def test_ts(tap, d, root, tsc, deno):
    out = os.path.join(root, "ts")
    rc, o, e = stubs(tap, d, "ts", out)
    tap.eq((rc, sorted(os.path.basename(p)[:-3] for p in o.split())),
           (0, MODULES), "stubs --lang ts: one module per server, paths "
           "printed")
    shutil.copy(os.path.join(CLIENTS_DIR, "ts", "mcp-proxyd.ts"), out)
    files = [os.path.join(out, m + ".ts") for m in MODULES]
    rc, o, e = run([tsc, "--noEmit", "--strict", "--target", "es2022",
                    "--module", "esnext", "--allowImportingTsExtensions"] +
                   files)
    tap.eq((rc, o + e), (0, ""), "tsc --noEmit --strict on the modules")
    rc, o, e = run([deno, "check"] + files, dict(
        os.environ, DENO_DIR=os.path.join(root, "deno"), NO_COLOR="1"))
    tap.eq(rc, 0, "deno check on the modules")
    if rc != 0:
        tap.diag(o + e)
    with open(os.path.join(out, "mcp_everything.ts")) as f:
        text = f.read()
    tap.ok("export async function get_sum(params: GetSumParams): "
           "Promise<unknown>" in text and
           "export async function get_structured_content(params: "
           "GetStructuredContentParams): Promise<GetStructuredContentResult>"
           in text and "\tmessage: string;" in text and
           "Get Sum Tool: Returns the sum of two numbers" in text,
           "names mapped (get-sum: get_sum, GetSumParams), outputSchema "
           "as the return type, title and description as the comment")
    script = os.path.join(out, "use.ts")
    with open(script, "w") as f:
        f.write('import { get_structured_content, get_sum } from '
                '"./mcp_everything.ts";\n'
                'const w = await get_structured_content('
                '{ location: "Chicago" });\n'
                'const t: number = w.temperature;\n'
                'console.log(JSON.stringify({ sum: await get_sum({ a: 2, '
                'b: 3 }), t: typeof t, conditions: w.conditions }));\n')
    env = dict(os.environ, MCP_PROXYD_URL="http://127.0.0.1:%d/" % d.port,
               MCP_PROXYD_TOKEN=d.token, DENO_DIR=os.path.join(root, "deno"))
    rc, o, e = run([MCP_PROXYCTL, "exec", "--tools", ",".join(SESSION),
                    "--summary", os.path.join(root, "sum.json"), "--",
                    deno, "run", "--no-prompt",
                    "--allow-net=127.0.0.1:%d" % d.port,
                    "--allow-env=MCP_PROXYD_URL,MCP_PROXYD_TOKEN", script],
                   env)
    res = json.loads(o) if rc == 0 else {}
    tap.ok(res.get("sum") == "The sum of 2 and 3 is 5." and
           res.get("t") == "number" and isinstance(res.get("conditions"),
                                                   str),
           "deno through mcp-proxyctl exec: the stubs call the tools, "
           "structuredContent typed", o + e)


def test_py(tap, d, root, mypy_py):
    out = os.path.join(root, "py")
    rc, o, e = stubs(tap, d, "py", out)
    tap.eq((rc, sorted(os.path.basename(p)[:-3] for p in o.split())),
           (0, MODULES), "stubs --lang py: one module per server")
    shutil.copy(os.path.join(CLIENTS_DIR, "python", "mcp_proxyd.py"), out)
    files = [os.path.join(out, m + ".py") for m in MODULES]
    rc, o, e = run([sys.executable, "-m", "py_compile"] + files)
    tap.eq((rc, e), (0, ""), "py_compile on the modules")
    if mypy_py is not None:
        rc, o, e = run([mypy_py, "-m", "mypy", "--strict",
                        "--no-incremental", "--cache-dir=/dev/null",
                        "--python-version", "3.9"] +
                       files, cwd=out)
        tap.eq(rc, 0, "mypy --strict on the modules: " +
               (o.strip().splitlines() or [""])[-1])
    code = ("import mcp_everything as e\n"
            "w = e.get_structured_content({'location': 'Chicago'})\n"
            "print(e.get_sum({'a': 2, 'b': 3}), type(w['temperature'])"
            ".__name__ in ('int', 'float'), sorted(w))\n")
    env = dict(os.environ, MCP_PROXYD_URL="http://127.0.0.1:%d/" % d.port,
               MCP_PROXYD_TOKEN=d.token, PYTHONPATH=out)
    rc, o, e = run([MCP_PROXYCTL, "exec", "--tools", ",".join(SESSION),
                    "--summary", os.path.join(root, "sum.json"), "--",
                    sys.executable, "-c", code], env)
    tap.eq((rc, o.strip()), (0, "The sum of 2 and 3 is 5. True "
                                "['conditions', 'humidity', 'temperature']"),
           "python through mcp-proxyctl exec: the stubs call the tools")


def test_session(tap, d, root):
    tok = session(d, SESSION)
    out = os.path.join(root, "session")
    rc, o, e = stubs(tap, d, "py", out, tok)
    with open(os.path.join(out, "mcp_everything.py")) as f:
        defs = sorted(ln.split("(")[0][4:] for ln in f
                      if ln.startswith("def "))
    tap.eq((rc, o.split(), defs), (0, [os.path.join(out, "mcp_everything.py")],
                                   ["echo", "get_structured_content",
                                    "get_sum"]),
           "a session token: only its tools, of its one server")
    rc, o, e = stubs(tap, d, "ts", out, tok, ["--server", "memory"])
    tap.ok(rc == 1 and "no tool of server 'memory'" in e,
           "--server with no allowed tool: exit 1, said", (rc, e))


def test_usage(tap, d, root):
    for args, what in ((["stubs"], "no --lang"),
                       (["stubs", "--lang", "go"], "--lang go"),
                       (["calls", "--lang", "ts"], "--lang with calls"),
                       (["stubs", "--lang", "ts", "extra"], "an argument")):
        rc, o, e = ctl(d, args)
        tap.ok(rc == 2 and e.startswith("mcp-proxyctl: "),
               "usage error (%s): exit 2" % what, (rc, e))
    rc, o, e = ctl(d, ["stubs", "--lang", "ts", "-o",
                       os.path.join(root, "none", "dir")])
    tap.ok(rc == 1 and "cannot write" in e and "none/dir" in e,
           "an output directory that is not there: exit 1, said", (rc, e))


def main():
    tap = Tap()
    node = shutil.which("node")
    need(tap, npm_server("everything") and npm_server("memory") and
         npm_server("filesystem") and node,
         "@modelcontextprotocol/server-everything, -memory and -filesystem")
    deno, tsc = npm_bin("deno"), npm_bin("tsc")
    need(tap, deno, "deno (npm deno)")
    need(tap, tsc, "tsc (npm typescript)")
    mypy_py = python_with("mypy")
    root = tempfile.mkdtemp(prefix="mcp-stubs-")
    d = Daemon({"mcpServers": {
        "everything": {"command": node, "args": [npm_server("everything")]},
        "memory": {"command": node, "args": [npm_server("memory")],
                   "env": {"MEMORY_FILE_PATH":
                           os.path.join(root, "memory.jsonl")}},
        "fs": {"command": node, "args": [npm_server("filesystem"), root]},
    }, "startTimeoutMs": 20000})
    try:
        d.call("mcp__everything__echo", {"message": "up"})
        tap.run(test_allowed, d)
        tap.run(test_ts, d, root, tsc, deno)
        tap.run(test_py, d, root, mypy_py)
        tap.run(test_session, d, root)
        tap.run(test_usage, d, root)
    finally:
        stop_ok(tap, d, "daemon")
    need(tap, mypy_py, "mypy (Debian python3-mypy)", "mypy --strict")
    shutil.rmtree(root, ignore_errors=True)
    tap.done()


if __name__ == "__main__":
    main()
