"""The same calls with "ioThread": true, the MCP pipes on a thread of
their own: results, errors, timeouts, crashes, big replies, concurrency,
and a clean drain."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, Tap, demo_server, group_alive, wait_until  # noqa
import test_exec  # noqa: E402


def main():
    tap = Tap()
    d = Daemon({"ioThread": True,
                "mcpServers": demo_server(toolTimeouts={"sleep": 500}),
                "drainTimeoutMs": 2000})
    d2 = Daemon({"ioThread": True,
                 "mcpServers": demo_server(timeoutMs=30000)})
    try:
        for fn in (test_exec.t_results, test_exec.t_errors,
                   test_exec.t_timeout, test_exec.t_crash,
                   test_exec.t_noise, test_exec.t_big,
                   test_exec.t_server_requests):
            tap.run(fn, d)
        tap.run(test_exec.t_concurrent, d2)
        results = []
        # In flight across SIGTERM: answered, then a clean exit.
        import threading
        t = threading.Thread(target=lambda: results.append(
            d2.call("mcp__demo__sleep", {"ms": 800})[0]))
        t.start()
        wait_until(lambda: d2.request("GET", "/health")[2]["inflight"] >= 2,
                   5)
        pg = [os.getpgid(p) for p in d2.children()]
        d2.signal(signal.SIGTERM)
        t.join(30)
        tap.eq(results, [200], "a call in flight at SIGTERM is answered")
        tap.eq(d2.proc.wait(30), 0, "exit 0 after the drain")
        tap.ok(pg and not any(group_alive(g) for g in pg),
               "no process left")
    finally:
        d.stop()
        d2.stop()
    tap.done()


if __name__ == "__main__":
    main()
