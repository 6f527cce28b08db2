"""`orchestrate worker`: a Temporal worker that runs pipeline workflows and their step activities.

Owns `run_worker(target, max_concurrent_units)`: connects to Temporal, polls the task queue
for `orchestrate.pipeline` workflows and `orchestrate.step` / `orchestrate.prepare`
activities, and runs step activities on a thread pool of `max_concurrent_units` threads
(each step's own fan-out runs inside its activity). Start as many workers as you like, on
any machine that reaches Temporal, Letta and the run records. Ctrl-C stops it gracefully:
activities in flight are given up, and Temporal hands them to another worker (their
heartbeats stop), where they resume from the records.

Must not: know step semantics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from orchestrator.run.temporal.activities import prepare, step
from orchestrator.run.temporal.client import TemporalTarget, _connect
from orchestrator.run.temporal.workflow import PipelineWorkflow


def run_worker(
    target: TemporalTarget,
    max_concurrent_units: int = 8,
    on_ready: Callable[[], None] = lambda: None,
) -> None:
    asyncio.run(_serve(target, max(1, max_concurrent_units), on_ready))


async def _serve(target: TemporalTarget, units: int, on_ready: Callable[[], None]) -> None:
    from temporalio.worker import Worker

    client = await _connect(target)
    with ThreadPoolExecutor(max_workers=2 * units + 1, thread_name_prefix="unit") as pool:
        worker = Worker(
            client,
            task_queue=target.task_queue,
            workflows=[PipelineWorkflow],
            activities=[prepare, step],
            activity_executor=pool,
            max_concurrent_activities=units,
            max_concurrent_local_activities=units,
        )
        on_ready()
        await worker.run()
