"""Fault servers on real sockets at 127.0.0.1 (not mocks of Letta: servers that are wrong).

- `foreign_server(routes, default)`: an HTTP server answering every method and path with
  `default` (an HTML page unless given), except the paths in `routes` (path -> (status,
  content type, body)). Returns its URL.
- `silent_server`: a listener that accepts connections and never answers. Yields its URL.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

PAGE = b"<html><head><title>Welcome</title></head><body>It works!</body></html>"


Answer = tuple[int, str, bytes]


def _handler(routes: dict[str, Answer], default: Answer) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            code, kind, body = routes.get(self.path.split("?")[0], default)
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def foreign_server():
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(
        routes: dict[str, Answer] | None = None, default: Answer = (200, "text/html", PAGE)
    ) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(routes or {}, default))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_server() -> Iterator[str]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)  # kept open, never read from nor written to

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    listener.close()
    for conn in held:
        conn.close()
