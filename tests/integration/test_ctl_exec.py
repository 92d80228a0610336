"""mcp-proxyctl exec against the real daemon: the sandbox scenario run as
COMMAND from Python, Deno (--allow-net for the daemon only) and Node with
the session's URL and token in its environment and nothing else added
(never the admin token); the session revoked afterwards and its calls
printed (stderr or --summary); COMMAND's exit status, 128+N for a signal,
125/126/127; SIGTERM and SIGINT forwarded; --unix PATH."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (CLIENTS_DIR, TOP_BUILDDIR, Daemon, Tap,  # noqa
                     UnixRelay, need, npm_bin, npm_server, stop_ok)
from clientcheck import (EXPECTED, SESSION_TOOLS, check_scenario,  # noqa
                         servers)

MCP_PROXYCTL = os.environ.get(
    "MCP_PROXYCTL", os.path.join(TOP_BUILDDIR, "src", "ctl", "mcp-proxyctl"))
HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable


def admin_env(d, **extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("MCP_PROXYD_URL", "MCP_PROXYD_TOKEN")}
    env.update(MCP_PROXYD_URL="http://127.0.0.1:%d/" % d.port,
               MCP_PROXYD_TOKEN=d.token,
               PYTHONPATH=os.path.join(CLIENTS_DIR, "python"))
    env.update(extra)
    return env


def ctl_exec(d, opts, cmd, env=None, timeout=120):
    p = subprocess.run([MCP_PROXYCTL, "exec"] + opts + ["--"] + cmd,
                       env=env or admin_env(d), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


def no_sessions(d):
    st, _, b = d.request("GET", "/sessions")
    return st == 200 and b.get("sessions") == []


def scenario(tap, d, who, cmd, root, extra=None):
    """The scenario as COMMAND; its summary in a file."""
    summary = os.path.join(root, who + ".summary")
    rc, out, err = ctl_exec(d, ["--tools", ",".join(SESSION_TOOLS),
                                "--summary", summary] + (extra or []), cmd)
    tap.eq(rc, 0, "%s: exec exits with the command's 0" % who)
    try:
        res = json.loads(out)
    except ValueError:
        tap.ok(False, "%s: the command printed JSON" % who, out + err)
        return {}
    check_scenario(tap, res, who)
    with open(summary) as f:
        s = last_json(f.read()) or {}
    names = [e.get("toolName") for e in s.get("summary", [])]
    tap.ok(s.get("revoked") is True and s.get("calls") == EXPECTED["calls"]
           and "mcp__everything__echo" in names,
           "%s: the session is revoked, its calls in --summary" % who, s)
    tap.ok(no_sessions(d), "%s: no session left" % who)
    return res


def test_python(tap, d, root):
    scenario(tap, d, "python", [PY, os.path.join(HERE, "clients",
                                                 "scenario.py")], root)


def test_deno(tap, d, root, deno):
    res = scenario(tap, d, "deno", [
        deno, "run", "--no-prompt", "--allow-net=127.0.0.1:%d" % d.port,
        "--allow-env=MCP_PROXYD_URL,MCP_PROXYD_TOKEN",
        os.path.join(HERE, "clients", "scenario.ts"), str(d.port + 1)], root)
    tap.eq(res.get("refused"), ["NotCapable", "NotCapable"],
           "deno: other addresses refused by Deno itself")


def test_node(tap, d, root):
    scenario(tap, d, "node", [shutil.which("node"), os.path.join(
        HERE, "clients", "scenario.mjs")], root)


def test_env(tap, d):
    show = "import json, os; print(json.dumps(dict(os.environ)))"
    env = admin_env(d, ADMIN_COPY=d.token, KEPT="yes")
    rc, out, err = ctl_exec(d, ["--tools", "mcp__demo__echo"],
                            [PY, "-c", show], env)
    child = json.loads(out) if rc == 0 else {}
    tok = child.get("MCP_PROXYD_TOKEN", "")
    tap.ok(rc == 0 and len(tok) == 64 and tok != d.token and
           d.token not in out, "the child has a session token, never the "
           "admin token", err)
    tap.eq(child.get("MCP_PROXYD_URL"), "http://127.0.0.1:%d/" % d.port,
           "the child has the daemon's URL")
    want = {k: v for k, v in env.items() if k != "ADMIN_COPY"}
    want.update(MCP_PROXYD_URL=child.get("MCP_PROXYD_URL"),
                MCP_PROXYD_TOKEN=tok)
    # What python itself adds to its own environment, if anything.
    extra = set(child) - set(want)
    tap.ok(not extra and all(child.get(k) == v for k, v in want.items()),
           "nothing else added or changed, ADMIN_COPY left out", extra)
    tap.ok("ADMIN_COPY" in err and d.token not in err,
           "stderr says ADMIN_COPY was left out (not its value)", err)
    s = last_json(err) or {}
    tap.ok(s.get("revoked") is True and s.get("calls") == [],
           "without --summary, the summary is the last line on stderr", err)
    st, _, _ = d.request("GET", "/mcp/calls", token="Bearer " + tok)
    tap.eq(st, 401, "the session's token is dead once exec returns")


def test_status(tap, d, root):
    rc, _, err = ctl_exec(d, [], ["sh", "-c", "exit 7"])
    tap.ok(rc == 7 and (last_json(err) or {}).get("revoked") is True,
           "exit 7 passed on, the session revoked", err)
    rc, _, err = ctl_exec(d, [], ["sh", "-c", "kill -TERM $$"])
    tap.ok(rc == 128 + signal.SIGTERM and
           (last_json(err) or {}).get("revoked") is True,
           "killed by SIGTERM: 143, the session revoked", (rc, err))
    rc, _, err = ctl_exec(d, [], [os.path.join(root, "no-such-command")])
    tap.ok(rc == 127 and "no-such-command" in err and
           (last_json(err) or {}).get("revoked") is True,
           "a command not found: 127, said, the session revoked", (rc, err))
    path = os.path.join(root, "not-executable")
    open(path, "w").close()
    rc, _, err = ctl_exec(d, [], [path])
    tap.ok(rc == 126 and "Permission denied" in err, "a command that "
           "cannot run: 126", (rc, err))
    marker = os.path.join(root, "ran")
    rc, _, err = ctl_exec(d, [], ["touch", marker], admin_env(
        d, MCP_PROXYD_TOKEN="f" * 64))
    tap.ok(rc == 125 and "401" in err and not os.path.exists(marker),
           "no session (a wrong admin token): 125, the command not run",
           (rc, err))
    rc, _, err = ctl_exec(d, ["--label", "x" * 200], ["touch", marker])
    tap.ok(rc == 125 and "400" in err and "label" in err and
           not os.path.exists(marker), "a session the daemon refuses: 125 "
           "with its message, the command not run", (rc, err))
    rc, _, err = ctl_exec(d, ["--summary", os.path.join(root, "no", "f")],
                          ["true"])
    tap.ok(rc == 125 and "--summary" in err, "an unwritable --summary: 125",
           (rc, err))
    tap.ok(no_sessions(d), "no session left after all that")


def test_signals(tap, d, root):
    child = ("import signal, sys, time\n"
             "def h(s, f):\n"
             "    print('got', s, flush=True); sys.exit(3)\n"
             "signal.signal(signal.SIGTERM, h)\n"
             "print('ready', flush=True)\n"
             "time.sleep(60)\n")
    for sig, want, what in ((signal.SIGTERM, 3, "handled: its exit status"),
                            (signal.SIGINT, 128 + signal.SIGINT,
                             "not handled: 130")):
        summary = os.path.join(root, "sig.summary")
        p = subprocess.Popen([MCP_PROXYCTL, "exec", "--summary", summary,
                              "--", PY, "-c", child], env=admin_env(d),
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = p.stdout.readline().decode()
        t0 = time.monotonic()
        p.send_signal(sig)
        try:
            out, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        with open(summary) as f:
            s = last_json(f.read()) or {}
        tap.ok(line == "ready\n" and p.returncode == want and
               s.get("revoked") is True and time.monotonic() - t0 < 10,
               "%s sent to mcp-proxyctl reaches the command (%s), the "
               "session revoked" % (sig.name, what),
               (line, p.returncode, out, err))


def test_unix(tap, d, root):
    path = os.path.join(root, "relay.sock")
    relay = UnixRelay(d.port, path)
    code = ("import os, mcp_proxyd as m\n"
            "print(os.environ['MCP_PROXYD_URL'])\n"
            "print(m.call_mcp_tool('mcp__demo__echo', {'message': 'u'}))\n")
    try:
        rc, out, err = ctl_exec(d, ["--unix", path, "--tools",
                                    "mcp__demo__*"], [PY, "-c", code])
    finally:
        relay.close()
    tap.ok(rc == 0 and out.splitlines() == ["unix:" + path, "u"] and
           relay.accepted == 1,
           "--unix PATH: MCP_PROXYD_URL=unix:PATH, the Python client "
           "calls through it", (rc, out, err))


def main():
    tap = Tap()
    node = shutil.which("node")
    need(tap, npm_server("everything") and npm_server("memory") and node,
         "@modelcontextprotocol/server-everything and -memory")
    deno = npm_bin("deno")
    need(tap, deno, "deno (npm deno)")
    root = tempfile.mkdtemp(prefix="mcp-ctl-exec-")
    os.environ["DENO_DIR"] = os.path.join(root, "deno")
    d = Daemon({"mcpServers": servers(root), "startTimeoutMs": 20000})
    try:
        tap.run(test_python, d, root)
        tap.run(test_deno, d, root, deno)
        tap.run(test_node, d, root)
        tap.run(test_env, d)
        tap.run(test_status, d, root)
        tap.run(test_signals, d, root)
        tap.run(test_unix, d, root)
    finally:
        stop_ok(tap, d, "daemon")
    shutil.rmtree(root, ignore_errors=True)
    tap.done()


if __name__ == "__main__":
    main()
