#!/usr/bin/env python3
"""tests/soak/soak.py: the fault soak of mcp-proxyd, in one command.

    python3 tests/soak/soak.py [--calls N] [--build-dir DIR] [--json FILE]

Starts the daemon from the build tree with three demo servers and makes
--calls echo calls (default one million) from 64 keep-alive connections,
while:
  - a killer SIGKILLs a random server every 50,000 calls (it is restarted;
    every fifth of the calls for fewer than 250,000);
  - one call in 1,000 asks for a 5 MiB reply, one in 1,000 for a sleep
    past its tool timeout (answered 504 at 300 ms);
  - a dropper opens connections and drops them in the middle of a request,
    or before reading the answer.
Then it checks: every call was answered, with 200, or 502/503/504 for those
hit by a kill or a timeout (each counted); none waited past its timeout
(plus 2 s); the daemon's descriptors came back to their count after the
warm-up; its RSS grew by at most 2 MiB after the warm-up (not checked
under a sanitizer, whose allocator keeps freed memory); and after SIGTERM it
exited 0, printed no sanitizer report and left no process running. It
prints one line per figure and "soak: PASS" (exit 0) or the failures
(exit 1); --json writes the figures for tests/integration/test_soak.py.

Python 3 standard library only; all traffic on 127.0.0.1.
"""
import argparse
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(os.path.dirname(HERE))

CONNS = 64
SERVERS = 3
BIG_EVERY = 1000
BIG_BYTES = 5 * 1024 * 1024
TIMEOUT_EVERY = 1000
TIMEOUT_MS = 5000           # each server's timeoutMs
SLEEP_TIMEOUT_MS = 300      # toolTimeouts.sleep: the calls meant to time out
SLACK_S = 2.0               # how late an answer may be, past its timeout
RSS_LIMIT = 2 * 1024 * 1024
SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer", "LeakSanitizer")


class Conn:
    """One keep-alive HTTP/1.1 connection; call() returns (status, body
    length); status 0 when the connection failed before an answer."""

    def __init__(self, port, timeout):
        self.port, self.timeout, self.s, self.rest = port, timeout, None, b""

    def close(self):
        if self.s is not None:
            self.s.close()
        self.s, self.rest = None, b""

    def _read_head(self):
        buf = self.rest
        while b"\r\n\r\n" not in buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        hdrs = dict((k.strip().lower(), v.strip()) for k, _, v in
                    (ln.partition(":") for ln in lines[1:]))
        return int(lines[0].split()[1]), hdrs, rest

    def call(self, req):
        try:
            if self.s is None:
                self.s = socket.create_connection(("127.0.0.1", self.port),
                                                  self.timeout)
            self.s.sendall(req)
            status, hdrs, body = self._read_head()
            want = int(hdrs.get("content-length", "0"))
            while len(body) < want:
                chunk = self.s.recv(min(1 << 20, want - len(body)))
                if not chunk:
                    raise ConnectionError("closed")
                body += chunk
            self.rest = body[want:]
            if hdrs.get("connection", "").lower() == "close":
                self.close()
            return status, want
        except (OSError, ValueError, IndexError):
            self.close()
            return 0, 0


def http_json(port, token, path):
    c = Conn(port, 30)
    req = ("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Connection: close\r\n\r\n" % (path, token)).encode()
    c.s = socket.create_connection(("127.0.0.1", port), 30)
    c.s.sendall(req)
    status, hdrs, body = c._read_head()
    while True:
        chunk = c.s.recv(65536)
        if not chunk:
            break
        body += chunk
    c.close()
    return status, json.loads(body)


def call_request(token, tool, params):
    body = json.dumps({"toolName": tool, "params": params}).encode()
    return ("POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (token, len(body))).encode() + body


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def running_in_group(pgid):
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


class Soak:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="mcp-soak-")
        demo = os.path.join(args.build_dir, "src", "mcp-demo-server")
        servers = {"s%d" % i: {"command": demo, "timeoutMs": TIMEOUT_MS,
                               "toolTimeouts": {"sleep": SLEEP_TIMEOUT_MS}}
                   for i in range(SERVERS)}
        self.cfg = {"allowedTools": ["*"], "mcpServers": servers,
                    "rateLimits": {"discovery": {"requests": 0},
                                   "execute": {"requests": 0}},
                    "schemaCachePath": os.path.join(self.tmp, "cache.json")}
        path = os.path.join(self.tmp, "soak.json")
        with open(path, "w") as f:
            json.dump(self.cfg, f)
        self.log_path = os.path.join(self.tmp, "stderr.log")
        self.p = subprocess.Popen(
            [os.path.join(args.build_dir, "src", "mcp-proxyd"), "-c", path],
            stdout=subprocess.PIPE, stderr=open(self.log_path, "wb"),
            stdin=subprocess.DEVNULL)
        ready = json.loads(self.p.stdout.readline())
        self.port, self.token = ready["port"], ready["authToken"]
        self.lock = threading.Lock()
        self.done = 0
        self.statuses = {}      # (kind, status) -> count
        self.late = []          # (kind, seconds)
        self.pgids = set()
        self.kills = self.drops = 0
        self.stop = threading.Event()
        self.warm = None        # (rss, fds) after the warm-up
        self.last = 0
        self.wait_ready()

    def health(self):
        return http_json(self.port, self.token, "/health")[1]

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            h = self.health()
            pids = [p for s in h["servers"].values()
                    for p in s["pids"] if p]
            if h.get("healthy") and len(pids) == SERVERS:
                self.pgids.update(pids)
                return
            time.sleep(0.1)
        raise RuntimeError("servers not ready: %r" % h)

    def caller(self, counter):
        conn = Conn(self.port, TIMEOUT_MS / 1000 + 30)
        reqs = {}
        while True:
            i = next(counter)
            if i >= self.last:
                break
            srv = "mcp__s%d__" % (i % SERVERS)
            if i % BIG_EVERY == BIG_EVERY // 2:
                kind, tool, params = "big", "big", {"bytes": BIG_BYTES}
            elif i % TIMEOUT_EVERY == TIMEOUT_EVERY - 1:
                kind, tool, params = "timeout", "sleep", {"ms": 2000}
            else:
                kind, tool, params = "echo", "echo", {"message": "soak"}
            key = (srv, tool)
            if key not in reqs:
                reqs[key] = call_request(self.token, srv + tool, params)
            t0 = time.monotonic()
            status, _ = conn.call(reqs[key])
            took = time.monotonic() - t0
            limit = (SLEEP_TIMEOUT_MS if kind == "timeout" else
                     TIMEOUT_MS) / 1000 + SLACK_S
            with self.lock:
                self.statuses[(kind, status)] = \
                    self.statuses.get((kind, status), 0) + 1
                if took > limit:
                    self.late.append((kind, round(took, 3)))
                self.done += 1
        conn.close()

    def killer(self):
        every = self.args.kill_every
        nxt = (self.done // every + 1) * every
        while not self.stop.is_set():
            if self.done < nxt:
                time.sleep(0.01)
                continue
            nxt += every
            h = self.health()
            pids = [p for s in h["servers"].values()
                    for p in s["pids"] if p]
            if pids:
                pid = random.choice(pids)
                self.pgids.add(pid)
                try:
                    os.kill(pid, signal.SIGKILL)
                    self.kills += 1
                except ProcessLookupError:
                    pass

    def dropper(self):
        body = b'{"toolName":"mcp__s0__echo","params":{"message":"x"}}'
        head = ("POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "Content-Length: %d\r\n\r\n" % (self.token, len(body)))
        n = 0
        while not self.stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", self.port), 5)
                s.sendall(head.encode() + (body[:10] if n % 2 else body))
                s.close()
                n += 1
            except OSError:
                pass
            time.sleep(0.005)
        self.drops = n

    def phase(self, first, last):
        """Calls first..last-1 from CONNS connections, with the killer and
        the dropper at work; returns the wall time."""
        counter = itertools.count(first)
        self.last = last
        self.stop.clear()
        callers = [threading.Thread(target=self.caller, args=(counter,))
                   for _ in range(CONNS)]
        helpers = [threading.Thread(target=f) for f in
                   (self.killer, self.dropper)]
        t0 = time.monotonic()
        for t in callers + helpers:
            t.start()
        for t in callers:
            t.join()
        self.stop.set()
        for t in helpers:
            t.join()
        return time.monotonic() - t0

    def settle(self, fds=None):
        """Idle again: nothing in flight, every server up again (one the
        killer hit last may still be in its restart backoff) and, when
        given, no more descriptors than fds (at most 30 s); returns (rss,
        fds) then."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            h = self.health()
            if h["inflight"] <= 1 and h.get("healthy") and (
                    fds is None or fd_count(self.p.pid) <= fds):
                break
            time.sleep(0.1)
        time.sleep(0.2)
        return proc_status(self.p.pid, "VmRSS"), fd_count(self.p.pid)

    def run(self):
        """A warm-up of a tenth of the calls, measured once idle, then the
        rest, measured once idle again."""
        warm = max(self.args.calls // 10, BIG_EVERY * 4)
        self.wall = self.phase(0, warm)
        self.warm = self.settle()
        self.wall += self.phase(warm, self.args.calls)
        return self.settle(self.warm[1])

    def finish(self):
        h = self.health()
        self.pgids.update(p for s in h["servers"].values()
                          for p in s["pids"] if p)
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = "hung"
        with open(self.log_path, errors="replace") as f:
            log = f.read()
        left = [g for g in sorted(self.pgids) if running_in_group(g)]
        return rc, [w for w in SANITIZER_REPORTS if w in log], left, log


def sanitized(build_dir):
    """'asan', 'tsan' or '' from the daemon's linked libraries."""
    out = subprocess.run(["ldd", os.path.join(build_dir, "src",
                                              "mcp-proxyd")],
                         capture_output=True, text=True).stdout
    return "tsan" if "libtsan" in out else "asan" if "libasan" in out \
        else ""


def verdict(r):
    """The failures, as sentences."""
    bad = []
    want = {"echo": {200, 502, 503}, "big": {200, 502, 503},
            "timeout": {504, 502, 503}}
    answered = sum(r["statuses"].values())
    if answered != r["calls"]:
        bad.append("%d of %d calls answered" % (answered, r["calls"]))
    odd = {k: v for k, v in r["statuses"].items()
           if int(k.split()[1]) not in want[k.split()[0]]}
    if odd:
        bad.append("unexpected answers: %r" % odd)
    if r["late"]:
        bad.append("%d answers past their timeout: %r" %
                   (len(r["late"]), r["late"][:5]))
    if r["fds_end"] > r["fds_warm"]:
        bad.append("descriptors %d after, %d after the warm-up" %
                   (r["fds_end"], r["fds_warm"]))
    if not r["sanitizer"] and r["rss_growth"] > RSS_LIMIT:
        bad.append("RSS grew by %d bytes (limit %d)" % (r["rss_growth"],
                                                         RSS_LIMIT))
    if r["exit"] != 0 or r["reports"]:
        bad.append("exit %r, sanitizer reports %r" % (r["exit"],
                                                      r["reports"]))
    if r["left"]:
        bad.append("process groups still running: %r" % r["left"])
    # One kill point may fall at the end of the warm-up, one at the end.
    if r["kills"] < max(1, r["calls"] // r["kill_every"] - 2):
        bad.append("only %d kills" % r["kills"])
    return bad


MD_TITLE = "## Fault soak"


def write_md(path, r):
    """Replaces (or adds) the section MD_TITLE of the file at path."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    start = text.find(MD_TITLE)
    if start != -1:
        end = text.find("\n## ", start + len(MD_TITLE))
        text = text[:start] + (text[end + 1:] if end != -1 else "")
    lines = [MD_TITLE, "",
             "`python3 tests/soak/soak.py --calls %d --md BENCHMARKS.md` "
             "(%s), %s:" % (r["calls"], time.strftime("%Y-%m-%d"),
                            r["sanitizer"] or "plain build"), "",
             "| figure | value |", "|---|---|"]
    for k in ("calls", "wall_s", "calls_per_s", "statuses", "kills",
              "kill_every", "drops", "late", "rss_warm", "rss_end",
              "rss_growth", "fds_warm", "fds_end", "exit", "reports",
              "left"):
        lines.append("| %s | %s |" % (k, r[k]))
    lines += ["", "Verdict: **%s**%s" % (
        "FAIL" if r["failures"] else "PASS",
        ": " + "; ".join(r["failures"]) if r["failures"] else ""), ""]
    with open(path, "w") as f:
        f.write(text.rstrip("\n") + "\n\n" + "\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description="The fault soak of "
                                 "mcp-proxyd (see the top of this file).")
    ap.add_argument("--calls", type=int, default=1000000)
    ap.add_argument("--build-dir", default=os.path.join(SRCDIR, "build"))
    ap.add_argument("--kill-every", type=int, help="SIGKILL a server every "
                    "this many calls (default 50,000, or a fifth of the "
                    "calls when fewer than 250,000)")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--md", help="put the figures in this markdown file "
                    "(BENCHMARKS.md), as its section \"Fault soak\"")
    args = ap.parse_args()
    if args.kill_every is None:
        args.kill_every = min(50000, args.calls // 5)
    if args.calls < 1000:
        ap.error("--calls: at least 1000")
    s = Soak(args)
    try:
        rss, fds = s.run()
    except BaseException:
        s.p.kill()
        raise
    rc, reports, left, log = s.finish()
    r = {"calls": args.calls, "kill_every": args.kill_every,
         "wall_s": round(s.wall, 1),
         "calls_per_s": round(args.calls / s.wall),
         "statuses": {"%s %d" % k: v for k, v in sorted(s.statuses.items())},
         "late": s.late, "kills": s.kills, "drops": s.drops,
         "rss_warm": s.warm[0], "rss_end": rss,
         "rss_growth": rss - s.warm[0], "fds_warm": s.warm[1],
         "fds_end": fds, "exit": rc, "reports": reports, "left": left,
         "sanitizer": sanitized(args.build_dir)}
    r["failures"] = verdict(r)
    for k, v in r.items():
        print("soak: %s: %s" % (k, v))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)
    if args.md:
        write_md(args.md, r)
    if r["failures"]:
        print("soak: FAIL")
        print(log[-3000:], file=sys.stderr)
        return 1
    shutil.rmtree(s.tmp, ignore_errors=True)
    print("soak: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
