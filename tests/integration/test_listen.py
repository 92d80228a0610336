"""The listeners: Unix sockets alone and beside TCP (curl --unix-socket,
the Python client, absolute-form requests kept alive), socketMode and
socketGroup, stale, live and foreign files at the socket's path, the file
removed at exit (and only ours), several -l options, maxConnections on
Unix connections, and socket activation through systemd-socket-activate
(one TCP and one Unix listener, LISTEN_* not passed on to the MCP
servers, the activated socket file left in place)."""
import grp
import json
import os
import re
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(__file__))
from harness import (CLIENTS_DIR, MCP_PROXYD, SANITIZER_OPTIONS,  # noqa
                     Daemon, Tap, demo_server, need, npm_bin, require,
                     sanitizer_reports, stop_ok, wait_until)

sys.path.insert(0, os.path.join(CLIENTS_DIR, "python"))
import mcp_proxyd  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CURL = shutil.which("curl")
ACTIVATE = shutil.which("systemd-socket-activate")


def curl(path, token, target, body=None, request_target=None):
    """curl --unix-socket: (status, parsed JSON)."""
    cmd = [CURL, "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time",
           "30", "--unix-socket", path,
           "-H", "Authorization: Bearer " + token]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary",
                json.dumps(body)]
    if request_target is not None:
        cmd += ["--request-target", request_target]
    cmd.append("http://localhost" + target)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    out, _, code = p.stdout.decode().rpartition("\n")
    try:
        data = json.loads(out)
    except ValueError:
        data = out
    return int(code or 0), data


def start_fails(config, root, args=()):
    """Runs the daemon, which must fail at start: (exit status, stderr)."""
    cfg = os.path.join(root, "fail.json")
    with open(cfg, "w") as f:
        json.dump(config, f)
    p = subprocess.run([MCP_PROXYD, "-c", cfg] + list(args),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def other_group():
    """A group we may give a socket: not our own when we can."""
    mine = os.getgid()
    if os.geteuid() == 0:
        for name in ("nogroup", "daemon", "adm", "users"):
            try:
                return grp.getgrnam(name).gr_gid
            except KeyError:
                pass
    for g in os.getgroups():
        if g != mine:
            return g
    return mine


def t_unix_alone(tap, root):
    path = os.path.join(root, "alone.sock")
    d = Daemon({"listen": "unix:" + path, "mcpServers": demo_server()})
    try:
        tap.ok(d.ready.get("socket") == path and "port" not in d.ready and
               "url" not in d.ready and "sockets" not in d.ready,
               "Unix socket alone: the ready line has socket, no port, "
               "no url", d.ready_line)
        st = os.stat(path)
        tap.ok(stat.S_ISSOCK(st.st_mode) and
               stat.S_IMODE(st.st_mode) == 0o660,
               "the socket has the default mode 0660",
               oct(st.st_mode))
        tap.eq(curl(path, d.token, "/health")[0], 200,
               "curl --unix-socket: GET /health is 200")
        tap.eq(curl(path, d.token, "/", {"toolName": "mcp__demo__echo",
                                         "params": {"message": "hi"}}),
               (200, {"result": "hi"}), "curl --unix-socket: POST / echo")
        tap.eq(curl(path, "wrong", "/health")[0], 401,
               "the auth gate guards the Unix socket too")
        tap.eq(curl(path, d.token, "/", request_target="/nope")[0], 404,
               "routes are the same on the Unix socket")
        c = mcp_proxyd.Client("unix:" + path, d.token)
        tap.eq([c.call_mcp_tool("mcp__demo__echo", {"message": str(i)})
                for i in range(3)], ["0", "1", "2"],
               "the Python client calls a tool over unix:PATH")
        c.close()
        wait_until(lambda: '"client":"unix"' in d.stderr(), 10)
        tap.ok('"client":"unix"' in d.stderr(),
               "the audit log names a Unix peer \"unix\"")
        t_absolute_form(tap, d, path)
    finally:
        stop_ok(tap, d, "Unix socket alone")
    tap.ok(not os.path.exists(path), "the socket file is removed at exit")


def absolute_form(d, path, host):
    """Two absolute-form requests for host on one Unix connection: each
    answer's status line and whether it said Connection: close; "" when
    the connection was closed instead."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    req = ("GET http://%s/health HTTP/1.1\r\nHost: %s\r\n"
           "Authorization: Bearer %s\r\n\r\n" % (host, host, d.token)).encode()
    got = []
    try:
        for _ in range(2):
            s.sendall(req)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            if not data:
                got.append("")
                break
            head, _, body = data.partition(b"\r\n\r\n")
            got.append((head.split(b"\r\n", 1)[0],
                        b"connection: close" in head.lower()))
            n = [int(h.split(b":", 1)[1]) for h in head.split(b"\r\n")
                 if h.lower().startswith(b"content-length:")]
            while n and len(body) < n[0]:
                chunk = s.recv(65536)
                if not chunk:
                    break
                body += chunk
    except OSError as e:
        got.append(repr(e))
    finally:
        s.close()
    return got


def t_absolute_form(tap, d, path):
    """Deno's Unix socket client sends "GET http://mcp-proxyd.invalid/..."
    with that Host: served, and the connection kept alive (the server
    alias). evhttp takes another host for a proxy request: served too,
    but the connection is closed after the answer."""
    tap.eq(absolute_form(d, path, "mcp-proxyd.invalid"),
           [(b"HTTP/1.1 200 OK", False)] * 2,
           "absolute-form requests to mcp-proxyd.invalid: two answers on "
           "one kept connection")
    got = absolute_form(d, path, "other.invalid")
    tap.ok(got[:1] == [(b"HTTP/1.1 200 OK", False)],
           "an absolute-form request for another host is served", got)
    tap.diag("then, for another host: %r" % got[1:])


def t_ts_client(tap, root):
    """The TypeScript client over the Unix socket: under Node (node:http)
    and under Deno (its Unix transport, absolute-form requests)."""
    path = os.path.join(root, "ts.sock")
    script = os.path.join(HERE, "clients", "unix.mjs")
    runners = []
    node = shutil.which("node")
    deno = npm_bin("deno")
    if need(tap, "node", node is not None, "apt-get install nodejs"):
        runners.append(("node", [node, script]))
    if need(tap, "deno", deno is not None, "sh scripts/deps.sh test"):
        runners.append(("deno", [deno, "run", "--no-prompt",
                                 "--allow-net=unix:%s,mcp-proxyd.invalid"
                                 % path, "--allow-read=" + path,
                                 "--allow-write=" + path,
                                 "--allow-env=MCP_PROXYD_URL,"
                                 "MCP_PROXYD_TOKEN", script]))
    if not runners:
        return
    d = Daemon({"listen": "unix:" + path, "mcpServers": demo_server()})
    try:
        env = dict(os.environ, MCP_PROXYD_URL="unix:" + path,
                   MCP_PROXYD_TOKEN=d.token, NO_COLOR="1",
                   DENO_DIR=os.path.join(root, "deno"))
        want = {"echo": ["0", "1", "2"],
                "error": ["ToolNotFoundError", 404],
                "tools": ["mcp__demo__echo"]}
        for name, cmd in runners:
            p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=120)
            try:
                got = json.loads(p.stdout)
            except ValueError:
                got = None
            tap.ok(p.returncode == 0 and got == want,
                   "%s: the TypeScript client calls tools over unix:PATH"
                   % name, (p.returncode, got, p.stderr.decode()[-2000:]))
    finally:
        stop_ok(tap, d, "TypeScript client over a Unix socket")


def t_unix_and_tcp(tap, root):
    a = os.path.join(root, "a.sock")
    b = os.path.join(root, "b.sock")
    gid = other_group()
    d = Daemon({"listen": ["127.0.0.1:0", "unix:" + a, "unix:" + b],
                "socketMode": "0600", "socketGroup": str(gid),
                "mcpServers": demo_server()})
    try:
        r = d.ready
        tap.ok(isinstance(r.get("port"), int) and
               r.get("url") == "http://127.0.0.1:%d/" % r.get("port") and
               r.get("socket") == a and r.get("sockets") == [a, b],
               "TCP and two Unix sockets: port, url, socket and sockets",
               d.ready_line)
        for p in (a, b):
            st = os.stat(p)
            tap.ok(stat.S_IMODE(st.st_mode) == 0o600 and st.st_gid == gid,
                   "%s: socketMode 0600 and socketGroup %d applied" %
                   (os.path.basename(p), gid),
                   (oct(st.st_mode), st.st_gid))
            tap.eq(curl(p, d.token, "/", {"toolName": "mcp__demo__echo",
                                          "params": {"message": "x"}}),
                   (200, {"result": "x"}),
                   "%s answers a call" % os.path.basename(p))
        tap.eq(d.call("mcp__demo__echo", {"message": "tcp"})[2],
               {"result": "tcp"}, "TCP answers beside them")
    finally:
        stop_ok(tap, d, "TCP and Unix sockets")
    tap.ok(not os.path.exists(a) and not os.path.exists(b),
           "both socket files are removed at exit")


def t_listen_options(tap, root):
    """-l replaces the configuration's listen, given several times."""
    x = os.path.join(root, "opt.sock")
    y = os.path.join(root, "cfg.sock")
    d = Daemon({"listen": "unix:" + y},
               args=["-l", "unix:" + x, "-l", "127.0.0.1:0"])
    try:
        tap.ok(d.ready.get("socket") == x and "port" in d.ready and
               not os.path.exists(y),
               "two -l options replace listen in the configuration",
               d.ready_line)
        tap.eq(curl(x, d.token, "/health")[0], 200, "-l unix:PATH answers")
        tap.eq(d.request("GET", "/health")[0], 200, "-l host:port answers")
    finally:
        stop_ok(tap, d, "-l twice")
    rc, _, err = start_fails({}, root, ["-l", "unix:rel.sock"])
    tap.ok(rc == 1 and "-l unix:rel.sock: a Unix socket path must be "
           "absolute" in err, "a bad -l is refused with the reason", err)


def t_stale(tap, root):
    path = os.path.join(root, "stale.sock")
    # A socket nobody listens on any more.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()
    d = Daemon({"listen": "unix:" + path})
    try:
        tap.eq(curl(path, d.token, "/health")[0], 200,
               "a stale socket file (nobody answers) is replaced")
        tap.ok("removing the stale socket " + path in d.stderr(),
               "the replacement is logged")
    finally:
        stop_ok(tap, d, "stale socket")
    # Left behind by a daemon killed with SIGKILL.
    d = Daemon({"listen": "unix:" + path})
    d.kill()
    rc = d.proc.wait(30)
    d.checked = True
    tap.ok(rc == -signal.SIGKILL and os.path.exists(path),
           "a SIGKILLed daemon leaves its socket file", rc)
    d = Daemon({"listen": "unix:" + path})
    try:
        tap.eq(curl(path, d.token, "/health")[0], 200,
               "the next daemon replaces the killed one's socket")
    finally:
        stop_ok(tap, d, "after SIGKILL")


def t_live(tap, root):
    path = os.path.join(root, "live.sock")
    d = Daemon({"listen": "unix:" + path})
    try:
        ino = os.stat(path).st_ino
        rc, out, err = start_fails({"listen": "unix:" + path}, root)
        tap.ok(rc == 1 and "address in use: something answers on " + path
               in err and out == "" and not sanitizer_reports(err),
               "a second daemon on a live socket exits 1 with the reason",
               (rc, err))
        tap.ok(os.path.exists(path) and os.stat(path).st_ino == ino,
               "the first daemon's socket file is left alone")
        tap.eq(curl(path, d.token, "/health")[0], 200,
               "the first daemon still answers")
        # The file is replaced under the running daemon: at exit it is
        # not ours any more and stays.
        os.unlink(path)
        with open(path, "w") as f:
            f.write("not ours\n")
    finally:
        stop_ok(tap, d, "live socket")
    tap.ok(os.path.isfile(path) and open(path).read() == "not ours\n",
           "a file that replaced our socket is not removed at exit")
    os.unlink(path)


def t_not_a_socket(tap, root):
    path = os.path.join(root, "regular")
    with open(path, "w") as f:
        f.write("keep me\n")
    rc, _, err = start_fails({"listen": "unix:" + path}, root)
    tap.ok(rc == 1 and path + " exists and is not a socket" in err,
           "a regular file at the path is refused and named", (rc, err))
    tap.ok(open(path).read() == "keep me\n", "and left alone")


def t_unknown_group(tap, root):
    rc, _, err = start_fails({"socketGroup": "no-such-group-mcp-proxyd",
                              "listen": "unix:" + os.path.join(root, "g")},
                             root)
    tap.ok(rc == 1 and 'socketGroup: "no-such-group-mcp-proxyd": no such '
           'group' in err and not os.path.exists(os.path.join(root, "g")),
           "an unknown socketGroup fails the start with the reason", err)


def t_max_connections(tap, root):
    path = os.path.join(root, "cap.sock")
    d = Daemon({"listen": "unix:" + path, "maxConnections": 2})
    try:
        c1, c2 = d.conn(), d.conn()
        tap.eq(d.request("GET", "/health", conn=c1)[0], 200,
               "Unix conn 1 served")
        tap.eq(d.request("GET", "/health", conn=c2)[0], 200,
               "Unix conn 2 served")
        got = []
        t = threading.Thread(target=lambda: got.append(
            d.request("GET", "/health", timeout=60)[0]))
        t.start()
        t.join(0.7)
        tap.ok(t.is_alive() and not got,
               "a third Unix connection waits while 2 are open "
               "(maxConnections)")
        c1.close()
        t.join(30)
        tap.eq(got, [200], "it is served once one closes")
        c2.close()
    finally:
        stop_ok(tap, d, "maxConnections on Unix sockets")


def t_fd_budget(tap, root):
    """Each listener takes a descriptor from the connections' budget:
    five Unix sockets leave four connections fewer than one does."""
    def nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))

    got = []
    for n in (1, 5):
        paths = ["unix:" + os.path.join(root, "fd%d.sock" % i)
                 for i in range(n)]
        d = Daemon({"listen": paths, "workers": 2, "maxConnections": 100000},
                   preexec_fn=nofile)
        try:
            m = re.search(r"maxConnections 100000 lowered to (\d+): "
                          r"RLIMIT_NOFILE is 512", d.stderr())
            got.append(int(m.group(1)) if m else None)
        finally:
            stop_ok(tap, d, "RLIMIT_NOFILE 512, %d listeners" % n)
    tap.ok(None not in got and got[0] - got[1] == 4,
           "maxConnections is clamped by one descriptor per listener", got)


def t_ctl(tap, root):
    """mcp-proxyctl -c finds the first TCP address of a listen array, and
    says what to do when there are Unix sockets only."""
    ctl = os.environ.get("MCP_PROXYCTL", os.path.join(
        os.path.dirname(MCP_PROXYD), "ctl", "mcp-proxyctl"))
    tokfile = os.path.join(root, "token")
    with open(tokfile, "w") as f:
        f.write("t" * 64 + "\n")
    os.chmod(tokfile, 0o600)
    port = free_port()
    listen = ["unix:" + os.path.join(root, "ctl.sock"),
              "127.0.0.1:%d" % port]
    d = Daemon({"listen": listen, "authTokenFile": tokfile})
    try:
        p = subprocess.run([ctl, "-c", d.config_path, "health"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        tap.ok(p.returncode == 0 and b'"healthy"' in p.stdout,
               "mcp-proxyctl -c: the first TCP address of a listen array",
               (p.returncode, p.stdout[-500:], p.stderr[-500:]))
        cfg = os.path.join(root, "unix-only.json")
        with open(cfg, "w") as f:
            json.dump({"listen": listen[:1], "authTokenFile": tokfile}, f)
        p = subprocess.run([ctl, "-c", cfg, "health"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        err = p.stderr.decode()
        tap.ok(p.returncode != 0 and "listen has Unix sockets only" in err
               and "--url" in err,
               "mcp-proxyctl -c: Unix sockets only is a clear error", err)
    finally:
        stop_ok(tap, d, "mcp-proxyctl and a listen array")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def poke(path, stop):
    """systemd-socket-activate starts the daemon at the first connection:
    connect once its socket is there."""
    while not stop.is_set():
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            s.close()
            return
        except OSError:
            s.close()
            stop.wait(0.05)


def t_activation(tap, root):
    if not need(tap, "systemd-socket-activate", ACTIVATE is not None,
                "apt-get install systemd"):
        return
    path = os.path.join(root, "act.sock")
    ignored = os.path.join(root, "ignored.sock")
    port = free_port()
    prefix = [ACTIVATE, "-l", "127.0.0.1:%d" % port, "-l", path]
    for k in list(SANITIZER_OPTIONS) + ["PATH"]:
        prefix += ["-E", k]
    prefix.append("--")
    stop = threading.Event()
    t = threading.Thread(target=poke, args=(path, stop), daemon=True)
    t.start()
    srv = demo_server(inheritEnv=True)
    try:
        d = Daemon({"listen": "unix:" + ignored, "mcpServers": srv},
                   prefix=prefix, ready_timeout=60)
    finally:
        stop.set()
        t.join()
    try:
        tap.ok(d.ready.get("port") == port and d.ready.get("socket") ==
               path and not os.path.exists(ignored),
               "socket activation: the ready line reports the passed TCP "
               "and Unix sockets; listen is ignored", d.ready_line)
        tap.eq(d.request("GET", "/health")[0], 200,
               "the activated TCP socket answers")
        tap.eq(curl(path, d.token, "/", {"toolName": "mcp__demo__echo",
                                         "params": {"message": "a"}}),
               (200, {"result": "a"}), "the activated Unix socket answers")
        log = d.stderr()
        tap.ok("descriptor 3 from the service manager" in log and
               "descriptor 4 from the service manager" in log and
               "ignoring listen in the configuration" in log,
               "the log says which listeners came from the service manager")
        envs = []
        for pid in d.children():
            with open("/proc/%d/environ" % pid, "rb") as f:
                envs.append(f.read().split(b"\0"))
        tap.ok(envs and all(any(e.startswith(b"PATH=") for e in env) and
                            not any(e.startswith(b"LISTEN_") for e in env)
                            for env in envs),
               "the MCP servers (inheritEnv) see no LISTEN_* variables",
               envs)
    finally:
        stop_ok(tap, d, "socket activation")
    tap.ok(os.path.exists(path) and stat.S_ISSOCK(os.stat(path).st_mode),
           "the activated socket file is not removed at exit")


def t_activation_bad_fd(tap, root):
    """A passed descriptor that is not a listening socket is fatal."""
    cfg = os.path.join(root, "bad.json")
    with open(cfg, "w") as f:
        json.dump({}, f)
    p = subprocess.run(["sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" '
                        '-c "$1" 3<"$1"', MCP_PROXYD, cfg],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    err = p.stderr.decode()
    tap.ok(p.returncode == 1 and "descriptor 3 from the service manager "
           "(LISTEN_FDS=1): not a socket" in err,
           "a passed descriptor that is not a socket is a fatal start "
           "error naming it", (p.returncode, err))


def main():
    tap = Tap()
    require(tap, [("curl", CURL is not None, "apt-get install curl")])
    root = tempfile.mkdtemp(prefix="mcp-proxyd-listen-")
    try:
        for fn in (t_unix_alone, t_ts_client, t_unix_and_tcp, t_listen_options, t_stale,
                   t_live, t_not_a_socket, t_unknown_group,
                   t_max_connections, t_fd_budget, t_ctl, t_activation, t_activation_bad_fd):
            tap.run(fn, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    tap.done()


if __name__ == "__main__":
    main()
