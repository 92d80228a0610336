"""Test harness for mcp-proxyd integration tests (python3 stdlib only).

Starts the real daemon as a process on 127.0.0.1 with port 0, reads its
ready line, talks HTTP to it over real sockets, and prints TAP.
"""
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

TOP_SRCDIR = os.environ.get("TOP_SRCDIR", os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..")))
TOP_BUILDDIR = os.environ.get("TOP_BUILDDIR", TOP_SRCDIR)
MCP_PROXYD = os.environ.get("MCP_PROXYD",
                            os.path.join(TOP_BUILDDIR, "src", "mcp-proxyd"))
MCP_DEMO_SERVER = os.environ.get(
    "MCP_DEMO_SERVER", os.path.join(TOP_BUILDDIR, "src", "mcp-demo-server"))

# A sanitizer report must fail the test that caused it: every program a
# test starts (the daemon, the demo server, mcp-proxyctl) stops at the
# first report with an exit status of its own, leaks included; the
# daemon's stderr is searched for reports too (stop_ok). Options the
# caller set come after ours, so they win.
SANITIZER_EXIT = {"ASAN_OPTIONS": 86, "UBSAN_OPTIONS": 87,
                  "TSAN_OPTIONS": 88}
SANITIZER_OPTIONS = {
    "ASAN_OPTIONS": "halt_on_error=1:exitcode=86:detect_leaks=1:"
                    "abort_on_error=0",
    "UBSAN_OPTIONS": "halt_on_error=1:exitcode=87:print_stacktrace=1",
    "TSAN_OPTIONS": "halt_on_error=1:exitcode=88:second_deadlock_stack=1:"
                    "suppressions=" + os.path.join(TOP_SRCDIR, "tests",
                                                   "tsan.supp"),
}
for _k, _v in SANITIZER_OPTIONS.items():
    os.environ[_k] = _v + (":" + os.environ[_k] if os.environ.get(_k)
                           else "")

# The daemon's reaper process (children.c): not an MCP server.
REAPER_NAME = "mcp-proxyd-reap"

# Every Daemon started, so that Tap.done() can fail a test that left one
# unchecked (not stopped through stop_ok, or not asserted otherwise).
DAEMONS = []
# Every 503 and 429 a test got through Daemon.request() without a sane
# Retry-After header; Tap.done() fails the test when there is one.
NO_RETRY_AFTER = []


def ci():
    """True under CI, where nothing a test needs may be missing."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(tap, deps):
    """The dependencies of a whole test file, [(what, present, how), ...]:
    returns when every one is present; else, under CI, fails one point per
    missing one and ends the test; elsewhere skips the file, naming them."""
    missing = [(w, h) for w, p, h in deps if not p]
    if not missing:
        return
    if ci():
        for w, h in missing:
            tap.ok(False, "%s is missing (under CI=true nothing may be "
                   "missing): %s" % (w, h))
        tap.done()
    tap.skip_all("; ".join("%s is missing (%s)" % m for m in missing))


class Tap:
    """Minimal TAP producer: tap.ok(cond, name); tap.done() exits."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, name))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, name))
            if diag is not None:
                for line in str(diag).splitlines():
                    print("# " + line)
        sys.stdout.flush()
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got %r, want %r" % (got, want))

    def diag(self, msg):
        for line in str(msg).splitlines():
            print("# " + line)
        sys.stdout.flush()

    def skip(self, name, why):
        """A test point that could not run here (outside CI)."""
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, why))
        sys.stdout.flush()

    def skip_all(self, why):
        print("1..0 # SKIP " + why)
        sys.exit(0)

    def done(self):
        if NO_RETRY_AFTER:
            self.ok(False, "every 503 and 429 has Retry-After: %d did not"
                    % len(NO_RETRY_AFTER), "\n".join(NO_RETRY_AFTER[:10]))
        for d in DAEMONS:
            if not d.checked:
                rc = d.stop()
                self.ok(False, "a daemon (%s) was not stopped and checked "
                        "by its test (exit %r)" % (d.config_path, rc))
        print("1..%d" % self.n)
        sys.exit(1 if self.failed else 0)

    def run(self, fn, *args):
        """Run one test function; an exception is one failed test."""
        try:
            fn(self, *args)
        except Exception:  # noqa: BLE001 - report and go on
            self.ok(False, "%s raised" % fn.__name__, traceback.format_exc())


def demo_server(name="demo", **extra):
    entry = {"command": MCP_DEMO_SERVER, "args": []}
    entry.update(extra)
    return {name: entry}


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a Unix stream socket (Host: mcp-proxyd.invalid,
    as the clients send)."""

    def __init__(self, path, timeout=30.0):
        super().__init__("mcp-proxyd.invalid", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.unix_path)
        except OSError:
            s.close()
            raise
        self.sock = s


class Daemon:
    """The real mcp-proxyd started as a process."""

    def __init__(self, config=None, args=(), ready_timeout=30.0,
                 env=None, preexec_fn=None, prefix=()):
        self.dir = tempfile.mkdtemp(prefix="mcp-proxyd-test-")
        self.config_path = os.path.join(self.dir, "config.json")
        cfg = {"allowedTools": ["*"],
               "schemaCachePath": os.path.join(self.dir, "schema-cache.json")}
        if config:
            cfg.update(config)
        # A key given as None is left out (e.g. the default cache path).
        cfg = {k: v for k, v in cfg.items() if v is not None}
        self.config = cfg
        with open(self.config_path, "w") as f:
            json.dump(cfg, f)
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.log = open(self.log_path, "wb")
        cmd = list(prefix) + [MCP_PROXYD, "-c", self.config_path, "-v"] + \
            list(args)
        if env is not None:
            env = dict(env)
            for k in SANITIZER_OPTIONS:
                env.setdefault(k, os.environ[k])
        self.checked = False
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=self.log, stdin=subprocess.DEVNULL,
                                     env=env, preexec_fn=preexec_fn)
        DAEMONS.append(self)
        self.ready = self._read_ready(ready_timeout)
        self.port = self.ready.get("port")      # None: Unix sockets only
        self.socket = self.ready.get("socket")  # the first Unix socket
        self.token = self.ready.get("authToken")

    def _read_ready(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                self.checked = True     # the exception fails the test
                raise RuntimeError("no ready line within %.0fs; log:\n%s" %
                                   (timeout, self.stderr()))
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                rc = self.proc.wait()
                self.checked = True
                raise RuntimeError("daemon exited %d before ready; log:\n%s"
                                   % (rc, self.stderr()))
            buf += chunk
        self.ready_line = buf.split(b"\n", 1)[0].decode()
        return json.loads(self.ready_line)

    def stderr(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def conn(self, timeout=30.0):
        """A connection to the daemon's TCP port, else its Unix socket."""
        if self.port is None:
            return UnixHTTPConnection(self.socket, timeout=timeout)
        return http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)

    def request(self, method, path, body=None, token=True, headers=None,
                conn=None, timeout=30.0):
        """One request; returns (status, headers dict, parsed JSON or raw)."""
        h = {}
        if token is True:
            h["Authorization"] = "Bearer " + self.token
        elif token:
            h["Authorization"] = token
        if headers:
            h.update(headers)
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        own = conn is None
        c = conn or self.conn(timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            raw = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            if r.status in (429, 503) and not \
                    hdrs.get("retry-after", "").isdigit():
                NO_RETRY_AFTER.append("%s %s: %d %r" % (method, path,
                                                        r.status, raw[:200]))
            try:
                data = json.loads(raw)
            except ValueError:
                data = raw
            return r.status, hdrs, data
        finally:
            if own:
                c.close()

    def call(self, tool, params=None, **kw):
        body = {"toolName": tool}
        if params is not None:
            body["params"] = params
        return self.request("POST", "/", body, **kw)

    def children(self, reaper=False):
        """PIDs of the daemon's direct children: its MCP servers (and its
        reaper process, when asked)."""
        return [p.pid for p in processes() if p.ppid == self.proc.pid and
                (reaper or p.comm != REAPER_NAME)]

    def signal(self, sig):
        self.proc.send_signal(sig)

    def cpu_seconds(self):
        """User + system CPU time the daemon has used so far."""
        return cpu_seconds(self.proc.pid)

    def threads(self):
        """{tid: name} of the daemon's threads (main, worker-N, bulk)."""
        out = {}
        for tid in os.listdir("/proc/%d/task" % self.proc.pid):
            try:
                with open("/proc/%d/task/%s/comm" % (self.proc.pid,
                                                     tid)) as f:
                    out[int(tid)] = f.read().strip()
            except OSError:
                pass
        return out

    def stop(self, timeout=30.0):
        """SIGTERM and wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer", "LeakSanitizer")


def sanitizer_reports(text):
    """The sanitizer reports' first lines found in a program's output."""
    return [w for w in SANITIZER_REPORTS if w in text]


def stop_ok(tap, d, name, want=0):
    """Stops a daemon and asserts its exit status (0 unless told) and
    that it printed no sanitizer report."""
    rc = d.stop()
    d.checked = True
    with open(d.log_path, errors="replace") as f:
        log = f.read()
    bad = sanitizer_reports(log)
    tap.ok(rc == want and not bad, "%s: exit %d, no sanitizer report" %
           (name, want), "rc %r %r\n%s" % (rc, bad,
                                            log[-4000:] if bad else ""))
    return log


class Process:
    """One line of /proc/PID/stat: pid, comm, state, ppid, pgid."""

    def __init__(self, pid, stat):
        self.pid = pid
        self.comm = stat.split("(", 1)[1].rsplit(")", 1)[0]
        fields = stat.rsplit(")", 1)[1].split()
        self.state = fields[0]
        self.ppid = int(fields[1])
        self.pgid = int(fields[2])


def process(pid):
    """The Process pid, or None when there is none."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return Process(pid, f.read())
    except (OSError, IndexError, ValueError):
        return None


def processes():
    """Every process now running (zombies included: see Process.state)."""
    for d in os.listdir("/proc"):
        if d.isdigit():
            p = process(int(d))
            if p is not None:
                yield p


def cpu_seconds(pid, tid=None):
    """utime + stime of a process (or one of its threads) in seconds."""
    path = "/proc/%d/stat" % pid if tid is None else \
        "/proc/%d/task/%d/stat" % (pid, tid)
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def wait_until(pred, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def raw_request(port, data, timeout=5.0, host="127.0.0.1",
                family=socket.AF_INET):
    """Send raw bytes, return everything read until close or timeout."""
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def parse_raw(resp):
    """(status, headers, body) of a raw HTTP/1.1 response."""
    head, _, body = resp.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0] else 0
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


NPM_DIR = os.environ.get("MCP_PROXYD_NPM_DIR", os.path.join(
    os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
    "mcp-proxyd", "npm"))


def npm_server(name):
    """Path of an npm reference server's entry point, or None."""
    path = os.path.join(NPM_DIR, "node_modules", "@modelcontextprotocol",
                        "server-" + name, "dist", "index.js")
    return path if os.path.exists(path) else None


CI = os.environ.get("CI") == "true"
CLIENTS_DIR = os.path.join(TOP_SRCDIR, "clients")


def need(tap, found, what, point=None):
    """A dependency a test cannot run without: a visible skip (of the
    whole file, or of the test point named point: then returns False), or
    under CI=true a failure naming it (CI must run every test)."""
    if found:
        return True
    why = "%s is not installed (scripts/deps.sh test installs it)" % what
    if CI:
        tap.ok(False, "dependency: " + why)
        if point is not None:
            return False
        tap.done()
    if point is not None:
        tap.skip(point, why)
        return False
    tap.skip_all(why)


def npm_bin(name):
    """node_modules/.bin/NAME in the npm dir of the reference servers, or
    None (deno and tsc are installed there by scripts/deps.sh)."""
    path = os.path.join(NPM_DIR, "node_modules", ".bin", name)
    return path if os.access(path, os.X_OK) else None


def python_with(module):
    """A python3 that can import module (ours, else Debian's), or None."""
    for py in (sys.executable, "/usr/bin/python3"):
        if py and os.access(py, os.X_OK) and subprocess.run(
                [py, "-c", "import " + module],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ).returncode == 0:
            return py
    return None


def pipe(a, b):
    """Copies what a receives to b until a's end; then shuts both down
    (the relays' one direction)."""
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class UnixRelay:
    """A Unix socket that relays each connection to 127.0.0.1:port and
    counts the connections (the clients' tests count them; test_listen.py
    tests the daemon's own Unix listeners)."""

    def __init__(self, port, path):
        import threading
        self.port = port
        self.path = path
        self.accepted = 0
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(16)
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        import threading
        while not self.stopping:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            self.accepted += 1
            try:
                u = socket.create_connection(("127.0.0.1", self.port))
            except OSError:
                c.close()
                continue
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=pipe, args=(a, b),
                                 daemon=True).start()

    def close(self):
        self.stopping = True
        self.srv.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass
