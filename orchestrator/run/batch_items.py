"""The `ItemRunner` of this process: one batch item is one `start_run` / `resume_run`.

Owns `RunnerItems`. Which executor runs an item's steps is the run's own business
(`RunOptions.executor`: the local thread pool, or Temporal workers), so a batch works on
both the same way. Each item gets a backend of its own from `make_backend` (a Letta
backend bounds its calls by the run's deadline, counted from when it is made), the batch's
shared `Records` (thread-safe), the run options recorded with the batch, and the item's
cancel event, which cancels the run as Ctrl-C cancels a run. A run refused before it
started (the server went away, a `ref:` agent is missing) is a failed item with no run id;
every error is masked with the item's Redactor (its secret inputs, the API key).

Must not: schedule (the BatchDriver does) or print: a run's own events are dropped but its
warnings, which are handed on with the item's line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from orchestrator.backends.base import RunBackend
from orchestrator.compile.plan import Plan
from orchestrator.errors import OrchestrateError
from orchestrator.run.batch import EventSink, ItemResult
from orchestrator.run.inputs import resolve_inputs
from orchestrator.run.records import Records
from orchestrator.run.runner import RunOptions, RunOutcome, check_env, resume_run, start_run
from orchestrator.run.secrets import Redactor
from orchestrator.run.status import CANCELLED, FAILED, RUNNING, SUCCEEDED, RunStatus

_ENDED = frozenset({SUCCEEDED, FAILED, CANCELLED})  # a run that ended its item


class RunnerItems:
    def __init__(
        self,
        plan: Plan,
        records: Records,
        make_backend: Callable[[], RunBackend],
        *,
        options: RunOptions | None = None,
        api_key: str | None = None,
        emit: EventSink = lambda k, **d: None,
    ):
        self.plan, self.records, self.options = plan, records, options or RunOptions()
        self._make_backend, self._key, self._emit = make_backend, api_key, emit

    def check(self) -> None:
        check_env(self.plan)
        self._make_backend().check()

    def start(self, run_id: str, given: Mapping[str, Any], cancel: threading.Event) -> ItemResult:
        try:
            outcome = start_run(
                self.plan,
                given,
                self._make_backend(),
                self.records,
                options=self.options,
                api_key=self._key,
                run_id=run_id,
                cancel=cancel,
                emit=self._events(run_id),
            )
        except OrchestrateError as exc:
            recorded = self.records.run(run_id) is not None
            return ItemResult(
                FAILED, run_id if recorded else None, error=self._redactor(given).text(str(exc))
            )
        return _result(outcome)

    def resume(self, run_id: str, given: Mapping[str, Any], cancel: threading.Event) -> ItemResult:
        run = self.records.run(run_id)
        secret = set(run["secret_inputs"]) if run else set()
        try:
            # Every secret input again, those the line left to their default too (resume
            # asks for each secret input, since none was recorded).
            values = resolve_inputs(self.plan.inputs, given, Redactor())
            outcome = resume_run(
                run_id,
                self.plan,
                self._make_backend(),
                self.records,
                given_secrets={k: v for k, v in values.items() if k in secret},
                api_key=self._key,
                cancel=cancel,
                emit=self._events(run_id),
            )
        except OrchestrateError as exc:
            return ItemResult(FAILED, run_id, error=self._redactor(given).text(str(exc)))
        return _result(outcome)

    def recorded(self, run_id: str) -> ItemResult | None:
        run = self.records.run(run_id)
        if run is None:
            return None
        status: RunStatus = run["status"] if run["status"] in _ENDED else RUNNING
        return ItemResult(status, run_id, run.get("outputs"), run.get("error"))

    def _events(self, run_id: str) -> EventSink:
        def sink(kind: str, **data: Any) -> None:  # already redacted by the run
            if kind == "warning":
                self._emit("warning", message=f"run {run_id}: {data['message']}")

        return sink

    def _redactor(self, given: Mapping[str, Any]) -> Redactor:
        redactor = Redactor([self._key] if self._key else [])
        try:
            resolve_inputs(self.plan.inputs, given, redactor)  # registers the secret inputs
        except OrchestrateError:
            pass
        return redactor


def _result(outcome: RunOutcome) -> ItemResult:
    red = outcome.redactor
    outputs = red.data(outcome.outputs) if outcome.status == SUCCEEDED else None
    return ItemResult(outcome.status, outcome.run_id, outputs, red.text(outcome.error))
