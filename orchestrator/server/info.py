"""The value objects of the stack API: start options, what `start` returns, what `status` sees.

Owns `StartOptions` (with its environment defaults), `StackInfo`, `ComponentStatus` and
`StackStatus`. Data only: no I/O beyond reading the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import ServerError

from .paths import (
    DEFAULT_LETTA_PORT,
    DEFAULT_MODEL_PORT,
    ENV_LETTA_PORT,
    ENV_MODEL_BASE,
    ENV_MODEL_KEY,
    ENV_MODEL_PORT,
    ENV_MODEL_SCRIPT,
    port_from_env,
    start_timeout,
)


@dataclass(frozen=True)
class StartOptions:
    letta_port: int = DEFAULT_LETTA_PORT
    model_port: int = DEFAULT_MODEL_PORT
    model_base_url: str | None = None  # an external OpenAI-compatible endpoint instead of ours
    model_api_key: str | None = field(default=None, repr=False)
    model_script: str | None = None
    model_delay: float = 0.0
    timeout: float = 240.0

    def __post_init__(self) -> None:
        for name in ("letta_port", "model_port"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
                flag = "--" + name.replace("_", "-")
                raise ServerError(f"{flag} {value!r} is not a TCP port (1-65535)")

    @classmethod
    def from_env(cls, **overrides: Any) -> StartOptions:
        values: dict[str, Any] = {
            "letta_port": port_from_env(ENV_LETTA_PORT, DEFAULT_LETTA_PORT),
            "model_port": port_from_env(ENV_MODEL_PORT, DEFAULT_MODEL_PORT),
            "model_base_url": os.environ.get(ENV_MODEL_BASE) or None,
            "model_api_key": os.environ.get(ENV_MODEL_KEY)
            or os.environ.get("OPENAI_API_KEY")
            or None,
            "model_script": os.environ.get(ENV_MODEL_SCRIPT) or None,
            "timeout": start_timeout(),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass(frozen=True)
class StackInfo:
    home: Path
    base_url: str
    model_url: str | None  # the local endpoint; None when an external one is used
    model_base_url: str  # what Letta uses as OPENAI_API_BASE
    model_handle: str | None
    embedding_handle: str
    already_running: bool
    installed: bool  # this call installed the server venv
    seconds: float
    pids: dict[str, int]


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    running: bool
    pid: int | None = None
    url: str | None = None
    port: int | None = None
    healthy: bool | None = None
    rss_bytes: int | None = None
    tree_rss_bytes: int | None = None
    log: Path | None = None
    detail: str = ""


@dataclass(frozen=True)
class StackStatus:
    home: Path
    components: tuple[ComponentStatus, ...]
    cleaned: tuple[str, ...] = ()  # stale entries removed while reading

    @property
    def running(self) -> bool:
        return bool(self.components) and all(c.running for c in self.components)

    @property
    def base_url(self) -> str | None:
        letta = self.component("letta")
        return letta.url if letta and letta.running else None

    def component(self, name: str) -> ComponentStatus | None:
        return next((c for c in self.components if c.name == name), None)
