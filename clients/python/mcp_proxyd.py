"""mcp_proxyd: the sandbox client of mcp-proxyd (Python 3.9+, standard
library only).

Code written for code-executor-MCP's injected Python functions runs
unchanged against mcp-proxyd with:

    from mcp_proxyd import call_mcp_tool, discover_mcp_tools, \\
        get_tool_schema, search_tools

The module-level functions use one shared Client made from the environment
(MCP_PROXYD_URL and MCP_PROXYD_TOKEN, as `mcp-proxyctl exec` sets them);
make a Client yourself for another daemon or token. The URL is
http://HOST:PORT/ or unix:/PATH (a Unix socket). Every failure raises a
subclass of MCPProxydError (see docs/clients.md); 429 and 503 answers are
retried a few times after their Retry-After (retries=0 turns that off).
One keep-alive connection per Client is reused across calls.
"""
import http.client
import json
import os
import socket
import threading
import time
import urllib.parse
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = [
    "Client", "MCPProxydError", "BadRequestError", "InvalidParamsError",
    "UnauthorizedError", "NotAllowedError", "ToolNotFoundError",
    "ToolError", "RateLimitedError", "OverloadedError", "ServerFailedError",
    "TimedOutError", "ProxyConnectionError", "call_mcp_tool",
    "discover_mcp_tools", "get_tool_schema", "search_tools", "tool_calls",
    "default_client",
]

DEFAULT_TIMEOUT = 330.0      # a little more than the daemon's longest call
DEFAULT_RETRIES = 3          # of a 429 or a 503, after Retry-After
DEFAULT_MAX_RETRY_WAIT = 30.0
_USER_AGENT = "mcp-proxyd-python/1"
_SAFE_WORD = frozenset("abcdefghijklmnopqrstuvwxyz"
                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-")

# ------------------------------------------------------------------ errors


class MCPProxydError(Exception):
    """Any failure of a call; status is the HTTP status (None when no
    answer came) and body the daemon's JSON answer (a dict, maybe empty)."""

    def __init__(self, message: str, status: Optional[int] = None,
                 body: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.body: Dict[str, Any] = body if body is not None else {}


class BadRequestError(MCPProxydError):
    """400 (not a schema failure) or 413: the request itself is wrong."""


class InvalidParamsError(BadRequestError):
    """400: the arguments fail the tool's input schema. details lists
    every failing path as {"path", "message"}; required and optional name
    the tool's parameters."""

    def __init__(self, message: str, status: Optional[int] = None,
                 body: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message, status, body)
        b = self.body
        self.details: List[Dict[str, str]] = list(b.get("details") or [])
        self.paths: List[str] = [str(d.get("path", "")) for d in self.details]
        self.required: List[str] = list(b.get("required") or [])
        self.optional: List[str] = list(b.get("optional") or [])


class UnauthorizedError(MCPProxydError):
    """401: no token, a wrong one, or a session that expired or was
    revoked."""


class NotAllowedError(MCPProxydError):
    """403: the tool is not in the allowlist (allowed_tools, suggestion),
    or the token may not use the route."""

    def __init__(self, message: str, status: Optional[int] = None,
                 body: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message, status, body)
        self.allowed_tools: List[str] = list(
            self.body.get("allowedTools") or [])
        self.suggestion: Optional[str] = self.body.get("suggestion")


class ToolNotFoundError(MCPProxydError):
    """404: no such tool; suggestions holds similar names."""

    def __init__(self, message: str, status: Optional[int] = None,
                 body: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message, status, body)
        self.suggestions: List[str] = list(self.body.get("suggestions") or [])


class ToolError(MCPProxydError):
    """422: the tool ran and reported an error (isError); result is its
    whole CallToolResult."""

    def __init__(self, message: str, status: Optional[int] = None,
                 body: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message, status, body)
        self.result: Any = self.body.get("result")


class _RetryableError(MCPProxydError):
    def __init__(self, message: str, status: Optional[int] = None,
                 body: Optional[Dict[str, Any]] = None,
                 retry_after: Optional[float] = None) -> None:
        super().__init__(message, status, body)
        self.retry_after = retry_after


class RateLimitedError(_RetryableError):
    """429: a rate limit or the session's maxConcurrent; retry_after is
    the daemon's Retry-After in seconds (None when it sent none)."""


class OverloadedError(_RetryableError):
    """503: the daemon is overloaded, the server is starting or
    restarting, or the daemon is shutting down; retry_after as above."""


class ServerFailedError(MCPProxydError):
    """502: the MCP server failed, crashed or answered nonsense."""


class TimedOutError(MCPProxydError):
    """504 (the call passed its timeout; the server was told to cancel
    it), or no answer within the client's own timeout (status None)."""


class ProxyConnectionError(MCPProxydError):
    """The daemon could not be reached, or closed the connection without
    an answer."""


_BY_STATUS = {401: UnauthorizedError, 403: NotAllowedError,
              404: ToolNotFoundError, 413: BadRequestError, 422: ToolError,
              502: ServerFailedError, 504: TimedOutError}


def _error_of(status: int, body: Dict[str, Any],
              retry_after: Optional[float]) -> MCPProxydError:
    msg = body.get("error")
    if not isinstance(msg, str) or not msg:
        msg = "mcp-proxyd answered HTTP %d" % status
    if status == 400:
        if isinstance(body.get("details"), list):
            lines = ["%s: %s" % (d.get("path") or "/", d.get("message"))
                     for d in body["details"] if isinstance(d, dict)]
            if len(lines) > 1:
                msg += "\n  " + "\n  ".join(lines)
            return InvalidParamsError(msg, status, body)
        return BadRequestError(msg, status, body)
    if status == 429:
        return RateLimitedError(msg, status, body, retry_after)
    if status == 503:
        return OverloadedError(msg, status, body, retry_after)
    return _BY_STATUS.get(status, MCPProxydError)(msg, status, body)

# ------------------------------------------------------------- transport


class _UnixConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a Unix stream socket."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(self.timeout)
            s.connect(self._path)
        except OSError:
            s.close()
            raise
        self.sock = s


def _parse_url(url: str) -> Tuple[str, str, int, str]:
    """("tcp", host, port, base path) or ("unix", socket path, 0, "")."""
    if url.startswith("unix:"):
        path = url[5:]
        if path.startswith("//"):
            path = path[2:]
        if not path.startswith("/"):
            raise ValueError("MCP_PROXYD_URL %r: expected unix:/absolute/"
                             "path" % url)
        return "unix", path, 0, ""
    if url.startswith("/"):
        return "unix", url, 0, ""
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http" or not u.hostname:
        raise ValueError("MCP_PROXYD_URL %r: expected http://HOST:PORT/ or "
                         "unix:/PATH (https is not supported)" % url)
    try:
        port = u.port or 80
    except ValueError:
        raise ValueError("MCP_PROXYD_URL %r: bad port" % url) from None
    return "tcp", u.hostname, port, u.path.rstrip("/")


def _retry_after(value: Optional[str]) -> Optional[float]:
    if value is None:
        return None
    try:
        return max(0.0, float(int(value.strip())))
    except ValueError:
        return None

# ---------------------------------------------------------------- client


class Client:
    """A connection to mcp-proxyd. url and token default to
    MCP_PROXYD_URL and MCP_PROXYD_TOKEN. Safe to share between threads
    (calls take turns on the one connection)."""

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None,
                 *, timeout: float = DEFAULT_TIMEOUT,
                 retries: int = DEFAULT_RETRIES,
                 max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT) -> None:
        url = url if url is not None else os.environ.get("MCP_PROXYD_URL")
        token = token if token is not None else \
            os.environ.get("MCP_PROXYD_TOKEN")
        if not url:
            raise ValueError("no mcp-proxyd URL: pass url= or set "
                             "MCP_PROXYD_URL")
        if not token:
            raise ValueError("no mcp-proxyd token: pass token= or set "
                             "MCP_PROXYD_TOKEN")
        if any(c.isspace() for c in token):
            raise ValueError("the mcp-proxyd token must be one word")
        if retries < 0 or timeout <= 0 or max_retry_wait < 0:
            raise ValueError("retries and max_retry_wait must be >= 0, "
                             "timeout > 0")
        self.url = url
        self._kind, self._host, self._port, self._base = _parse_url(url)
        self._token = token
        self.timeout = timeout
        self.retries = retries
        self.max_retry_wait = max_retry_wait
        self._conn: Optional[http.client.HTTPConnection] = None
        self._used = False       # the connection has carried a request
        self._lock = threading.Lock()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._used = False

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._kind == "unix":
                self._conn = _UnixConnection(self._host, self.timeout)
            else:
                self._conn = http.client.HTTPConnection(
                    self._host, self._port, timeout=self.timeout)
            self._used = False
        return self._conn

    def _once(self, method: str, path: str,
              body: Optional[bytes]) -> Tuple[int, Dict[str, Any],
                                              Optional[float]]:
        """One exchange on the kept connection. A kept connection that the
        daemon closed while idle is opened again once (nothing was
        answered on it, so nothing ran)."""
        headers = {"Authorization": "Bearer " + self._token,
                   "Accept": "application/json", "User-Agent": _USER_AGENT}
        if body is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            conn = self._connection()
            reused = self._used
            try:
                conn.request(method, self._base + path, body=body,
                             headers=headers)
                self._used = True
                resp = conn.getresponse()
                raw = resp.read()
            except socket.timeout:
                self._drop()
                raise TimedOutError("no answer from mcp-proxyd within %g s"
                                    % self.timeout) from None
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    BrokenPipeError) as e:
                self._drop()
                if reused and attempt == 0:
                    continue
                raise ProxyConnectionError(
                    "mcp-proxyd at %s closed the connection: %s"
                    % (self.url, e)) from None
            except (OSError, http.client.HTTPException) as e:
                self._drop()
                raise ProxyConnectionError("cannot reach mcp-proxyd at %s: "
                                           "%s" % (self.url, e)) from None
            if resp.will_close:
                self._drop()
            try:
                data = json.loads(raw) if raw else {}
            except ValueError:
                data = {"error": raw[:200].decode("utf-8", "replace")}
            if not isinstance(data, dict):
                data = {"error": "unexpected answer: %r" % (data,)}
            return (resp.status, data,
                    _retry_after(resp.getheader("Retry-After")))
        raise ProxyConnectionError("unreachable")  # pragma: no cover

    def request(self, method: str, path: str,
                payload: Any = None) -> Dict[str, Any]:
        """One request with the retries of 429 and 503: the JSON answer
        of a 2xx, else the error raised."""
        body = None if payload is None else json.dumps(
            payload, separators=(",", ":")).encode()
        tries = 0
        while True:
            with self._lock:
                status, data, after = self._once(method, path, body)
            if 200 <= status < 300:
                return data
            err = _error_of(status, data, after)
            wait = after if after is not None else 1.0
            if status not in (429, 503) or tries >= self.retries or \
                    wait > self.max_retry_wait:
                raise err
            tries += 1
            time.sleep(wait)

    # ------------------------------------------- the original's functions

    def call_mcp_tool(self, tool_name: str,
                      params: Optional[Mapping[str, Any]] = None,
                      *, full: bool = False) -> Any:
        """Calls a tool: its result (the first text block, else the whole
        CallToolResult; always the whole CallToolResult with full=True)."""
        if not isinstance(tool_name, str) or not tool_name:
            raise TypeError("tool_name must be a non-empty string like "
                            "'mcp__server__tool'")
        if params is not None and not isinstance(params, Mapping):
            raise TypeError("params must be a dict of the tool's arguments")
        payload: Dict[str, Any] = {"toolName": tool_name,
                                   "params": dict(params) if params
                                   is not None else {}}
        if full:
            payload["result"] = "full"
        return self.request("POST", "/", payload).get("result")

    def discover_mcp_tools(self, search: Optional[Sequence[str]] = None
                           ) -> List[Dict[str, Any]]:
        """The tools whose name or description contains any of the words
        (case-insensitive); every tool without search."""
        if isinstance(search, str):
            search = [search]
        q = "&".join("q=" + urllib.parse.quote(w) for w in (search or ())
                     if w)
        data = self.request("GET", "/mcp/tools" + ("?" + q if q else ""))
        tools = data.get("tools")
        return list(tools) if isinstance(tools, list) else []

    def get_tool_schema(self, tool_name: str) -> Optional[Dict[str, Any]]:
        """The discovery entry of one tool (name, description, parameters,
        outputSchema, ...), or None."""
        word = tool_name.rsplit("__", 1)[-1]
        search = [word] if word and len(word) <= 100 and \
            set(word) <= _SAFE_WORD else None
        for t in self.discover_mcp_tools(search):
            if t.get("name") == tool_name:
                return t
        return None

    def search_tools(self, query: str, limit: int = 10
                     ) -> List[Dict[str, Any]]:
        """Tools matching any word of query, at most limit of them."""
        words = [w for w in query.split() if w]
        return self.discover_mcp_tools(words)[:max(0, limit)]

    def tool_calls(self) -> Dict[str, Any]:
        """This token's calls: {"calls": [names], "truncated": n,
        "summary": [per tool]} (GET /mcp/calls)."""
        return self.request("GET", "/mcp/calls")

# ------------------------------------------------ module-level functions


_default: Optional[Client] = None
_default_lock = threading.Lock()


def default_client() -> Client:
    """The shared Client of the module-level functions (from the
    environment, made on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Client()
        return _default


def call_mcp_tool(tool_name: str,
                  params: Optional[Mapping[str, Any]] = None,
                  *, full: bool = False) -> Any:
    return default_client().call_mcp_tool(tool_name, params, full=full)


def discover_mcp_tools(search: Optional[Sequence[str]] = None
                       ) -> List[Dict[str, Any]]:
    return default_client().discover_mcp_tools(search)


def get_tool_schema(tool_name: str) -> Optional[Dict[str, Any]]:
    return default_client().get_tool_schema(tool_name)


def search_tools(query: str, limit: int = 10) -> List[Dict[str, Any]]:
    return default_client().search_tools(query, limit)


def tool_calls() -> Dict[str, Any]:
    return default_client().tool_calls()


def _run_script(argv: List[str]) -> int:
    """python3 mcp_proxyd.py SCRIPT [ARG...]: runs SCRIPT as __main__ with
    call_mcp_tool, discover_mcp_tools, get_tool_schema, search_tools and
    tool_calls in its globals, as code-executor-MCP's Python sandbox
    injects them."""
    import runpy
    import sys
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python3 mcp_proxyd.py SCRIPT [ARG...]", file=sys.stderr)
        return 2
    sys.argv = list(argv)
    injected: Dict[str, Any] = {
        "call_mcp_tool": call_mcp_tool,
        "discover_mcp_tools": discover_mcp_tools,
        "get_tool_schema": get_tool_schema,
        "search_tools": search_tools, "tool_calls": tool_calls}
    runpy.run_path(argv[0], init_globals=injected, run_name="__main__")
    return 0


if __name__ == "__main__":
    import sys as _sys
    _sys.exit(_run_script(_sys.argv[1:]))
