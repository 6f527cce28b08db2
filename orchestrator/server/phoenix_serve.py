"""Runs *inside the Phoenix venv* (its Python, its packages), as a script:

    PHOENIX_VENV/bin/python -I phoenix_serve.py        (the environment configures Phoenix)

Owns one thing `phoenix serve` cannot be told: Phoenix binds its OTLP/gRPC listener to
every interface (`[::]:PORT`, whatever PHOENIX_HOST says), and the embedded stack listens
on 127.0.0.1 only. So the gRPC server's insecure ports are opened on 127.0.0.1 instead, then
Phoenix's own `serve` runs unchanged. Must import nothing from `orchestrator` (it is not
installed in that venv) and only the standard library at module level.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any


def _loopback_grpc() -> None:
    server_module: Any = importlib.import_module("grpc.aio._server")
    real = server_module.Server.add_insecure_port

    def add_insecure_port(self: Any, address: str) -> int:
        host, _, port = address.rpartition(":")
        return int(real(self, f"127.0.0.1:{port}" if host in ("[::]", "0.0.0.0", "") else address))

    server_module.Server.add_insecure_port = add_insecure_port


def main() -> int:
    _loopback_grpc()
    phoenix_main: Any = importlib.import_module("phoenix.server.main").main
    sys.argv = ["phoenix", "serve"]
    return int(phoenix_main() or 0)


if __name__ == "__main__":
    sys.exit(main())
