"""The Temporal workflow of one run: it schedules the run's steps as activities, nothing else.

Owns `PipelineWorkflow` (workflow type `orchestrate.pipeline`). Its input is plain data built
by `client.workflow_input`: the step graph (`schedule.Schedule`'s fields), the run's
`max_parallel`, and the opaque `run` dict every activity receives. It first runs the
`orchestrate.prepare` activity (the run's shared blocks, created once before any step so two
workers never make two), then starts each step as an `orchestrate.step` activity when its
upstream steps are settled and its agent copies are free, at most `max_parallel` at once.
A query `progress` returns each step's state for live progress (its summary once ended).

Activities carry their own retry rules (a step retries its agent calls itself, with the
step's `retry` policy); Temporal retries a step activity only when its worker died or it
stopped heartbeating, and the retry finds the step's records (resume semantics: what was
done is reused, an in-flight message is reconciled by its otid).

Must not: do I/O, read clocks or random numbers, or import modules that do (it is replayed).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from orchestrator.run.status import FAILED, RUNNING, SUCCEEDED
    from orchestrator.run.temporal.schedule import Schedule

STEP_ACTIVITY, PREPARE_ACTIVITY = "orchestrate.step", "orchestrate.prepare"
# Where a run's units may run (the run's `spread`): "items", its plain steps on the worker
# that holds its workflow (Temporal local activities: no round trip through the server per
# step), its for_each items and loop iterations on any worker; "all", every unit on any worker.
SPREAD_ITEMS, SPREAD_ALL = "items", "all"
MAX_UNIT_CALLS = 100_000  # a loop's units, at most (max_iterations x body steps is far less)
HEARTBEAT = timedelta(seconds=15)  # a worker that stops heartbeating this long is dead
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=10,
    non_retryable_error_types=["RunError", "SpecError"],
)


@workflow.defn(name="orchestrate.pipeline")
class PipelineWorkflow:
    def __init__(self) -> None:
        self._progress: dict[str, dict[str, Any]] = {}

    @workflow.query(name="progress")
    def progress(self) -> dict[str, dict[str, Any]]:
        """step -> {"status": "running"|"blocked"} or, once it ended, its summary."""
        return dict(self._progress)

    @workflow.run
    async def run(self, spec: dict[str, Any]) -> dict[str, Any]:
        run = spec["run"]
        step_timeout = timedelta(seconds=float(spec.get("step_timeout") or 86400))
        if spec.get("prepare", True):
            await workflow.execute_activity(
                PREPARE_ACTIVITY,
                run,
                start_to_close_timeout=timedelta(minutes=10),
                retry_policy=STEP_RETRY,
            )
        schedule = Schedule(
            order=spec["order"], deps=spec["deps"], needs=spec["needs"], replicas=spec["replicas"]
        )
        limit = max(1, int(spec.get("max_parallel") or 1))
        running: dict[asyncio.Task[Any], str] = {}
        fans = set(spec.get("fan_steps", ()))  # top-level for_each: items as activities
        loops = set(spec.get("loop_steps", ()))  # loops: one activity per unit
        summaries: dict[str, dict[str, Any]] = {}
        stopped = False  # the run's budget was reached: no further step starts
        # "items" (SPREAD_ITEMS): a plain step is a local activity on the worker holding this
        # workflow; runs started before this setting existed have none: all activities
        whole_step = _local if spec.get("spread", SPREAD_ALL) == SPREAD_ITEMS else _activity
        while not schedule.done():
            started, blocked = ([], []) if stopped else schedule.start(limit - len(running))
            for name in blocked:  # or not_started: behind an approval gate that waits
                self._progress[name] = {"status": schedule.settled[name]}
            for name, copies in started:
                self._progress[name] = {"status": RUNNING}
                unit = {**run, "step": name, "copies": copies}
                work = (
                    self._fan(unit, step_timeout)
                    if name in fans
                    else _units(unit, step_timeout)
                    if name in loops
                    else whole_step(unit, step_timeout)
                )
                running[asyncio.ensure_future(work)] = name
            if not running:
                if schedule.done() or stopped:
                    break
                raise ApplicationError(
                    "the schedule is stuck: no step can start", non_retryable=True
                )
            done, _ = await workflow.wait(list(running), return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=lambda t: spec["order"].index(running[t])):
                name = running.pop(task)
                summary = await _summary_of(task)
                summaries[name] = summary
                self._progress[name] = summary
                schedule.finish(name, summary["status"])
                stopped = stopped or bool(summary.get("stopped"))
        return {"steps": summaries, "settled": dict(schedule.settled)}

    async def _fan(self, unit: dict[str, Any], timeout: timedelta) -> dict[str, Any]:
        """A for_each step: expand, its items (each on one of the step's copies, at most as
        many at once as it has copies; after a failed item no further item starts, those in
        flight finish), then collect. See activities/items.py."""
        first = await _activity({**unit, "mode": "expand"}, timeout)
        if first.get("status") != "expand":
            return dict(first)  # skipped, or its for_each failed: the step's end
        ((agent, free),) = unit["copies"].items()
        free = sorted(free)
        pending: dict[asyncio.Task[Any], int] = {}
        next_index, failed = 0, False
        while pending or (next_index < first["count"] and not failed):
            while free and next_index < first["count"] and not failed:
                copy = free.pop(0)
                item = {**unit, "mode": "item", "index": next_index, "copies": {agent: [copy]}}
                pending[asyncio.ensure_future(_activity(item, timeout))] = copy
                next_index += 1
            done, _ = await workflow.wait(list(pending), return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                free.append(pending.pop(task))
                if (await _summary_of(task))["status"] != SUCCEEDED:
                    failed = True
            free.sort()
        return dict(await _activity({**unit, "mode": "collect"}, timeout))


async def _units(unit: dict[str, Any], timeout: timedelta) -> dict[str, Any]:
    """A loop step, one new unit per activity (items.py), until a call ends the step."""
    for _ in range(MAX_UNIT_CALLS):
        summary = dict(await _activity({**unit, "mode": "unit"}, timeout))
        if summary.get("status") != "more":
            return summary
    raise ApplicationError(
        f"step {unit['step']}: more than {MAX_UNIT_CALLS} units", non_retryable=True
    )


async def _activity(unit: dict[str, Any], timeout: timedelta) -> Any:
    return await workflow.execute_activity(
        STEP_ACTIVITY,
        unit,
        start_to_close_timeout=timeout,
        heartbeat_timeout=HEARTBEAT,
        retry_policy=STEP_RETRY,
    )


async def _local(unit: dict[str, Any], timeout: timedelta) -> Any:
    """A whole step on this workflow's worker. A local activity cannot heartbeat: the SDK
    keeps the workflow task alive while it runs, and when the worker dies that task times
    out and another worker replays the workflow and runs the step again, where it finds its
    records (an in-flight message is reconciled by its otid, as after a lost heartbeat)."""
    return await workflow.execute_local_activity(
        STEP_ACTIVITY, unit, start_to_close_timeout=timeout, retry_policy=STEP_RETRY
    )


async def _summary_of(task: asyncio.Task[Any]) -> dict[str, Any]:
    """The step's summary; an activity that could not run the step at all (a worker that
    cannot open the records, retries used up) is that step's failure, not the workflow's.
    An activity's failure comes as an ActivityError; a local activity's as the failure
    itself (an ApplicationError, a TimeoutError...)."""
    try:
        return dict(task.result())
    except FailureError as exc:
        cause = exc.cause
        while isinstance(cause, ActivityError) and cause.cause is not None:
            cause = cause.cause
        message = getattr(cause, "message", None) or str(cause or exc)
        return {
            "status": FAILED,
            "error": f"the worker could not run this step: {message}",
            "duration": 0.0,
            "iterations": None,
            "reused": False,
            "usage": [0, 0, 0, 0],
        }
