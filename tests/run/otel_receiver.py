"""The real OTLP receiver the trace tests export to: the Arize Phoenix of the test stack
(`orchestrate server start --traces`), read back through its own REST API.

`receiver(home)` finds it (the stack's server.json, else ORCHESTRATE_PHOENIX_PORT or 6006 on
127.0.0.1); when none answers the tests skip, saying how to start one, except under
CI=true, where they fail (CI starts it: a skipped trace test there would hide a break).
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator.server import phoenix, state
from orchestrator.server.paths import StackPaths


@dataclass(frozen=True)
class Receiver:
    url: str

    @property
    def traces_endpoint(self) -> str:
        return f"{self.url}/v1/traces"

    def spans(
        self, run_id: str, *, want: int = 1, timeout: float = 30.0, settle: float = 1.0
    ) -> list[dict[str, Any]]:
        """Every span carrying `orchestrate.run.id == run_id` (Phoenix's REST API), once at
        least `want` arrived and no new one came for `settle` seconds (it inserts batches
        asynchronously)."""
        deadline, found, last_change = time.monotonic() + timeout, [], time.monotonic()
        while time.monotonic() < deadline:
            now = self._query(run_id)
            if len(now) != len(found):
                found, last_change = now, time.monotonic()
            elif len(found) >= want and time.monotonic() - last_change >= settle:
                return found
            time.sleep(0.3)
        if len(found) >= want:
            return found
        raise AssertionError(
            f"Phoenix at {self.url} has {len(found)} spans of run {run_id} "
            f"after {timeout:.0f} s (wanted {want})"
        )

    def _query(self, run_id: str) -> list[dict[str, Any]]:
        # the trace first (one root span per run), then all its spans
        roots = self._get({"attribute": f"orchestrate.run.id:{run_id}", "limit": "1000"})
        traces = sorted({s["context"]["trace_id"] for s in roots})
        if not traces:
            return []
        spans = self._get([("trace_id", t) for t in traces] + [("limit", "1000")])
        return [s for s in spans if s["attributes"].get("orchestrate.run.id") == run_id]

    def _get(self, query: Any) -> list[dict[str, Any]]:
        url = f"{self.url}/v1/projects/default/spans?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            return json.load(answer)["data"]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def receiver(home: Path) -> Receiver:
    entry = state.read(StackPaths.resolve(home)).get("phoenix") or {}
    candidates = [entry.get("url")] if entry.get("url") else []
    candidates.append(phoenix.url(phoenix.default_port()))
    for url in candidates:
        if _answers(url):
            return Receiver(url)
    reason = (
        "no OTLP receiver (Phoenix) answers at "
        + ", ".join(candidates)
        + ": start it with `orchestrate server start --traces`"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " (CI=true: .ci/run starts it, so this is a failure)")
    pytest.skip(reason)


def by_name(spans: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [s for s in spans if s["name"].startswith(prefix)]


def children(spans: list[dict[str, Any]], parent: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in spans if s["parent_id"] == parent["context"]["span_id"]]
