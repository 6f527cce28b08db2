"""Launching the two HTTP components: the local model endpoint and the Letta server.

Owns their command lines, their environments (what Letta must see: HOME, PGUSER,
LETTA_PG_URI, OPENAI_API_KEY/OPENAI_API_BASE) and the port checks that turn "address in use"
into a message naming the port and the variable that moves it. Each launcher returns the
entry recorded in server.json. Secrets go into the child's environment only.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from orchestrator.errors import ServerError
from orchestrator.private import private_dir, write_private

from . import processes
from .model_endpoint.http_server import DEFAULT_MODEL_ID
from .paths import ENV_LETTA_PORT, ENV_MODEL_PORT, StackPaths

LOCAL_API_KEY = "sk-orchestrate-local"  # the local endpoint ignores it; Letta wants one set
MODEL_HEALTH_TIMEOUT = 30.0
HOST = "127.0.0.1"
_PACKAGE_PARENT = Path(__file__).resolve().parents[2]
# Variables the user's shell may carry that would point Letta elsewhere than we say.
_DROP_PREFIXES = ("OPENAI_", "PG", "PYTHON", "VIRTUAL_ENV", "LETTA_PG", "UV_")
_DROP = {"LETTA_BASE_URL", "LETTA_API_KEY", "LETTA_DIR", "HOME"}


def letta_url(port: int) -> str:
    return f"http://{HOST}:{port}"


def model_url(port: int) -> str:
    return f"http://{HOST}:{port}/v1"


def check_port(port: int, component: str, env_var: str) -> None:
    if not processes.port_in_use(port, HOST):
        return
    hint = f"choose another port, e.g. {env_var}={port + 10} orchestrate server start"
    if component == "Letta server" and processes.http_ok(f"{letta_url(port)}/v1/health/"):
        raise ServerError(
            f"port {port} ({component}): a Letta server not started from this state directory "
            f"already answers there; use it with LETTA_BASE_URL={letta_url(port)}, stop it, or {hint}"
        )
    raise ServerError(
        f"port {port} ({component}) is already in use by another program; stop it or {hint}"
    )


# Letta's own database pool. Its default (no pooling: one new connection per session) opened
# connections without bound under load, past PostgreSQL's limit. A bounded pool makes a busy
# moment wait for a connection (up to the timeout) instead of failing with HTTP 500; the pool
# (size + overflow) stays well below venv_tasks.PG_SETTINGS' max_connections.
LETTA_POOL = {
    "LETTA_DISABLE_SQLALCHEMY_POOLING": "false",
    "LETTA_PG_POOL_SIZE": "40",
    "LETTA_PG_MAX_OVERFLOW": "40",
    "LETTA_PG_POOL_TIMEOUT": "120",
}


def letta_env(paths: StackPaths, pg_uri: str, model_base: str, api_key: str) -> dict:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(_DROP_PREFIXES) and k not in _DROP
    }
    env.update(
        HOME=str(paths.letta_home),
        PGUSER="postgres",
        LETTA_PG_URI=pg_uri,
        OPENAI_API_KEY=api_key,
        OPENAI_API_BASE=model_base,
        OPENAI_BASE_URL=model_base,  # Letta prefers this name when both are set
        PYTHONUNBUFFERED="1",  # so `orchestrate server logs -f letta` is live
        **LETTA_POOL,
    )
    # The embedded stack is local and single-user: the case Letta names for stdio MCP servers
    # (it disables them by default, for shared servers). A value the user set is kept.
    env.setdefault("MCP_DISABLE_STDIO", "false")
    return env


Record = Callable[[str, "dict | None"], None]  # (component, entry or None to forget it)


def start_model(
    paths: StackPaths, port: int, script: str | None, delay: float, record: Record
) -> dict:
    check_port(port, "local model endpoint", ENV_MODEL_PORT)
    cmd = [sys.executable, "-m", "orchestrator.server.model_endpoint", "--host", HOST]
    cmd += ["--port", str(port)]
    if script:
        cmd += ["--script", str(Path(script).resolve())]
    if delay:
        cmd += ["--delay", str(delay)]
    # A new token each start, in a file only the owner can read; the endpoint gets the
    # file's path (never the token on its command line, which `ps` shows everyone).
    write_private(paths.model_token, secrets.token_urlsafe(32) + "\n")
    cmd += ["--admin-token-file", str(paths.model_token)]
    env = {k: v for k, v in os.environ.items() if k != "ORCHESTRATE_MODEL_SCRIPT"}
    parents = (str(_PACKAGE_PARENT), env.get("PYTHONPATH"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in parents if p)
    env["PYTHONUNBUFFERED"] = "1"
    entry = {"port": port, "url": model_url(port), "external": False, "model_id": DEFAULT_MODEL_ID}
    entry["script"] = cmd[cmd.index("--script") + 1] if script else None
    return _launch(
        "model",
        cmd,
        env,
        paths.home,
        paths.log("model"),
        entry,
        record,
        health=f"http://{HOST}:{port}/health",
        timeout=MODEL_HEALTH_TIMEOUT,
        what="the local model endpoint",
    )


def start_letta(paths: StackPaths, port: int, env: dict, timeout: float, record: Record) -> dict:
    check_port(port, "Letta server", ENV_LETTA_PORT)
    private_dir(paths.letta_home)
    cmd = [str(paths.letta_bin), "server", "--host", HOST, "--port", str(port)]
    url = letta_url(port)
    # cwd is Letta's own home: its settings also read a `.env` from the working directory.
    return _launch(
        "letta",
        cmd,
        env,
        paths.letta_home,
        paths.log("letta"),
        {"port": port, "url": url},
        record,
        health=f"{url}/v1/health/",
        timeout=timeout,
        what="the Letta server",
    )


def _launch(
    name: str,
    cmd: list[str],
    env: dict,
    cwd: Path,
    log: Path,
    entry: dict,
    record: Record,
    *,
    health: str,
    timeout: float,
    what: str,
) -> dict:
    """Spawn, record at once (an interrupted start can still be stopped), wait until healthy."""
    pid, ticks = processes.spawn(cmd, env=env, log=log, cwd=cwd)
    entry = {**entry, "pid": pid, "ticks": ticks}
    record(name, entry)
    try:
        waited = processes.wait_http(health, pid=pid, timeout=timeout, what=what, log=log)
    except ServerError:
        processes.terminate(pid, ticks, timeout=10)
        record(name, None)
        raise
    entry["ready_seconds"] = round(waited, 1)
    record(name, entry)
    return entry
