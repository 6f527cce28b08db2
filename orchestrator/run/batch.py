"""Batch scheduling: run many items (one pipeline run each) at most N at a time.

Owns the seam an executor plugs into — `ItemRunner` (start one item's run, resume one,
read what a run's records say, a pre-flight check) and its `ItemResult` — and
`BatchDriver`, which only schedules: up to `concurrency` items at once on daemon threads,
each item's run id written to the batch records *before* its run starts, its result line
written (and flushed) the moment it finishes, then its final status recorded. Ctrl-C (a
KeyboardInterrupt in the thread that drives) or `cancel()` stops starting items and sets
every running item's cancel event, which cancels its run as Ctrl-C cancels a run (marked
`cancelled`, resumable); items never started stay `pending`.

Events (`emit(kind, **data)`, from worker threads): item_started (line, run_id, resumed),
item_finished (line, run_id, status, error), warning (message).

Must not: know how one run executes (the local executor, Temporal: that is the
`ItemRunner`'s business), read the batch file, or see a secret (results arrive redacted).
"""

from __future__ import annotations

import queue
import secrets as pysecrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from orchestrator.run.batch_records import BatchRecords
from orchestrator.run.batch_results import ResultsFile
from orchestrator.run.status import (
    CANCELLED,
    FAILED,
    FINISHED_ITEM,
    SUCCEEDED,
    ItemStatus,
    RunStatus,
)

POLL = 0.1  # seconds between checks for a finished item (Ctrl-C lands here)
GRACE = 15.0  # seconds a cancelled batch waits for its running items to record themselves
EventSink = Callable[..., None]


@dataclass(frozen=True)
class ItemResult:
    """One item's run, as it ended (or as its records say). `outputs` and `error` are
    already redacted; `run_id` is None when no run was recorded (a pre-flight refusal)."""

    status: RunStatus  # succeeded | failed | cancelled | running (recorded only: never finished)
    run_id: str | None
    outputs: dict[str, Any] | None = None
    error: str | None = None


class ItemRunner(Protocol):
    """How one item's run executes. The batch driver calls these from worker threads (at
    most `concurrency` at once); each must return (not raise) for anything a run can end
    with, and return promptly once `cancel` is set, its run recorded as cancelled."""

    def check(self) -> None:
        """Before the first item: raise an OrchestrateError if no item could run (the
        server does not answer, an `${env:VAR}` the pipeline reads is not set)."""

    def start(self, run_id: str, given: Mapping[str, Any], cancel: threading.Event) -> ItemResult:
        """A new run with this id, of these (already checked) inputs."""

    def resume(self, run_id: str, given: Mapping[str, Any], cancel: threading.Event) -> ItemResult:
        """Continue a run that started but did not finish (`given`: the line again, for
        inputs that are secret and so not recorded)."""

    def recorded(self, run_id: str) -> ItemResult | None:
        """The run as its records say (None: never recorded)."""


@dataclass(frozen=True)
class Work:
    line: int
    given: Mapping[str, Any]
    run_id: str | None = None  # a run id already written for this line
    resume: bool = False  # True: that run started: resume it; False: start it


def new_batch_id() -> str:
    return "batch-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + pysecrets.token_hex(3)


class BatchDriver:
    def __init__(
        self,
        batch_id: str,
        records: BatchRecords,
        results: ResultsFile,
        runner: ItemRunner,
        *,
        concurrency: int,
        emit: EventSink,
        new_run_id: Callable[[], str],
    ):
        self.batch_id, self.records, self.results = batch_id, records, results
        self.runner, self.emit = runner, emit
        self.concurrency = max(1, concurrency)
        self._new_run_id = new_run_id
        self._ids: set[str] = set()
        self._stop = threading.Event()
        self._cancels: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def cancel(self) -> None:
        """Stop starting items and cancel the running ones (any thread)."""
        self._stop.set()
        with self._lock:
            events = list(self._cancels.values())
        for event in events:
            event.set()

    def drive(self, work: list[Work]) -> None:
        """Run every item of `work` (in order, `concurrency` at once) until all have
        finished or the batch is cancelled (Ctrl-C here, or `cancel()`)."""
        todo = list(reversed(work))
        done: queue.Queue[int] = queue.Queue()
        running = 0
        try:
            while (todo and not self._stop.is_set()) or running:
                while todo and running < self.concurrency and not self._stop.is_set():
                    self._spawn(todo.pop(), done)
                    running += 1
                try:
                    done.get(timeout=POLL)
                    running -= 1
                except queue.Empty:
                    continue
        except KeyboardInterrupt:
            self.cancel()
            self._drain(done, running)

    def _drain(self, done: queue.Queue[int], running: int) -> None:
        """After a cancel: give running items a moment to record themselves cancelled (a
        second Ctrl-C stops waiting; whatever is left is resumed like a killed process)."""
        end = time.monotonic() + GRACE
        try:
            while running and time.monotonic() < end:
                try:
                    done.get(timeout=POLL)
                    running -= 1
                except queue.Empty:
                    continue
        except KeyboardInterrupt:
            pass
        if running:
            self.emit(
                "warning",
                message=f"{running} item(s) did not stop in time; "
                "`orchestrate resume` reconciles them",
            )

    def _spawn(self, item: Work, done: queue.Queue[int]) -> None:
        cancel = threading.Event()
        with self._lock:
            self._cancels[item.line] = cancel
        if self._stop.is_set():
            cancel.set()
        threading.Thread(
            target=self._work,
            args=(item, cancel, done),
            name=f"batch-line-{item.line}",
            daemon=True,
        ).start()

    def _work(self, item: Work, cancel: threading.Event, done: queue.Queue[int]) -> None:
        try:
            self._run_item(item, cancel)
        except Exception as exc:  # noqa: BLE001 - records trouble must not hang the batch
            self.emit(
                "warning", message=f"line {item.line}: unexpected {type(exc).__name__}: {exc}"
            )
        finally:
            with self._lock:
                self._cancels.pop(item.line, None)
            done.put(item.line)

    def _run_item(self, item: Work, cancel: threading.Event) -> None:
        run_id = item.run_id or self._fresh_run_id()
        self.records.item_running(self.batch_id, item.line, run_id)  # before the run exists
        self.emit("item_started", line=item.line, run_id=run_id, resumed=item.resume)
        call = self.runner.resume if item.resume else self.runner.start
        try:
            result = call(run_id, item.given, cancel)
        except Exception as exc:  # noqa: BLE001 - one item's bug must not stop the batch
            result = ItemResult(
                FAILED,
                run_id if item.resume else None,
                error=f"unexpected {type(exc).__name__} (a bug: please report it)",
            )
        self.settle(item.line, result)

    def settle(self, line: int, result: ItemResult, *, write: bool = True) -> None:
        """Record how an item ended: a finished one gets its result line first (so the
        records never call an item finished whose result is not in the file). `write`
        False: the file already has it (a crash came between the two)."""
        # its run succeeded or failed; anything else (Ctrl-C, a gate that waits) is resumable
        status: ItemStatus = result.status if result.status in (SUCCEEDED, FAILED) else CANCELLED
        if status in FINISHED_ITEM and write:
            self.results.write(
                line,
                run_id=result.run_id,
                status=status,
                outputs=result.outputs,
                error=result.error,
            )
        self.records.item_done(
            self.batch_id, line, status, run_id=result.run_id, error=result.error
        )
        self.emit(
            "item_finished", line=line, run_id=result.run_id, status=status, error=result.error
        )

    def _fresh_run_id(self) -> str:
        with self._lock:
            while True:
                run_id = self._new_run_id()
                if run_id not in self._ids:  # ids are per second + 24 random bits
                    self._ids.add(run_id)
                    return run_id
