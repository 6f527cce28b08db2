"""The local executor: decides only *when* each top-level step runs.

Owns `execute(plan, inputs, svc, max_parallel, deadline) -> dict[str, StepResult]`: a step
starts once all its direct upstream steps are settled, at most `max_parallel` at a time, on
daemon worker threads (a Ctrl-C or a run timeout must not wait for a blocked HTTP call to
return). A step whose upstream failed or was cancelled is `blocked`; independent branches
carry on, so one failure keeps as much useful work as possible for `resume`. A step handed
a thread may still wait for its agent (every copy busy): the step itself reports
`step_waiting` / `step_started` (see Services), so progress never shows a waiting step as
running.

Must not: know what a step means (run.flow does) or touch Letta.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Mapping
from typing import Any

from orchestrator.compile.plan import Plan
from orchestrator.run.context import BLOCKED, CANCELLED, DONE_OK, NOT_STARTED, StepResult
from orchestrator.run.flow import run_step
from orchestrator.run.services import Cancelled, Services

POLL = 0.05  # seconds between checks for Ctrl-C and the run deadline while waiting


def execute(plan: Plan, inputs: Mapping[str, Any], svc: Services, *, max_parallel: int = 4,
            deadline: float | None = None) -> dict[str, StepResult]:
    """Run every top-level step; returns their results in plan order. On KeyboardInterrupt
    or at `deadline` (time.monotonic) it sets `svc.cancel` and returns what settled, the
    steps in flight marked `cancelled`, those never started `not_started`."""
    results: dict[str, StepResult] = {}
    waiting = list(plan.steps)
    running: dict[str, float] = {}  # step -> when its worker started (time.monotonic)
    done: queue.Queue[tuple[str, StepResult]] = queue.Queue()
    try:
        while waiting or running:
            _start_ready(plan, inputs, svc, results, waiting, running, done, max_parallel)
            if not running:
                break
            _collect(done, results, running, deadline, svc)
    except KeyboardInterrupt:
        svc.cancel_reason = "cancelled (Ctrl-C)"
        svc.cancel.set()
        _abandon(results, running, svc)
    for name in plan.steps:  # never started: distinct from a step cancelled in flight
        if name not in results:
            results[name] = StepResult(NOT_STARTED, error=svc.cancel_reason)
            svc.emit("step_finished", step=name, result=results[name])
    return {name: results[name] for name in plan.steps}


def _start_ready(plan: Plan, inputs, svc: Services, results: dict[str, StepResult],
                 waiting: list[str], running: dict[str, float], done: queue.Queue,
                 max_parallel: int) -> None:
    for name in list(waiting):
        if svc.cancel.is_set() or len(running) >= max_parallel:
            return
        deps = plan.steps[name].depends_on
        if not all(d in results for d in deps):
            continue
        waiting.remove(name)
        bad = [d for d in deps if results[d].status not in DONE_OK]
        if bad:
            results[name] = StepResult(BLOCKED, error=f"upstream step '{bad[0]}' "
                                       f"{results[bad[0]].status}")
            svc.emit("step_finished", step=name, result=results[name])
            continue
        running[name] = time.monotonic()
        snapshot = dict(results)  # the worker reads a stable view of upstream results
        worker = threading.Thread(target=_work, args=(plan, name, inputs, snapshot, svc, done),
                                  name=f"step-{name}", daemon=True)
        worker.start()  # `step_started` comes from the step once it has its agent


def _work(plan: Plan, name: str, inputs, snapshot, svc: Services, done: queue.Queue) -> None:
    try:
        result = run_step(svc, plan.steps[name], inputs, snapshot)
    except Cancelled as exc:
        result = StepResult(CANCELLED, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a bug in a step must not hang the run
        result = StepResult("failed", error=f"unexpected {type(exc).__name__}: "
                                            f"{svc.redactor.text(str(exc))}")
    done.put((name, result))


def _collect(done: queue.Queue, results: dict[str, StepResult], running: dict[str, float],
             deadline: float | None, svc: Services) -> None:
    while True:
        if deadline is not None and time.monotonic() > deadline and not svc.cancel.is_set():
            svc.cancel_reason = "the run timed out"
            svc.cancel.set()
        try:
            name, result = done.get(timeout=POLL)
        except queue.Empty:
            if svc.cancel.is_set():
                return _abandon(results, running, svc)
            continue
        running.pop(name, None)
        results[name] = result
        svc.emit("step_finished", step=name, result=result)
        return None


def _abandon(results: dict[str, StepResult], running: dict[str, float],
             svc: Services) -> None:
    """Cancelled: steps still in flight are given up (their threads are daemons); their
    duration is the time they ran (from `step_started`; 0 if still waiting for an agent)."""
    now = time.monotonic()
    for name in list(running):
        if name in results:
            continue
        began = svc.began_at(name, now)
        results[name] = StepResult(CANCELLED, error=svc.cancel_reason, duration=now - began)
        svc.emit("step_finished", step=name, result=results[name])
    running.clear()
