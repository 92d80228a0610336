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
     from $MCP_PROXYD_NPM_DIR; skipped with a note when absent), over
     stdio and (2b) as a remote server over Streamable HTTP (the same
     server started with PORT=N node dist/index.js streamableHttp);
  3. 500 concurrent calls of a 2-second sleep tool: wall time from the
     first request sent to the last reply read;
  4. GET /mcp/tools?q=echo with rate limits off: requests/s;
  5. memory: the daemon's RSS idle with three servers configured, and its
     growth after one million calls;
  6. noisy neighbours: a victim calling echo on server "demo", one call
     after the other on one keep-alive connection, alone and then beside
     four hostile clients (processes at nice +10, one connection each)
     that take turns at the costliest requests we can build against
     server "hostile" (uniqueItems arrays just under and just over 16 KiB
     of body, 60 words that make ^(a|aa)+$ backtrack, an echo of a body
     just under maxBodyBytes, a 5 MiB reply) and server "stalled" (its
     child told to stop reading its stdin, then sent a call longer than
     its pipe and maxBufferedBytes, so that it is failed and restarted,
     and stalled again); target: the victim's p99 beside them <= max(5 x
     its p99 alone, 20 ms), and none of its calls fails. Info rows: its
     calls over 20 ms, the victim beside one hostile kind at a time, and
     the most CPU time one hostile request can cost (the daemon's CPU time
     per request of each kind sent alone, and the max);
  7. the CPU time of the loop thread per call (/proc/PID/task/PID/stat of
     the main thread, which does all the HTTP) for echo with a 100-byte
     body and with a 1 MiB message, the ceiling it implies (1 / that), and
     the CPU per call of each thread class (loop, workers, bulk);
  8. forwarded or routed: echo at 64 and 1 connections with "workers": 1
     (no forwarding possible), "workers": 2 with MCP_PROXYD_ROUND_ROBIN=1
     (about half the calls are parsed on the worker that does not own the
     instance and forwarded to its owner's mailbox), and "workers": 2 as
     shipped (a call goes to the worker that owned the instance of its
     connection's last call): req/s, p50, p99, CPU per call;
  9. scraped: echo at 64 and 1 connections on one daemon, without and
     with a client scraping GET /metrics every second beside it, the two
     interleaved; target: req/s with the scrapes >= 0.97 x without.
 10. sessions: 10,000 made with POST /sessions (target: the daemon's CPU
     time per session < 100 us), then echo at 64 connections sending a
     different session token with each request, in turn over all of them,
     against the same script with one token, interleaved; target: req/s
     >= 0.95 x one token.

The machine is shared and noisy, so every target is a ratio to a limit
measured in the same run, and the load runs are interleaved (bare server,
then the daemon, at each connection count) and repeated --rounds times; the
table shows the median of the rounds (items 6 and 8 also run --rounds
times, medians shown). It prints one table and writes it, with the
machine's description, to BENCHMARKS.md. --only runs some row groups
(load: items 0-4, memory: 5, noisy: 6, loopcpu: 7, forward: 8, scrape: 9,
sessions: 10)
and leaves
BENCHMARKS.md alone, for quick runs while developing, e.g.

    python3 bench/run.py --only noisy,loopcpu --rounds 1 --duration 2

Python 3 standard library only. Every process it starts is ended on exit;
all traffic is on 127.0.0.1.
"""

import argparse
import asyncio
import datetime
import http.client
import json
import math
import multiprocessing
import os
import platform
import queue
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
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


def cpu_seconds(pid):
    """CPU seconds (utime + stime) of a process, all its threads."""
    st = proc_stat(pid)
    return 0.0 if st is None else (int(st[11]) + int(st[12])) / CLK_TCK


def thread_class(pid, tid, comm):
    """Which part of mcp-proxyd a thread is: the loop thread is the main
    thread (tid == pid, named after the binary), workers are worker-N, the
    bulk lane's threads are named bulk."""
    if tid == pid:
        return "loop"
    if comm.startswith("worker-"):
        return "workers"
    if comm == "bulk":
        return "bulk"
    return "other"


def thread_cpu(pid):
    """{tid: (class, CPU seconds)} of every thread of a process, from
    /proc/PID/task/TID/stat."""
    out = {}
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for t in tasks:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                raw = f.read()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        st = raw.rsplit(")", 1)[1].split()
        out[int(t)] = (thread_class(pid, int(t), comm),
                       (int(st[11]) + int(st[12])) / CLK_TCK)
    return out


def class_cpu(before, after):
    """CPU seconds per thread class between two thread_cpu() samples (a
    thread that started in between counts from zero)."""
    acc = {}
    for tid, (cls, cpu) in after.items():
        acc[cls] = acc.get(cls, 0.0) + cpu - before.get(tid, (cls, 0.0))[1]
    return acc


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
    # With dependency tracking: a changed header rebuilds what includes it
    # (without it, a tree built before a struct changed linked stale
    # objects, and the daemon failed at start).
    if (not os.path.exists(status) or
            os.path.getmtime(status) < os.path.getmtime(configure) or
            "--disable-dependency-tracking" in open(status).read()):
        run(["rm", "-rf", bdir])
        os.makedirs(bdir)
        run([configure, "CFLAGS=-O2 -g"], cwd=bdir,
            stdout=subprocess.DEVNULL)
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


def raw_request(port, token, method, path, body=None):
    """The bytes of one HTTP/1.1 request, built once and sent many times."""
    if isinstance(body, str):
        body = body.encode()
    head = ("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            "Authorization: Bearer %s\r\n" % (method, path, port, token))
    if body is not None:
        head += ("Content-Type: application/json\r\n"
                 "Content-Length: %d\r\n" % len(body))
    return head.encode() + b"\r\n" + (body or b"")


class Conn:
    """One keep-alive connection sending prebuilt requests: a few tens of
    microseconds of Python per call, so that the client is not what is
    measured, and bodies of megabytes read with recv_into. A connection
    that fails or is closed is opened again by the next call."""

    def __init__(self, port, timeout=60.0):
        self.port = port
        self.timeout = timeout
        self.s = None
        self.rest = b""

    def close(self):
        if self.s is not None:
            self.s.close()
            self.s = None
        self.rest = b""

    def call(self, req):
        """(status, body) of one request; status 0: the connection failed
        (or timed out) before a whole reply came."""
        try:
            if self.s is None:
                self.s = socket.create_connection(("127.0.0.1", self.port),
                                                  self.timeout)
                self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.s.sendall(req)
            buf = self.rest
            while True:
                i = buf.find(b"\r\n\r\n")
                if i >= 0:
                    break
                chunk = self.s.recv(65536)
                if not chunk:
                    raise ConnectionError("closed by the server")
                buf += chunk
            head = buf[:i].decode("latin-1").split("\r\n")
            status = int(head[0].split()[1])
            length, close = 0, False
            for h in head[1:]:
                k, _, v = h.partition(":")
                k = k.strip().lower()
                if k == "content-length":
                    length = int(v)
                elif k == "connection" and v.strip().lower() == "close":
                    close = True
            body = buf[i + 4:]
            if len(body) < length:
                b = bytearray(length)
                b[:len(body)] = body
                view, got = memoryview(b), len(body)
                while got < length:
                    n = self.s.recv_into(view[got:])
                    if n == 0:
                        raise ConnectionError("closed by the server")
                    got += n
                body, self.rest = bytes(b), b""
            else:
                body, self.rest = body[:length], body[length:]
            if close:
                self.close()
            return status, body
        except (OSError, ValueError, IndexError):
            self.close()
            return 0, b""


def pct(xs, q):
    """The q-quantile (nearest rank) of a list of numbers."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, math.ceil(q * len(xs)) - 1))]


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
    def __init__(self, procs, bdir, workdir, name, servers, extra=None,
                 env=None):
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
                             stderr=self.log,
                             env=dict(os.environ, **env) if env else None)
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

    def health(self):
        st, body = http_request(self.port, "GET", "/health",
                                token=self.token)
        # 503 with the same body while a server is not ready (the noisy
        # neighbours' stalled server is, now and then, on purpose).
        if st not in (200, 503) or not isinstance(body, dict) or \
                "servers" not in body:
            raise BenchError("%s: /health: %s %r" % (self.name, st, body))
        return body

    def wait_idle(self, timeout=120.0):
        """Wait until no call is in flight or queued (the /health request
        asking is the one left), so that work left over from one
        measurement is not counted in the next."""
        deadline = time.monotonic() + timeout
        while True:
            h = self.health()
            if h.get("inflight", 0) <= 1 and h.get("queued", 0) == 0:
                return
            if time.monotonic() >= deadline:
                raise BenchError("%s: still busy after %.0f s: %r" %
                                 (self.name, timeout, h))
            time.sleep(0.05)

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


def everything_http(procs, workdir):
    """server-everything in streamableHttp mode on a free port, started
    and waited for; its remote server entry, or None."""
    every = everything_server()
    if every is None:
        return None
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    log_path = open(os.path.join(workdir, "everything-http.log"), "wb")
    procs.start([every["command"]] + every["args"] + ["streamableHttp"],
                env=dict(os.environ, PORT=str(port)), stdout=log_path,
                stderr=log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return {"type": "http", "url": "http://127.0.0.1:%d/mcp" % port}
        except OSError:
            time.sleep(0.1)
    raise BenchError("server-everything (streamableHttp) did not listen")


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
                "idle_file": idle_file, "config": d.config}
    finally:
        d.stop()


# ---------------------------------------------------------------- item 6

NOISY_CALLS = 2000          # victim calls, alone and beside the hostile ones
NOISY_CLIENTS = 4           # hostile clients, one connection each
NOISY_MAX_BODY = 8 * MIB    # maxBodyBytes of that daemon (the default)
NOISY_FLOOR_US = 20000.0    # the victim's p99 may always reach 20 ms ...
TARGET_NOISY = 5.0          # ... or 5 x its p99 alone
BULK_BODY = 16 * 1024       # larger bodies go to the bulk lane (src/exec.c)
STALL_TIMEOUT_MS = 1000     # timeoutMs of the stalled server
STALL_MESSAGE = 512 * 1024  # more than its pipe (256 KiB) + maxBufferedBytes
COST_REPEAT = 10            # requests of each hostile kind for its CPU cost
COST_REPEAT_STALLED = 3     # (its restart backoff doubles from 100 ms)
VICTIM_MESSAGE = "victim"
NOISY_MAX_S = 120.0         # the victim's calls beside them end after this
NOISY_KIND_MAX_S = 10.0     # ... and beside one kind only


def noisy_servers(demo):
    return {"demo": dict(demo),
            "hostile": dict(demo, timeoutMs=120000),
            "stalled": dict(demo, maxBufferedBytes=65536,
                            timeoutMs=STALL_TIMEOUT_MS)}


class Hostile:
    """One kind of costly request; step() sends one on a connection and
    returns its status."""

    def __init__(self, name, label, port, token, tool, params):
        self.name, self.label = name, label
        self.body = call_body(tool, params)
        self.req = raw_request(port, token, "POST", "/", self.body)

    def step(self, conn, wait=2.0):
        return conn.call(self.req)[0]


class Stalled(Hostile):
    """A call to a child that has stopped reading its stdin: wait until
    the child is (re)started, make it stall for good, then send it a call
    longer than its pipe and maxBufferedBytes together. The call fails
    (504 after timeoutMs, when its notifications/cancelled cannot be
    written either; 502 when another call overflows the buffer first) and
    the child is killed and started again: spawn, handshake, tool list."""

    def __init__(self, port, token):
        Hostile.__init__(self, "stalled", "stall {ms: 0}, then a %d KiB echo "
                         "to that child (maxBufferedBytes 65536, timeoutMs "
                         "%d)" % (STALL_MESSAGE // 1024, STALL_TIMEOUT_MS),
                         port, token, "mcp__stalled__echo",
                         {"message": "s" * STALL_MESSAGE})
        self.health = raw_request(port, token, "GET", "/health")
        self.stall = raw_request(port, token, "POST", "/", call_body(
            "mcp__stalled__stall", {"ms": 0}))

    def ready(self, conn, wait):
        deadline = time.monotonic() + wait
        while True:
            st, body = conn.call(self.health)
            if st == 200:
                try:
                    h = json.loads(body)["servers"]["stalled"]
                    if h["state"] == "ready" and h["ready"] >= 1:
                        return True
                except (ValueError, KeyError, TypeError):
                    pass
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def step(self, conn, wait=2.0):
        if not self.ready(conn, wait):
            return -1   # still waiting for its restart: nothing sent
        st = conn.call(self.stall)[0]
        if st != 200:
            # Refused at once (a crash loop) or stuck behind the stalled
            # child: a pause, so that this kind stays a stalled child and
            # does not become a flood of cheap refusals.
            time.sleep(0.1)
            return st
        return conn.call(self.req)[0]


def hostile_kinds(port, token):
    """The costliest requests we can build, in the order the hostile
    clients take them."""
    # As many distinct small ints as fit in a body of BULK_BODY bytes (so
    # it starts on a worker), then a body just over it (the bulk lane).
    n = 3000
    while len(call_body("mcp__hostile__unique",
                        {"xs": list(range(n + 1))})) <= BULK_BODY:
        n += 1
    pad = NOISY_MAX_BODY - 1 - len(call_body("mcp__hostile__echo",
                                             {"message": ""}))
    kinds = [
        Hostile("unique-%d" % n, "uniqueItems over %d ints" % n, port, token,
                "mcp__hostile__unique", {"xs": list(range(n))}),
        Hostile("unique-4000", "uniqueItems over 4000 ints", port, token,
                "mcp__hostile__unique", {"xs": list(range(4000))}),
        Hostile("match", "60 words a{24}b against ^(a|aa)+$", port, token,
                "mcp__hostile__match", {"words": ["a" * 24 + "b"] * 60}),
        Hostile("echo-8MiB", "echo, its reply as long", port, token,
                "mcp__hostile__echo", {"message": "e" * pad}),
        Hostile("big-5MiB", "a 5 MiB reply (big)", port, token,
                "mcp__hostile__big", {"bytes": 5 * MIB}),
        Stalled(port, token),
    ]
    for k in kinds:
        k.label += ", %s-byte body" % format(len(k.body), ",")
    return kinds


def hostile_client(kinds, port, first, stop, started, out):
    """One hostile client, a process of its own: one connection, the kinds
    in turn from kinds[first] until stop is set; puts its requests
    [(kind, t0, t1, status)] on out. It runs at nice +10: it stands for
    other sandboxes, and what is measured is what mcp-proxyd lets them
    cost the victim, not what this Python costs the machine (copying
    8 MiB bodies)."""
    try:
        os.nice(10)
    except OSError:
        pass
    conn = Conn(port, timeout=300.0)
    rec = []
    i = first
    parent = os.getppid()
    while not stop.is_set() and os.getppid() == parent:
        k = i % len(kinds)
        with started.get_lock():
            started[k] += 1
        t0 = time.perf_counter()
        st = kinds[k].step(conn)
        rec.append((kinds[k].name, t0, time.perf_counter(), st))
        if st == 0:
            time.sleep(0.05)    # no daemon to talk to: no busy loop
        i += 1
    conn.close()
    out.put(rec)


def victim(conn, req, want, n, max_s=None):
    """n calls one after the other on one keep-alive connection (fewer if
    max_s seconds run out first)."""
    lat, failed, codes, slow = [], 0, {}, []
    t_start = time.perf_counter()
    t_end = t_start + max_s if max_s is not None else None
    for _ in range(n):
        t0 = time.perf_counter()
        if t_end is not None and t0 >= t_end:
            break
        st, body = conn.call(req)
        t1 = time.perf_counter()
        lat.append(t1 - t0)
        if (t1 - t0) * 1e6 > NOISY_FLOOR_US:
            slow.append((t0, t1))
        if st != 200 or body != want:
            failed += 1
            codes[st] = codes.get(st, 0) + 1
    return {"calls": len(lat), "wanted": n, "failed": failed,
            "codes": codes,
            "p50": pct(lat, 0.50) * 1e6, "p99": pct(lat, 0.99) * 1e6,
            "max": max(lat) * 1e6, "slow": len(slow),
            "slow_s": sum(t1 - t0 for t0, t1 in slow), "slow_at": slow,
            "wall": time.perf_counter() - t_start}


def f_codes(codes):
    return ", ".join("%s x%d" % ("not sent" if c == -1 else
                                 "no reply" if c == 0 else c, n)
                     for c, n in sorted(codes.items()))


def beside(d, conn, req, want, kinds, n, max_s):
    """The victim's n calls (at most max_s seconds of them) while
    NOISY_CLIENTS hostile clients take the kinds in turn, each from a
    different one. Returns (victim result, hostile requests, window)."""
    ctx = multiprocessing.get_context("fork")
    stop, out = ctx.Event(), ctx.Queue()
    started = ctx.Array("i", len(kinds))
    ps = [ctx.Process(target=hostile_client, daemon=True,
                      args=(kinds, d.port, i * len(kinds) // NOISY_CLIENTS,
                            stop, started, out))
          for i in range(NOISY_CLIENTS)]
    for p in ps:
        p.start()
    recs, lost = [], 0
    try:
        # A second of them, and every kind under way, before the victim.
        t_min = time.monotonic() + 1.0
        deadline = time.monotonic() + 30.0
        while (time.monotonic() < t_min or min(started[:]) == 0) and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        w0 = time.perf_counter()
        res = victim(conn, req, want, n, max_s)
        w1 = time.perf_counter()
    finally:
        stop.set()
        deadline = time.monotonic() + 120.0
        for _ in ps:
            try:
                recs += out.get(timeout=max(0.1, deadline -
                                            time.monotonic()))
            except queue.Empty:     # a client still stuck
                lost += 1
        for p in ps:
            p.join(5.0)
            if p.is_alive():
                p.terminate()
                p.join()
    res["lost"] = lost
    return res, recs, (w0, w1)


def noisy_round(args, procs, workdir, demo, rnd, notes):
    """The victim alone, then beside NOISY_CLIENTS hostile clients, on a
    daemon of its own (the stalled server's restart backoff and crash-loop
    state start afresh each round)."""
    d = Daemon(procs, args.bdir, workdir, "noisy", noisy_servers(demo),
               {"maxBodyBytes": NOISY_MAX_BODY})
    try:
        conn, req, want = victim_conn(d)
        alone = victim(conn, req, want, args.noisy_calls)
        kinds = hostile_kinds(d.port, d.token)
        mixed, recs, (w0, w1) = beside(d, conn, req, want, kinds,
                                       args.noisy_calls, NOISY_MAX_S)
        conn.close()
        d.alive()
        h = d.health()["servers"]
        during = {k.name: {} for k in kinds}
        for name, t0, t1, st in recs:
            if t0 < w1 and t1 > w0:
                during[name][st] = during[name].get(st, 0) + 1
        # Which hostile kinds were in flight during each of the victim's
        # slow calls (a hint at what held it up).
        blame = {k.name: 0 for k in kinds}
        for s0, s1 in mixed["slow_at"]:
            for name in {name for name, t0, t1, st in recs
                         if t0 < s1 and t1 > s0}:
                blame[name] += 1
        tag = "noisy neighbours, round %d" % (rnd + 1)
        missing = [k for k, v in during.items() if not v]
        if missing:
            notes.append("%s: no %s request during the victim's %.1f s" %
                         (tag, ", ".join(missing), w1 - w0))
        victim_notes(notes, tag, alone, mixed)
        log("noisy round %d: victim p99 %s alone, %s beside (p50 %s, max "
            "%s), %d failed; window %.1f s: %s; stalled restarts %d" % (
                rnd + 1, f_us(alone["p99"]), f_us(mixed["p99"]),
                f_us(mixed["p50"]), f_us(mixed["max"]),
                alone["failed"] + mixed["failed"], w1 - w0,
                "; ".join("%s %s" % (k, f_codes(v))
                          for k, v in during.items()),
                h["stalled"]["restarts"]))
        return {"alone": alone, "mixed": mixed, "window": w1 - w0,
                "during": during, "blame": blame,
                "restarts": h["stalled"]["restarts"], "config": d.config}
    finally:
        d.stop()


def victim_conn(d):
    """The victim's connection, its request and the reply it wants,
    after a warm-up."""
    req = raw_request(d.port, d.token, "POST", "/", call_body(
        "mcp__demo__echo", {"message": VICTIM_MESSAGE}))
    conn = Conn(d.port, 30.0)
    st, want = conn.call(req)
    if st != 200 or json.loads(want).get("result") != VICTIM_MESSAGE:
        raise BenchError("%s: victim echo: %s %r" % (d.name, st, want))
    victim(conn, req, want, 200)
    return conn, req, want


def victim_notes(notes, tag, alone, mixed):
    if mixed["lost"]:
        notes.append("%s: %d hostile clients still busy 120 s after the "
                     "stop" % (tag, mixed["lost"]))
    if mixed["calls"] < mixed["wanted"]:
        notes.append("%s: the victim made only %d of its %d calls in %.0f "
                     "s beside the hostile clients" % (
                         tag, mixed["calls"], mixed["wanted"],
                         mixed["wall"]))
    for what, r in (("alone", alone), ("beside the hostile clients",
                                       mixed)):
        if r["failed"]:
            notes.append("%s: %d of the victim's calls %s failed (%s)" % (
                tag, r["failed"], what, f_codes(r["codes"])))


def noisy_by_kind(args, procs, workdir, demo, notes):
    """For each hostile kind, the victim beside NOISY_CLIENTS clients all
    sending that kind (a quarter of the calls, at most NOISY_KIND_MAX_S
    seconds): which kind holds it up."""
    d = Daemon(procs, args.bdir, workdir, "noisy-by-kind",
               noisy_servers(demo), {"maxBodyBytes": NOISY_MAX_BODY})
    try:
        n = max(100, args.noisy_calls // 4)
        conn, req, want = victim_conn(d)
        alone = victim(conn, req, want, n)
        out = []
        for k in hostile_kinds(d.port, d.token):
            d.wait_idle()
            r, recs, (w0, w1) = beside(d, conn, req, want, [k], n,
                                       NOISY_KIND_MAX_S)
            d.alive()
            codes = {}
            for name, t0, t1, st in recs:
                if t0 < w1 and t1 > w0:
                    codes[st] = codes.get(st, 0) + 1
            victim_notes(notes, "noisy neighbours, %s only" % k.name,
                         alone, r)
            log("noisy, %-12s only: victim p99 %s (alone %s), max %s, %d "
                "of %d calls over %s; hostile %s" % (
                    k.name, f_us(r["p99"]), f_us(alone["p99"]),
                    f_us(r["max"]), r["slow"], r["calls"],
                    f_us(NOISY_FLOOR_US), f_codes(codes)))
            out.append({"kind": k.name, "alone": alone, "mixed": r,
                        "codes": codes})
        conn.close()
        return out
    finally:
        d.stop()


def hostile_costs(args, procs, workdir, demo, notes):
    """The daemon's CPU time (every thread) per request of each hostile
    kind, one kind at a time on one connection, nothing else running."""
    d = Daemon(procs, args.bdir, workdir, "hostile-cost", noisy_servers(demo),
               {"maxBodyBytes": NOISY_MAX_BODY})
    conn = Conn(d.port, 300.0)
    try:
        out = []
        for k in hostile_kinds(d.port, d.token):
            stalled = isinstance(k, Stalled)
            n = COST_REPEAT_STALLED if stalled else COST_REPEAT
            d.wait_idle()
            if stalled and not k.ready(conn, 30.0):
                raise BenchError("hostile-cost: stalled server not ready")
            c0, t0 = cpu_seconds(d.p.pid), time.perf_counter()
            codes = {}
            for _ in range(n):
                st = k.step(conn, 60.0)
                codes[st] = codes.get(st, 0) + 1
            if stalled:     # its last restart counts too
                k.ready(conn, 60.0)
            d.wait_idle()
            cpu = cpu_seconds(d.p.pid) - c0
            wall = time.perf_counter() - t0
            out.append({"kind": k.name, "label": k.label, "n": n,
                        "cpu": cpu / n * 1e6, "wall": wall / n * 1e6,
                        "codes": codes})
            log("hostile alone: %-12s %s CPU per request (%d: %s)" % (
                k.name, f_us(cpu / n * 1e6), n, f_codes(codes)))
        d.alive()
        return out
    finally:
        conn.close()
        d.stop()


# ---------------------------------------------------------------- item 7

LOOP_SMALL_BODY = 100       # bytes of the small echo call's body
LOOP_BIG_MESSAGE = MIB      # the large echo call's message
LOOP_BIG_CONNS = 8
LOOP_MIN_TICKS = 50         # 0.5 s of loop thread CPU: the tick is 2%


def echo_body(size):
    """An echo call whose body is exactly size bytes."""
    base = len(call_body("mcp__demo__echo", {"message": ""}))
    return call_body("mcp__demo__echo", {"message": "x" * (size - base)})


def loop_cpu(args, procs, workdir, demo, notes):
    """CPU time per call of each class of the daemon's threads, from
    /proc/PID/task/TID/stat before and after a wrk run."""
    d = Daemon(procs, args.bdir, workdir, "loopcpu", {"demo": dict(demo)},
               {"maxBodyBytes": 8 * MIB})
    try:
        check_call(d, "mcp__demo__echo", {"message": "x" * LOOP_BIG_MESSAGE},
                   "x" * LOOP_BIG_MESSAGE)
        small = wrk_script(os.path.join(workdir, "loop-small.lua"), "POST",
                           echo_body(LOOP_SMALL_BODY), d.token)
        big = wrk_script(os.path.join(workdir, "loop-big.lua"), "POST",
                         call_body("mcp__demo__echo",
                                   {"message": "x" * LOOP_BIG_MESSAGE}),
                         d.token)
        wrk(d.url, small, 16, 1)
        wrk(d.url, big, LOOP_BIG_CONNS, 1)
        res = {}
        for key, script, conns in (("small", small, 16),
                                   ("big", big, LOOP_BIG_CONNS),
                                   ("classes", small, 64)):
            d.wait_idle()
            before = thread_cpu(d.p.pid)
            # Runs of --duration until the loop thread has LOOP_MIN_TICKS
            # clock ticks (the 1 MiB calls are slow), at most 4.
            calls = errors = 0
            secs = 0.0
            for _ in range(4):
                r = wrk(d.url, script, conns, args.duration)
                calls += r["requests"]
                errors += r["errors"]
                secs += r["duration_us"] / 1e6
                cls = class_cpu(before, thread_cpu(d.p.pid))
                if cls.get("loop", 0.0) * CLK_TCK >= LOOP_MIN_TICKS:
                    break
            if errors:
                notes.append("loop CPU, %s at %d connections: %d errors" %
                             (key, conns, errors))
            if cls.get("loop", 0.0) * CLK_TCK < LOOP_MIN_TICKS:
                notes.append("loop CPU, %s at %d connections: only %d "
                             "clock ticks of the loop thread" % (
                                 key, conns, cls.get("loop", 0.0) *
                                 CLK_TCK))
            r = dict(r, requests=calls, rps=calls / secs)
            res[key] = {"wrk": r, "cpu": cls, "calls": calls,
                        "conns": conns}
            log("loop CPU %-7s c=%-3d %7d calls %8.0f req/s  %s" % (
                key, conns, r["requests"], r["rps"], "  ".join(
                    "%s %s" % (c, f_us(v / max(1, r["requests"]) * 1e6))
                    for c, v in sorted(cls.items()))))
        d.alive()
        res["config"] = d.config
        return res
    finally:
        d.stop()


# ---------------------------------------------------------------- item 8

FORWARD_LEVELS = (64, 1)
# (key, workers, environment, label): the owner parses every call; calls
# handed to the workers round robin (about half forwarded to the owner);
# calls handed to the worker that owned the connection's last call (the
# default: no forwarding for a client calling one server).
FORWARD_VARIANTS = (
    ("w1", 1, None, "workers=1 (the owner parses every call)"),
    ("rr", 2, {"MCP_PROXYD_ROUND_ROBIN": "1"},
     "workers=2, round robin (~50% forwarded to the owner)"),
    ("own", 2, None, "workers=2, to the connection's last owner (default)"),
)


def forward_rounds(args, procs, workdir, demo, notes):
    """echo on the daemons of FORWARD_VARIANTS, interleaved, --rounds
    times."""
    ds = {}
    try:
        for key, nw, env, _ in FORWARD_VARIANTS:
            ds[key] = Daemon(procs, args.bdir, workdir, "forward-" + key,
                             {"demo": dict(demo)}, {"workers": nw}, env)
        scripts, kids = {}, {}
        for w, d in ds.items():
            check_call(d, "mcp__demo__echo", {"message": ECHO_MESSAGE},
                       ECHO_MESSAGE)
            lua = os.path.join(workdir, "forward-%s.lua" % w)
            scripts[w] = wrk_script(lua, "POST",
                                    call_body("mcp__demo__echo",
                                              {"message": ECHO_MESSAGE}),
                                    d.token)
            kids[w] = d.server_pid("demo")
            wrk(d.url, scripts[w], 64, 1)
        res = {(w, c): [] for w in ds for c in FORWARD_LEVELS}
        costs = {(w, c): {"calls": 0, "cpu": 0.0, "child": 0.0}
                 for w in ds for c in FORWARD_LEVELS}
        for rnd in range(args.rounds):
            for c in FORWARD_LEVELS:
                for w, d in ds.items():
                    c0, k0 = cpu_seconds(d.p.pid), cpu_seconds(kids[w])
                    r = wrk(d.url, scripts[w], c, args.duration)
                    acc = costs[(w, c)]
                    acc["calls"] += r["requests"]
                    acc["cpu"] += cpu_seconds(d.p.pid) - c0
                    acc["child"] += cpu_seconds(kids[w]) - k0
                    res[(w, c)].append(r)
                    log("  %-4s c=%-3d %9.0f req/s  p50 %7d us  p99 "
                        "%7d us%s" % (w, c, r["rps"], r["p50"], r["p99"],
                                      "  %d errors" % r["errors"]
                                      if r["errors"] else ""))
                    if r["errors"]:
                        notes.append("forward, %s at %d "
                                     "connections, round %d: %d errors" %
                                     (w, c, rnd + 1, r["errors"]))
        for d in ds.values():
            d.alive()
        return {"res": res, "costs": costs,
                "configs": {w: d.config for w, d in ds.items()}}
    finally:
        for d in ds.values():
            d.stop()


# ---------------------------------------------------------------- item 9

SCRAPE_LEVELS = (64, 1)
TARGET_SCRAPE = 0.97        # req/s scraped every second >= 0.97 x not


class Scraper:
    """GET /metrics every second on one keep-alive connection, in a
    thread, as Prometheus does; keeps each scrape's time and size."""

    def __init__(self, port, token):
        self.port, self.token = port, token
        self.stop_ev = threading.Event()
        self.times, self.sizes, self.errors = [], [], 0
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=10)
        try:
            while not self.stop_ev.is_set():
                t0 = time.monotonic()
                try:
                    conn.request("GET", "/metrics", headers={
                        "Authorization": "Bearer " + self.token})
                    r = conn.getresponse()
                    body = r.read()
                    if r.status != 200:
                        self.errors += 1
                    self.sizes.append(len(body))
                except (OSError, http.client.HTTPException):
                    self.errors += 1
                    conn.close()
                spent = time.monotonic() - t0
                self.times.append(spent)
                self.stop_ev.wait(max(0.0, 1.0 - spent))
        finally:
            conn.close()

    def stop(self):
        self.stop_ev.set()
        self.t.join(15)


def scrape_rounds(args, procs, workdir, demo, notes):
    """echo on one daemon, without and with a Scraper, interleaved,
    --rounds times."""
    d = Daemon(procs, args.bdir, workdir, "scrape", {"demo": dict(demo)})
    try:
        check_call(d, "mcp__demo__echo", {"message": ECHO_MESSAGE},
                   ECHO_MESSAGE)
        script = wrk_script(os.path.join(workdir, "scrape.lua"), "POST",
                            call_body("mcp__demo__echo",
                                      {"message": ECHO_MESSAGE}), d.token)
        wrk(d.url, script, 64, 1)
        res = {(m, c): [] for m in ("off", "on") for c in SCRAPE_LEVELS}
        times, sizes = [], []
        for rnd in range(args.rounds):
            for c in SCRAPE_LEVELS:
                for mode in ("off", "on"):
                    sc = Scraper(d.port, d.token) if mode == "on" else None
                    r = wrk(d.url, script, c, args.duration)
                    if sc is not None:
                        sc.stop()
                        times += sc.times
                        sizes += sc.sizes
                        if sc.errors:
                            notes.append("scrape, round %d: %d failed "
                                         "scrapes" % (rnd + 1, sc.errors))
                    res[(mode, c)].append(r)
                    log("  scrape %-3s c=%-3d %9.0f req/s  p50 %7d us  "
                        "p99 %7d us" % (mode, c, r["rps"], r["p50"],
                                        r["p99"]))
                    if r["errors"]:
                        notes.append("scrape %s at %d connections, round "
                                     "%d: %d errors" % (mode, c, rnd + 1,
                                                        r["errors"]))
        d.alive()
        return {"res": res, "times": times, "sizes": sizes,
                "config": d.config}
    finally:
        d.stop()


def report_scrape(t, sc):
    """Item 9."""
    res, times = sc["res"], sorted(sc["times"])
    for c in SCRAPE_LEVELS:
        off, on = res[("off", c)], res[("on", c)]
        t.check("9. echo scraped every second, %d conn" % c,
                "%s, p50 %s, p99 %s" % (f_rps(med(on, "rps")),
                                        f_us(med(on, "p50")),
                                        f_us(med(on, "p99"))),
                "not scraped: %s, p50 %s, p99 %s" % (
                    f_rps(med(off, "rps")), f_us(med(off, "p50")),
                    f_us(med(off, "p99"))),
                med(on, "rps") / med(off, "rps"), ">=", TARGET_SCRAPE)
    if times:
        t.add("9. one scrape of GET /metrics (%d scrapes)" % len(times),
              "p50 %s, max %s, %s bytes" % (
                  f_us(pct(times, 0.5) * 1e6), f_us(times[-1] * 1e6),
                  format(int(statistics.median(sc["sizes"])), ",")))


SESSIONS_N = 10000
TARGET_SESSION_US = 100.0   # daemon CPU per POST /sessions < 100 us
TARGET_SESSION_TOKENS = 0.95  # rotating session tokens >= 0.95 x one

# The same request() for both runs: only the size of the token table
# differs, so the difference measured is the daemon's.
SESSION_LUA = r'''
local i = 0
local n = #tokens
request = function()
	i = i + 1
	if i > n then i = 1 end
	return wrk.format("POST", "/", {
	    ["Authorization"] = "Bearer " .. tokens[i],
	    ["Content-Type"] = "application/json"}, body)
end
'''


def session_script(path, body, tokens):
    """A wrk script that sends body with the next of tokens each time."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("body = %s\ntokens = {\n" % lua_str(body))
        f.write("".join("%s,\n" % lua_str(t) for t in tokens))
        f.write("}\n" + SESSION_LUA + WRK_DONE)
    return path


def create_sessions(d, n):
    """n sessions over one keep-alive connection: (tokens, the daemon's
    CPU seconds and RSS growth for them, wall seconds)."""
    conn = Conn(d.port)
    req = raw_request(d.port, d.token, "POST", "/sessions",
                      json.dumps({"ttlSeconds": 3600, "label": "bench"}))
    tokens = []
    rss0, cpu0, t0 = rss_bytes(d.p.pid), cpu_seconds(d.p.pid), \
        time.monotonic()
    try:
        for _ in range(n):
            st, body = conn.call(req)
            if st != 201:
                raise BenchError("POST /sessions: %s %r" % (st, body[:200]))
            tokens.append(json.loads(body)["token"])
    finally:
        conn.close()
    return (tokens, cpu_seconds(d.p.pid) - cpu0,
            rss_bytes(d.p.pid) - rss0, time.monotonic() - t0)


def session_rounds(args, procs, workdir, demo, notes):
    """Item 10: SESSIONS_N sessions made, then echo at 64 connections with
    one token and with the sessions' tokens in turn, interleaved."""
    d = Daemon(procs, args.bdir, workdir, "sessions", {"demo": dict(demo)},
               {"maxSessions": SESSIONS_N})
    try:
        check_call(d, "mcp__demo__echo", {"message": ECHO_MESSAGE},
                   ECHO_MESSAGE)
        tokens, cpu, rss, wall = create_sessions(d, SESSIONS_N)
        body = call_body("mcp__demo__echo", {"message": ECHO_MESSAGE})
        scripts = {"one": session_script(os.path.join(
            workdir, "session-one.lua"), body, [tokens[0]]),
            "rotating": session_script(os.path.join(
                workdir, "session-all.lua"), body, tokens)}
        for sc in scripts.values():
            wrk(d.url, sc, 64, 1)
        res = {k: [] for k in scripts}
        for rnd in range(args.rounds):
            for k, sc in scripts.items():
                r = wrk(d.url, sc, 64, args.duration)
                res[k].append(r)
                log("  sessions %-8s c=64 %9.0f req/s  p50 %7d us  "
                    "p99 %7d us" % (k, r["rps"], r["p50"], r["p99"]))
                if r["errors"]:
                    notes.append("sessions, %s token(s), round %d: %d "
                                 "errors" % (k, rnd + 1, r["errors"]))
        d.alive()
        return {"res": res, "cpu": cpu, "rss": rss, "wall": wall,
                "config": d.config}
    finally:
        d.stop()


def report_sessions(t, se):
    """Item 10."""
    res = se["res"]
    us = se["cpu"] / SESSIONS_N * 1e6
    t.check("10. POST /sessions, %s sessions" % format(SESSIONS_N, ","),
            "%.1f us CPU each" % us, "%.0f us" % TARGET_SESSION_US,
            us / TARGET_SESSION_US, "<=", 1.0)
    t.add("10. the %s sessions: wall time, memory" %
          format(SESSIONS_N, ","), "%.2f s, %s" % (
              se["wall"], f_bytes(se["rss"])),
          "%s bytes of RSS each" % format(int(se["rss"] / SESSIONS_N),
                                          ","))
    one, rot = res["one"], res["rotating"]
    t.check("10. echo, 64 conn, a session token per request "
            "(%s in turn)" % format(SESSIONS_N, ","),
            "%s, p50 %s, p99 %s" % (f_rps(med(rot, "rps")),
                                    f_us(med(rot, "p50")),
                                    f_us(med(rot, "p99"))),
            "one token: %s, p50 %s, p99 %s" % (
                f_rps(med(one, "rps")), f_us(med(one, "p50")),
                f_us(med(one, "p99"))),
            med(rot, "rps") / med(one, "rps"), ">=", TARGET_SESSION_TOKENS)


def report_load(t, args, m, res, sleep_wall, sleep_failed, have_every):
    """Items 0-4."""
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
        load_rows("everyhttp", "2b. echo via server-everything over "
                  "Streamable HTTP", False)
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


def report_memory(t, mem):
    """Item 5."""
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


def report_noisy(t, noisy, costs, by_kind):
    """Item 6."""
    rs = noisy
    a50 = statistics.median(r["alone"]["p50"] for r in rs)
    a99 = statistics.median(r["alone"]["p99"] for r in rs)
    amax = statistics.median(r["alone"]["max"] for r in rs)
    m50 = statistics.median(r["mixed"]["p50"] for r in rs)
    m99 = statistics.median(r["mixed"]["p99"] for r in rs)
    mmax = statistics.median(r["mixed"]["max"] for r in rs)
    limit = max(TARGET_NOISY * a99, NOISY_FLOOR_US)
    item = "6. noisy neighbours"
    t.check(item + ": victim p99 beside %d hostile clients" % NOISY_CLIENTS,
            "%s (alone %s)" % (f_us(m99), f_us(a99)),
            "max(%g x p99 alone, %s) = %s" % (TARGET_NOISY,
                                             f_us(NOISY_FLOOR_US),
                                             f_us(limit)),
            m99 / limit, "<=", 1.0)
    calls = sum(r["mixed"]["calls"] for r in rs)
    failed = sum(r["mixed"]["failed"] for r in rs)
    acalls = sum(r["alone"]["calls"] for r in rs)
    afailed = sum(r["alone"]["failed"] for r in rs)
    t.add(item + ": victim calls failed",
          "%s of %s beside them (alone: %s of %s)" % (
              format(failed, ","), format(calls, ","), format(afailed, ","),
              format(acalls, ",")),
          "none may fail", None, "0",
          "PASS" if failed == 0 and afailed == 0 else "MISS")
    t.add(item + ": victim p50, max",
          "%s, %s beside them" % (f_us(m50), f_us(mmax)),
          "alone %s, %s" % (f_us(a50), f_us(amax)),
          "%.2f / %.2f" % (m50 / a50, mmax / amax))
    slow = sum(r["mixed"]["slow"] for r in rs)
    slow_s = sum(r["mixed"]["slow_s"] for r in rs)
    wall = sum(r["mixed"]["wall"] for r in rs)
    t.add(item + ": victim calls over %s beside them" % f_us(NOISY_FLOOR_US),
          "%d of %s, %.2f s of the victim's %.2f s" % (
              slow, format(calls, ","), slow_s, wall),
          "alone: %d" % sum(r["alone"]["slow"] for r in rs),
          slow_s / wall if wall else None)
    blame = {}
    for r in rs:
        for k, n in r["blame"].items():
            blame[k] = blame.get(k, 0) + n
    if slow:
        t.add(item + ": hostile kinds in flight during those calls",
              ", ".join("%s %d" % kv for kv in blame.items()),
              "of %d slow calls" % slow)
    during, restarts = {}, []
    for r in rs:
        restarts.append(r["restarts"])
        for k, codes in r["during"].items():
            acc = during.setdefault(k, {})
            for c, n in codes.items():
                acc[c] = acc.get(c, 0) + n
    t.add(item + ": hostile requests during the victim's calls",
          "; ".join("%s %s" % (k, f_codes(v) or "none")
                    for k, v in during.items()) +
          "; stalled child restarted %s times" % "/".join(map(str,
                                                             restarts)),
          "over %s, %d rounds" % (" / ".join("%.1f s" % r["window"]
                                              for r in rs), len(rs)))
    for k in by_kind:
        a, r = k["alone"], k["mixed"]
        t.add("6. noisy neighbours, one kind at a time: %d clients of %s" %
              (NOISY_CLIENTS, k["kind"]),
              "victim p99 %s, max %s; %d of %s calls over %s%s" % (
                  f_us(r["p99"]), f_us(r["max"]), r["slow"],
                  format(r["calls"], ","), f_us(NOISY_FLOOR_US),
                  "" if r["calls"] == r["wanted"] else
                  " (cut short after %.0f s)" % r["wall"]),
              "alone p99 %s" % f_us(a["p99"]), r["p99"] / a["p99"])
    item = "6. the most CPU time one hostile request can cost under the " \
        "budgets"
    for c in costs:
        t.add("%s: %s" % (item, c["kind"]),
              "%s ± %s (wall %s; %d requests: %s)" % (
                  f_us(c["cpu"]), f_us(1e6 / CLK_TCK / c["n"]),
                  f_us(c["wall"]), c["n"], f_codes(c["codes"])),
              c["label"])
    worst = max(costs, key=lambda c: c["cpu"])
    t.add(item + ": the max", "%s (%s)" % (f_us(worst["cpu"]),
                                            worst["kind"]),
          "daemon CPU, every thread, per request")


def report_loopcpu(t, lc):
    """Item 7."""
    item = "7. CPU time of the loop thread per call"
    for key, what in (("small", "%d-byte body" % LOOP_SMALL_BODY),
                      ("big", "%s message" % (
                          "1 MiB" if LOOP_BIG_MESSAGE == MIB else
                          "%d-byte" % LOOP_BIG_MESSAGE))):
        r = lc[key]
        calls = max(1, r["calls"])
        loop = r["cpu"].get("loop", 0.0) / calls * 1e6
        rps = r["wrk"]["rps"]
        label = "%s, echo with a %s, %d conn" % (item, what, r["conns"])
        t.add(label, f_us(loop), "%s calls at %s" % (
            format(r["calls"], ","), f_rps(rps)))
        if loop > 0:
            ceiling = 1e6 / loop
            t.add(label + ": the ceiling it implies (1 / loop CPU)",
                  "%s calls/s" % format(int(round(ceiling)), ","),
                  "measured " + f_rps(rps), rps / ceiling)
    for key, what in (("classes", "%d-byte body" % LOOP_SMALL_BODY),
                      ("big", "1 MiB message")):
        r = lc[key]
        calls = max(1, r["calls"])
        cls = r["cpu"]
        parts = ["%s %s" % (c, f_us(cls.get(c, 0.0) / calls * 1e6))
                 for c in ("loop", "workers", "bulk")]
        if cls.get("other", 0.0) > 0:
            parts.append("other %s" % f_us(cls["other"] / calls * 1e6))
        t.add("7. CPU per call by thread class, echo with a %s, %d conn" %
              (what, r["conns"]), ", ".join(parts),
              "all threads %s (%s calls)" % (
                  f_us(sum(cls.values()) / calls * 1e6),
                  format(r["calls"], ",")))


def report_forward(t, fw):
    """Item 8."""
    res, costs = fw["res"], fw["costs"]
    item = "8. forwarded or routed: echo"
    for c in FORWARD_LEVELS:
        base = None
        for w, _, _, what in FORWARD_VARIANTS:
            rs, k = res[(w, c)], costs[(w, c)]
            rps, p50, p99 = med(rs, "rps"), med(rs, "p50"), med(rs, "p99")
            n = max(1, k["calls"])
            fig = "%s, p50 %s, p99 %s, CPU %s per call (demo server %s)" % (
                f_rps(rps), f_us(p50), f_us(p99), f_us(k["cpu"] / n * 1e6),
                f_us(k["child"] / n * 1e6))
            if base is None:
                base = (rps, p99, k["cpu"] / n)
                t.add("%s, %s, %d conn" % (item, what, c), fig)
            else:
                t.add("%s, %s, %d conn" % (item, what, c), fig,
                      "workers=1: %s, p99 %s, CPU %s" % (
                          f_rps(base[0]), f_us(base[1]),
                          f_us(base[2] * 1e6)),
                      "%.2f / %.2f / %.2f" % (
                          rps / base[0], p99 / base[1],
                          (k["cpu"] / n) / base[2] if base[2] else 0))


def per_round(args, res, keys, noisy=None, fw=None):
    out = []
    for k in keys:
        for c in sorted(res[k]):
            cells = ["%.0f/%d/%d" % (r["rps"], r["p50"], r["p99"])
                     for r in res[k][c]]
            out.append("%-10s c=%-3d %s" % (k, c, "  ".join(cells)))
    out.append("pipe       p50/p99 %s" % "  ".join(
        "%.1f/%.1f" % (r["p50_us"], r["p99_us"]) for r in res["pipe"]))
    if fw is not None:
        for c in FORWARD_LEVELS:
            for w, _, _, _ in FORWARD_VARIANTS:
                out.append("%-10s c=%-3d %s" % (
                    "forward-" + w, c, "  ".join(
                        "%.0f/%d/%d" % (r["rps"], r["p50"], r["p99"])
                        for r in fw["res"][(w, c)])))
    if noisy is not None:
        out.append("")
        out.append("noisy neighbours, victim p50/p99/max µs (failed), "
                   "alone then beside the hostile clients:")
        for i, r in enumerate(noisy):
            out.append("round %d  %s" % (i + 1, "  ".join(
                "%.0f/%.0f/%.0f (%d)" % (v["p50"], v["p99"], v["max"],
                                         v["failed"])
                for v in (r["alone"], r["mixed"]))))
    return "\n".join(out)


def shown_config(cfg):
    """A daemon's configuration with the MCP servers' paths shortened."""
    shown = json.loads(json.dumps(cfg))
    for s in shown["mcpServers"].values():
        s["command"] = os.path.basename(s["command"])
        s["args"] = [os.path.basename(a) for a in s.get("args", [])] or None
        if s["args"] is None:
            del s["args"]
    return json.dumps(shown, separators=(",", ":"))


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
        "- **6. noisy neighbours**: a victim calls `echo` on server demo "
        "%s times, one call after the other on one keep-alive connection "
        "(a small Python client timing each call with perf_counter), "
        "first alone, then beside %d hostile clients, each a process at "
        "nice +10 (they stand for other sandboxes: what counts is what "
        "mcp-proxyd lets them cost the victim, not what the Python that "
        "plays them costs the machine) with one connection, each taking "
        "the hostile kinds in turn from a different one, so that every "
        "kind runs while the victim calls: uniqueItems arrays in a body "
        "just under and just over 16 KiB (a worker, then the bulk lane), "
        "60 words `a{24}b` against the backtracking pattern `^(a|aa)+$`, "
        "an echo whose body is just under maxBodyBytes (8 MiB) and whose "
        "reply is as long, a 5 MiB reply, and calls to server stalled, "
        "whose child is told to stop reading its stdin (`stall {ms: 0}`) "
        "and then sent a call longer than its pipe and maxBufferedBytes "
        "(65536): it fails (504 after the server's timeoutMs of %d ms, or "
        "502) and the child is killed and started again, after which the "
        "client stalls it again. The hostile servers run the same demo "
        "binary. Each round has a daemon of its own (the stalled server's "
        "restart backoff starts afresh); the target compares the medians "
        "over the rounds: the victim's p99 beside them may be at most "
        "%g times its p99 alone, or %s when that is more, and none of its "
        "calls may fail (its calls beside them end after %.0f s, made or "
        "not). A p99 over calls hides a few very long ones (a sequential "
        "victim makes few calls while it is held up), so the info rows "
        "also count its calls over %s, the share of its time they took, "
        "and which hostile kinds were in flight meanwhile. **One kind at a "
        "time**: the victim (a quarter of the calls, at most %.0f s) beside "
        "%d clients all sending one kind, on one more daemon, which tells "
        "which kind holds it up. **The most CPU time one hostile request "
        "can cost** is the daemon's CPU time (utime + stime of every "
        "thread, /proc/PID/stat) over %d requests of one kind (%d of the "
        "stalled kind, restart included) sent one after the other with "
        "nothing else running, per request, ± one clock tick (10 ms) over "
        "the requests; the largest is the max. Until the validation "
        "budgets are in, the costly validations run to the end."
        % (format(args.noisy_calls, ","), NOISY_CLIENTS, STALL_TIMEOUT_MS,
           TARGET_NOISY, f_us(NOISY_FLOOR_US), NOISY_MAX_S,
           f_us(NOISY_FLOOR_US), NOISY_KIND_MAX_S, NOISY_CLIENTS,
           COST_REPEAT, COST_REPEAT_STALLED),
        "- **7. CPU time of the loop thread per call**: utime + stime of "
        "the main thread (/proc/PID/task/PID/stat: the thread named after "
        "the binary, tid == pid, which does all the HTTP and nothing else) "
        "before and after wrk runs of %d s calling echo (repeated, up to 4 "
        "times, until the loop thread has %d clock ticks of 10 ms), with a "
        "%d-byte body at 16 connections and with a 1 MiB message at %d "
        "connections (maxBodyBytes 8 MiB), divided by the calls; the "
        "ceiling is "
        "1 / that, the calls per second at which the loop thread alone "
        "would fill a CPU (the ratio column is the measured rate over it: "
        "how busy the loop thread was). The split by thread class (loop; "
        "workers, named worker-N; the bulk lane, named bulk) is over a "
        "run at 64 connections with the small body, and over the 1 MiB "
        "run."
        % (args.duration, LOOP_MIN_TICKS, LOOP_SMALL_BODY, LOOP_BIG_CONNS),
        "- **8. forwarded or routed**: does a call that lands on a worker "
        "which does not own the server's instance cost much by being "
        "forwarded through the owner's mailbox, rather than being routed "
        "to the owner in the first place? echo at 64 and 1 connections on "
        "three daemons run side by side and measured in turn, %d rounds "
        "of %d s: `\"workers\": 1` (no forwarding possible); "
        "`\"workers\": 2` with `MCP_PROXYD_ROUND_ROBIN=1` (the loop "
        "thread hands jobs to the workers round robin, so about half the "
        "calls are parsed on the worker that does not own the one demo "
        "instance and forwarded); and `\"workers\": 2` as shipped (a call "
        "goes to the worker that owned the instance of its connection's "
        "last call). CPU per call is the daemon's (every thread), the demo "
        "server's in brackets; the ratios are req/s, p99 and CPU against "
        "workers=1."
        % (args.rounds, args.duration),
        "- **9. scraped**: echo at 64 and 1 connections on one daemon, "
        "%d rounds of %d s each without and with a client that scrapes "
        "`GET /metrics` every second on a keep-alive connection (as "
        "Prometheus does), the two interleaved; the target is req/s "
        "scraped >= %.2f x req/s not scraped. The time of one scrape is "
        "measured by that client (request sent to body read)."
        % (args.rounds, args.duration, TARGET_SCRAPE),
        "- **10. sessions**: %s sessions made with `POST /sessions` one "
        "after the other on a keep-alive connection (the daemon's CPU time "
        "over them, from /proc, divided by their number; target < %.0f "
        "µs each); then echo at 64 connections, %d rounds of %d s each, "
        "with a wrk script whose request() sends the next session token "
        "of all %s with each request, interleaved with the same script "
        "holding one token; target: req/s >= %.2f x one token."
        % (format(SESSIONS_N, ","), TARGET_SESSION_US, args.rounds,
           args.duration, format(SESSIONS_N, ","), TARGET_SESSION_TOKENS),
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
    # The fault soak's section (tests/soak/soak.py --md) is kept.
    try:
        with open(path) as f:
            old = f.read()
        at = old.find("\n## Fault soak")
        if at != -1:
            lines.append(old[at + 1:])
    except FileNotFoundError:
        pass
    with open(path, "w") as f:
        f.write("\n".join(lines))
    log("wrote " + path)


GROUPS = ("load", "memory", "noisy", "loopcpu", "forward", "scrape",
          "sessions")


def main():
    ap = argparse.ArgumentParser(
        description="Build an optimised mcp-proxyd and benchmark it against "
        "the floors measured in the same run; prints one table and writes "
        "BENCHMARKS.md.")
    ap.add_argument("--duration", type=int, default=5,
                    help="seconds per wrk run (default 5)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="interleaved rounds of the load runs (and of "
                    "items 6 and 8), medians reported (default 3)")
    ap.add_argument("--calls", type=int, default=1000000,
                    help="calls for the RSS growth (default 1000000)")
    ap.add_argument("--memory-cap", type=int, default=240,
                    help="at most this many seconds of calls for the RSS "
                    "growth (default 240)")
    ap.add_argument("--noisy-calls", type=int, default=NOISY_CALLS,
                    help="the victim's calls for the noisy neighbours, "
                    "alone and beside the hostile clients (default %d)" %
                    NOISY_CALLS)
    ap.add_argument("--levels", default=",".join(map(str, LEVELS)),
                    help="connection counts (default 1,16,64,256; 1 and 64 "
                    "carry the targets)")
    ap.add_argument("--only", metavar="GROUPS",
                    help="run only these row groups, comma-separated: load "
                    "(items 0-4: floors, echo, server-everything, sleeps, "
                    "discovery), memory (5), noisy (6), loopcpu (7), "
                    "forward (8), scrape (9), sessions (10); default all. "
                    "Implies "
                    "--no-md")
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
    if args.duration < 1 or args.rounds < 1 or args.calls < 1 or \
            args.noisy_calls < 100:
        ap.error("--duration, --rounds and --calls must be positive, "
                 "--noisy-calls at least 100")
    if args.only is None:
        groups = set(GROUPS)
    else:
        groups = {g.strip() for g in args.only.split(",") if g.strip()}
        bad = sorted(groups - set(GROUPS))
        if bad or not groups:
            ap.error("--only: unknown group %s (the groups: %s)" % (
                ", ".join(bad) or "(none)", ", ".join(GROUPS)))
        args.no_md = True
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
    configs = []
    table = Table()
    res = noisy = fw = None
    try:
        args.bdir = build(args)
        # Configs, wrk scripts (they hold the tokens) and the daemons'
        # logs of the last run.
        workdir = os.path.join(args.out, "run")
        shutil.rmtree(workdir, ignore_errors=True)
        os.makedirs(workdir, mode=0o700)
        demo_exe = os.path.join(args.bdir, "src", "mcp-demo-server")
        demo = {"command": demo_exe}

        bare = Bare(procs, args.bdir) if "load" in groups else None
        m = {"desc": machine((bare.ready.get("libevent", "?") if bare
                              else "?") +
                             " (pkg-config: %s)" %
                             sh(["pkg-config", "--modversion", "libevent"]),
                             args.rev)}
        if "load" in groups:
            load_group(args, procs, workdir, demo, bare, m, notes, configs,
                       table)
            res = m.pop("res")
        if "memory" in groups:
            mem = memory(args, procs, workdir, demo, notes)
            report_memory(table, mem)
            configs.append(("memory (item 5)", mem["config"]))
        if "noisy" in groups:
            noisy = []
            for rnd in range(args.rounds):
                log("noisy neighbours, round %d of %d" % (rnd + 1,
                                                          args.rounds))
                noisy.append(noisy_round(args, procs, workdir, demo, rnd,
                                         notes))
            log("the victim beside one hostile kind at a time")
            by_kind = noisy_by_kind(args, procs, workdir, demo, notes)
            log("the CPU time of each hostile kind alone")
            costs = hostile_costs(args, procs, workdir, demo, notes)
            report_noisy(table, noisy, costs, by_kind)
            configs.append(("noisy neighbours (item 6; a daemon of its own "
                            "per round, and one for the costs alone)",
                            noisy[0]["config"]))
        if "loopcpu" in groups:
            log("CPU time of the loop thread")
            lc = loop_cpu(args, procs, workdir, demo, notes)
            report_loopcpu(table, lc)
            configs.append(("loop thread CPU (item 7)", lc["config"]))
        if "forward" in groups:
            log("forwarded or routed")
            fw = forward_rounds(args, procs, workdir, demo, notes)
            report_forward(table, fw)
            for w, _, env, _ in FORWARD_VARIANTS:
                configs.append(("forwarded or routed (item 8), %s%s" %
                                (w, ", environment %s" % env if env else ""),
                                fw["configs"][w]))
        if "scrape" in groups:
            log("scraped every second, or not")
            sc = scrape_rounds(args, procs, workdir, demo, notes)
            report_scrape(table, sc)
            configs.append(("scraped (item 9)", sc["config"]))
        if "sessions" in groups:
            log("%d sessions" % SESSIONS_N)
            se = session_rounds(args, procs, workdir, demo, notes)
            report_sessions(table, se)
            configs.append(("sessions (item 10)", se["config"]))
        m["load_end"] = os.getloadavg()[0]
        m["desc"][-2] = ("load average", "%s, %.2f at the end" %
                         (m["desc"][-2][1], m["load_end"]))
        m["desc"][-1] = ("other load", "%s, %.2f in the second after it "
                         "(the machine is shared: floors and ratios move "
                         "with it)" % (m["desc"][-1][1], cpu_busy()))

        print(table.text())
        sys.stdout.flush()
        elapsed = time.monotonic() - t_start
        log("done in %.0f s" % elapsed)
        if not args.no_md:
            write_md(args.md, args, m, table,
                     per_round(args, res, [k for k in ("bare", "demo",
                                                       "everything",
                                                       "discovery")
                                           if k in res], noisy, fw),
                     notes, ["# %s\n%s" % (name, shown_config(cfg))
                             for name, cfg in configs], elapsed)
        return 1 if any(r[5] == "MISS" for r in table.rows) else 0
    except (BenchError, subprocess.CalledProcessError) as e:
        log("error: %s" % e)
        return 2
    finally:
        procs.end()


def load_group(args, procs, workdir, demo, bare, m, notes, configs, table):
    """Items 0-4: the floors, then echo, server-everything, the sleeps and
    discovery on one daemon, interleaved with the bare server."""
    m["pipe_x"] = pipe_rtt(args.bdir, True) if os.cpu_count() > 1 \
        else {"p50_us": float("nan"), "p99_us": float("nan")}

    every = everything_server()
    servers = {"demo": dict(demo),
               "slow": dict(demo, maxConcurrent=SLEEP_CALLS * 2)}
    if every is not None:
        servers["everything"] = every
        servers["everyhttp"] = everything_http(procs, workdir)
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
        check_call(d, "mcp__everyhttp__echo",
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
        scripts["everyhttp"] = (d.url, wrk_script(
            os.path.join(workdir, "everyhttp.lua"), "POST",
            call_body("mcp__everyhttp__echo",
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
    report_load(table, args, m, res, sleep_wall, sleep_failed,
                every is not None)
    configs.append(("load (items 1-4)", d.config))
    m["res"] = res


if __name__ == "__main__":
    sys.exit(main())
