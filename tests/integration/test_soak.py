"""The fault soak (tests/soak/soak.py) at CI's size: 100,000 calls, 20,000
under TSan; each of its checks is one TAP point."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import TOP_BUILDDIR, TOP_SRCDIR, Tap  # noqa: E402

SOAK = os.path.join(TOP_SRCDIR, "tests", "soak", "soak.py")


def main():
    tap = Tap()
    out = os.path.join(tempfile.mkdtemp(prefix="mcp-soak-test-"), "r.json")
    ldd = subprocess.run(["ldd", os.path.join(TOP_BUILDDIR, "src",
                                              "mcp-proxyd")],
                         capture_output=True, text=True).stdout
    calls = 20000 if "libtsan" in ldd else 100000
    p = subprocess.run([sys.executable, SOAK, "--calls", str(calls),
                        "--build-dir", TOP_BUILDDIR, "--json", out],
                       capture_output=True, text=True, timeout=1200)
    tap.diag(p.stdout)
    try:
        with open(out) as f:
            r = json.load(f)
    except (OSError, ValueError) as e:
        tap.ok(False, "the soak ran (%s)" % e, p.stderr[-3000:])
        tap.done()
    fails = r["failures"]

    def point(word, name):
        tap.ok(not [x for x in fails if word in x], name,
               "\n".join(fails))
    point("answered", "%d calls, every one answered" % calls)
    point("unexpected", "200, or 502/503/504 for calls hit by a kill or a "
          "timeout: %s" % r["statuses"])
    point("past their timeout", "none waited past its timeout")
    point("descriptors", "descriptors back to %d" % r["fds_warm"])
    if r["sanitizer"]:
        tap.skip("RSS growth <= 2 MiB", "%s keeps freed memory in "
                 "quarantine" % r["sanitizer"])
    else:
        point("RSS", "RSS growth %d bytes <= 2 MiB" % r["rss_growth"])
    point("exit", "SIGTERM: exit 0, no sanitizer report")
    point("still running", "no process left")
    point("kills", "%d servers killed on the way" % r["kills"])
    tap.eq(p.returncode, 1 if fails else 0, "soak.py's exit status agrees")
    tap.done()


if __name__ == "__main__":
    main()
