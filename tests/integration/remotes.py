"""Remote MCP servers for the tests of type http and sse servers:
server-everything listening on HTTP (Streamable HTTP or the older
HTTP+SSE transport), and a TLS terminator in front of a TCP port (a
Python ssl-module forwarder), with certificates made by the openssl
command line."""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading

from harness import npm_server, pipe, require, wait_until


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False



def require_everything(tap):
    """node and server-everything, or the test fails under CI (skips
    elsewhere), naming what is missing."""
    how = "sh scripts/deps.sh test installs it"
    require(tap, [("node", shutil.which("node"), how),
                  ("@modelcontextprotocol/server-everything",
                   npm_server("everything"), how)])

class Everything:
    """server-everything in "streamableHttp" or "sse" mode on a port of
    its own (PORT=N node dist/index.js MODE)."""

    def __init__(self, mode, port=None):
        self.mode = mode
        self.port = port or free_port()
        self.node = shutil.which("node")
        self.script = npm_server("everything")
        self.log = tempfile.NamedTemporaryFile(prefix="everything-",
                                               suffix=".log", delete=False)
        self.proc = None
        self.start()

    def start(self):
        env = dict(os.environ, PORT=str(self.port))
        self.proc = subprocess.Popen(
            [self.node, self.script, self.mode], env=env,
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            start_new_session=True)
        if not wait_until(lambda: listening(self.port), 30):
            self.stop()
            raise RuntimeError("server-everything (%s) did not listen on "
                               "port %d" % (self.mode, self.port))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def output(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def close(self):
        self.stop()
        os.unlink(self.log.name)


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Pki:
    """A CA and certificates made with the openssl command line in a
    temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mcp-pki-")

    def path(self, name):
        return os.path.join(self.dir, name)

    def ca(self, name):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                "2", "-subj", "/CN=%s" % name, "-keyout", name + ".key",
                "-out", name + ".pem", cwd=self.dir)
        return self.path(name + ".pem")

    def cert(self, name, ca, dns=None, ip=None, client=False):
        """A certificate for dns or ip signed by CA ca: (cert, key)."""
        san = ",".join(["DNS:%s" % d for d in ([dns] if dns else [])] +
                       ["IP:%s" % i for i in ([ip] if ip else [])])
        with open(self.path(name + ".ext"), "w") as f:
            if san:
                f.write("subjectAltName=%s\n" % san)
            f.write("extendedKeyUsage=%s\n" %
                    ("clientAuth" if client else "serverAuth"))
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj",
                "/CN=%s" % (dns or ip or name), "-keyout", name + ".key",
                "-out", name + ".csr", cwd=self.dir)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem",
                "-CAkey", ca + ".key", "-CAcreateserial", "-days", "2",
                "-extfile", name + ".ext", "-out", name + ".pem",
                cwd=self.dir)
        return self.path(name + ".pem"), self.path(name + ".key")

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class TlsTerminator:
    """Accepts TLS on a port of its own and forwards the plain bytes to
    127.0.0.1:backend; client_ca makes it ask for a client certificate.
    handshakes counts the completed handshakes, failures the others."""

    def __init__(self, backend, cert, key, client_ca=None):
        self.backend = backend
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        if client_ca:
            self.ctx.verify_mode = ssl.CERT_REQUIRED
            self.ctx.load_verify_locations(client_ca)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.handshakes = 0
        self.failures = 0
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closing:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    def _serve(self, c):
        try:
            c.settimeout(10)
            t = self.ctx.wrap_socket(c, server_side=True)
            t.settimeout(None)
        except (OSError, ssl.SSLError):
            self.failures += 1
            c.close()
            return
        self.handshakes += 1
        try:
            b = socket.create_connection(("127.0.0.1", self.backend))
        except OSError:
            t.close()
            return
        threading.Thread(target=pipe, args=(b, t),
                         daemon=True).start()
        pipe(t, b)

    def close(self):
        self.closing = True
        self.sock.close()
