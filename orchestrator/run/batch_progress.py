"""Showing a batch as it goes: one aggregate bar on a terminal, plain lines otherwise, JSON
lines for machines.

Owns the batch reporters (callables `emit(kind, **data)` fed by the batch driver from
worker threads) and `BatchTally`, the counts they share: done / failed / running, the rate
(items finished per second in this session) and the ETA. Events: batch_started,
item_started, item_finished (a bad line has `invalid: true` and an error that starts with
`FILE:LINE:`), warning, batch_finished (`summary`; the live bar stops). Text arriving here is already
redacted (run errors by the run's Redactor, bad-line messages never quote values).

Must not: decide anything about the batch.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import IO, Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.text import Text

from orchestrator.run.status import FAILED, SUCCEEDED


class BatchTally:
    def __init__(self) -> None:
        self.total = self.done = self.failed = self.running = self.session_done = 0
        self.began = time.monotonic()

    def update(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "batch_started":
            self.total, self.done, self.failed = data["total"], data["done"], data["failed"]
            self.began = time.monotonic()
        elif kind == "item_started":
            self.running += 1
        elif kind == "item_finished":
            if not data.get("invalid"):
                self.running = max(0, self.running - 1)
            if data["status"] in (SUCCEEDED, FAILED):
                self.done += 1
                self.session_done += not data.get("invalid")  # the rate counts runs only
                self.failed += data["status"] == FAILED

    def rate(self) -> float:
        elapsed = time.monotonic() - self.began
        return self.session_done / elapsed if elapsed > 0 else 0.0

    def eta(self) -> str:
        rate, left = self.rate(), self.total - self.done
        if not left:
            return "0:00"
        if rate <= 0:
            return "?"
        seconds = int(left / rate)
        return f"{seconds // 60}:{seconds % 60:02d}"

    def text(self) -> str:
        return (
            f"{self.done}/{self.total} done · {self.failed} failed · {self.running} "
            f"running · {self.rate():.2f} items/s · ETA {self.eta()}"
        )


def item_line(data: dict[str, Any]) -> str:
    if data.get("invalid"):
        return f"{data['error']}"
    text = f"line {data['line']}: {data['status'].replace('_', ' ')}"
    if data.get("run_id"):
        text += f" (run {data['run_id']})"
    if data.get("error") and data["status"] != SUCCEEDED:
        text += f": {data['error']}"
    return text


def started_line(data: dict[str, Any]) -> str:
    if data["resumed"]:
        head = (
            f"resuming batch {data['batch_id']} of {data['pipeline']}: {data['done']} of "
            f"{data['total']} lines already done"
        )
    else:
        head = f"starting batch {data['batch_id']} of {data['pipeline']}: {data['total']} lines"
    return (
        f"{head} from {data['file']}, {data['concurrency']} at a time; results: {data['results']}"
    )


def finished_line(summary: Any) -> str:
    doc = summary.to_json()
    text = (
        f"batch {doc['batch_id']} {doc['status']}: {doc['succeeded']} succeeded, "
        f"{doc['failed']} failed"
    )
    if doc["invalid"]:
        text += f" ({doc['invalid']} bad lines)"
    if doc["cancelled"] or doc["not_started"]:
        text += f", {doc['cancelled']} cancelled, {doc['not_started']} not started"
    return text + f" of {doc['total']} in {doc['duration']:.1f}s; results: {doc['results']}"


class PlainBatchReporter:
    """One line per item state change on stderr (CI logs, pipes)."""

    def __init__(self, out: IO[str] | None = None):
        self.out = out or sys.stderr
        self.tally = BatchTally()
        self._lock = threading.Lock()

    def __call__(self, kind: str, **data: Any) -> None:
        with self._lock:
            self.tally.update(kind, data)
            line = self._line(kind, data)
            if line is not None:
                self.out.write(line + "\n")
                self.out.flush()

    def _line(self, kind: str, data: dict[str, Any]) -> str | None:
        if kind == "batch_started":
            return started_line(data)
        if kind == "item_started":
            verb = "resuming" if data["resumed"] else "started"
            return f"line {data['line']}: {verb} (run {data['run_id']})"
        if kind == "item_finished":
            return f"{item_line(data)} [{self.tally.text()}]"
        if kind == "warning":
            return f"warning: {data['message']}"
        return None  # batch_finished: the CLI prints the summary on stdout


class JsonBatchReporter:
    """JSON lines on stdout, one per item state change; the CLI prints the summary."""

    def __init__(self, out: IO[str] | None = None):
        self.out = out or sys.stdout
        self._lock = threading.Lock()

    def __call__(self, kind: str, **data: Any) -> None:
        if kind == "batch_finished":
            return
        with self._lock:
            self.out.write(json.dumps({"event": kind, **data}, default=str) + "\n")
            self.out.flush()


class LiveBatchReporter:
    """One bar that updates in place; failed items and warnings are printed above it."""

    def __init__(self, console: Console):
        self.console = console
        self.tally = BatchTally()
        self._lock = threading.Lock()
        self._live: Live | None = None

    def __call__(self, kind: str, **data: Any) -> None:
        with self._lock:
            self.tally.update(kind, data)
            if kind == "batch_started":
                self.console.print(started_line(data), markup=False, highlight=False)
                # made now: a Live renders its first frame when it is made
                self._live = Live(
                    console=self.console,
                    refresh_per_second=4,
                    transient=False,
                    get_renderable=self._render,
                )
                self._live.start()
            elif self._live is None:
                return
            elif kind == "item_finished" and data["status"] != SUCCEEDED:
                self._live.console.print(Text(item_line(data), style="red"))
            elif kind == "warning":
                self._live.console.print(Text(f"warning: {data['message']}", style="yellow"))
            elif kind == "batch_finished":
                self._live.refresh()
                self._live.stop()

    def _render(self) -> Group:
        t = self.tally
        return Group(ProgressBar(total=max(t.total, 1), completed=t.done, width=40), Text(t.text()))


def make_batch_reporter(
    *, as_json: bool, console: Console | None = None
) -> JsonBatchReporter | LiveBatchReporter | PlainBatchReporter:
    if as_json:
        return JsonBatchReporter()
    console = console or Console(stderr=True)
    if console.is_terminal:
        return LiveBatchReporter(console)
    return PlainBatchReporter()
