"""The embedded stack's optional trace viewer (`orchestrate server start --traces`).

Owns installing, starting, stopping and reporting Arize Phoenix, a local OTLP receiver with
a trace UI: its own venv (STATE/phoenix-venv, from the committed phoenix.lock, with uv, like
the Letta venv: it brings ~140 packages that must not meet the project's own), its data in
STATE/phoenix (SQLite), listening on 127.0.0.1 only: the UI, its REST API and OTLP over
HTTP (`/v1/traces`) on ORCHESTRATE_PHOENIX_PORT (default 6006), OTLP over gRPC on the next
port (Phoenix binds that one to every interface: phoenix_serve.py keeps it on loopback). Its own telemetry, its fetches from the internet and its in-app assistant are off.
It is recorded in STATE/server.json as `phoenix`, beside the other components, under the
same lock.

Must not: be needed by anything else in the stack, or talk to Phoenix beyond its health.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

from orchestrator.errors import ServerError
from orchestrator.private import open_private, private_dir

from . import optional, processes, state
from .components import HOST
from .info import ComponentStatus
from .install import INSTALL_TIMEOUT, _find_uv, _venv_python_request
from .paths import HERE, StackPaths, port_from_env

ENV_PHOENIX_PORT = "ORCHESTRATE_PHOENIX_PORT"
ENV_TRACES = "ORCHESTRATE_TRACES"  # "1": `server start` also starts Phoenix
DEFAULT_PHOENIX_PORT = 6006
PHOENIX_LOCK = HERE / "phoenix.lock"
PHOENIX_SERVE = HERE / "phoenix_serve.py"  # runs inside the Phoenix venv
READY_TIMEOUT = 300.0  # its first start migrates a new database: 50-100 s on 2 busy cores


def wanted_by_env() -> bool:
    return optional.wanted(ENV_TRACES)


def default_port() -> int:
    return port_from_env(ENV_PHOENIX_PORT, DEFAULT_PHOENIX_PORT)


def url(port: int) -> str:
    return f"http://{HOST}:{port}"


def traces_endpoint(port: int) -> str:
    """Where OTLP/HTTP spans go (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)."""
    return f"{url(port)}/v1/traces"


def _venv(paths: StackPaths) -> Path:
    return paths.home / "phoenix-venv"


def _marker(paths: StackPaths) -> Path:
    return _venv(paths) / ".orchestrate-installed.json"


def _lock_sha() -> str:
    return hashlib.sha256(PHOENIX_LOCK.read_bytes()).hexdigest()


def is_installed(paths: StackPaths) -> bool:
    try:
        marker = json.loads(_marker(paths).read_text())
    except (OSError, ValueError):
        return False
    return (
        marker.get("phoenix_lock_sha256") == _lock_sha()
        and (_venv(paths) / "bin" / "phoenix").exists()
    )


def ensure_installed(paths: StackPaths) -> float | None:
    """Install the venv unless the committed pins are there; returns the seconds it took."""
    if is_installed(paths):
        return None
    uv, venv, log = _find_uv(), _venv(paths), paths.log("install")
    private_dir(log.parent)
    started = time.monotonic()
    if not (venv / "bin" / "python").exists():
        _run([uv, "venv", "--python", _venv_python_request(), str(venv)], log)
    _run(
        [uv, "pip", "install", "--python", str(venv / "bin" / "python"), "-r", str(PHOENIX_LOCK)],
        log,
    )
    seconds = round(time.monotonic() - started, 1)
    _marker(paths).write_text(
        json.dumps({"phoenix_lock_sha256": _lock_sha(), "seconds": seconds}) + "\n"
    )
    return seconds


def _run(cmd: list[str], log: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_EXCLUDE_NEWER")}
    with open_private(log, "ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n".encode())
        out.flush()
        try:
            done = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=INSTALL_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ServerError(
                f"installing Phoenix timed out after {INSTALL_TIMEOUT:.0f}s; see {log}"
            ) from None
    if done.returncode != 0:
        raise ServerError(
            f"installing Phoenix failed ({cmd[1]} {cmd[2]} exited "
            f"{done.returncode}); see {log}\n{processes.tail(log, 15)}"
        )


def _env(paths: StackPaths, port: int) -> dict[str, str]:
    data = paths.home / "phoenix"
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PHOENIX_", "OTEL_", "PYTHON", "VIRTUAL_ENV"))
    }
    return {
        **keep,
        "HOME": str(data),
        "PHOENIX_WORKING_DIR": str(data),
        "PHOENIX_HOST": HOST,
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(port + 1),
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
        # nothing fetched from the internet on its own initiative (a WASM sandbox binary,
        # its docs' MCP server: each a DNS failure and a traceback offline), and no
        # in-app assistant (it needs a hosted LLM)
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
        "PHOENIX_DISABLE_AGENT_ASSISTANT": "true",
    }


def start(home: str | os.PathLike | None, port: int | None = None) -> dict:
    """Install (first time), start unless it runs, wait until healthy; returns its state
    entry. Idempotent."""
    paths = StackPaths.resolve(home)
    port = port or default_port()
    with state.locked(paths):
        data = state.read(paths)
        entry = data.get("phoenix")
        if optional.running(entry):
            return {**entry, "already_running": True}
        optional.refuse_busy_ports(
            ((port, "Phoenix UI and OTLP/HTTP"), (port + 1, "Phoenix OTLP/gRPC")),
            HOST,
            ENV_PHOENIX_PORT,
            port,
        )
        installed = ensure_installed(paths)
        # its database holds what runs exported (prompts too, with --otel-content): the
        # owner's only, like the rest of the state dir (orchestrator/private.py)
        private_dir(paths.home / "phoenix")
        # `phoenix serve`, with its gRPC listener on 127.0.0.1 (see phoenix_serve.py)
        cmd = [str(_venv(paths) / "bin" / "python"), "-I", str(PHOENIX_SERVE)]
        fields = {
            "port": port,
            "grpc_port": port + 1,
            "url": url(port),
            "traces_endpoint": traces_endpoint(port),
        }
        if installed is not None:
            fields["install_seconds"] = installed
        return optional.launch(
            paths,
            data,
            "phoenix",
            cmd,
            env=_env(paths, port),
            cwd=paths.home / "phoenix",
            entry=fields,
            health_url=f"{url(port)}/healthz",
            what="Phoenix",
            timeout=READY_TIMEOUT,
        )


def running_endpoint(home: str | os.PathLike | None = None) -> str | None:
    """The traces endpoint of this state dir's Phoenix, if it runs."""
    entry = state.read(StackPaths.resolve(home)).get("phoenix")
    if optional.running(entry):
        return str(entry.get("traces_endpoint") or traces_endpoint(int(entry["port"])))
    return None


stop_entry = optional.stop_entry  # stack.stop calls it under its lock


def status(paths: StackPaths, entry: dict | None) -> ComponentStatus | None:
    """Its status line, or None when it was never started here (it is optional)."""
    if not isinstance(entry, dict):
        return None
    return optional.status(
        "phoenix",
        paths,
        entry,
        health_url=f"{url(int(entry['port']))}/healthz",
        url=entry.get("url"),
        detail=f"trace viewer; OTLP at {entry.get('traces_endpoint')}, data in phoenix/",
    )
