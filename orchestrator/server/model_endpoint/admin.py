"""A tiny client for the local model endpoint's admin routes (tests, benchmarks, demos).

Owns `ModelAdmin`: set or read the script, reset counters and the request log, read the log
of chat requests the model received; and `admin_token`, how a tool finds the token the admin
routes want: $ORCHESTRATE_MODEL_ADMIN_TOKEN, else STATE/model-admin.token, the file `server
start` writes (0600) for the endpoint it starts. Without a token given, ModelAdmin looks for
the token of the stack in the state dir (orchestrator.home) when that stack's endpoint is
the one at `url`; no token found (a stack started before tokens, an endpoint run by hand
without one): no header is sent, as before. Standard library only; never prints the token.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from orchestrator.home import state_home

TOKEN_FILE = "model-admin.token"
ENV_TOKEN = "ORCHESTRATE_MODEL_ADMIN_TOKEN"


def admin_token(home: str | os.PathLike[str] | None = None) -> str | None:
    """The admin token: $ORCHESTRATE_MODEL_ADMIN_TOKEN, else the state dir's token file."""
    if os.environ.get(ENV_TOKEN):
        return os.environ[ENV_TOKEN].strip()
    try:
        return (Path(home) if home else state_home()).joinpath(
            TOKEN_FILE
        ).read_text().strip() or None
    except OSError:
        return None


def _stack_token(root: str) -> str | None:
    """The token of the state dir's stack, if its model endpoint listens where `root` says."""
    home = state_home()
    try:
        model = json.loads((home / "server.json").read_text()).get("model") or {}
    except (OSError, ValueError, AttributeError):
        model = {}
    port = urllib.parse.urlsplit(root).port
    if os.environ.get(ENV_TOKEN) or (port is not None and model.get("port") == port):
        return admin_token(home)
    return None


class ModelAdmin:
    def __init__(self, url: str, timeout: float = 10.0, token: str | None = None):
        # Accept the OpenAI base (".../v1") or the server root.
        self.root = url.rstrip("/").removesuffix("/v1")
        self.timeout = timeout
        self._token = token or _stack_token(self.root)

    def __repr__(self) -> str:  # never the token
        return f"ModelAdmin({self.root!r})"

    def set_script(self, rules: Any) -> int:
        """Replace the script (a list of rules or {"rules": [...]}); resets its counters."""
        return int(self._call("POST", "/_admin/script", rules)["rules"])

    def script(self) -> list:
        return self._call("GET", "/_admin/script")["rules"]

    def reset(self) -> None:
        """Clear rule counters and the request log (the script stays)."""
        self._call("POST", "/_admin/reset", {})

    def requests(self, agent_id: str | None = None) -> list[dict]:
        """Chat requests received since the last reset, oldest first."""
        entries = self._call("GET", "/_admin/requests")["requests"]
        return [e for e in entries if agent_id is None or e.get("agent_id") == agent_id]

    def healthy(self) -> bool:
        try:
            return self._call("GET", "/health").get("status") == "ok"
        except (OSError, ValueError):
            return False

    def _call(self, method: str, path: str, body: Any = None) -> dict:
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        req = urllib.request.Request(self.root + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise ValueError(f"model endpoint {method} {path}: HTTP {exc.code}: {detail}") from None
