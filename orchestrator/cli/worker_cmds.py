"""`orchestrate worker`: run pipeline steps for `run --executor temporal`.

Thin: parse, start `orchestrator.run.temporal.worker.run_worker`, exit 130 on Ctrl-C.
"""

from __future__ import annotations

import click

from orchestrator import settings
from orchestrator.cli.common import handle_errors
from orchestrator.errors import ExitCode, RunError


@click.command("worker")
@click.option(
    "--temporal-address",
    default=None,
    metavar="HOST:PORT",
    help="Temporal's address (default $ORCHESTRATE_TEMPORAL_ADDRESS or 127.0.0.1:7233).",
)
@click.option("--task-queue", default=None, help="Task queue to poll (default 'orchestrate').")
@click.option(
    "--max-concurrent-units",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="Steps this worker runs at once.",
)
@handle_errors
def worker_cmd(
    temporal_address: str | None, task_queue: str | None, max_concurrent_units: int
) -> int:
    """Run pipeline steps from Temporal (start as many workers as you like)."""
    try:
        from orchestrator.run.temporal import client, worker
    except ImportError as exc:
        raise RunError(
            f"`orchestrate worker` needs the `temporal` extra ({exc.name} is not "
            "installed): pip install 'orchestrate[temporal]'"
        ) from None
    target = client.TemporalTarget(
        temporal_address
        or settings.value("ORCHESTRATE_TEMPORAL_ADDRESS")
        or client.DEFAULT_ADDRESS,
        task_queue or client.DEFAULT_QUEUE,
    )
    try:
        worker.run_worker(
            target,
            max_concurrent_units,
            on_ready=lambda: click.echo(
                f"worker ready: {target.address}, task queue '{target.task_queue}', "
                f"{max_concurrent_units} units at once",
                err=True,
            ),
        )
    except KeyboardInterrupt:
        return ExitCode.CANCELLED
    return 0
