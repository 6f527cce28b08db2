"""`execute` on Temporal: the executor the runner calls instead of run.executor.execute.

Owns turning a plan into the workflow's input (`workflow_input`), starting the run's
workflow on a task queue, following it (the workflow's `progress` query becomes the same
`step_started` / `step_finished` events the local executor emits, so live progress,
`--json` and the run records read the same), cancelling it on Ctrl-C or at the run's
deadline, and returning each step's `StepResult` (outputs read from the run records, which
workers write). The workflow id is `orchestrate-<run id>-<attempt>`: a resume starts a new
workflow over the same records.

Run records: the SQLite file workers open by path (workers on the starting machine), or
PostgreSQL (`ORCHESTRATE_RECORDS_URL`, workers anywhere; they read the URL from their own
environment, so no password reaches Temporal). Everything sent to Temporal is sealed
(codec.py), secret inputs included.

Must not: know step semantics, or talk to Letta.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.compile.plan import Plan
from orchestrator.errors import RunError
from orchestrator.home import state_home
from orchestrator.run import records_pg
from orchestrator.run.budget import RUN
from orchestrator.run.context import StepResult
from orchestrator.run.records import UnitKey
from orchestrator.run.services import CTRL_C, TIMED_OUT, Services
from orchestrator.run.status import (
    BLOCKED,
    CANCELLED,
    DONE_OK,
    NOT_STARTED,
    RUNNING,
    SKIPPED,
    StepStatus,
)
from orchestrator.run.temporal.activities import from_summary
from orchestrator.run.temporal.workflow import SPREAD_ITEMS, PipelineWorkflow

POLL = 0.2  # seconds between progress queries
DEFAULT_ADDRESS, DEFAULT_QUEUE = "127.0.0.1:7233", "orchestrate"


def _state_home() -> Path:
    """Where STATE/temporal.key is looked for (as the CLI finds its state dir)."""
    return state_home()


@dataclass(frozen=True)
class TemporalTarget:
    address: str = DEFAULT_ADDRESS
    task_queue: str = DEFAULT_QUEUE
    namespace: str = "default"
    home: Path = field(default_factory=_state_home)  # for the payload key (codec.py)


def workflow_input(
    plan: Plan,
    inputs: Mapping[str, Any],
    svc: Services,
    *,
    max_parallel: int,
    base_url: str,
    namespace: str,
    model: str | None,
    attempt: int = 0,
    spread: str = SPREAD_ITEMS,
) -> dict[str, Any]:
    needs: dict[str, dict[str, int]] = {}
    replicas: dict[str, int] = {}
    for name, step in plan.steps.items():
        want: dict[str, int] = {}
        for inner in step.loop.steps.values() if step.loop else (step,):
            agent = inner.agent
            if agent is None:  # only loop steps have none, and their body steps have one
                continue
            copies = svc.agents.replicas(agent)
            replicas[agent] = copies
            n = min(copies, max_parallel) if inner.for_each is not None else 1
            want[agent] = max(want.get(agent, 0), n)
        needs[name] = want
    run = {
        "run_id": svc.run_id,
        "pipeline_text": Path(plan.source).read_text(),
        "pipeline_file": str(Path(plan.source).resolve()),
        "source_hash": plan.source_hash,
        # sub-pipelines: workers compile the texts this run started with, not their disk
        "used_files": {real: Path(shown).read_text() for real, shown in plan.used_files.items()},
        "records": _records_ref(svc.records.location),
        "base_url": base_url,
        "namespace": namespace,
        "inputs": dict(inputs),
        "max_parallel": max_parallel,
        "stream": svc.stream,
        # the run's limits; each step's worker counts what the records say was spent
        "budget": _run_budget(svc),
        # their values travel sealed (codec.py); workers mask them like a local run
        "secret_inputs": sorted(n for n, spec in plan.inputs.items() if spec.secret),
        # asked once here, not by every step on every worker
        "model": model or svc.agents.default_model(),
        "models": [list(m) for m in svc.agents.server_models()],
        "attempt": attempt,
    }
    if svc.trace is not None:  # OpenTelemetry: the workers' units go under the run's span
        run["trace"] = svc.trace
    shared = any(plan.agents[a].shared_blocks for a in replicas if not plan.agents[a].ref)
    fans = [n for n, st in plan.steps.items() if st.for_each is not None and st.loop is None]
    loops = [n for n, st in plan.steps.items() if st.loop is not None]
    return {
        "run": run,
        "order": list(plan.steps),
        "prepare": shared,
        "fan_steps": fans,
        "loop_steps": loops,
        "deps": {n: list(s.depends_on) for n, s in plan.steps.items()},
        "needs": needs,
        "replicas": replicas,
        "max_parallel": max_parallel,
        "step_timeout": None,
        "spread": spread,
    }


def _run_budget(svc: Services) -> dict[str, Any]:
    limit = svc.budget.limits.get(RUN)
    return {
        "max_tokens": limit.max_tokens if limit else None,
        "max_cost": limit.max_cost if limit else None,
    }


def _records_ref(location: str) -> str:
    """How workers find the run records: the SQLite file's path, or for PostgreSQL the URL
    without its password (workers read the full URL from their own ORCHESTRATE_RECORDS_URL:
    a password must not be stored in Temporal's workflow history)."""
    return f"env:{records_pg.safe_url(location)}" if records_pg.is_url(location) else location


def execute(
    plan: Plan,
    inputs: Mapping[str, Any],
    svc: Services,
    *,
    target: TemporalTarget,
    max_parallel: int,
    deadline: float | None,
    base_url: str,
    namespace: str,
    model: str | None,
    attempt: int = 0,
    spread: str = SPREAD_ITEMS,
) -> dict[str, StepResult]:
    spec = workflow_input(
        plan,
        inputs,
        svc,
        max_parallel=max_parallel,
        base_url=base_url,
        namespace=namespace,
        model=model,
        attempt=attempt,
        spread=spread,
    )
    workflow_id = f"orchestrate-{svc.run_id}-{attempt}"
    follower = _Follower(plan, svc)
    try:
        asyncio.run(_drive(target, workflow_id, spec, follower, deadline, svc))
    except KeyboardInterrupt:
        svc.stop(CTRL_C)
        asyncio.run(_cancel(target, workflow_id))
    return follower.results()


async def _connect(target: TemporalTarget) -> Any:
    from temporalio.client import Client

    from orchestrator.run.temporal.codec import data_converter

    converter = data_converter(target.home)  # a bad key is the user's error, said as such
    try:
        return await asyncio.wait_for(
            Client.connect(target.address, namespace=target.namespace, data_converter=converter),
            timeout=15,
        )
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the user's to fix
        raise RunError(
            f"no Temporal server answers at {target.address} ({exc}); start one "
            "with `orchestrate server start --temporal`, or pass "
            "--temporal-address"
        ) from None


async def _drive(
    target: TemporalTarget,
    workflow_id: str,
    spec: dict[str, Any],
    follower: _Follower,
    deadline: float | None,
    svc: Services,
) -> None:
    client = await _connect(target)
    handle = await client.start_workflow(
        PipelineWorkflow.run, spec, id=workflow_id, task_queue=target.task_queue
    )
    result_task = asyncio.ensure_future(handle.result())
    while not result_task.done():
        if deadline is not None and time.monotonic() > deadline:
            svc.stop(TIMED_OUT, timed_out=True)
        if svc.cancel.is_set():
            await handle.cancel()
            result_task.cancel()
            break
        # Progress comes from the run records the workers write (a cheap local read), not
        # from workflow queries: a query costs the worker a workflow task each time.
        follower.update_from_records()
        await asyncio.wait([result_task], timeout=POLL)
    if not result_task.cancelled() and result_task.done():
        try:
            outcome = result_task.result()
        except Exception as exc:  # noqa: BLE001 - the workflow itself failed: say why
            cause = getattr(exc, "cause", None)
            raise RunError(
                f"the run's Temporal workflow {workflow_id} failed: "
                f"{getattr(cause, 'message', None) or exc}"
            ) from None
        stopped = [s.get("stopped") for s in outcome["steps"].values() if s.get("stopped")]
        if stopped and svc.budget.stopped is None:  # a worker reached the run's limit
            svc.budget.stopped = stopped[0]
        follower.finish(outcome["steps"], outcome["settled"])


async def _cancel(target: TemporalTarget, workflow_id: str) -> None:
    client = await _connect(target)
    try:
        await client.get_workflow_handle(workflow_id).cancel()
    except Exception:  # noqa: BLE001,S110 - it may have ended already
        pass


class _Follower:
    """Turns the workflow's progress into the run's step events, each once."""

    def __init__(self, plan: Plan, svc: Services):
        self.plan, self.svc = plan, svc
        self.since = time.time()  # rows that ended before this are an earlier attempt's
        self._started: set[str] = set()
        self._results: dict[str, StepResult] = {}
        earlier = svc.records.events(svc.run_id)  # an earlier attempt's: not news
        self._seen = earlier[-1][0] if earlier else 0  # the last relayed event read
        self._iterations: set[tuple[Any, Any]] = set()
        self._items: dict[str, set[Any]] = {}  # unit label -> items that ended

    def update(
        self, progress: Mapping[str, Mapping[str, Any]], units: dict[UnitKey, dict] | None = None
    ) -> None:
        for name in self.plan.steps:
            state = progress.get(name) or {}
            status = state.get("status")
            if status is None or name in self._results:
                continue
            if status == RUNNING:
                if name not in self._started:
                    self._started.add(name)
                    self.svc.step_began(name)
            elif status == BLOCKED:
                self._finish(name, self._blocked(name))
            elif status == NOT_STARTED and "usage" not in state:  # behind a waiting gate
                self._finish(name, StepResult(NOT_STARTED, error=self._waits_on(name)))
            else:  # ended: its output is in the run records, written by the worker
                if units is None:
                    units = self.svc.records.units(self.svc.run_id)
                if name not in self._started and status != SKIPPED:
                    self._started.add(name)
                    self.svc.step_began(name)
                row = units.get(UnitKey(name)) or {}
                self._finish(name, from_summary(dict(state), row.get("output")))

    def update_from_records(self) -> None:
        """Started: a step has a unit row (its own, an item's, or a loop body's). Ended: its
        own row is final (the row is written last, after the step's units)."""
        for seq, kind, data in self.svc.records.events(self.svc.run_id, self._seen):
            self._seen = seq  # retries, reconciliations, streamed text... from the workers
            if kind == "loop_iteration":  # a loop's unit calls replay its iterations: once
                mark = (data.get("step"), data.get("iteration"))
                if mark in self._iterations:
                    continue
                self._iterations.add(mark)
            if kind == "item_finished":  # each item's activity says it ended: count them here
                ended = self._items.setdefault(str(data.get("step")), set())
                if data.get("item") in ended:  # an activity retried after it reported
                    continue
                ended.add(data.get("item"))
                data = {**data, "done": len(ended)}
            self.svc.emit(kind, **data)
        units = self.svc.records.units(self.svc.run_id)
        state: dict[str, dict[str, Any]] = {}
        for key, row in units.items():
            # its own step, or a loop body's loop (a sub-pipeline's steps are top-level)
            top = key.step if key.step in self.plan.steps else key.step.rsplit(".", 1)[0]
            if top not in self.plan.steps or top in self._results:
                continue
            if row["status"] != RUNNING and (row.get("ended") or 0) < self.since:
                continue  # a row of an earlier attempt (resume): not news
            own = key == UnitKey(top)
            if own and self.plan.steps[top].approval is not None:
                continue  # its gate, not its row, says how it ended: the workflow's summary
            if own and row["status"] not in (RUNNING, CANCELLED):
                state[top] = {
                    "status": row["status"],
                    "error": row.get("error"),
                    "duration": row.get("duration") or 0.0,
                    "iterations": row.get("iterations"),
                    "usage": [
                        row.get("prompt_tokens") or 0,
                        row.get("completion_tokens") or 0,
                        row.get("step_count") or 0,
                        row.get("attempts") or 0,
                    ],
                }
            elif top not in state:
                state[top] = {"status": RUNNING}
        self.update(state, units)

    def finish(self, steps: Mapping[str, dict[str, Any]], settled: Mapping[str, str]) -> None:
        self.update_from_records()  # the last relayed events, and steps the records show
        self.update(
            {
                **{n: {"status": s} for n, s in settled.items() if s in (BLOCKED, NOT_STARTED)},
                **steps,
            }
        )

    def _blocked(self, name: str) -> StepResult:
        """Worded as the local executor words it."""
        for dep in self.plan.steps[name].depends_on:
            status = self._results.get(dep)
            if status is not None and status.status not in DONE_OK:
                return StepResult(BLOCKED, error=f"upstream step '{dep}' {status.status}")
        return StepResult(BLOCKED, error="an upstream step did not succeed")

    def _waits_on(self, name: str) -> str:
        for dep in self.plan.steps[name].depends_on:
            status = self._results.get(dep)
            if status is not None and status.status not in DONE_OK:
                return f"upstream step '{dep}' {status.status}"
        return "an upstream step waits for approval"

    def _finish(self, name: str, result: StepResult) -> None:
        self._results[name] = result
        self.svc.emit("step_finished", step=name, result=result)

    def results(self) -> dict[str, StepResult]:
        for name in self.plan.steps:
            if name not in self._results:
                status: StepStatus = CANCELLED if name in self._started else NOT_STARTED
                reason = self.svc.budget.stopped or self.svc.cancel_reason
                self._finish(name, StepResult(status, error=reason))
        return {name: self._results[name] for name in self.plan.steps}
