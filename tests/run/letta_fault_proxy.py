"""A fault-injecting HTTP proxy in front of the real Letta server, for exactly-once tests.

`FaultProxy(upstream)` listens on 127.0.0.1 and forwards every request to the Letta server
unchanged. For requests a rule picks, it forwards the request, lets Letta finish it (the turn
is stored, the model answered), then throws the answer away and replies with an error status
instead: what a client sees when a busy server fails late in a request (Letta answering
HTTP 500 because PostgreSQL refused a connection after the turn was written). Nothing about
Letta is simulated: the agent, its history and the model calls are real.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "host",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "accept-encoding",
}
MESSAGE_POST = re.compile(r"^/v1/agents/[^/]+/messages/?(\?.*)?$")

# (method, path, request body) -> the status to answer after forwarding, or None to pass
Rule = Callable[[str, str, bytes], "int | None"]


class FaultProxy:
    def __init__(self, upstream: str, rule: Rule | None = None):
        parts = urllib.parse.urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.rule: Rule = rule or (lambda method, path, body: None)
        self.injected: list[tuple[str, int]] = []  # (path, status) answered instead
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _any(self) -> None:
                proxy._handle(self)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=600)
        try:
            upstream.request(request.command, request.path, body=body or None, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()  # the whole turn has run on Letta by now
            status, reply_headers = answer.status, answer.getheaders()
        finally:
            upstream.close()
        with self._lock:
            injected = self.rule(request.command, request.path, body)
            if injected is not None:
                self.injected.append((request.path, injected))
        if injected is not None:
            data = json.dumps({"detail": "injected by the test's fault proxy"}).encode()
            status, reply_headers = injected, [("Content-Type", "application/json")]
        request.send_response(status)
        for key, value in reply_headers:
            if key.lower() not in HOP_BY_HOP:
                request.send_header(key, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)


def fail_messages(status: int = 500, *, every: int = 1, limit: int | None = None) -> Rule:
    """A rule: answer `status` to every `every`-th message POST (after Letta ran the turn),
    at most `limit` times."""
    seen, failed = [0], [0]

    def rule(method: str, path: str, body: bytes) -> int | None:
        if method != "POST" or not MESSAGE_POST.match(path):
            return None
        seen[0] += 1
        if (seen[0] - 1) % every or (limit is not None and failed[0] >= limit):
            return None
        failed[0] += 1
        return status

    return rule
