#!/usr/bin/env python3
"""test_config.py: black-box tests of the configuration check.

Runs the daemon ($MCP_PROXYD, default ./src/mcp-proxyd) as
`mcp-proxyd -t -c FILE` on good and bad files: a good file exits 0; a bad
one exits 1 with a message on stderr naming the file and the key. Then
checks that the man pages are free of groff warnings (skipped without
groff) and that mcp-proxyd.json(5) agrees with the daemon: every key of
src/config.c is documented, every documented key is known to the daemon,
and every documented integer range is the one enforced. Prints TAP.
Python standard library only.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

BIN = os.environ.get("MCP_PROXYD", "./src/mcp-proxyd")
TOP_SRCDIR = os.environ.get(
    "TOP_SRCDIR",
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
MAN5 = os.path.join(TOP_SRCDIR, "man", "mcp-proxyd.json.5")
MAN8 = os.path.join(TOP_SRCDIR, "man", "mcp-proxyd.8")
MAN1 = os.path.join(TOP_SRCDIR, "man", "mcp-proxyctl.1")
CONFIG_C = os.path.join(TOP_SRCDIR, "src", "config.c")
TIMEOUT = 20

tests_run = 0
tests_failed = 0


def tap(ok, name, diag=None, skip=None):
    """Print one TAP line (and diagnostics on failure)."""
    global tests_run, tests_failed
    tests_run += 1
    if skip is not None:
        print("ok %d - %s # SKIP %s" % (tests_run, name, skip))
        return
    if not ok:
        tests_failed += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", tests_run, name))
    if not ok and diag:
        for line in str(diag).splitlines():
            print("# " + line)
    sys.stdout.flush()


def check(path):
    """Run `mcp-proxyd -t -c path`: (exit status, stdout, stderr)."""
    proc = subprocess.run(
        [BIN, "-t", "-c", path], stdin=subprocess.DEVNULL,
        capture_output=True, timeout=TIMEOUT)
    return (proc.returncode, proc.stdout.decode("utf-8", "replace"),
            proc.stderr.decode("utf-8", "replace"))


class Files:
    """Configuration files written into one temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="test_config.")
        self.n = 0

    def write(self, text, name=None):
        if not isinstance(text, str):
            text = json.dumps(text, indent=2)
        self.n += 1
        path = os.path.join(self.dir, name or "c%03d.json" % self.n)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def expect_ok(files, name, text):
    """Exit 0, the one "configuration OK" line with the number of servers
    on stdout, nothing on stderr."""
    path = files.write(text)
    rc, out, err = check(path)
    try:
        n = len(json.loads(text if isinstance(text, str) else
                           json.dumps(text)).get("mcpServers", {}))
    except ValueError:
        n = -1
    want = "%s: configuration OK (%d MCP server%s)\n" % (
        path, n, "" if n == 1 else "s")
    tap(rc == 0 and out == want and err == "", "valid: " + name,
        "exit %d\nstdout: %r (want %r)\nstderr: %s" % (rc, out, want, err))


def expect_error(name, path, *needles):
    """Exit 1 and stderr holds the file name and every needle."""
    rc, out, err = check(path)
    missing = [n for n in (path,) + needles if n not in err]
    tap(rc == 1 and not missing, "refused: " + name,
        "exit %d, stderr lacks %r\nstderr: %s" % (rc, missing, err))
    return err


def test_check_option(files):
    expect_ok(files, "empty object", "{}")
    expect_ok(files, "every top-level key", {
        "$comment": "all keys",
        "listen": "[::1]:0",
        "authTokenFile": "/nonexistent/token",
        "allowedTools": ["mcp__demo__echo", "mcp__demo__*"],
        "workers": 2,
        "queueSize": 10,
        "drainTimeoutMs": 0,
        "maxBodyBytes": 1024,
        "maxHeaderBytes": 1048576,
        "maxConnections": 5,
        "idleTimeoutMs": 100,
        "maxMessageBytes": 4096,
        "startTimeoutMs": 600000,
        "discoveryTimeoutMs": 60000,
        "discoveryRespectsAllowlist": True,
        "rateLimits": {"discovery": {"requests": 0, "windowSeconds": 1},
                       "execute": {"requests": 5}},
        "schemaCachePath": "/nonexistent/cache.json",
        "schemaCacheTtlSeconds": 31536000,
        "mcpServers": {
            "demo": {"$comment": "x", "type": "stdio",
                     "command": "./not/built/yet", "args": ["-v", ""],
                     "env": {"A_B": "c"}, "cwd": "/nonexistent",
                     "inheritEnv": False, "timeoutMs": 1,
                     "toolTimeouts": {"echo": 5}, "maxConcurrent": 1,
                     "instances": 64, "disabled": True},
        },
    })
    for name in ("demo.json", "mcp-proxyd.example.json"):
        path = os.path.join(TOP_SRCDIR, "contrib", name)
        rc, out, err = check(path)
        tap(rc == 0, "valid: contrib/" + name,
            "exit %d\nstderr: %s" % (rc, err))

    err = expect_error(
        "bad JSON (trailing comma)",
        files.write('{\n  "workers": 4,\n}\n'),
        "line 3, column 1", "invalid JSON")
    expect_error("bad JSON (unterminated)",
                 files.write('{"mcpServers": {"demo": {'),
                 "invalid JSON", "end of data")
    expect_error("unknown key with a suggestion",
                 files.write('{"alowedTools": []}'),
                 '"alowedTools"', 'did you mean "allowedTools"?')
    expect_error("unknown server key",
                 files.write({"mcpServers": {"demo": {"comand": "x"}}}),
                 "mcpServers.demo", '"comand"')
    expect_error("wrong type",
                 files.write({"mcpServers": {"demo": {
                     "command": "x", "args": ["a", 1]}}}),
                 "mcpServers.demo.args[1]", "expected string, got integer")
    expect_error("string for an integer",
                 files.write('{"queueSize": "5"}'),
                 "queueSize", "expected integer")
    expect_error("out of range",
                 files.write('{"workers": 0}'),
                 "workers", "0 is out of range (1..1024)")
    expect_error("duplicate server name",
                 files.write('{"mcpServers": {\n"demo": {"command": "a"},\n'
                             '"demo": {"command": "b"}}}'),
                 "mcpServers", 'duplicate key "demo"')
    expect_error("bad server name",
                 files.write({"mcpServers": {"a__b": {"command": "x"}}}),
                 "mcpServers.a__b", "invalid server name")
    expect_error("remote server",
                 files.write({"mcpServers": {"r": {
                     "type": "sse", "url": "https://example.invalid/sse"}}}),
                 "mcpServers.r.type", "remote servers are not supported yet")
    expect_error("missing command",
                 files.write({"mcpServers": {"demo": {"args": []}}}),
                 "mcpServers.demo", '"command"')
    expect_error("bad listen address",
                 files.write({"listen": "example.com:80"}),
                 "listen", "example.com:80")
    expect_error("relative Unix socket path",
                 files.write({"listen": ["127.0.0.1:0", "unix:mcp.sock"]}),
                 'listen[1]: "unix:mcp.sock": a Unix socket path must be '
                 'absolute')
    expect_error("Unix socket path too long",
                 files.write({"listen": "unix:/" + "a" * 107}),
                 "listen: ", "the Unix socket path is 108 bytes long, at "
                 "most 107 fit in a socket address")
    expect_error("empty listen list", files.write({"listen": []}),
                 "listen: expected a string or an array of 1 to 16 "
                 "strings, got 0")
    expect_error("bad socketMode", files.write({"socketMode": "0668"}),
                 'socketMode: "0668": expected octal digits')
    expect_error("socketMode as a number", files.write({"socketMode": 660}),
                 "socketMode: expected a string of octal digits")
    expect_error("unknown socketGroup",
                 files.write({"socketGroup": "no-such-group-mcp-proxyd"}),
                 'socketGroup: "no-such-group-mcp-proxyd": no such group')
    expect_ok(files, "listen array, socketMode and socketGroup", {
        "listen": ["127.0.0.1:0", "unix:/run/mcp-proxyd/mcp.sock"],
        "socketMode": "0600", "socketGroup": "0"})
    missing = os.path.join(files.dir, "no-such-file.json")
    expect_error("missing file", missing, "No such file or directory")


def man_keys():
    """The keys documented in mcp-proxyd.json(5) and the text of each.

    Returns {(section, key): text} with section "top", "server", "rate"
    (the keys nested under rateLimits) or "breaker" (under a server's
    breaker).
    """
    with open(MAN5, encoding="utf-8") as f:
        lines = f.read().splitlines()
    sections = {"TOP-LEVEL KEYS": "top", "SERVER KEYS": "server"}
    nested = {"rateLimits": "rate", "breaker": "breaker"}
    keys = {}
    section = None
    current = None
    parents = []
    for i, line in enumerate(lines):
        if line.startswith(".SH "):
            section = sections.get(line[4:].strip().strip('"'))
            current = None
            continue
        if section is None:
            continue
        if line.startswith(".RS"):
            parents.append(current[1] if current else None)
        elif line.startswith(".RE"):
            parents.pop()
        elif line == ".TP" and i + 1 < len(lines) and \
                lines[i + 1].startswith(".B "):
            key = lines[i + 1][3:].strip()
            sect = nested.get(parents[-1], "rate") if parents else section
            current = (sect, key)
            keys[current] = ""
            continue
        if current is not None and not line.startswith(".B " + current[1]):
            keys[current] += re.sub(r"\\-", "-", line) + "\n"
    return keys


def source_keys():
    """The keys of the tables in src/config.c: {"top": [...], ...}."""
    with open(CONFIG_C, encoding="utf-8") as f:
        text = f.read()
    found = {}
    for table, sect in (("config_top_keys", "top"),
                        ("config_server_keys", "server"),
                        ("config_rate_keys", "rate"),
                        ("config_breaker_keys", "breaker")):
        m = re.search(r"config_key %s\[\] = \{(.*?)\n\};" % table, text,
                      re.S)
        found[sect] = re.findall(r'\{ "([^"]+)", CONFIG_KIND_', m.group(1)) \
            if m else []
    return found


def wrap(sect, key, value, with_command=True):
    """A configuration with key = value in the given section."""
    if sect == "top":
        return {key: value}
    if sect == "rate":
        return {"rateLimits": {"discovery": {key: value}}}
    if sect == "breaker":
        return {"mcpServers": {"s": {"command": "x",
                                     "breaker": {key: value}}}}
    server = {"command": "x"} if with_command and key != "command" else {}
    server[key] = value
    return {"mcpServers": {"s": server}}


def key_path(sect, key):
    return {"top": key, "rate": "rateLimits.discovery." + key,
            "server": "mcpServers.s." + key,
            "breaker": "mcpServers.s.breaker." + key}[sect]


def test_man_matches_daemon(files):
    try:
        documented = man_keys()
        in_source = source_keys()
    except OSError as e:
        tap(False, "read the man page and src/config.c", e)
        return
    tap(len(documented) > 20 and all(in_source.values()),
        "found the documented keys and the source tables",
        "man: %r\nsource: %r" % (sorted(documented), in_source))

    undocumented = [(s, k) for s, ks in in_source.items() for k in ks
                    if (s, k) not in documented]
    tap(not undocumented, "every key of src/config.c is documented",
        "not in mcp-proxyd.json(5): %r" % undocumented)

    # Every documented key is known: null is a wrong type for all of them,
    # never an unknown key.
    unknown = []
    for sect, key in sorted(documented):
        path = files.write(wrap(sect, key, None))
        rc, out, err = check(path)
        if rc != 1 or "unknown key" in err or key_path(sect, key) not in err:
            unknown.append((sect, key, rc, err.strip()))
    tap(not unknown, "every documented key is known to the daemon",
        "\n".join(repr(u) for u in unknown))

    # Every documented range is enforced, both ends.
    bad = []
    nranges = 0
    for (sect, key), text in sorted(documented.items()):
        m = re.search(r"[Ii]nteger, (\d+) to (\d+)", text)
        if m is None:
            continue
        nranges += 1
        lo, hi = int(m.group(1)), int(m.group(2))
        for value, good in ((lo, True), (hi, True), (lo - 1, False),
                            (hi + 1, False)):
            rc, out, err = check(files.write(wrap(sect, key, value)))
            want = "%d is out of range (%d..%d)" % (value, lo, hi)
            if good and rc != 0:
                bad.append("%s=%d refused: %s" % (key, value, err.strip()))
            elif not good and (rc != 1 or want not in err):
                bad.append("%s=%d: exit %d, wanted \"%s\": %s" % (
                    key, value, rc, want, err.strip()))
    tap(nranges >= 15 and not bad,
        "the %d documented integer ranges are enforced" % nranges,
        "\n".join(bad))


def test_man_pages():
    groff = shutil.which("groff")
    for page in (MAN8, MAN5, MAN1):
        name = "groff -mandoc -ww: " + os.path.basename(page)
        if groff is None:
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                tap(False, name + ": groff is missing (under CI=true "
                    "nothing may be missing; scripts/deps.sh test "
                    "installs groff-base)")
            else:
                tap(True, name, skip="groff is not installed")
            continue
        proc = subprocess.run(
            [groff, "-mandoc", "-ww", "-z", page], capture_output=True,
            timeout=TIMEOUT, env=dict(os.environ, LC_ALL="C"))
        err = proc.stderr.decode("utf-8", "replace")
        tap(proc.returncode == 0 and err == "", name,
            "exit %d\n%s" % (proc.returncode, err))


def main():
    files = Files()
    try:
        if not os.access(BIN, os.X_OK):
            tap(False, "the daemon is built",
                "%s is missing: build it first (make)" % BIN)
        else:
            test_check_option(files)
            test_man_matches_daemon(files)
        test_man_pages()
    finally:
        files.remove()
    print("1..%d" % tests_run)
    return 1 if tests_failed else 0


if __name__ == "__main__":
    sys.exit(main())
