"""Remote MCP servers over https: server-everything (streamableHttp)
behind local TLS terminators whose certificates a CA made by the test
signed (openssl command line). A trusted certificate works; a wrong
host name and an unknown CA are refused with a log line naming the
reason; caFile makes the test CA trusted; insecureSkipVerify works and
is warned about; mutual TLS with a client certificate works, and the
terminator refuses a daemon without one."""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Daemon, Tap, npm_server, require, stop_ok,  # noqa: E402
                     wait_until)
from remotes import Everything, Pki, TlsTerminator  # noqa: E402


def https(port, **tls):
    server = {"type": "http", "url": "https://127.0.0.1:%d/mcp" % port}
    if tls:
        server["tls"] = tls
    return server


def main():
    tap = Tap()
    node = shutil.which("node")
    every = npm_server("everything")
    how = "sh scripts/deps.sh test installs it"
    require(tap, [("node", node, how),
                  ("@modelcontextprotocol/server-everything", every, how),
                  ("openssl", shutil.which("openssl"), how)])
    pki = Pki()
    ca = pki.ca("ca")
    pki.ca("other")
    good = pki.cert("good", "ca", ip="127.0.0.1")
    wrong = pki.cert("wrong", "ca", dns="elsewhere.example")
    stranger = pki.cert("stranger", "other", ip="127.0.0.1")
    client = pki.cert("client", "ca", dns="mcp-proxyd", client=True)
    backend = Everything("streamableHttp")
    terms = {"good": TlsTerminator(backend.port, *good),
             "wrong": TlsTerminator(backend.port, *wrong),
             "stranger": TlsTerminator(backend.port, *stranger),
             "mtls": TlsTerminator(backend.port, *good, client_ca=ca)}
    servers = {
        "good": https(terms["good"].port, caFile=ca),
        "wrongname": https(terms["wrong"].port, caFile=ca),
        "unknownca": https(terms["stranger"].port),
        "insecure": https(terms["stranger"].port, insecureSkipVerify=True),
        "mtls": https(terms["mtls"].port, caFile=ca, certFile=client[0],
                      keyFile=client[1]),
        "nocert": https(terms["mtls"].port, caFile=ca),
    }
    try:
        d = Daemon({"mcpServers": servers, "startTimeoutMs": 20000,
                    "drainTimeoutMs": 2000})
    except Exception:
        backend.close()
        raise
    try:
        for name in ("good", "insecure", "mtls"):
            st, _, body = d.call("mcp__%s__echo" % name, {"message": name})
            tap.eq((st, body), (200, {"result": "Echo: " + name}),
                   "%s: echo over TLS" % name)
        # The server refuses a missing client certificate after the
        # client's side of a TLS 1.3 handshake: the client sees its alert
        # ("TLS failed") or only the connection's end.
        for name, whys in (("wrongname", ["IP address mismatch"]),
                           ("unknownca", ["unable to get local issuer"]),
                           ("nocert", ["TLS failed", "connection failed",
                                       "closed the connection"])):
            st, hdrs, body = d.call("mcp__%s__echo" % name, {"m": 1})
            tap.ok(st in (404, 503), "%s: refused (%d)" % (name, st), body)
            why = " or ".join(whys)
            ok = wait_until(lambda: any(
                ("server '%s' " % name) in ln and w in ln
                for ln in d.stderr().splitlines() for w in whys), 10)
            tap.ok(ok, "%s: the log names the reason (%s)" % (name, why),
                   [ln for ln in d.stderr().splitlines() if name in ln][:6])
            st, _, h = d.request("GET", "/health")
            s = h["servers"][name]
            tap.ok(s["state"] != "ready" and s["lastError"] and
                   ("TLS" in s["lastError"] or name == "nocert"),
                   "%s: /health shows it failing" % name, s)
        tap.ok("tls.insecureSkipVerify" in d.stderr() and
               "NOT verified" in d.stderr(),
               "insecureSkipVerify is warned about at start")
        tap.ok(terms["mtls"].handshakes >= 1 and
               terms["mtls"].failures >= 1,
               "the mTLS terminator took the certificate and refused "
               "the daemon without one", (terms["mtls"].handshakes,
                                         terms["mtls"].failures))
    finally:
        stop_ok(tap, d, "daemon with https servers")
        for t in terms.values():
            t.close()
        backend.close()
        pki.close()
    tap.done()


if __name__ == "__main__":
    main()
