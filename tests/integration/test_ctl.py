"""mcp-proxyctl against the real daemon: session create/list/show/revoke,
calls, health, tools; where the URL and the token come from (options,
environment, -c config) and in which order; HTTP errors, connection
errors and usage errors with their exit statuses."""
import datetime
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (TOP_BUILDDIR, Daemon, SANITIZER_REPORTS, Tap,  # noqa
                     demo_server, stop_ok)

MCP_PROXYCTL = os.environ.get(
    "MCP_PROXYCTL", os.path.join(TOP_BUILDDIR, "src", "ctl", "mcp-proxyctl"))
DAEMON_TOOLS = ["mcp__demo__echo", "mcp__demo__add"]
HEX64 = re.compile(r"^[0-9a-f]{64}$")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

# Every run's output, to check that no admin token and no sanitizer
# report ever shows up.
OUTPUTS = []


def ctl(args, env=None, timeout=60):
    """Runs mcp-proxyctl; (exit status, stdout, stderr). The environment
    is ours without MCP_PROXYD_URL/MCP_PROXYD_TOKEN, plus env."""
    e = {k: v for k, v in os.environ.items()
         if k not in ("MCP_PROXYD_URL", "MCP_PROXYD_TOKEN")}
    e.update(env or {})
    p = subprocess.run([MCP_PROXYCTL] + list(args), env=e,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    out, err = p.stdout.decode(), p.stderr.decode()
    OUTPUTS.append((list(args), out, err))
    return p.returncode, out, err


def env_of(d, token=None):
    return {"MCP_PROXYD_URL": "http://127.0.0.1:%d/" % d.port,
            "MCP_PROXYD_TOKEN": token or d.token}


def loads(text):
    try:
        return json.loads(text)
    except ValueError:
        return None


def closed_port():
    """A port nothing listens on, kept so while the socket lives."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


def stamp(s):
    return datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")


def t_sessions(tap):
    d = Daemon({"mcpServers": demo_server(), "allowedTools": DAEMON_TOOLS})
    env = env_of(d)
    try:
        rc, out, err = ctl(["session", "create", "--tools",
                            "mcp__demo__echo", "--ttl", "600", "--label",
                            "ctl test"], env)
        s = loads(out) or {}
        tap.ok(rc == 0 and HEX64.match(s.get("token", "")) and
               s.get("sessionId") and STAMP.match(s.get("expiresAt", "")) and
               s.get("allowedTools") == ["mcp__demo__echo"] and
               s.get("label") == "ctl test",
               "session create prints sessionId, token, expiresAt, "
               "allowedTools", (rc, out, err))
        tap.ok(s and (stamp(s["expiresAt"]) - stamp(s["createdAt"]))
               .total_seconds() == 600 and "\n  " in out,
               "--ttl 600 is sent; the JSON is pretty-printed", out)
        tok, sid = s.get("token", "x"), s.get("sessionId", "x")
        st, _, b = d.call("mcp__demo__echo", {"message": "hi"},
                          token="Bearer " + tok)
        tap.ok(st == 200 and b == {"result": "hi"},
               "the session's token calls a tool with POST /", (st, b))
        rc, out, err = ctl(["calls"], env_of(d, tok))
        tap.ok(rc == 0 and (loads(out) or {}).get("calls") ==
               ["mcp__demo__echo"], "calls with the session's token in "
               "MCP_PROXYD_TOKEN: its own call", (rc, out, err))
        rc, out, err = ctl(["session", "list"], env)
        ids = [x.get("sessionId") for x in
               (loads(out) or {}).get("sessions", [])]
        tap.ok(rc == 0 and ids == [sid] and tok not in out,
               "session list shows it, without its token", (rc, out, err))
        rc, out, err = ctl(["session", "show", sid], env)
        tap.ok(rc == 0 and (loads(out) or {}).get("sessionId") == sid,
               "session show ID", (rc, out, err))
        rc, out, err = ctl(["session", "revoke", sid], env)
        tap.ok(rc == 0 and (loads(out) or {}).get("revoked") is True,
               "session revoke ID", (rc, out, err))
        st = d.call("mcp__demo__echo", {"message": "hi"},
                    token="Bearer " + tok)[0]
        tap.eq(st, 401, "the revoked token is refused")
        rc, out, err = ctl(["session", "show", sid], env)
        tap.ok(rc == 1 and out == "" and err.startswith(
               "mcp-proxyctl: GET /sessions/%s: HTTP 404 Not Found: "
               "No session '%s'" % (sid, sid)),
               "session show of a revoked one: exit 1, the 404 message",
               (rc, out, err))
        rc, out, err = ctl(["session", "create", "--tools",
                            "mcp__demo__echo,mcp__demo__sleep"], env)
        tap.ok(rc == 1 and out == "" and "HTTP 403" in err and
               "'mcp__demo__sleep'" in err and "'mcp__demo__echo'" not in
               err, "a tool beyond the daemon's allowlist: exit 1, the 403 "
               "names it", (rc, out, err))
        rc, out, err = ctl(["session", "create", "--token-only",
                            "--rate", "5/1m", "--max-concurrent", "2"], env)
        st = d.call("mcp__demo__add", {"a": 1, "b": 2},
                    token="Bearer " + out.strip())[0]
        tap.ok(rc == 0 and HEX64.match(out.rstrip("\n")) and
               out.endswith("\n") and out.count("\n") == 1 and st == 200,
               "--token-only prints just a working token",
               (rc, out, err, st))
        rc, out, err = ctl(["session", "list", "--raw"], env)
        lim = [x.get("rateLimit") for x in
               (loads(out) or {}).get("sessions", [])]
        tap.ok(rc == 0 and out.count("\n") == 1 and
               lim == [{"requests": 5, "windowSeconds": 60}],
               "--raw prints the daemon's line; --rate 5/1m was sent",
               (rc, out, err))
        rc, out, err = ctl(["health"], env_of(d, "0" * 64))
        tap.ok(rc == 1 and out == "" and "HTTP 401" in err and
               "MCP_PROXYD_TOKEN" in err and "0" * 64 not in err,
               "a wrong token: exit 1, the 401 says where the token came "
               "from, not the token", (rc, out, err))
    finally:
        stop_ok(tap, d, "sessions")
    tap.ok(not any(d.token in o + e for _, o, e in OUTPUTS),
           "the admin token is never printed")


def t_health_and_tools(tap):
    d = Daemon({"mcpServers": demo_server(), "allowedTools": DAEMON_TOOLS})
    env = env_of(d)
    try:
        rc, out, err = ctl(["health"], env)
        tap.ok(rc == 0 and (loads(out) or {}).get("healthy") is True,
               "health: exit 0 and the daemon's JSON", (rc, out, err))
        rc, out, err = ctl(["tools", "echo"], env)
        names = [t.get("name") for t in (loads(out) or {}).get("tools", [])]
        tap.ok(rc == 0 and "mcp__demo__echo" in names and
               "mcp__demo__add" not in names,
               "tools QUERY: the matching tools only", (rc, names, err))
        rc, out, err = ctl(["tools", "two numbers", "wait the given"], env)
        names = sorted(t.get("name") for t in
                       (loads(out) or {}).get("tools", []))
        tap.ok(rc == 0 and names == ["mcp__demo__add", "mcp__demo__sleep"],
               "tools with two words (with spaces): either matches",
               (rc, names, err))
        rc, out, err = ctl(["tools", "a/b"], env)
        tap.ok(rc == 1 and "HTTP 400" in err and
               "/mcp/tools?q=a%2Fb" in err,
               "tools with a bad word: encoded, the daemon's 400",
               (rc, err))
    finally:
        stop_ok(tap, d, "health and tools")
    d = Daemon({"mcpServers": {"broken": {"command": "/nonexistent/srv"}},
                "startTimeoutMs": 1000})
    try:
        rc, out, err = ctl(["health"], env_of(d))
        tap.ok(rc == 1 and (loads(out) or {}).get("healthy") is False and
               "HTTP 503" in err, "health of an unhealthy daemon: its JSON "
               "on stdout, exit 1", (rc, out, err))
    finally:
        stop_ok(tap, d, "unhealthy")


def token_file(dirname, token, name="token"):
    path = os.path.join(dirname, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, (token + "\n").encode())
    os.close(fd)
    return path


def t_sources(tap):
    # -c needs a fixed port: a free one, taken by the daemon just after
    # (a race with other processes we accept).
    sock, port = closed_port()
    sock.close()
    token = os.urandom(32).hex()
    tfile = token_file(tempfile.mkdtemp(prefix="mcp-proxyctl-test-"), token)
    d = None
    try:
        d = Daemon({"mcpServers": demo_server(), "authTokenFile": tfile,
                    "listen": "127.0.0.1:%d" % port})
        d.token = token
        cfg = d.config_path
        rc, out, err = ctl(["-c", cfg, "health"])
        tap.ok(rc == 0 and (loads(out) or {}).get("healthy") is True,
               "-c: the URL and token from listen and authTokenFile",
               (rc, out, err))
        dead, dport = closed_port()
        dead_url = "http://127.0.0.1:%d" % dport
        good_url = "http://127.0.0.1:%d" % port
        rc, out, err = ctl(["-c", cfg, "calls"], {"MCP_PROXYD_URL": dead_url})
        tap.ok(rc == 1 and dead_url in err and "refused" in err,
               "MCP_PROXYD_URL comes before the config's listen",
               (rc, err))
        rc, out, err = ctl(["-c", cfg, "--url", good_url, "calls"],
                           {"MCP_PROXYD_URL": dead_url})
        tap.ok(rc == 0 and "calls" in (loads(out) or {}),
               "--url comes before MCP_PROXYD_URL", (rc, out, err))
        rc, out, err = ctl(["-c", cfg, "calls"],
                           {"MCP_PROXYD_TOKEN": "f" * 64})
        tap.ok(rc == 1 and "HTTP 401" in err and "MCP_PROXYD_TOKEN" in err,
               "MCP_PROXYD_TOKEN comes before authTokenFile", (rc, err))
        wrong = token_file(d.dir, "e" * 64, "wrong")
        rc, out, err = ctl(["-c", cfg, "--token-file", wrong, "calls"],
                           {"MCP_PROXYD_TOKEN": token})
        tap.ok(rc == 1 and "HTTP 401" in err and "--token-file" in err,
               "--token-file comes before MCP_PROXYD_TOKEN", (rc, err))
        rc, out, err = ctl(["--token-file", tfile, "health"],
                           {"MCP_PROXYD_URL": good_url + "/"})
        tap.eq(rc, 0, "--token-file with MCP_PROXYD_URL")
        dead.close()
    finally:
        if d is not None:
            stop_ok(tap, d, "sources")
    tap.ok(not any(token in o + e for _, o, e in OUTPUTS),
           "the token from the file is never printed")


def t_missing(tap):
    d = Daemon({"mcpServers": demo_server()})
    try:
        rc, out, err = ctl(["-c", d.config_path, "health"])
        tap.ok(rc == 2 and "no daemon URL" in err and "MCP_PROXYD_URL" in
               err and '"listen"' in err and d.config_path in err,
               "no URL: exit 2, where it looked", (rc, err))
        rc, out, err = ctl(["-c", d.config_path, "health"],
                           {"MCP_PROXYD_URL": "http://127.0.0.1:%d" %
                            d.port})
        tap.ok(rc == 2 and "no admin token" in err and "--token-file" in
               err and "MCP_PROXYD_TOKEN" in err and "authTokenFile" in err,
               "no token: exit 2, where it looked", (rc, err))
    finally:
        stop_ok(tap, d, "missing")


def t_connection_errors(tap):
    sock, port = closed_port()
    url = "http://127.0.0.1:%d" % port
    rc, out, err = ctl(["health"], {"MCP_PROXYD_URL": url,
                                    "MCP_PROXYD_TOKEN": "a" * 64})
    tap.ok(rc == 1 and out == "" and url in err and "refused" in err,
           "connection refused: exit 1, the message names the URL", err)
    sock.close()
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)     # accepts (in the kernel) and never answers
    url = "http://127.0.0.1:%d" % lsock.getsockname()[1]
    t0 = time.monotonic()
    rc, out, err = ctl(["--timeout", "1", "health"],
                       {"MCP_PROXYD_URL": url, "MCP_PROXYD_TOKEN": "a" * 64})
    took = time.monotonic() - t0
    lsock.close()
    tap.ok(rc == 1 and url in err and "within 1 second" in err and
           took < 5, "--timeout 1: exit 1 after a second, naming the URL",
           (rc, err, took))


def t_usage(tap):
    env = {"MCP_PROXYD_URL": "http://127.0.0.1:1",
           "MCP_PROXYD_TOKEN": "a" * 64}
    cases = [[], ["bogus"], ["session"], ["session", "drop", "x"],
             ["session", "revoke"], ["session", "revoke", "../x"],
             ["session", "show", "a b"], ["health", "extra"],
             ["--bogus", "health"], ["health", "--tools", "x"],
             ["session", "create", "--ttl", "soon"],
             ["session", "create", "--tools", "a,,b"],
             ["session", "create", "--rate", "5/x"],
             ["--timeout", "0", "health"]]
    # A bad URL is said without the usage line.
    urls = ["https://h:1", "http://h", "h:1", "http://h:1/path",
            "http://h:0", "http://[::1:1"]
    got = [ctl(a, env) for a in cases]
    got_url = [ctl(["--url", u, "health"], env) for u in urls]
    bad = [(a, r) for a, r in zip(cases + urls, got + got_url)
           if r[0] != 2 or r[1] != "" or not r[2].startswith("mcp-proxyctl: ")]
    tap.ok(not bad, "%d usage errors: exit 2, a message, nothing on stdout"
           % len(cases + urls), bad)
    tap.ok(all("usage: mcp-proxyctl" in r[2] for r in got),
           "with a short usage line", [r[2] for r in got])
    tap.ok(all(r[2].startswith("mcp-proxyctl: --url: '%s'" % u)
               for u, r in zip(urls, got_url)),
           "a bad --url is named", [r[2] for r in got_url])
    rc, out, err = ctl(["--help"])
    tap.ok(rc == 0 and "session create" in out and "--token-file" in out,
           "--help", (rc, out))
    rc, out, err = ctl(["--version"])
    tap.ok(rc == 0 and re.match(r"^mcp-proxyctl \d+\.\d+", out),
           "--version", out)


def main():
    tap = Tap()
    tap.run(t_sessions)
    tap.run(t_health_and_tools)
    tap.run(t_sources)
    tap.run(t_missing)
    tap.run(t_connection_errors)
    tap.run(t_usage)
    bad = [(a, e) for a, _, e in OUTPUTS
           if any(w in e for w in SANITIZER_REPORTS)]
    tap.ok(not bad, "no sanitizer report from mcp-proxyctl", bad)
    tap.done()


if __name__ == "__main__":
    main()
