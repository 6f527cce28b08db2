"""The local executor: decides only *when* each top-level step runs.

Owns `execute(plan, inputs, svc, max_parallel, deadline) -> dict[str, StepResult]`: a step
starts once all its direct upstream steps are settled (run.schedule.ReadyQueue keeps that
set, in plan order), at most `max_parallel` at a time, on a small pool of daemon worker
threads (a Ctrl-C or a run timeout must not wait for a blocked HTTP call to return; a pool,
because starting a thread per step cost more than a whole step's own work). A step whose
upstream failed or was cancelled is `blocked`; independent branches carry on, so one
failure keeps as much useful work as possible for `resume`. Once the run's budget is spent
(`svc.budget.stopped`), no further step starts; those in flight finish. A step handed a thread may
still wait for its agent (every copy busy): the step itself reports `step_waiting` /
`step_started` (see Services), so progress never shows a waiting step as running.

While it runs, the records hold final unit rows back until the next commit
(`Records.deferring`), and the executor flushes them whenever it is idle for `POLL`.

A worker is handed only the results of the step's direct upstream steps: templates can read
no other step (compile makes every step a template reads a dependency), and copying every
earlier result for each step made a run quadratic in its length.

Must not: know what a step means (run.flow does) or touch Letta.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from orchestrator.compile.plan import Plan
from orchestrator.run.context import StepResult
from orchestrator.run.flow import run_step
from orchestrator.run.schedule import ReadyQueue
from orchestrator.run.services import CTRL_C, TIMED_OUT, Cancelled, Services
from orchestrator.run.status import (
    BLOCKED,
    CANCELLED,
    DONE_OK,
    FAILED,
    NOT_STARTED,
    WAITING_APPROVAL,
)

POLL = 0.05  # seconds between checks for Ctrl-C and the run deadline while waiting

Task = tuple[str, Mapping[str, StepResult]]  # a step and its upstream results
Done = tuple[str, StepResult]


def execute(
    plan: Plan,
    inputs: Mapping[str, Any],
    svc: Services,
    *,
    max_parallel: int = 4,
    deadline: float | None = None,
) -> dict[str, StepResult]:
    """Run every top-level step; returns their results in plan order. On KeyboardInterrupt
    or at `deadline` (time.monotonic) it sets `svc.cancel` and returns what settled, the
    steps in flight marked `cancelled`, those never started `not_started`."""
    run = _Run(plan, inputs, svc, max(1, max_parallel), deadline)
    try:
        with svc.records.deferring():  # final unit rows ride along with the next commit
            run.loop()
    except KeyboardInterrupt:
        svc.stop(CTRL_C)
        run.abandon()
    finally:
        run.workers.close()
    results = run.results
    for name in plan.steps:  # never started: distinct from a step cancelled in flight
        if name not in results:
            results[name] = StepResult(NOT_STARTED, error=svc.budget.stopped or svc.cancel_reason)
            svc.emit("step_finished", step=name, result=results[name])
    return {name: results[name] for name in plan.steps}


class _Run:
    """One execution: the ready queue, the results so far, the steps in flight."""

    def __init__(
        self,
        plan: Plan,
        inputs: Mapping[str, Any],
        svc: Services,
        max_parallel: int,
        deadline: float | None,
    ):
        self.plan, self.inputs, self.svc = plan, inputs, svc
        self.max_parallel, self.deadline = max_parallel, deadline
        self.ready = ReadyQueue(
            list(plan.steps), {name: step.depends_on for name, step in plan.steps.items()}
        )
        self.results: dict[str, StepResult] = {}
        self.running: dict[str, None] = {}  # in flight, in start order
        self.postponed: set[str] = set()  # not started: an approval gate upstream waits
        self.workers = _Workers(max_parallel, self._work)

    def loop(self) -> None:
        while True:
            self._start_ready()
            if not self.running:
                return
            self._collect()

    def _start_ready(self) -> None:
        svc, results = self.svc, self.results
        while (
            not svc.cancel.is_set()
            and not svc.budget.stopped
            and len(self.running) < self.max_parallel
        ):
            name = self.ready.pop()
            if name is None:
                return
            deps = self.ready.upstream(name)
            bad = next((d for d in deps if results[d].status not in DONE_OK), None)
            if bad is not None:  # behind an approval gate: not started yet (resume runs it)
                waits = results[bad].status == WAITING_APPROVAL or bad in self.postponed
                if waits:
                    self.postponed.add(name)
                results[name] = StepResult(
                    NOT_STARTED if waits else BLOCKED,
                    error=f"upstream step '{bad}' {results[bad].status}",
                )
                svc.emit("step_finished", step=name, result=results[name])
                self.ready.settle(name)
                continue
            self.running[name] = None
            # `step_started` comes from the step once it has its agent.
            self.workers.submit((name, {d: results[d] for d in deps}), len(self.running))

    def _work(self, task: Task) -> Done:
        name, upstream = task
        svc = self.svc
        try:
            result = run_step(svc, self.plan.steps[name], self.inputs, upstream)
        except Cancelled as exc:
            result = StepResult(CANCELLED, error=str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug in a step must not hang the run
            result = StepResult(
                FAILED, error=f"unexpected {type(exc).__name__}: {svc.redactor.text(str(exc))}"
            )
        return name, result

    def _collect(self) -> None:
        svc = self.svc
        while True:
            if (
                self.deadline is not None
                and time.monotonic() > self.deadline
                and not svc.cancel.is_set()
            ):
                svc.stop(TIMED_OUT, timed_out=True)
            try:
                name, result = self.workers.done.get(timeout=POLL)
            except queue.Empty:
                if svc.cancel.is_set():
                    return self.abandon()
                svc.records.flush()  # idle: commit final rows held back, within one POLL
                continue
            if name not in self.running:
                continue  # a step abandoned on cancel came back after all
            del self.running[name]
            self.results[name] = result
            svc.emit("step_finished", step=name, result=result)
            self.ready.settle(name)
            return None

    def abandon(self) -> None:
        """Cancelled: steps still in flight are given up (their threads are daemons); their
        duration is the time they ran (from `step_started`; 0 if still waiting for an agent)."""
        now = time.monotonic()
        for name in self.running:
            if name in self.results:
                continue
            began = self.svc.began_at(name, now)
            self.results[name] = StepResult(
                CANCELLED, error=self.svc.cancel_reason, duration=now - began
            )
            self.svc.emit("step_finished", step=name, result=self.results[name])
        self.running.clear()


class _Workers:
    """Up to `limit` daemon threads, started as concurrency demands, each running one task
    at a time; results arrive on `done`. Abandoned threads finish their task and exit."""

    def __init__(self, limit: int, work: Callable[[Task], Done]):
        self.limit, self._work = limit, work
        self._tasks: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[Done] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def submit(self, task: Task, busy: int) -> None:
        """Queue `task`; `busy`: tasks in flight, this one included (a thread each)."""
        if busy > len(self._threads) and len(self._threads) < self.limit:
            thread = threading.Thread(
                target=self._serve, name=f"step-{len(self._threads) + 1}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        self._tasks.put(task)

    def _serve(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            self.done.put(self._work(task))

    def close(self) -> None:
        for _ in self._threads:
            self._tasks.put(None)
