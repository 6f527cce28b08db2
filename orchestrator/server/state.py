"""The stack's state file (STATE/server.json) and the lock that serialises start/stop.

Owns reading and atomically writing server.json (pids, process start times, ports, URLs, the
model mode), and dropping entries whose process is gone (a stale file after a crash or a
reboot). Secrets are never written here. The PostgreSQL pid is not trusted from this file:
`postgres_pid` reads PGDATA/postmaster.pid, which PostgreSQL itself maintains.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
from collections.abc import Iterator

from orchestrator.errors import ServerError
from orchestrator.private import open_private, state_dir, write_private

from . import processes
from .paths import StackPaths

STATE_VERSION = 1


def read(paths: StackPaths) -> dict:
    try:
        data = json.loads(paths.state_file.read_text())
    except FileNotFoundError:
        return {}
    except ValueError:
        return {}  # a torn or hand-edited file: treat as no state; processes are re-checked
    return data if isinstance(data, dict) and data.get("version") == STATE_VERSION else {}


def write(paths: StackPaths, data: dict) -> None:
    state_dir(paths.home)
    data = {**data, "version": STATE_VERSION, "home": str(paths.home), "updated_at": time.time()}
    write_private(paths.state_file, json.dumps(data, indent=2, sort_keys=True) + "\n")


def prune(paths: StackPaths, data: dict) -> tuple[dict, list[str]]:
    """Drop components whose recorded process is gone; return the cleaned state and their names."""
    gone = []
    cleaned = {k: v for k, v in data.items() if k not in ("letta", "model")}
    for name in ("letta", "model"):
        entry = data.get(name)
        if not isinstance(entry, dict):
            continue
        if entry.get("external") or processes.alive(entry.get("pid"), entry.get("ticks")):
            cleaned[name] = entry
        else:
            gone.append(name)
    if gone:
        if any(isinstance(cleaned.get(n), dict) for n in ("letta", "model")):
            write(paths, cleaned)
        else:
            paths.state_file.unlink(missing_ok=True)
    return cleaned, gone


def postgres_pid(paths: StackPaths) -> int | None:
    """The postmaster's pid if PostgreSQL runs on this stack's PGDATA, else None."""
    try:
        first = (paths.pgdata / "postmaster.pid").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    pid = int(first) if first.strip().isdigit() else None
    if not processes.alive(pid):
        return None
    try:  # after a reboot the recorded pid may belong to something else
        comm = open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        return pid
    return pid if comm.startswith("postgres") else None


@contextlib.contextmanager
def locked(paths: StackPaths, timeout: float = 600.0) -> Iterator[None]:
    """Hold STATE/.lock: one start or stop at a time per state dir (CLI and test fixtures)."""
    state_dir(paths.home)
    with open_private(paths.lock_file, "a+") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ServerError(
                        f"another orchestrate process holds {paths.lock_file} (a start or stop in progress?)"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
