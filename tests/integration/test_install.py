"""make install and make uninstall into a staging directory (DESTDIR):
the file list, the configuration kept on reinstall and left behind by
uninstall once the admin changed it, the unit's hardening score
(systemd-analyze security --offline, at most 3.0), and the installed
daemon and mcp-proxyctl run from there."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TOP_BUILDDIR, Tap, require, stop_ok  # noqa: E402
import harness  # noqa: E402


def make(target, dest):
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(k, None)
    return subprocess.run(["make", "-s", "-C", TOP_BUILDDIR, target,
                           "DESTDIR=" + dest], capture_output=True,
                          text=True, env=env)


def var(name):
    """A make variable of the build tree (prefix, sbindir, ...)."""
    p = subprocess.run(["make", "-s", "-C", TOP_BUILDDIR, "--no-print-"
                        "directory", "-f", "Makefile", "-f", "-",
                        "print-var", "V=" + name],
                       input="print-var:\n\t@echo $($(V))\n",
                       capture_output=True, text=True)
    return p.stdout.strip()


def listing(dest):
    out = set()
    for d, _, names in os.walk(dest):
        for n in names:
            out.add(os.path.join(d, n)[len(dest):])
    return out


def t_files(tap, dest):
    p = make("install", dest)
    tap.ok(p.returncode == 0, "make install DESTDIR", p.stderr[-2000:])
    got = listing(dest)
    want = {var("sbindir") + "/mcp-proxyd",
            var("bindir") + "/mcp-proxyctl",
            var("pkglibexecdir") + "/mcp-demo-server",
            var("sysconfdir") + "/mcp-proxyd/mcp-proxyd.json",
            var("mandir") + "/man8/mcp-proxyd.8",
            var("mandir") + "/man5/mcp-proxyd.json.5",
            var("mandir") + "/man1/mcp-proxyctl.1",
            var("systemdsystemunitdir") + "/mcp-proxyd.service",
            var("sysusersdir") + "/mcp-proxyd.conf",
            var("tmpfilesdir") + "/mcp-proxyd.conf"}
    tap.ok(want <= got, "the daemon, mcp-proxyctl, the demo server, the "
           "configuration, the man pages, the unit, sysusers.d and "
           "tmpfiles.d are installed", sorted(want - got))
    conf = dest + var("sysconfdir") + "/mcp-proxyd/mcp-proxyd.json"
    tap.eq(os.stat(conf).st_mode & 0o777, 0o640, "the configuration is "
           "installed 0640")
    return got, conf


def t_check(tap, dest, conf):
    """The installed configuration passes -t (its demo server path is the
    installed one); the installed daemon runs a copy pointing into
    DESTDIR, and the installed mcp-proxyctl talks to it."""
    sbin = dest + var("sbindir") + "/mcp-proxyd"
    p = subprocess.run([sbin, "-t", "-c", conf], capture_output=True,
                       text=True)
    tap.ok(p.returncode == 0 and "configuration OK" in p.stdout,
           "mcp-proxyd -t accepts the installed configuration",
           p.stdout + p.stderr)
    cfg = json.load(open(conf))
    demo = cfg["mcpServers"]["demo"]["command"]
    tap.eq(demo, var("pkglibexecdir") + "/mcp-demo-server",
           "the installed configuration runs the installed demo server")
    cfg["mcpServers"]["demo"]["command"] = dest + demo
    cfg.pop("auditLog", None)
    cfg["listen"] = "127.0.0.1:0"
    old = harness.MCP_PROXYD
    harness.MCP_PROXYD = sbin
    try:
        d = harness.Daemon(cfg)
    finally:
        harness.MCP_PROXYD = old
    try:
        st, _, body = d.call("mcp__demo__echo", {"message": "installed"})
        tap.ok(st == 200 and "installed" in json.dumps(body),
               "the installed daemon calls the installed demo server", body)
        env = dict(os.environ, MCP_PROXYD_URL="http://127.0.0.1:%d/" %
                   d.port, MCP_PROXYD_TOKEN=d.token)
        p = subprocess.run([dest + var("bindir") + "/mcp-proxyctl",
                            "health"], capture_output=True, text=True,
                           env=env)
        tap.ok(p.returncode == 0 and '"healthy"' in p.stdout,
               "the installed mcp-proxyctl reads /health", p.stdout +
               p.stderr)
    finally:
        stop_ok(tap, d, "installed daemon")


def t_security(tap, dest):
    p = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                        "--root=" + dest, "--no-pager",
                        "mcp-proxyd.service"], capture_output=True,
                       text=True)
    m = re.search(r"Overall exposure level for mcp-proxyd.service: "
                  r"([0-9.]+)", p.stdout + p.stderr)
    tap.ok(m is not None and float(m.group(1)) <= 3.0,
           "systemd-analyze security --offline: %s (at most 3.0)" %
           (m.group(1) if m else "?"), (p.stdout + p.stderr)[-2000:])


def t_reinstall(tap, dest, conf, files):
    with open(conf, "a") as f:
        f.write("\n")
    changed = open(conf).read()
    p = make("install", dest)
    tap.ok(p.returncode == 0 and open(conf).read() == changed and
           "keeping the existing" in p.stdout,
           "make install again keeps the admin's configuration", p.stdout)
    p = make("uninstall", dest)
    left = listing(dest)
    tap.ok(p.returncode == 0 and left == {conf[len(dest):]},
           "make uninstall removes everything but the changed "
           "configuration", sorted(left))
    os.unlink(conf)
    make("install", dest)
    p = make("uninstall", dest)
    tap.ok(listing(dest) == set(), "an unchanged configuration goes with "
           "make uninstall", sorted(listing(dest)))


def main():
    tap = Tap()
    require(tap, [("systemd-analyze", shutil.which("systemd-analyze"),
                   "Debian package systemd")])
    dest = tempfile.mkdtemp(prefix="mcp-proxyd-destdir-")
    try:
        files, conf = t_files(tap, dest)
        tap.run(t_check, dest, conf)
        tap.run(t_security, dest)
        tap.run(t_reinstall, dest, conf, files)
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    tap.done()


if __name__ == "__main__":
    main()
