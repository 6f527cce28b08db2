"""The life of an optional stack component (the Temporal dev server, the Phoenix trace
viewer): one process recorded in STATE/server.json under its name, beside Letta and the
model endpoint, started and stopped under the state lock.

Owns what temporal_dev.py and phoenix.py share: whether the recorded process still runs,
refusing ports in use before anything starts, spawning and recording the process, waiting
for its health URL (and forgetting it again when it never gets healthy), stopping it, and
its status line. Each component keeps its own command, ports, environment and health URL.
Must not: know any one component.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeGuard

from orchestrator import settings
from orchestrator.errors import ServerError

from . import processes, state
from .info import ComponentStatus
from .paths import StackPaths


def wanted(env_name: str) -> bool:
    """Whether the setting asks `server start` for this component ("1", "true", "yes")."""
    return (settings.value(env_name) or "").strip().lower() in ("1", "true", "yes")


def running(entry: Any) -> TypeGuard[dict[str, Any]]:
    """Whether a recorded entry's process is still the one it recorded."""
    return isinstance(entry, dict) and processes.alive(entry.get("pid"), entry.get("ticks"))


def refuse_busy_ports(
    ports: Sequence[tuple[int, str]], host: str, env_name: str, port: int
) -> None:
    """A ServerError naming the first port in use and the variable that moves them all."""
    for p, what in ports:
        if processes.port_in_use(p, host):
            raise ServerError(
                f"port {p} ({what}) is already in use; choose another with "
                f"{env_name}={port + 10} (it uses that port and the next)"
            )


def launch(
    paths: StackPaths,
    data: dict,
    name: str,
    cmd: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    entry: dict,
    health_url: str,
    what: str,
    timeout: float,
) -> dict:
    """Spawn `cmd`, record it in `data[name]` (with `entry`'s fields), wait until
    `health_url` answers; on failure stop it, forget it and re-raise. Call under the lock."""
    log = paths.log(name)
    pid, ticks = processes.spawn(cmd, env=env, log=log, cwd=cwd)
    recorded = {"pid": pid, "ticks": ticks, **entry}
    data[name] = recorded
    state.write(paths, data)
    try:
        waited = processes.wait_http(health_url, pid=pid, timeout=timeout, what=what, log=log)
    except ServerError:
        processes.terminate(pid, ticks, timeout=10)
        data.pop(name, None)
        state.write(paths, data)
        raise
    recorded["ready_seconds"] = round(waited, 1)
    state.write(paths, data)
    return recorded


def stop_entry(entry: Any) -> bool:
    """Stop the recorded process (called by stack.stop under its lock)."""
    if not running(entry):
        return False
    processes.terminate(entry["pid"], entry.get("ticks"), timeout=20.0)
    return True


def status(
    name: str, paths: StackPaths, entry: Any, *, health_url: str, url: str | None, detail: str
) -> ComponentStatus | None:
    """Its status line, or None when it was never started here (it is optional)."""
    if not isinstance(entry, dict):
        return None
    alive = running(entry)
    healthy = alive and processes.http_ok(health_url)
    return ComponentStatus(
        name,
        alive,
        pid=entry.get("pid") if alive else None,
        url=url,
        port=entry.get("port"),
        healthy=healthy,
        rss_bytes=processes.rss_bytes(entry["pid"]) if alive else None,
        log=paths.log(name),
        detail=detail,
    )
