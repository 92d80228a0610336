#!/usr/bin/env python3
"""bench/run.py: the benchmark suite of mcp-proxyd, in one command.

    python3 bench/run.py

builds an optimised tree (configure CFLAGS="-O2 -g" in bench/out/build),
builds the two floors (bench/bare-http.c, bench/pipe-rtt.c), then measures
on this machine, in one run:

  0. the floors: a bare single-threaded evhttp server answering a fixed JSON
     body (the ceiling of any evhttp front end), and the round trip of one
     JSON line through a child process over pipes;
  1. mcp-proxyd -> mcp-demo-server echo, POST / with a small payload, at 1,
     16, 64 and 256 keep-alive connections (wrk): requests/s, p50, p99;
  2. the same through @modelcontextprotocol/server-everything's echo (npm,
     from $MCP_PROXYD_NPM_DIR; skipped with a note when absent);
  3. 500 concurrent calls of a 2-second sleep tool: wall time from the
     first request sent to the last reply read;
  4. GET /mcp/tools?q=echo with rate limits off: requests/s;
  5. memory: the daemon's RSS idle with three servers configured, and its
     growth after one million calls.

The machine is shared and noisy, so every target is a ratio to a limit
measured in the same run, and the load runs are interleaved (bare server,
then the daemon, at each connection count) and repeated --rounds times; the
table shows the median of the rounds. It prints one table and writes it,
with the machine's description, to BENCHMARKS.md.

Python 3 standard library only. Every process it starts is ended on exit;
all traffic is on 127.0.0.1.
"""

import argparse
import asyncio
import datetime
import http.client
import json
import os
import platform
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
NPM_DIR = os.environ.get("MCP_PROXYD_NPM_DIR", os.path.join(
    os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
    "mcp-proxyd", "npm"))

LEVELS = (1, 16, 64, 256)
ECHO_MESSAGE = "hello"
SLEEP_CALLS = 500
SLEEP_MS = 2000
MIB = 1024 * 1024

# The targets of issue 5, as ratios to limits measured in the same run.
TARGET_RPS64 = 0.40         # demo echo req/s at 64 >= 40% of bare
TARGET_P50_1 = 1.5          # p50 at 1 <= 1.5 x (bare p50 at 1 + pipe RTT)
TARGET_P99_64 = 3.0         # p99 at 64 <= 3 x bare p99 at 64
TARGET_SLEEP = 1.25         # 500 x 2 s sleeps within 1.25 x 2 s
TARGET_IDLE_RSS = 8 * MIB   # idle RSS, three servers configured
TARGET_RSS_GROWTH = 2 * MIB  # after one million calls


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- processes

class Procs:
    """Every process the run starts; end() stops them all, children too."""

    def __init__(self):
        self.procs = []
        self.orphans = []   # (pid, start time) of the daemons' children

    def start(self, cmd, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(cmd, **kw)
        self.procs.append(p)
        return p

    def note_children(self, pid):
        for c in child_pids(pid):
            st = proc_start_time(c)
            if st is not None:
                self.orphans.append((c, st))

    def stop(self, p, timeout=10.0):
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            except ProcessLookupError:
                pass
        if p in self.procs:
            self.procs.remove(p)

    def end(self):
        for p in list(self.procs):
            self.stop(p, 5.0)
        # A daemon killed hard leaves its MCP servers: end those we saw
        # (same pid and same start time, so never somebody else's).
        for pid, st in self.orphans:
            if proc_start_time(pid) == st:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self.orphans = []


def proc_stat(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def proc_start_time(pid):
    st = proc_stat(pid)
    return None if st is None else st[19]


def child_pids(ppid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st is not None and int(st[1]) == ppid:
                out.append(int(d))
    return out


def rss_bytes(pid, field="VmRSS"):
    """VmRSS (or RssAnon, RssFile) of a process, in bytes."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise BenchError("no %s for pid %d" % (field, pid))


CLK_TCK = os.sysconf("SC_CLK_TCK")


def counters(pid):
    """(CPU seconds, context switches) of a process, all its threads."""
    st = proc_stat(pid)
    if st is None:
        return 0.0, 0
    cpu = (int(st[11]) + int(st[12])) / CLK_TCK
    sw = 0
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        tasks = []
    for t in tasks:
        try:
            with open("/proc/%d/task/%s/status" % (pid, t)) as f:
                for line in f:
                    if "ctxt_switches:" in line:
                        sw += int(line.split()[1])
        except OSError:
            pass
    return cpu, sw


def read_ready(p, what, timeout=30.0):
    """The first line a server prints on stdout, as JSON."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = p.stdout.fileno()
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BenchError("%s printed no ready line in %.0f s" %
                             (what, timeout))
        r, _, _ = select.select([fd], [], [], left)
        if r:
            chunk = os.read(fd, 4096)
            if not chunk:
                raise BenchError("%s exited (%s) before its ready line" %
                                 (what, p.wait()))
            buf += chunk
    return json.loads(buf.split(b"\n", 1)[0])


# ---------------------------------------------------------------- build

def run(cmd, **kw):
    """A build step; its output goes to stderr, stdout is the table's."""
    log("$ " + " ".join(cmd))
    kw.setdefault("stdout", sys.stderr)
    subprocess.run(cmd, check=True, **kw)


def build(args):
    """Configure and build the optimised tree; returns the build dir."""
    bdir = args.build_dir
    if args.no_build:
        return bdir
    configure = os.path.join(SRCDIR, "configure")
    if os.path.exists(os.path.join(SRCDIR, "config.status")):
        raise BenchError("%s is configured in-tree; run `make distclean` "
                         "there or pass --build-dir and --no-build" % SRCDIR)
    newest = max(os.path.getmtime(os.path.join(SRCDIR, f))
                 for f in ("configure.ac", "Makefile.am"))
    if not os.path.exists(configure) or os.path.getmtime(configure) < newest:
        run(["autoreconf", "-fi"], cwd=SRCDIR)
    os.makedirs(bdir, exist_ok=True)
    status = os.path.join(bdir, "config.status")
    if (not os.path.exists(status) or
            os.path.getmtime(status) < os.path.getmtime(configure)):
        run([configure, "CFLAGS=-O2 -g", "--disable-dependency-tracking"],
            cwd=bdir, stdout=subprocess.DEVNULL)
    jobs = str(len(os.sched_getaffinity(0)))
    run(["make", "-j" + jobs, "src/mcp-proxyd", "src/mcp-demo-server",
         "bench/bare-http", "bench/pipe-rtt"], cwd=bdir)
    return bdir


# ---------------------------------------------------------------- wrk

WRK_DONE = r'''
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
	    "BENCHJSON {\"requests\":%d,\"duration_us\":%d,\"connect\":%d," ..
	    "\"read\":%d,\"write\":%d,\"status\":%d,\"timeout\":%d," ..
	    "\"p50\":%d,\"p90\":%d,\"p99\":%d,\"max\":%d}\n",
	    summary.requests, summary.duration, e.connect, e.read, e.write,
	    e.status, e.timeout, latency:percentile(50),
	    latency:percentile(90), latency:percentile(99), latency.max))
end
'''


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk_script(path, method, body=None, token=None):
    lines = ["wrk.method = %s" % lua_str(method)]
    if body is not None:
        lines.append("wrk.body = %s" % lua_str(body))
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    if token is not None:
        lines.append('wrk.headers["Authorization"] = %s' %
                     lua_str("Bearer " + token))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n" + WRK_DONE)
    return path


def wrk(url, script, conns, seconds):
    """One wrk run; returns its summary (latencies in microseconds)."""
    threads = 1 if conns < 2 else 2
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds,
           "--timeout", "30s", "-s", script, url]
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, check=False,
                             timeout=seconds + 60).stdout.decode()
    except subprocess.TimeoutExpired:
        raise BenchError("wrk did not finish: %s" % " ".join(cmd))
    for line in out.splitlines():
        if line.startswith("BENCHJSON "):
            r = json.loads(line[len("BENCHJSON "):])
            r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
            r["errors"] = (r["connect"] + r["read"] + r["write"] +
                           r["status"] + r["timeout"])
            r["conns"] = conns
            return r
    raise BenchError("wrk printed no summary:\n" + out)


# ---------------------------------------------------------------- HTTP

def http_request(port, method, path, body=None, token=None, timeout=30.0):
    h = {}
    if token is not None:
        h["Authorization"] = "Bearer " + token
    if body is not None:
        h["Content-Type"] = "application/json"
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw)
        except ValueError:
            return r.status, raw
    finally:
        c.close()


def call_body(tool, params):
    return json.dumps({"toolName": tool, "params": params},
                      separators=(",", ":"))


async def one_call(reader, writer, req):
    writer.write(req)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        k, _, v = line.decode("latin-1").partition(":")
        if k.strip().lower() == "content-length":
            length = int(v)
    body = await reader.readexactly(length)
    return status, body, time.monotonic()


async def concurrent_calls(port, token, body, n, timeout):
    """n connections, one call each, all sent at once. Returns (wall
    seconds from the first send to the last reply, statuses, bodies)."""
    req = ("POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
           "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
           "Content-Length: %d\r\n\r\n%s" %
           (port, token, len(body), body)).encode()
    conns = []
    try:
        for i in range(0, n, 50):   # connect first, in batches
            batch = [asyncio.open_connection("127.0.0.1", port)
                     for _ in range(min(50, n - i))]
            conns += await asyncio.gather(*batch)
        t0 = time.monotonic()
        res = await asyncio.wait_for(asyncio.gather(
            *[one_call(r, w, req) for r, w in conns]), timeout)
        return (max(t for _, _, t in res) - t0, [s for s, _, _ in res],
                [b for _, b, _ in res])
    finally:
        for _, w in conns:
            w.close()


# ---------------------------------------------------------------- servers

class Bare:
    def __init__(self, procs, bdir):
        exe = os.path.join(bdir, "bench", "bare-http")
        self.procs = procs
        self.p = procs.start([exe], stdout=subprocess.PIPE)
        self.ready = read_ready(self.p, "bare-http")
        self.port = self.ready["port"]
        self.url = "http://127.0.0.1:%d/" % self.port

    def stop(self):
        self.procs.stop(self.p)


class Daemon:
    def __init__(self, procs, bdir, workdir, name, servers, extra=None):
        self.procs = procs
        cfg = {"allowedTools": ["*"], "mcpServers": servers,
               "rateLimits": {"discovery": {"requests": 0},
                              "execute": {"requests": 0}}}
        cfg.update(extra or {})
        self.config = cfg
        path = os.path.join(workdir, name + ".json")
        with open(path, "w") as f:
            json.dump(cfg, f, indent=1)
        self.log_path = os.path.join(workdir, name + ".log")
        self.log = open(self.log_path, "wb")
        exe = os.path.join(bdir, "src", "mcp-proxyd")
        self.p = procs.start([exe, "-c", path], stdout=subprocess.PIPE,
                             stderr=self.log)
        self.name = name
        self.ready = read_ready(self.p, "mcp-proxyd (%s)" % name)
        self.port = self.ready["port"]
        self.token = self.ready["authToken"]
        self.url = "http://127.0.0.1:%d/" % self.port
        self.wait_servers()
        procs.note_children(self.p.pid)

    def wait_servers(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st, body = http_request(self.port, "GET", "/health",
                                    token=self.token)
            if st == 200 and isinstance(body, dict) and \
                    body.get("allServersReady"):
                return
            time.sleep(0.2)
        raise BenchError("%s: servers not ready in %.0f s: %s" %
                         (self.name, timeout, self.tail()))

    def server_pid(self, name):
        st, body = http_request(self.port, "GET", "/health",
                                token=self.token)
        try:
            return int(body["servers"][name]["pid"])
        except (TypeError, KeyError, ValueError):
            raise BenchError("%s: no pid for server %s in /health: %r" %
                             (self.name, name, body))

    def tail(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read()[-2000:].decode("utf-8", "replace")

    def rss(self):
        return rss_bytes(self.p.pid)

    def alive(self):
        """Raise if the daemon has exited: what it measured is void."""
        if self.p.poll() is not None:
            raise BenchError("mcp-proxyd (%s) exited with status %d during "
                             "the run; its log ends:\n%s" %
                             (self.name, self.p.returncode, self.tail()))

    def stop(self):
        self.procs.stop(self.p, 15.0)
        self.log.close()


# ---------------------------------------------------------------- machine

def sh(cmd):
    """The output of a short command, or "?" when it fails."""
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return r.stdout.decode().strip() if r.returncode == 0 else "?"


def cpu_busy(seconds=1.0):
    """CPUs kept busy by whatever runs, over a short sample (/proc/stat)."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v[:8]), idle
    t0, i0 = sample()
    time.sleep(seconds)
    t1, i1 = sample()
    if t1 <= t0:
        return 0.0
    return (1.0 - (i1 - i0) / (t1 - t0)) * os.cpu_count()


def machine(libevent, rev_label=None):
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
    rev = sh(["git", "-C", SRCDIR, "rev-parse", "--short", "HEAD"])
    if rev_label is not None:
        rev = rev_label
    elif rev == "?":
        rev = "%s (not a git checkout)" % os.path.basename(SRCDIR)
    elif sh(["git", "-C", SRCDIR, "status", "--porcelain", "--",
             "src"]) not in ("", "?"):
        rev += " (src/ modified)"
    return [
        ("date", datetime.datetime.now(datetime.timezone.utc)
         .strftime("%Y-%m-%d %H:%M UTC")),
        ("CPUs", "%d online (nproc), %s" % (os.cpu_count(), model)),
        ("memory", mem),
        ("kernel", " ".join(platform.uname()[i] for i in (0, 2, 4))),
        ("libevent", libevent),
        ("compiler", sh(["cc", "--version"]).splitlines()[0] + ", -O2"),
        ("wrk", sh(["wrk", "-v"]).splitlines()[0].split(" Copyright")[0]),
        ("node", sh(["node", "--version"]) if shutil.which("node")
         else "absent"),
        ("mcp-proxyd", rev if rev.endswith("checkout)") or rev_label
         else "commit %s" % rev),
        ("load average", "%.2f at start" % os.getloadavg()[0]),
        ("other load", "%.2f CPUs busy in the second before the run" %
         cpu_busy()),
    ]


# ---------------------------------------------------------------- formatting

def f_rps(v):
    return "%s req/s" % format(int(round(v)), ",")


def f_us(v):
    if v >= 10000:
        return "%.1f ms" % (v / 1000)
    if v >= 1000:
        return "%.2f ms" % (v / 1000)
    return "%.0f µs" % v if v >= 10 else "%.1f µs" % v


def f_bytes(v):
    return "%.2f MiB" % (v / MIB)


def med(rs, key):
    return statistics.median(r[key] for r in rs)


class Table:
    def __init__(self):
        self.rows = []

    def add(self, item, figure, limit="—", ratio=None, target="—",
            result="info"):
        if ratio is None:
            ratio = "—"
        elif not isinstance(ratio, str):
            ratio = "%.2f" % ratio
        self.rows.append((item, figure, limit, ratio, target, result))

    def check(self, item, figure, limit, ratio, op, want):
        ok = ratio >= want if op == ">=" else ratio <= want
        shown = "%.2f" % ratio
        if shown == "%.2f" % want and ratio != want:
            shown = "%.3f" % ratio  # 0.396 must not read as 0.40
        self.add(item, figure, limit, shown, "%s %.2f" % (op, want),
                 "PASS" if ok else "MISS")

    HEAD = ("item", "figure", "limit (same run)", "ratio", "target",
            "result")

    def text(self):
        rows = [self.HEAD] + self.rows
        w = [max(len(r[i]) for r in rows) for i in range(len(self.HEAD))]
        out = []
        for n, r in enumerate(rows):
            out.append("  ".join(c.ljust(w[i]) for i, c in enumerate(r))
                       .rstrip())
            if n == 0:
                out.append("  ".join("-" * x for x in w))
        return "\n".join(out)

    def markdown(self):
        out = ["| " + " | ".join(self.HEAD) + " |",
               "|" + "|".join("---" for _ in self.HEAD) + "|"]
        for r in self.rows:
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in r)
                       + " |")
        return "\n".join(out)


# ---------------------------------------------------------------- the run

def everything_server():
    path = os.path.join(NPM_DIR, "node_modules", "@modelcontextprotocol",
                        "server-everything", "dist", "index.js")
    node = shutil.which("node")
    if node is None or not os.path.exists(path):
        return None
    return {"command": node, "args": [path]}


def check_call(d, tool, params, want):
    st, body = http_request(d.port, "POST", "/", call_body(tool, params),
                            token=d.token)
    if st != 200 or not isinstance(body, dict) or body.get("result") != want:
        raise BenchError("%s %s: got %s %r, want 200 {\"result\": %r}\n%s" %
                         (d.name, tool, st, body, want, d.tail()))


def pipe_rtt(bdir, cross):
    exe = os.path.join(bdir, "bench", "pipe-rtt")
    out = subprocess.run([exe] + (["-x"] if cross else []),
                         stdout=subprocess.PIPE, check=True,
                         timeout=120).stdout
    return json.loads(out)


def load_rounds(args, bare, d, scripts, notes):
    """Interleaved wrk runs; returns {target: {conns: [summaries]}}."""
    res = {k: {c: [] for c in args.levels} for k in scripts}
    res["discovery"] = {64: []}
    res["pipe"] = []
    res["costs"] = {}
    # The processes whose CPU time and context switches are counted.
    watched = {"bare": {"bare-http": bare.p.pid},
               "demo": {"mcp-proxyd": d.p.pid,
                        "mcp-demo-server": d.server_pid("demo")}}
    for rnd in range(args.rounds):
        log("round %d of %d" % (rnd + 1, args.rounds))
        res["pipe"].append(pipe_rtt(args.bdir, False))
        for c in args.levels:
            for k, (url, script) in scripts.items():
                watch = watched.get(k, {}) if c in (1, 64) else {}
                before = {n: counters(pid) for n, pid in watch.items()}
                r = wrk(url, script, c, args.duration)
                if watch:
                    acc = res["costs"].setdefault((k, c), {"calls": 0})
                    acc["calls"] += r["requests"]
                    for n, pid in watch.items():
                        a, b = before[n], counters(pid)
                        cpu, sw = acc.get(n, (0.0, 0))
                        acc[n] = (cpu + b[0] - a[0], sw + b[1] - a[1])
                log("  %-10s c=%-3d %9.0f req/s  p50 %7d us  p99 %7d us%s" %
                    (k, c, r["rps"], r["p50"], r["p99"],
                     "  %d errors" % r["errors"] if r["errors"] else ""))
                if r["errors"]:
                    notes.append("%s at %d connections, round %d: %d "
                                 "errors (%s)" % (k, c, rnd + 1, r["errors"],
                                 ", ".join("%s %d" % (e, r[e]) for e in
                                           ("connect", "read", "write",
                                            "status", "timeout") if r[e])))
                res[k][c].append(r)
        r = wrk(d.url + "mcp/tools?q=echo", args.disc_script, 64,
                args.duration)
        log("  discovery  c=64  %9.0f req/s  p50 %7d us  p99 %7d us" %
            (r["rps"], r["p50"], r["p99"]))
        if r["errors"]:
            notes.append("discovery round %d: %d errors" % (rnd + 1,
                                                            r["errors"]))
        res["discovery"][64].append(r)
    return res


def sleeps(d, notes):
    body = call_body("mcp__slow__sleep", {"ms": SLEEP_MS})
    wall, statuses, bodies = asyncio.run(concurrent_calls(
        d.port, d.token, body, SLEEP_CALLS, 120.0))
    bad = [st for st, b in zip(statuses, bodies)
           if st != 200 or b'"result"' not in b]
    if bad:
        notes.append("sleep: %d of %d calls failed (statuses %s)" %
                     (len(bad), SLEEP_CALLS, sorted(set(bad))))
    log("500 x sleep %d ms: %.3f s wall, %d failed" % (SLEEP_MS, wall,
                                                        len(bad)))
    return wall, len(bad)


def memory(args, procs, workdir, demo, notes):
    servers = {n: dict(demo) for n in ("demo", "demo2", "demo3")}
    d = Daemon(procs, args.bdir, workdir, "memory", servers)
    try:
        check_call(d, "mcp__demo__echo", {"message": ECHO_MESSAGE},
                   ECHO_MESSAGE)
        time.sleep(1.0)
        idle = d.rss()
        idle_anon = rss_bytes(d.p.pid, "RssAnon")
        idle_file = rss_bytes(d.p.pid, "RssFile")
        script = wrk_script(os.path.join(workdir, "memory.lua"), "POST",
                            call_body("mcp__demo__echo",
                                      {"message": ECHO_MESSAGE}), d.token)
        done, warm, rps = 0, None, None
        deadline = time.monotonic() + args.memory_cap
        while done < args.calls and time.monotonic() < deadline:
            if rps is None:
                secs = 2
            else:
                secs = int(min(30, max(2, (args.calls - done) / rps * 1.02
                                       + 1)))
            r = wrk(d.url, script, 64, secs)
            ok = r["requests"] - r["status"]
            done += ok
            rps = max(1.0, ok / (r["duration_us"] / 1e6))
            if warm is None:
                time.sleep(0.5)
                warm = (done, d.rss())
            log("memory: %d calls, RSS %.2f MiB" % (done, d.rss() / MIB))
        d.alive()
        if done < args.calls:
            notes.append("memory: only %d calls in %d s" %
                         (done, args.memory_cap))
        time.sleep(1.0)
        after = d.rss()
        kids = sum(rss_bytes(c) for c in child_pids(d.p.pid))
        return {"idle": idle, "warm": warm, "after": after, "calls": done,
                "children": kids, "idle_anon": idle_anon,
                "idle_file": idle_file}
    finally:
        d.stop()


def report(args, m, res, sleep_wall, sleep_failed, mem, have_every):
    t = Table()
    bare = {c: res["bare"][c] for c in args.levels}
    pipe = statistics.median(r["p50_us"] for r in res["pipe"])
    pipe99 = statistics.median(r["p99_us"] for r in res["pipe"])
    for c in args.levels:
        t.add("0. bare evhttp, %d conn" % c,
              "%s, p50 %s, p99 %s" % (f_rps(med(bare[c], "rps")),
                                     f_us(med(bare[c], "p50")),
                                     f_us(med(bare[c], "p99"))),
              "the ceiling")
    t.add("0. pipe round trip (child echo)",
          "p50 %s, p99 %s" % (f_us(pipe), f_us(pipe99)), "the floor")
    t.add("0. pipe round trip across CPUs (-x)",
          "p50 %s, p99 %s" % (f_us(m["pipe_x"]["p50_us"]),
                              f_us(m["pipe_x"]["p99_us"])), "for scale")

    def ratios(a, b):
        return "%.2f / %.2f" % (a, b)

    def load_rows(key, label, targets):
        for c in args.levels:
            rs = res[key][c]
            rps, p50, p99 = med(rs, "rps"), med(rs, "p50"), med(rs, "p99")
            brps, bp50, bp99 = (med(bare[c], "rps"), med(bare[c], "p50"),
                                med(bare[c], "p99"))
            item = "%s, %d conn" % (label, c)
            if targets and c == 64:
                t.check(item + ": req/s", f_rps(rps), "bare " + f_rps(brps),
                        rps / brps, ">=", TARGET_RPS64)
                t.check(item + ": p99", f_us(p99), "bare p99 " + f_us(bp99),
                        p99 / bp99, "<=", TARGET_P99_64)
                t.add(item + ": p50", f_us(p50), "bare p50 " + f_us(bp50),
                      p50 / bp50)
            elif targets and c == 1:
                floor = bp50 + pipe
                t.check(item + ": p50", f_us(p50),
                        "bare p50 %s + pipe %s = %s" % (
                            f_us(bp50), f_us(pipe), f_us(floor)),
                        p50 / floor, "<=", TARGET_P50_1)
                xfloor = bp50 + m["pipe_x"]["p50_us"]
                t.add(item + ": p50, against the cross-CPU pipe",
                      f_us(p50), "bare p50 + pipe -x = %s" % f_us(xfloor),
                      p50 / xfloor)
                t.add(item + ": req/s, p99", "%s, %s" % (f_rps(rps),
                                                         f_us(p99)),
                      "bare %s, %s" % (f_rps(brps), f_us(bp99)),
                      ratios(rps / brps, p99 / bp99))
            else:
                t.add(item + ": req/s", f_rps(rps), "bare " + f_rps(brps),
                      rps / brps)
                t.add(item + ": p50, p99", "%s, %s" % (f_us(p50),
                                                       f_us(p99)),
                      "bare %s, %s" % (f_us(bp50), f_us(bp99)),
                      ratios(p50 / bp50, p99 / bp99))

    load_rows("demo", "1. echo via C demo server", True)
    for c in (1, 64):
        bc, dc = res["costs"].get(("bare", c)), res["costs"].get(("demo", c))
        if not bc or not dc or not bc["calls"] or not dc["calls"]:
            continue
        bcpu = bc["bare-http"][0] / bc["calls"] * 1e6
        bsw = bc["bare-http"][1] / bc["calls"]
        pcpu = dc["mcp-proxyd"][0] / dc["calls"] * 1e6
        psw = dc["mcp-proxyd"][1] / dc["calls"]
        scpu = dc["mcp-demo-server"][0] / dc["calls"] * 1e6
        ssw = dc["mcp-demo-server"][1] / dc["calls"]
        t.add("1. cost per call, %d conn: CPU, context switches" % c,
              "mcp-proxyd %s, %.1f (demo server %s, %.1f)" % (
                  f_us(pcpu), psw, f_us(scpu), ssw),
              "bare %s, %.1f" % (f_us(bcpu), bsw),
              ratios(pcpu / bcpu, psw / bsw) if bcpu and bsw else None)
    if have_every:
        load_rows("everything", "2. echo via server-everything", False)
    else:
        t.add("2. echo via server-everything", "skipped: not installed "
              "(sh scripts/deps.sh test)")
    t.check("3. %d x sleep %d ms, concurrent" % (SLEEP_CALLS, SLEEP_MS),
            "%.3f s wall%s" % (sleep_wall, ", %d failed" % sleep_failed
                               if sleep_failed else ""),
            "the sleep, %.1f s" % (SLEEP_MS / 1000.0),
            sleep_wall / (SLEEP_MS / 1000.0), "<=", TARGET_SLEEP)
    disc = res["discovery"][64]
    t.add("4. GET /mcp/tools?q=echo, 64 conn",
          "%s, p50 %s, p99 %s" % (f_rps(med(disc, "rps")),
                                 f_us(med(disc, "p50")),
                                 f_us(med(disc, "p99"))),
          "bare " + f_rps(med(bare[64], "rps")),
          med(disc, "rps") / med(bare[64], "rps"))
    t.check("5. RSS idle, 3 servers configured",
            "%s (anon %s, file-backed %s)" % (
                f_bytes(mem["idle"]), f_bytes(mem["idle_anon"]),
                f_bytes(mem["idle_file"])),
            "budget " + f_bytes(TARGET_IDLE_RSS),
            mem["idle"] / TARGET_IDLE_RSS, "<=", 1.0)
    growth = mem["after"] - mem["idle"]
    t.check("5. RSS growth after %s calls" % format(mem["calls"], ","),
            "%s (%s -> %s)" % (f_bytes(growth), f_bytes(mem["idle"]),
                               f_bytes(mem["after"])),
            "budget " + f_bytes(TARGET_RSS_GROWTH),
            growth / TARGET_RSS_GROWTH, "<=", 1.0)
    wcalls, wrss = mem["warm"]
    t.add("5. RSS growth: first %s calls, then the rest" %
          format(wcalls, ","),
          "%s, then %s" % (f_bytes(wrss - mem["idle"]),
                           f_bytes(mem["after"] - wrss)),
          "for scale")
    t.add("5. RSS of the 3 demo servers after the calls",
          f_bytes(mem["children"]), "not counted")
    return t


def per_round(args, res, keys):
    out = []
    for k in keys:
        for c in sorted(res[k]):
            cells = ["%.0f/%d/%d" % (r["rps"], r["p50"], r["p99"])
                     for r in res[k][c]]
            out.append("%-10s c=%-3d %s" % (k, c, "  ".join(cells)))
    out.append("pipe       p50/p99 %s" % "  ".join(
        "%.1f/%.1f" % (r["p50_us"], r["p99_us"]) for r in res["pipe"]))
    return "\n".join(out)


def write_md(path, args, m, table, rounds_text, notes, configs, elapsed):
    lines = [
        "# Benchmarks",
        "",
        "Measured by `python3 bench/run.py` (%s on this machine): "
        "it builds an optimised tree (`-O2`) in bench/out/build and the two "
        "floors in bench/, and measures everything below in one run on one "
        "machine, wrk on the same machine. The machine is shared and noisy, "
        "so each target is a ratio to a limit measured in the same run: "
        "the load runs are interleaved (bare server, then mcp-proxyd, at "
        "each connection count), repeated %d times for %d s each, and the "
        "table shows the medians (every round is listed under Notes)." %
        ("%d minutes" % round(elapsed / 60) if elapsed >= 90 else
         "%d seconds" % round(elapsed), args.rounds, args.duration),
        "",
        "- **bare evhttp** (bench/bare-http.c): one thread answering every "
        "request with a fixed JSON body the size of mcp-proxyd's echo "
        "reply, the ceiling of any evhttp front end here.",
        "- **pipe round trip** (bench/pipe-rtt.c): one JSON-RPC line written "
        "to a child process's stdin and echoed back on its stdout, 20,000 "
        "times, the floor of a call's transport. The scheduler usually "
        "runs both ends on one CPU, the cheap case; `-x` pins them to two "
        "CPUs (a cross-CPU wake-up), shown for scale.",
        "- mcp-proxyd calls `echo` with `{\"message\":\"hello\"}` (POST /, "
        "keep-alive, wrk with 2 threads, 1 at one connection); p50 and p99 "
        "are wrk's latency percentiles. Rate limits are off.",
        "- **cost per call**: CPU time (utime + stime from /proc) and "
        "context switches (voluntary and not, every thread) over the "
        "calls of the runs at that connection count.",
        "- RSS is VmRSS of the daemon process (file-backed: the pages of "
        "shared libraries it has touched); its MCP servers are not "
        "counted. The growth is after minus idle, so it includes the "
        "warm-up; the row after it splits the two.",
        "",
        "## Machine",
        "",
    ]
    lines += ["- %s: %s" % kv for kv in m["desc"]]
    lines += ["", "## Results", "", table.markdown(), "", "## Notes", ""]
    lines += ["- " + n for n in notes] or ["- No errors in any run."]
    lines += [
        "- For scale (issue 5): the original TypeScript proxy does about "
        "7,300 calls/s at 64 connections on this machine, 480 µs p50 at "
        "one connection, and holds 170 MB.",
        "",
        "Every round (req/s / p50 µs / p99 µs):",
        "",
        "```",
        rounds_text,
        "```",
        "",
        "Daemon configurations (MCP server paths shortened):",
        "",
        "```",
    ]
    lines += configs
    lines += ["```", "", "## Targets", ""]
    for r in table.rows:
        if r[5] in ("PASS", "MISS"):
            lines.append("- %s: **%s**, %s (ratio %s, target %s)" %
                         (r[0], r[5], r[1], r[3], r[4]))
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    log("wrote " + path)


def main():
    ap = argparse.ArgumentParser(
        description="Build an optimised mcp-proxyd and benchmark it against "
        "the floors measured in the same run; prints one table and writes "
        "BENCHMARKS.md.")
    ap.add_argument("--duration", type=int, default=5,
                    help="seconds per wrk run (default 5)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="interleaved rounds of the load runs, medians "
                    "reported (default 3)")
    ap.add_argument("--calls", type=int, default=1000000,
                    help="calls for the RSS growth (default 1000000)")
    ap.add_argument("--memory-cap", type=int, default=240,
                    help="at most this many seconds of calls for the RSS "
                    "growth (default 240)")
    ap.add_argument("--levels", default=",".join(map(str, LEVELS)),
                    help="connection counts (default 1,16,64,256; 1 and 64 "
                    "carry the targets)")
    ap.add_argument("--out", default=os.path.join(HERE, "out"),
                    help="work directory (default bench/out)")
    ap.add_argument("--build-dir", help="build tree (default OUT/build)")
    ap.add_argument("--no-build", action="store_true",
                    help="use the build tree as it is")
    ap.add_argument("--md", default=os.path.join(SRCDIR, "BENCHMARKS.md"),
                    help="where to write the report (default BENCHMARKS.md)")
    ap.add_argument("--rev", metavar="TEXT",
                    help="how BENCHMARKS.md names the measured tree "
                    "(default: its git commit)")
    ap.add_argument("--no-md", action="store_true",
                    help="print the table only")
    args = ap.parse_args()
    args.levels = sorted({int(x) for x in args.levels.split(",")} |
                         {1, 64})
    if args.duration < 1 or args.rounds < 1 or args.calls < 1:
        ap.error("--duration, --rounds and --calls must be positive")
    args.build_dir = os.path.abspath(args.build_dir or
                                     os.path.join(args.out, "build"))
    if shutil.which("wrk") is None:
        log("wrk not found: apt-get install wrk (or sh scripts/deps.sh "
            "test)")
        return 2

    def on_signal(sig, frame):
        raise SystemExit(128 + sig)

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    procs = Procs()
    t_start = time.monotonic()
    notes = []
    try:
        args.bdir = build(args)
        # Configs, wrk scripts (they hold the tokens) and the daemons'
        # logs of the last run.
        workdir = os.path.join(args.out, "run")
        shutil.rmtree(workdir, ignore_errors=True)
        os.makedirs(workdir, mode=0o700)
        demo_exe = os.path.join(args.bdir, "src", "mcp-demo-server")
        demo = {"command": demo_exe}

        bare = Bare(procs, args.bdir)
        m = {"desc": machine(bare.ready.get("libevent", "?") +
                             " (pkg-config: %s)" %
                             sh(["pkg-config", "--modversion", "libevent"]),
                             args.rev)}
        m["pipe_x"] = pipe_rtt(args.bdir, True) if os.cpu_count() > 1 \
            else {"p50_us": float("nan"), "p99_us": float("nan")}

        every = everything_server()
        servers = {"demo": dict(demo),
                   "slow": dict(demo, maxConcurrent=SLEEP_CALLS * 2)}
        if every is not None:
            servers["everything"] = every
        else:
            notes.append("item 2 skipped: @modelcontextprotocol/"
                         "server-everything not found under %s "
                         "(sh scripts/deps.sh test installs it)" % NPM_DIR)
        d = Daemon(procs, args.bdir, workdir, "load", servers)
        check_call(d, "mcp__demo__echo", {"message": ECHO_MESSAGE},
                   ECHO_MESSAGE)
        if every is not None:
            check_call(d, "mcp__everything__echo",
                       {"message": ECHO_MESSAGE}, "Echo: " + ECHO_MESSAGE)
        st, body = http_request(d.port, "GET", "/mcp/tools?q=echo",
                                token=d.token)
        if st != 200 or not any(x.get("name") == "mcp__demo__echo"
                                for x in body.get("tools", [])):
            raise BenchError("discovery: %s %r" % (st, body))

        scripts = {"bare": (bare.url, wrk_script(
            os.path.join(workdir, "bare.lua"), "POST",
            call_body("mcp__demo__echo", {"message": ECHO_MESSAGE})))}
        scripts["demo"] = (d.url, wrk_script(
            os.path.join(workdir, "demo.lua"), "POST",
            call_body("mcp__demo__echo", {"message": ECHO_MESSAGE}),
            d.token))
        if every is not None:
            scripts["everything"] = (d.url, wrk_script(
                os.path.join(workdir, "everything.lua"), "POST",
                call_body("mcp__everything__echo",
                          {"message": ECHO_MESSAGE}), d.token))
        args.disc_script = wrk_script(os.path.join(workdir, "disc.lua"),
                                      "GET", None, d.token)
        log("warm-up")
        for k, (url, script) in scripts.items():
            wrk(url, script, 64, 1)
        res = load_rounds(args, bare, d, scripts, notes)
        d.alive()
        sleep_wall, sleep_failed = sleeps(d, notes)
        d.alive()
        d.stop()
        bare.stop()
        mem = memory(args, procs, workdir, demo, notes)
        m["load_end"] = os.getloadavg()[0]
        m["desc"][-2] = ("load average", "%s, %.2f at the end" %
                         (m["desc"][-2][1], m["load_end"]))
        m["desc"][-1] = ("other load", "%s, %.2f in the second after it "
                         "(the machine is shared: floors and ratios move "
                         "with it)" % (m["desc"][-1][1], cpu_busy()))

        table = report(args, m, res, sleep_wall, sleep_failed, mem,
                       every is not None)
        print(table.text())
        sys.stdout.flush()
        elapsed = time.monotonic() - t_start
        log("done in %.0f s" % elapsed)
        if not args.no_md:
            configs = []
            for name, cfg in (("load (items 1-4)", d.config),
                              ("memory (item 5)", {
                                  "allowedTools": ["*"],
                                  "mcpServers": {n: {"command":
                                                     "mcp-demo-server"}
                                                 for n in ("demo", "demo2",
                                                           "demo3")},
                                  "rateLimits": d.config["rateLimits"]})):
                shown = json.loads(json.dumps(cfg))
                for s in shown["mcpServers"].values():
                    s["command"] = os.path.basename(s["command"])
                    s["args"] = [os.path.basename(a)
                                 for a in s.get("args", [])] or None
                    if s["args"] is None:
                        del s["args"]
                configs.append("# " + name)
                configs.append(json.dumps(shown, separators=(",", ":")))
            write_md(args.md, args, m, table,
                     per_round(args, res, [k for k in ("bare", "demo",
                                                       "everything",
                                                       "discovery")
                                           if k in res]),
                     notes, configs, elapsed)
        return 1 if any(r[5] == "MISS" for r in table.rows) else 0
    except (BenchError, subprocess.CalledProcessError) as e:
        log("error: %s" % e)
        return 2
    finally:
        procs.end()


if __name__ == "__main__":
    sys.exit(main())
