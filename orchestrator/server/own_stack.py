"""Recognising orchestrate's own stack on a busy port (one started from another state dir).

Owns `check_model_port`: when the local model endpoint's port is taken by orchestrate's
own model endpoint, the error names the state dir of the stack that holds it and how to
use or stop that one, instead of "in use by another program". Reads only its /health.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from orchestrator.errors import ServerError

from .model_endpoint.http_server import SERVICE
from .paths import ENV_HOME, ENV_MODEL_PORT

HOST = "127.0.0.1"


def model_endpoint_home(port: int, timeout: float = 2.0) -> tuple[bool, str | None]:
    """(is orchestrate's model endpoint, the state dir it reports) for what answers `port`."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=timeout) as resp:
            body = json.loads(resp.read(65536) or b"{}")
    except (urllib.error.URLError, OSError, ValueError):
        return False, None
    if not isinstance(body, dict):
        return False, None
    # Endpoints from before `service` was reported answered {"status", "model"} only.
    ours = body.get("service") == SERVICE or (
        body.get("status") == "ok" and set(body) == {"status", "model"}
    )
    home = body.get("home")
    return ours, home if ours and isinstance(home, str) else None


def check_model_port(port: int, home: Path) -> None:
    """Raise a ServerError naming the other stack if orchestrate's own endpoint holds `port`."""
    ours, other = model_endpoint_home(port)
    if not ours:
        return
    move = f"or choose another port, e.g. {ENV_MODEL_PORT}={port + 10} orchestrate server start"
    if other is None:
        raise ServerError(
            f"port {port} (local model endpoint) is used by orchestrate's own local model "
            f"endpoint, of a stack started from another state directory than {home}: stop "
            f"that stack (`orchestrate server stop` with its {ENV_HOME}), {move}"
        )
    if Path(other).resolve() == home:
        return  # ours after all (a stale state file): the normal port check reports it
    raise ServerError(
        f"port {port} (local model endpoint) is used by orchestrate's own stack of the state "
        f"directory {other}, not this one ({home}): use that stack with {ENV_HOME}={other}, "
        f"stop it with `{ENV_HOME}={other} orchestrate server stop`, {move}"
    )
