"""A tiny client for the local model endpoint's admin routes (tests, benchmarks, demos).

Owns `ModelAdmin`: set or read the script, reset counters and the request log, read the log
of chat requests the model received. Standard library only.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class ModelAdmin:
    def __init__(self, url: str, timeout: float = 10.0):
        # Accept the OpenAI base (".../v1") or the server root.
        self.root = url.rstrip("/").removesuffix("/v1")
        self.timeout = timeout

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
        req = urllib.request.Request(
            self.root + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise ValueError(f"model endpoint {method} {path}: HTTP {exc.code}: {detail}") from None
