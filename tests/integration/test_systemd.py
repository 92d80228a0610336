"""mcp-proxyd under a real systemd: `make install` into a staging
directory, its files put at their places in a Debian 12 container booted
with systemd-nspawn, and the installed unit started, used, reloaded,
watched and stopped as an admin would (systemd/incontainer.py).

The container's root is made once with debootstrap and kept in the user's
cache directory (scripts/nspawn-root.sh); each run boots it with a
throw-away overlay.
Needs root, systemd-nspawn (Debian systemd-container), debootstrap, the
Debian archive, node and server-everything. The container gets the plain
build: a sanitizer build's runtime is not in it (said by a SKIP)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MCP_PROXYD, NPM_DIR, TOP_BUILDDIR, TOP_SRCDIR,  # noqa
                     Tap, npm_server, require)

HERE = os.path.join(TOP_SRCDIR, "tests", "integration", "systemd")


def sanitized():
    out = subprocess.run(["ldd", MCP_PROXYD], capture_output=True,
                         text=True).stdout
    return "libasan" in out or "libtsan" in out


def container_root(tap):
    """The cached Debian root (scripts/nspawn-root.sh, which
    scripts/deps.sh test runs; made here when missing)."""
    t0 = time.time()
    p = subprocess.run(["sh", os.path.join(TOP_SRCDIR, "scripts",
                                           "nspawn-root.sh")],
                       capture_output=True, text=True)
    if p.returncode != 0:
        tap.ok(False, "the container's root (scripts/nspawn-root.sh)",
               p.stderr[-2000:])
        tap.done()
    if time.time() - t0 > 5:
        tap.diag("made the container's root in %.0f s" % (time.time() - t0))
    return p.stdout.strip()


def stage_install(tap, dest):
    """make install DESTDIR=dest; the installed files, relative to /."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(k, None)
    p = subprocess.run(["make", "-s", "-C", TOP_BUILDDIR, "install",
                        "DESTDIR=" + dest], capture_output=True, text=True,
                       env=env)
    tap.ok(p.returncode == 0, "make install DESTDIR=...", p.stderr[-2000:])
    files = []
    for d, _, names in os.walk(dest):
        for n in names:
            files.append(os.path.join(d, n)[len(dest):])
    return files


def binds(dest, files, work):
    """systemd-nspawn options putting the installed files in place."""
    opts, paths = [], {}
    for f in sorted(files):
        src = dest + f
        if f.endswith("/mcp-proxyd/mcp-proxyd.json") and "/etc/" in f:
            paths["conf"] = f
            opts.append("--bind=%s:%s" % (os.path.dirname(src),
                                          os.path.dirname(f)))
            continue
        if f.endswith("/bin/mcp-proxyctl"):
            paths["ctl"] = f
        if "/systemd/system/" in f:
            opts.append("--bind-ro=%s:/etc/systemd/system/%s" %
                        (src, os.path.basename(f)))
        elif "/sysusers.d/" in f or "/tmpfiles.d/" in f:
            kind = "sysusers.d" if "/sysusers.d/" in f else "tmpfiles.d"
            opts.append("--bind-ro=%s:/etc/%s/%s" %
                        (src, kind, os.path.basename(f)))
        else:
            opts.append("--bind-ro=%s:%s" % (src, f))
    with open(os.path.join(work, "paths.json"), "w") as fp:
        json.dump(paths, fp)
    return opts


def boot(tap, root, opts, work):
    """Boots the container until incontainer.py powers it off."""
    for f in ("incontainer.py", "pyserver.py"):
        shutil.copy(os.path.join(HERE, f), work)
        os.chmod(os.path.join(work, f), 0o644)
    os.chmod(work, 0o755)   # the service's user runs pyserver.py
    with open(os.path.join(work, "mcp-test.service"), "w") as fp:
        fp.write("[Unit]\nDescription=mcp-proxyd checks\n"
                 "After=multi-user.target\n[Service]\nType=oneshot\n"
                 "ExecStart=/usr/bin/python3 /mcp-test/incontainer.py\n")
    node = shutil.which("node")
    argv = ["systemd-nspawn", "-q", "--register=no", "--keep-unit",
            "--private-network", "-D", root, "--volatile=overlay",
            "--bind=%s:/mcp-test" % work,
            "--bind-ro=%s/mcp-test.service:/etc/systemd/system/"
            "mcp-test.service" % work,
            "--bind-ro=%s:/usr/bin/node" % node,
            "--bind-ro=%s:/opt/npm" % NPM_DIR] + opts + [
            "-b", "--", "systemd.wants=mcp-test.service"]
    t0 = time.time()
    with open(os.path.join(work, "console.log"), "w") as log:
        try:
            rc = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL,
                                timeout=600).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    tap.diag("the container ran %.1f s, exit status %s" %
             (time.time() - t0, rc))
    return rc


def report(tap, work, rc):
    path = os.path.join(work, "results")
    lines = open(path).read().splitlines() if os.path.exists(path) else []
    for ln in lines:
        if ln.startswith("ok "):
            tap.ok(True, ln[3:])
        elif ln.startswith("not ok "):
            name, _, why = ln[7:].partition(": ")
            tap.ok(False, name, why)
        elif ln.startswith("#"):
            tap.diag(ln[1:].strip())
    console = open(os.path.join(work, "console.log")).read()
    tap.ok("done" in lines and rc == 0,
           "the checks in the container ran to the end and it powered off",
           "exit status %s; console: %s" % (rc, console[-3000:]))


def main():
    tap = Tap()
    require(tap, [
        ("root", os.geteuid() == 0, "systemd-nspawn needs root"),
        ("systemd-nspawn", shutil.which("systemd-nspawn"),
         "Debian package systemd-container"),
        ("debootstrap", shutil.which("debootstrap"),
         "Debian package debootstrap"),
        ("node", shutil.which("node"), "Node.js"),
        ("server-everything", npm_server("everything"),
         "scripts/deps.sh test")])
    if sanitized():
        tap.skip_all("a sanitizer build: the container has no sanitizer "
                     "runtime; the plain build's run boots it")
    root = container_root(tap)
    work = tempfile.mkdtemp(prefix="mcp-proxyd-nspawn-")
    dest = tempfile.mkdtemp(prefix="mcp-proxyd-destdir-")
    try:
        files = stage_install(tap, dest)
        opts = binds(dest, files, work)
        rc = boot(tap, root, opts, work)
        report(tap, work, rc)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(dest, ignore_errors=True)
    tap.done()


if __name__ == "__main__":
    main()
