"""What step code needs from its surroundings, bundled: `Services`.

Owns the `Services` bundle (backend, records, redactor, agent pool, event sink, cancel flag,
the memo of an earlier attempt of this run) and the `Cancelled` exception. An executor (the
local thread pool today, a Temporal worker later) builds one per run and hands it to
`run.flow.run_step`; the step semantics never reach for globals.

Must not: decide when steps run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.backends.base import RunBackend
from orchestrator.errors import RunError
from orchestrator.run.records import Records, UnitKey
from orchestrator.run.secrets import Redactor

EventSink = Callable[..., None]  # emit(kind: str, **data)


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
    cancel_reason: str = "cancelled"
    stream: bool = False
    memo: dict[UnitKey, dict] = field(default_factory=dict)  # unit rows of an earlier attempt

    def check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise Cancelled(self.cancel_reason)

    def sleep(self, seconds: float) -> None:
        """Backoff that a cancel interrupts at once."""
        if self.cancel.wait(seconds):
            raise Cancelled(self.cancel_reason)
