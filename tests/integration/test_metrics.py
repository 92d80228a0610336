"""GET /metrics: exact counters after a known sequence of requests, the
text format (promtool, escaping, histograms), and a real Prometheus server
scraping the daemon."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, Tap, demo_server, stop_ok, wait_until  # noqa: E402
import promtext  # noqa: E402

CI = os.environ.get("CI") == "true"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ODD = 'odd"name\\'


def scrape(d, **kw):
    st, h, body = d.request("GET", "/metrics", **kw)
    if st != 200:
        raise AssertionError("GET /metrics: %d %r" % (st, body))
    return h, body.decode() if isinstance(body, bytes) else body


def known_sequence(d):
    """The requests whose counts t_exact_counts checks."""
    for _ in range(3):
        assert d.call("mcp__demo__echo", {"message": "hi"})[0] == 200
    assert d.call("mcp__demo__fail", {})[0] == 422
    assert d.call("mcp__demo__echo", {})[0] == 400
    assert d.call("mcp__demo__nope", {})[0] == 404
    assert d.call("mcp__nosuch__x", {})[0] == 404
    assert d.call("mcp__demo__" + ODD, {})[0] == 400
    assert d.request("GET", "/health")[0] == 200
    assert d.request("GET", "/health", token="Bearer wrong")[0] == 401
    assert d.request("GET", "/nowhere")[0] == 404
    assert d.request("GET", "/mcp/tools?q=echo")[0] == 200
    st = d.request("POST", "/", body=b"{" + b" " * 100000 + b"}")[0]
    assert st == 413, st


def t_exact_counts(tap):
    d = Daemon({"mcpServers": demo_server(args=["--meta-tools"]),
                "maxBodyBytes": 65536})
    try:
        known_sequence(d)
        h, text = scrape(d)
        tap.eq(h.get("content-type"), CONTENT_TYPE, "Content-Type 0.0.4")
        tap.ok(len(h.get("x-request-id", "")) > 0, "a request id, too")
        s, types = promtext.parse(text)
        v = promtext.value
        want = {("POST", "200"): 3, ("POST", "422"): 1, ("POST", "400"): 2,
                ("POST", "404"): 2, ("POST", "413"): 1, ("GET", "200"): 2,
                ("GET", "401"): 1, ("GET", "404"): 1}
        got = {(lab["method"], lab["status"]): val for lab, val in
               promtext.series(s, "http_requests_total")}
        tap.eq(got, want, "http_requests_total by method and status, 401, "
               "404 and 413 included")
        tap.eq(v(s, "auth_failures_total"), 1, "auth_failures_total")
        calls = {(lab["tool"], lab["outcome"]): val for lab, val in
                 promtext.series(s, "mcp_tool_calls_total")}
        tap.eq(calls, {("echo", "ok"): 3, ("fail", "tool_error"): 1,
                       ("echo", "rejected"): 1},
               "mcp_tool_calls_total: outcomes, and no series for a tool "
               "that does not exist")
        tap.eq(promtext.series(s, "validation_failures_total"),
               [({"server": "demo", "tool": "echo"}, 1)],
               "validation_failures_total")
        tap.eq(v(s, "mcp_tool_call_duration_seconds_count", server="demo"),
               6, "every call to a known server timed")
        tap.eq(v(s, "pool_queue_wait_seconds_count"), 4,
               "queue wait of the 4 calls that were sent")
        tap.eq(v(s, "http_request_duration_seconds_count", method="POST",
                 endpoint="/"), 8, "POST / durations (not libevent's 413)")
        tap.eq(v(s, "http_request_duration_seconds_count", method="GET",
                 endpoint="/mcp/tools"), 1, "GET /mcp/tools duration")
        tap.eq(v(s, "mcp_server_up", server="demo"), 1, "mcp_server_up")
        health = d.request("GET", "/health")[2]
        tap.eq(v(s, "mcp_tools", server="demo"),
               health["servers"]["demo"]["tools"], "mcp_tools as /health")
        tap.eq(v(s, "mcp_server_restarts_total", server="demo"), 0,
               "no restarts")
        tap.eq(v(s, "rate_limited_total", endpoint="/mcp/tools"), 0,
               "rate_limited_total is 0")
        tap.eq(v(s, "cache_misses_total", cache_type="schema"),
               health["schemaCache"]["misses"], "cache_misses_total")
        tap.eq(promtext.histograms_ok(s, types), [],
               "histograms: cumulative buckets, +Inf == _count")
        reasons = {lab["reason"] for lab, _ in
                   promtext.series(s, "requests_rejected_total")}
        tap.ok({"queue_full", "too_costly", "header_timeout",
                "body_timeout", "max_queued", "stdin_full",
                "accept_paused"} <= reasons,
               "requests_rejected_total has every bound", reasons)
        proc_ok = (v(s, "process_open_fds") > 3 and
                   v(s, "process_max_fds") >= v(s, "process_open_fds") and
                   v(s, "process_resident_memory_bytes") > 1 << 20 and
                   abs(v(s, "process_start_time_seconds") - time.time())
                   < 600 and v(s, "process_cpu_seconds_total") > 0)
        tap.ok(proc_ok, "process metrics are sane", [
            (n, v(s, n)) for n in ("process_open_fds", "process_max_fds",
                                   "process_resident_memory_bytes",
                                   "process_start_time_seconds",
                                   "process_cpu_seconds_total")])
        s2, _ = promtext.parse(scrape(d)[1])
        tap.eq(v(s2, "http_requests_total", method="GET", status="200"), 4,
               "the scrape and /health are counted too")
        tap.eq(v(s2, "http_request_duration_seconds_count", method="GET",
                 endpoint="/metrics"), 1, "the first scrape's duration")
        check_promtool(tap, text)
    finally:
        stop_ok(tap, d, "counters")


def check_promtool(tap, text):
    promtool = shutil.which("promtool")
    if promtool is None:
        tap.ok(not CI, "promtool (Debian package prometheus) is installed"
               + ("" if CI else " # SKIP not installed"))
        return
    p = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=60)
    tap.ok(p.returncode == 0 and not p.stdout.strip() and
           not p.stderr.strip(), "promtool check metrics reports nothing",
           p.stdout.decode() + p.stderr.decode())


def t_escaping_and_auth(tap):
    d = Daemon({"mcpServers": demo_server(args=["--meta-tools"]),
                "rateLimits": {"discovery": {"requests": 2,
                                             "windowSeconds": 60}}})
    try:
        # Escaping is unit-tested (test_stats); a name with a quote is
        # outside the grammar of tool names, so it never gets a series.
        st, _, body = d.call("mcp__demo__" + ODD, {})
        text = scrape(d)[1]
        tap.ok(st == 400 and "Invalid toolName" in body["error"] and
               "odd" not in text, "a tool name with a quote and a "
               "backslash: 400, and no series", (st, body))
        st, _, body = d.request("GET", "/mcp/tools?q=odd")
        tap.ok(st == 200 and body["tools"] == [] and
               'tool "%s": its name is outside the grammar' % ODD in
               d.stderr(), "a tool listed under such a name is left out, "
               "with a warning naming it", body)
        st, h, body = d.request("GET", "/metrics", token=False)
        tap.ok(st == 401 and isinstance(body, dict),
               "/metrics needs the bearer token", (st, body))
        st, _, body = d.request("GET", "/nowhere")
        tap.ok("GET /metrics" in body.get("validRoutes", []),
               "the 404 lists GET /metrics", body)
        codes = [d.request("GET", "/mcp/tools?q=x")[0] for _ in range(2)]
        tap.eq(codes, [200, 429], "discovery limited to 2 (one was used "
               "above)")
        s, _ = promtext.parse(scrape(d)[1])
        tap.eq(promtext.value(s, "rate_limited_total",
                              endpoint="/mcp/tools"), 1,
               "rate_limited_total{endpoint=\"/mcp/tools\"}")
        tap.eq(promtext.value(s, "auth_failures_total"), 1,
               "the 401 of /metrics is an auth failure")
    finally:
        stop_ok(tap, d, "escaping")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def prom_query(port, q):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (
        port, urllib.parse.urlencode({"query": q}))
    with urllib.request.urlopen(url, timeout=5) as r:
        res = json.load(r)
    if res.get("status") != "success" or not res["data"]["result"]:
        return None
    return float(res["data"]["result"][0]["value"][1])


def start_prometheus(binary, d, work):
    tokfile = os.path.join(work, "token")
    with open(tokfile, "w") as f:
        f.write(d.token)
    os.chmod(tokfile, 0o600)
    cfg = os.path.join(work, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: mcp-proxyd\n"
                "    authorization:\n      type: Bearer\n"
                "      credentials_file: %s\n"
                "    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
                % (tokfile, d.port))
    port = free_port()
    log = open(os.path.join(work, "prometheus.log"), "wb")
    p = subprocess.Popen([binary, "--config.file=" + cfg,
                          "--storage.tsdb.path=" + os.path.join(work, "db"),
                          "--web.listen-address=127.0.0.1:%d" % port],
                         stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    return p, port, log


def t_real_prometheus(tap):
    binary = shutil.which("prometheus")
    if binary is None:
        tap.ok(not CI, "the prometheus server (Debian package prometheus) "
               "is installed" + ("" if CI else " # SKIP not installed"))
        return
    d = Daemon({"mcpServers": demo_server()})
    work = tempfile.mkdtemp(prefix="mcp-proxyd-prom-")
    p, port, log = start_prometheus(binary, d, work)
    try:
        n = 25
        codes = [d.call("mcp__demo__add", {"a": i, "b": 1})[0]
                 for i in range(n)]
        tap.eq(codes, [200] * n, "%d calls" % n)

        def q(expr):
            try:
                return prom_query(port, expr)
            except OSError:
                return None
        tap.ok(wait_until(lambda: q('up{job="mcp-proxyd"}') == 1, 60, 0.5),
               "Prometheus scrapes the daemon with the bearer token: up 1")
        tap.ok(wait_until(lambda: q("sum(mcp_tool_calls_total)") == n, 30,
                          0.5), "sum(mcp_tool_calls_total) == %d in "
               "Prometheus" % n, q("sum(mcp_tool_calls_total)"))
        tap.ok(q('mcp_server_up{server="demo"}') == 1,
               "mcp_server_up as Prometheus sees it")
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        log.close()
        tap.eq(rc, 0, "prometheus exits 0")
        if rc != 0:
            with open(os.path.join(work, "prometheus.log")) as f:
                tap.diag(f.read()[-3000:])
        shutil.rmtree(work, ignore_errors=True)
        stop_ok(tap, d, "prometheus")


def main():
    tap = Tap()
    tap.run(t_exact_counts)
    tap.run(t_escaping_and_auth)
    tap.run(t_real_prometheus)
    tap.done()


if __name__ == "__main__":
    main()
