"""What step code needs from its surroundings, bundled: `Services`.

Owns the `Services` bundle (backend, records, redactor, agent pool, event sink, cancel flag,
the memo of an earlier attempt of this run, the price table, the budget), the once-per-step progress events
(`step_started`, `step_waiting`), the `Cancelled` exception and `stop`: why a run was
stopped, as a value (`timed_out`: its time limit, so it fails; otherwise it is `cancelled`)
beside the words said to people (`cancel_reason`), so nothing decides by parsing them. An executor (the
local thread pool today, a Temporal worker later) builds one per run and hands it to
`run.flow.run_step`; the step semantics never reach for globals.

Must not: decide when steps run.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.backends.base import RunBackend
from orchestrator.errors import RunError
from orchestrator.run.budget import Budget
from orchestrator.run.context import StepResult
from orchestrator.run.cost import PriceTable, load_prices
from orchestrator.run.records import Records, UnitKey
from orchestrator.run.secrets import Redactor

EventSink = Callable[..., None]  # emit(kind: str, **data)

CTRL_C = "cancelled (Ctrl-C)"  # the reason a run stopped by Ctrl-C gives
TIMED_OUT = "the run timed out"  # the reason a run stopped at its time limit gives


def redacting(emit: EventSink, redactor: Redactor) -> EventSink:
    """`emit`, with every secret masked in what it is given: the one gate all run events
    (and so progress, logs and --json) pass through, so no event can carry a secret, even
    text quoting the agent's reply (a JSON repair reason, a streamed chunk, an error)."""

    def sink(kind: str, **data: Any) -> None:
        emit(kind, **{k: _redact(v, redactor) for k, v in data.items()})

    return sink


def _redact(value: Any, redactor: Redactor) -> Any:
    if not redactor:
        return value
    if isinstance(value, StepResult):
        return dataclasses.replace(
            value, error=redactor.text(value.error), output=redactor.data(value.output)
        )
    return redactor.data(value)  # strings, lists, mappings; other values pass through


class Cancelled(RunError):
    """The run was cancelled (Ctrl-C, run timeout) while this step waited or ran."""


@dataclass
class Services:
    run_id: str
    backend: RunBackend
    records: Records
    redactor: Redactor
    agents: Any  # run.agents.AgentPool (Any: avoids an import cycle in type checking only)
    emit: EventSink = lambda kind, **data: None
    cancel: threading.Event = field(default_factory=threading.Event)
    cancel_reason: str = "cancelled"  # why it was cancelled, for people (the run's error)
    timed_out: bool = False  # the cancel came from the run's time limit: the run fails
    stream: bool = False
    memo: dict[UnitKey, dict] = field(default_factory=dict)  # unit rows of an earlier attempt
    max_parallel: int = 4  # also bounds the items of one for_each running at once
    prices: PriceTable = field(default_factory=load_prices)  # what a unit's tokens cost
    budget: Budget = field(default_factory=Budget)  # what the run and its steps may spend
    # a traced run's trace context for workers in other processes (run.otel.for_workers)
    trace: dict[str, Any] | None = None
    _began: dict[str, float] = field(default_factory=dict)  # step -> time.monotonic()
    _waiting: set[str] = field(default_factory=set)
    _events: threading.Lock = field(default_factory=threading.Lock)

    def step_began(self, step: str) -> None:
        """`step_started`, once per top-level step, when it really starts work: its first
        unit has an agent (copy) to itself, possibly still to be created, or needed none;
        not when the executor handed it a thread."""
        with self._events:
            if step in self._began:
                return
            self._began[step] = time.monotonic()
        self.emit("step_started", step=step)

    def began_at(self, step: str, default: float) -> float:
        """When `step_began(step)` was (time.monotonic), else `default`: a step's duration
        counts from then, not from the time it spent waiting for its agent."""
        return self._began.get(step, default)

    def step_waits(self, step: str, agent: str, replicas: int) -> None:
        """`step_waiting`, once, when a step that has not started must wait for its agent
        (every copy busy with other steps)."""
        with self._events:
            if step in self._began or step in self._waiting:
                return
            self._waiting.add(step)
        self.emit("step_waiting", step=step, agent=agent, replicas=replicas)

    def stop(self, reason: str, *, timed_out: bool = False) -> None:
        """Cancel the run: Ctrl-C (`CTRL_C`) or its time limit (`TIMED_OUT`, `timed_out`)."""
        self.cancel_reason, self.timed_out = reason, timed_out
        self.cancel.set()

    def check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise Cancelled(self.cancel_reason)

    def sleep(self, seconds: float) -> None:
        """Backoff that a cancel interrupts at once."""
        if self.cancel.wait(seconds):
            raise Cancelled(self.cancel_reason)
