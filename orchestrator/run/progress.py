"""Showing a run as it happens: a live table on a terminal, plain lines otherwise, JSON lines
for machines; and the end-of-run summary.

Owns the reporters (callables `emit(kind, **data)` fed by the runner, from worker threads)
and `summary_rows` / `outcome_json`. Events: run_started, step_waiting (the step is ready but
every copy of its agent is busy: it has not started), step_started (it got its agent and
works), step_retry, step_reconciled, step_cached (a `cache: true` unit took an earlier
run's output), approval_waiting / approval_decided (run.approval), loop_iteration, chunk (with --stream), step_finished,
warning, run_finished. A step the run stopped before it began finishes `not_started`.
Text arriving here is already redacted: every event passes the run's Redactor
(run.services.redacting); outputs are redacted again before printing. Text from models,
users and pipeline files is data: the live view prints it as `rich.text.Text`, never
through console markup (`[red]` in a reply stays `[red]`, `[/i]` cannot fail a run).

Must not: decide anything about the run.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import IO, Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from orchestrator.run.context import StepResult
from orchestrator.run.cost import Cost
from orchestrator.run.status import (
    BLOCKED,
    CANCELLED,
    FAILED,
    NOT_STARTED,
    PENDING,
    REJECTED,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    WAITING_APPROVAL,
)

# pending: upstream not done; "waiting for <agent>": ready
ICONS = {
    SUCCEEDED: "ok",
    FAILED: "FAILED",
    SKIPPED: "skipped",
    BLOCKED: "blocked",
    CANCELLED: "cancelled",
    RUNNING: "running",
    "waiting": "waiting",
    PENDING: "pending",
    NOT_STARTED: "not started",
    WAITING_APPROVAL: "waiting for approval",
    REJECTED: "REJECTED",
}


def waiting_text(data: dict) -> str:
    copies = data["replicas"]
    busy = "busy" if copies == 1 else f"all {copies} copies busy"
    return f"waiting for agent {data['agent']} ({busy})"


def step_summary(name: str, result: StepResult) -> dict[str, Any]:
    data = {
        "step": name,
        "status": result.status,
        "duration": round(result.duration, 3),
        "prompt_tokens": result.usage.prompt_tokens,
        "completion_tokens": result.usage.completion_tokens,
        "attempts": result.usage.attempts,
        "reused": result.reused,
        "cached": result.cached,
        "cost_usd": result.usage.cost.usd_or_none(),
    }
    if result.approval is not None:
        data["approval"] = result.approval
    if result.usage.unpriced_tokens:
        data["unpriced_tokens"] = result.usage.unpriced_tokens
    if result.usage.repairs:
        data["repairs"] = result.usage.repairs
    if result.iterations is not None:
        data["iterations"] = result.iterations
    if result.error:
        data["error"] = result.error
    return data


def outcome_json(outcome: Any) -> dict[str, Any]:
    red = outcome.redactor
    return {
        "run_id": outcome.run_id,
        "status": outcome.status,
        "duration": round(outcome.duration, 3),
        "outputs": red.data(outcome.outputs),
        "error": outcome.error,
        "usage": totals_json(outcome.totals),
        "steps": [step_summary(n, r) for n, r in outcome.results.items()],
    }


def totals_json(totals: dict[str, Any]) -> dict[str, Any]:
    """A run's tokens and cost (Records.usage_totals): `cost_usd` is None when any of its
    tokens had no price (`unpriced_tokens` says how many; `cost_usd_priced` the rest)."""
    prompt, completion = totals.get("prompt_tokens", 0), totals.get("completion_tokens", 0)
    cost = Cost(totals.get("cost", 0.0), totals.get("unpriced_tokens", 0))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "tokens": prompt + completion,
        "cost_usd": cost.usd_or_none(),
        "cost_usd_priced": round(cost.usd, 6),
        "unpriced_tokens": cost.unpriced_tokens,
    }


class PlainReporter:
    """One line per event on stderr (CI logs, pipes)."""

    def __init__(self, stream: bool = False, out: IO[str] | None = None):
        self.out = out or sys.stderr
        self.stream = stream
        self._lock = threading.Lock()
        self._began = time.monotonic()

    def __call__(self, kind: str, **data: Any) -> None:
        line = self._line(kind, data)
        if line is not None:
            with self._lock:
                self.out.write(f"[{time.monotonic() - self._began:7.2f}s] {line}\n")
                self.out.flush()

    def _line(self, kind: str, data: dict) -> str | None:
        if kind == "run_started":
            verb = "resuming" if data["resumed"] else "starting"
            return f"{verb} run {data['run_id']} of {data['pipeline']} ({len(data['steps'])} steps)"
        if kind == "step_waiting":
            return f"{data['step']}: {waiting_text(data)}"
        if kind == "step_started":
            return f"{data['step']}: started"
        if kind == "step_retry":
            return f"{data['step']}: retry in {data['delay']:.2f}s after: {data['error']}"
        if kind == "step_cached":
            return f"{data['step']}: cached (the output of run {data['from_run']}; not sent)"
        if kind == "approval_waiting":
            return f"{data['step']}: waiting for approval ({data['stage']}): {data['prompt']}"
        if kind == "approval_decided":
            word = "approved" if data["approved"] else "rejected"
            why = f": {data['comment']}" if data.get("comment") else ""
            return f"{data['step']}: {word} by {data['by']}{why}"
        if kind == "step_reconciled":
            return f"{data['step']}: reply recovered from the agent's history (not sent again)"
        if kind == "loop_iteration":
            return f"{data['step']}: iteration {data['iteration']} done"
        if kind == "chunk":
            return f"{data['step']} > {data['text']}" if self.stream else None
        if kind == "step_finished":
            return _finished_line(data["step"], data["result"])
        if kind == "warning":
            return f"warning: {data['message']}"
        if kind == "run_finished":
            o = data["outcome"]
            return f"run {o.run_id} {o.status} in {o.duration:.2f}s" + (
                f" ({totals_text(o.totals)})" if o.totals else ""
            )
        return None


def totals_text(totals: dict[str, Any]) -> str:
    tokens = totals.get("prompt_tokens", 0) + totals.get("completion_tokens", 0)
    cost = Cost(totals.get("cost", 0.0), totals.get("unpriced_tokens", 0))
    return f"{tokens} tokens, {cost.text()}"


def _finished_line(name: str, r: StepResult) -> str:
    if r.status == NOT_STARTED:
        return f"{name}: not started ({r.error})" if r.error else f"{name}: not started"
    text = f"{name}: {ICONS.get(r.status, r.status)} in {r.duration:.2f}s"
    if r.usage.tokens:
        text += f", {r.usage.tokens} tokens, {r.usage.cost.text()}"
    if r.reused:
        text += " (reused from the earlier attempt)"
    if r.cached:
        text += " (cached: an earlier run's output)"
    if r.error and r.status != SKIPPED:
        text += f": {r.error}"
    return text


class JsonReporter:
    """JSON lines on stdout, one per event (`--json`); the CLI prints the final document."""

    def __init__(self, out: IO[str] | None = None):
        self.out = out or sys.stdout
        self._lock = threading.Lock()

    def __call__(self, kind: str, **data: Any) -> None:
        if kind == "run_finished":
            return  # the CLI prints the outcome as the last line
        if kind == "step_finished":
            data = {"step": data["step"], **step_summary(data["step"], data["result"])}
        with self._lock:
            self.out.write(json.dumps({"event": kind, **data}, default=str) + "\n")
            self.out.flush()


class LiveReporter:
    """A rich table that updates in place: step, state, elapsed, tokens, cost."""

    def __init__(self, console: Console, stream: bool = False):
        self.console, self.stream = console, stream
        self.rows: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._live = Live(
            console=console, refresh_per_second=8, transient=False, get_renderable=self._table
        )

    def __call__(self, kind: str, **data: Any) -> None:
        with self._lock:
            if kind == "run_started":
                self.rows = {
                    s: {"status": PENDING, "began": None, "result": None} for s in data["steps"]
                }
                verb = "resuming" if data["resumed"] else "starting"  # the id, before the end
                self.console.print(
                    Text(f"{verb} run {data['run_id']} of {data['pipeline']}"),
                    markup=False,
                    highlight=False,
                )
                self._live.start()
            elif kind == "step_waiting":
                self.rows[data["step"]].update(status=waiting_text(data))
            elif kind == "step_started":
                self.rows[data["step"]].update(status=RUNNING, began=time.monotonic())
            elif kind == "step_finished":
                self.rows[data["step"]].update(status=data["result"].status, result=data["result"])
            elif kind == "item_finished":  # a for_each's items so far (of this iteration)
                row = self._row_of(data["step"])
                if row is not None:
                    row["items"] = (data["done"], data["total"])
            elif kind == "step_retry":
                self._print(Text(f"{data['step']}: retry after: {data['error']}", "yellow"))
            elif kind == "approval_waiting":
                self._print(
                    Text(f"{data['step']}: waiting for approval: {data['prompt']}", "yellow")
                )
            elif kind == "chunk" and self.stream:
                self._print(Text.assemble((f"{data['step']} >", "dim"), " ", data["text"]))
            elif kind == "warning":
                self._print(Text(f"warning: {data['message']}", "yellow"))
            elif kind == "run_finished":
                self._live.refresh()
                self._live.stop()

    def _print(self, text: Text) -> None:
        self._live.console.print(text, markup=False, highlight=False)

    def _row_of(self, label: str) -> dict[str, Any] | None:
        """The table row of a unit label: `many`, `loop.body#2` (a loop's), `sub.step`."""
        name = label.split("#", 1)[0].split("[", 1)[0]
        while name not in self.rows and "." in name:
            name = name.rsplit(".", 1)[0]
        return self.rows.get(name)

    def _table(self) -> Table:
        table = Table(box=None, pad_edge=False)
        for col in ("step", "state", "time", "tokens", "cost"):
            table.add_column(col, justify="left" if col in ("step", "state") else "right")
        now = time.monotonic()
        for name, row in self.rows.items():
            result = row["result"]
            if result is not None and result.status == NOT_STARTED:
                table.add_row(Text(name), ICONS[NOT_STARTED], "", "", "")
                continue
            if result is not None:
                elapsed, tokens = result.duration, result.usage.tokens
            else:
                elapsed, tokens = (now - row["began"]) if row["began"] else 0.0, 0
            state = ICONS.get(row["status"], row["status"])
            if result is None and row.get("items") and row["status"] == RUNNING:
                state += " ({}/{} items)".format(*row["items"])
            if result is not None and result.cached:
                state = "cached"
            table.add_row(
                Text(name),
                Text(state),
                f"{elapsed:.1f}s" if row["began"] or result else "",
                str(tokens) if tokens else "",
                result.usage.cost.text() if result is not None and tokens else "",
            )
        return table


def make_reporter(
    *, as_json: bool, stream: bool, console: Console | None = None
) -> JsonReporter | LiveReporter | PlainReporter:
    if as_json:
        return JsonReporter()
    console = console or Console(stderr=True)
    if console.is_terminal:
        return LiveReporter(console, stream)
    return PlainReporter(stream)
