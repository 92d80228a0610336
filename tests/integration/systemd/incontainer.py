"""Runs inside a booted Debian 12 container (test_systemd.py) as the
unit mcp-test.service, after `make install` put mcp-proxyd's files in
place: starts, uses, reloads and stops mcp-proxyd.service as an admin
would, and writes one line per check ("ok NAME" / "not ok NAME: why") to
/mcp-test/results, then "done" and powers the container off.

python3 stdlib only (the container has no curl)."""
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback

OUT = open("/mcp-test/results", "w", buffering=1)
PATHS = json.load(open("/mcp-test/paths.json"))
CONF = PATHS["conf"]
CTL = PATHS["ctl"]
TOKEN = "/run/mcp-proxyd/token"
UNIT = "mcp-proxyd.service"


def point(cond, name, why=""):
    OUT.write(("ok %s\n" % name) if cond else
              ("not ok %s: %s\n" % (name, why.replace("\n", " | ")[:2000])))
    return cond


def run(*argv, check=False):
    p = subprocess.run(argv, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def show(prop, unit=UNIT):
    return run("systemctl", "show", "-p", prop, "--value", unit)[1].strip()


def wait_until(pred, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def request(method, path, body=None, token=None, port=8765, conn=None):
    """One request on conn (default: TCP to the installed port)."""
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    hdrs = {"Authorization": "Bearer " + token} if token else {}
    if body is not None:
        body = json.dumps(body)
        hdrs["Content-Type"] = "application/json"
    c.request(method, path, body=body, headers=hdrs)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def call(token, tool, params):
    return request("POST", "/", {"toolName": tool, "params": params}, token)


def journal():
    return run("journalctl", "-u", UNIT, "-o", "cat", "--no-pager")[1]


def t_verify():
    rc, out = run("systemd-analyze", "verify", "--man=no", UNIT)
    point(rc == 0 and out.strip() == "",
          "systemd-analyze verify %s: no complaint" % UNIT, out)


def t_start():
    rc, out = run("systemctl", "start", UNIT)
    point(rc == 0, "systemctl start mcp-proxyd with the installed "
          "configuration", out + journal())
    point(show("ActiveState") == "active", "the unit is active",
          show("ActiveState"))
    user = pwd.getpwnam("mcp-proxyd")
    pid = show("MainPID")
    uid = open("/proc/%s/status" % pid).read().split("Uid:")[1].split()[0]
    point(int(uid) == user.pw_uid, "the daemon runs as user mcp-proxyd",
          "uid %s" % uid)
    st = os.stat(CONF)
    point(st.st_gid == user.pw_gid and (st.st_mode & 0o777) == 0o640,
          "the configuration is root:mcp-proxyd 0640 (tmpfiles.d)",
          "gid %d mode %o" % (st.st_gid, st.st_mode & 0o777))
    status = show("StatusText")
    point(re.search(r"0 calls in flight, 1 of 1 MCP server ready", status)
          is not None, "STATUS= says calls in flight and servers ready",
          status)


def t_token():
    st = os.stat(TOKEN)
    point((st.st_mode & 0o777) == 0o600 and
          st.st_uid == pwd.getpwnam("mcp-proxyd").pw_uid,
          "the generated token is in %s, mode 0600, the service's" % TOKEN,
          "mode %o uid %d" % (st.st_mode & 0o777, st.st_uid))
    token = open(TOKEN).read().strip()
    j = journal()
    point(token not in j and len(token) == 64,
          "the token is not in the journal", "found in the journal")
    point('"authTokenFile":"%s"' % TOKEN in j,
          "the ready line in the journal names the token's file", j[-2000:])
    return token


def t_calls(token):
    st, body = request("GET", "/health", token=token)
    point(st == 200, "GET /health with the token: 200", "%d %s" % (st, body))
    st, body = call(token, "mcp__demo__echo", {"message": "hi"})
    point(st == 200 and b"hi" in body, "mcp__demo__echo: 200",
          "%d %s" % (st, body))
    st, _ = request("GET", "/health", token="0" * 64)
    point(st == 401, "a wrong token: 401", str(st))
    rc, out = run(CTL, "health")
    point(rc == 0 and '"healthy"' in out,
          "mcp-proxyctl health finds the URL and /run/mcp-proxyd/token", out)


def t_security():
    rc, out = run("systemd-analyze", "security", "--no-pager", UNIT)
    m = re.search(r"Overall exposure level for %s: ([0-9.]+)" % UNIT, out)
    OUT.write("# systemd-analyze security: %s\n" % (m.group(1) if m else "?"))
    point(m is not None and float(m.group(1)) <= 3.0,
          "systemd-analyze security rates the running unit <= 3.0",
          out[-1500:])


def write_conf(conf):
    with open(CONF + ".new", "w") as f:
        json.dump(conf, f)
    os.chmod(CONF + ".new", 0o640)
    os.chown(CONF + ".new", 0, pwd.getpwnam("mcp-proxyd").pw_gid)
    os.rename(CONF + ".new", CONF)


def t_node_python(token, shipped):
    """MCP servers written in Node.js and Python run under the hardening."""
    conf = json.loads(json.dumps(shipped))
    conf["allowedTools"] = ["mcp__demo__*", "mcp__everything__*",
                            "mcp__py__*"]
    conf["mcpServers"]["everything"] = {
        "command": "/usr/bin/node",
        "args": ["/opt/npm/node_modules/@modelcontextprotocol/"
                 "server-everything/dist/index.js"]}
    conf["mcpServers"]["py"] = {
        "command": "/usr/bin/python3", "args": ["/mcp-test/pyserver.py"]}
    write_conf(conf)
    pid = show("MainPID")
    rc, out = run("systemctl", "reload", UNIT)
    point(rc == 0 and show("MainPID") == pid,
          "systemctl reload adds a Node.js and a Python MCP server to the "
          "running daemon", out + journal()[-3000:])
    point(wait_until(lambda: "3 of 3 MCP servers ready" in
                     show("StatusText"), 30),
          "STATUS= counts the added servers", show("StatusText"))
    st, body = call(token, "mcp__everything__echo", {"message": "node"})
    point(st == 200 and b"node" in body,
          "the Node.js server (server-everything) answers under the "
          "hardening", "%d %s %s" % (st, body, journal()[-3000:]))
    st, body = call(token, "mcp__py__hello", {"name": "py"})
    point(st == 200 and b"hello py" in body,
          "the Python server answers under the hardening",
          "%d %s %s" % (st, body, journal()[-3000:]))
    return token


def t_reload(token, shipped):
    good = open(CONF).read()
    with open(CONF, "w") as f:
        f.write('{"mcpServers": {"demo": {"command": 7}}}')
    rc, out = run("systemctl", "reload", UNIT)
    point(rc != 0, "systemctl reload fails on an invalid configuration",
          "rc %d %s" % (rc, out))
    point(show("ActiveState") == "active",
          "the daemon keeps running after a refused reload",
          show("ActiveState"))
    st, _ = call(token, "mcp__demo__echo", {"message": "still"})
    point(st == 200, "calls still work after a refused reload", str(st))
    with open(CONF, "w") as f:
        f.write(good)
    pid = show("MainPID")
    rc, out = run("systemctl", "reload", UNIT)
    point(rc == 0 and show("MainPID") == pid and
          show("ActiveState") == "active",
          "systemctl reload with a valid configuration: same process, "
          "active", "rc %d %s" % (rc, out))
    st, _ = call(token, "mcp__demo__echo", {"message": "after"})
    point(st == 200, "calls work after the reload", str(st))


def t_stop():
    pid = show("MainPID")
    rc, out = run("systemctl", "stop", UNIT)
    point(rc == 0 and show("Result") == "success" and
          show("ExecMainStatus") == "0",
          "systemctl stop: the daemon drains and exits 0",
          "rc %d result %s status %s %s" % (rc, show("Result"),
                                            show("ExecMainStatus"), out))
    left = run("pgrep", "-u", "mcp-proxyd")[1].strip()
    point(left == "", "no process of the service's user is left", left)
    point(not os.path.exists(TOKEN), "the token file is removed at exit")
    point(os.path.exists("/var/lib/mcp-proxyd/schema-cache.json"),
          "the schema cache is in the StateDirectory",
          str(os.listdir("/var/lib/mcp-proxyd")))
    audit = open("/var/log/mcp-proxyd/audit.log").read()
    point('"event":"shutdown"' in audit,
          "the audit log in the LogsDirectory has the shutdown", audit[-500:])
    point(pid not in run("ps", "-e", "-o", "pid=")[1].split(),
          "the main process is gone")


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(self.path)


def unix_request(path, method, url, token=None, body=None):
    return request(method, url, body, token, conn=UnixConnection(path))


def t_socket():
    """mcp-proxyd.socket: the first connection starts the daemon, which
    serves on the socket systemd opened."""
    sock = "/run/mcp-proxyd/mcp.sock"
    rc, out = run("systemctl", "start", "mcp-proxyd.socket")
    point(rc == 0 and show("ActiveState") == "inactive" and
          os.path.exists(sock), "mcp-proxyd.socket listens on %s, the "
          "daemon not started yet" % sock, out + show("ActiveState"))
    st, _ = unix_request(sock, "GET", "/health")
    point(st == 401 and wait_until(lambda: show("ActiveState") == "active"),
          "the first connection starts the daemon, which answers on the "
          "passed socket (401 without a token)", "%s %s" % (
              st, show("ActiveState")))
    token = open(TOKEN).read().strip()
    st, body = unix_request(sock, "POST", "/", token, {
        "toolName": "mcp__demo__echo", "params": {"message": "sock"}})
    point(st == 200 and b"sock" in body, "a call over the activated "
          "socket", "%d %s" % (st, body))
    point("from the service manager" in journal(),
          "the log says the listeners came from systemd", journal()[-1500:])
    run("systemctl", "stop", UNIT)
    point(os.path.exists(sock), "the socket file stays when the daemon "
          "stops (systemd owns it)")
    st, _ = unix_request(sock, "GET", "/health")
    point(st == 401, "and the next connection starts it again", str(st))
    run("systemctl", "stop", "mcp-proxyd.socket", UNIT)


def t_watchdog():
    """A loop that stops answering is killed by the watchdog."""
    os.makedirs("/etc/systemd/system/%s.d" % UNIT, exist_ok=True)
    with open("/etc/systemd/system/%s.d/watchdog.conf" % UNIT, "w") as f:
        f.write("[Service]\nWatchdogSec=2\nRestart=no\n")
    run("systemctl", "daemon-reload")
    rc, out = run("systemctl", "start", UNIT)
    point(rc == 0, "start with WatchdogSec=2", out)
    first = show("WatchdogTimestampMonotonic")
    point(wait_until(lambda: show("WatchdogTimestampMonotonic") != first,
                     10), "the daemon pings the watchdog",
          "timestamp stays %s" % first)
    os.kill(int(show("MainPID")), signal.SIGSTOP)
    point(wait_until(lambda: show("Result") == "watchdog", 20),
          "a stopped loop: the watchdog ends the daemon (Result=watchdog)",
          show("Result"))
    run("systemctl", "stop", UNIT)
    os.unlink("/etc/systemd/system/%s.d/watchdog.conf" % UNIT)
    run("systemctl", "daemon-reload")
    run("systemctl", "reset-failed", UNIT)


def main():
    try:
        shipped = json.load(open(CONF))
        t_verify()
        t_start()
        token = t_token()
        t_calls(token)
        t_security()
        t_reload(token, shipped)
        token = t_node_python(token, shipped)
        t_stop()
        t_socket()
        t_watchdog()
    except Exception:
        point(False, "the checks ran to the end", traceback.format_exc())
        OUT.write("# journal:\n# " + journal()[-4000:].replace("\n", "\n# ")
                  + "\n")
    OUT.write("done\n")
    OUT.close()
    subprocess.run(["systemctl", "--no-block", "poweroff"])


if __name__ == "__main__":
    main()
