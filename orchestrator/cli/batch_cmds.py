"""Batch runs on the command line: `run FILE --batch inputs.jsonl`, `resume BATCH_ID`,
`batches list|show`.

Owns the batch half of `run` and `resume` (called from run_cmds, which parses the options),
the `batches` group, and their exit codes: 0 every item succeeded, 1 an item failed or a
line was bad (or the batch could not start), 130 cancelled with Ctrl-C. All batch logic is
in `orchestrator.run.batch*`; which executor runs one item is chosen here (the local one).

Must not: hold batch logic, or print a secret (results and events arrive redacted).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

from orchestrator.backends.base import RunBackend
from orchestrator.backends.connect import run_backend
from orchestrator.cli.common import (
    handle_errors,
    records_location,
    resolve_api_key,
    resolve_base_url,
    state_home,
)
from orchestrator.cli.otel_opts import trace_settings
from orchestrator.compile import load_plan
from orchestrator.compile.plan import Plan
from orchestrator.errors import ExitCode, RunError
from orchestrator.run.batch_input import read_batch
from orchestrator.run.batch_items import RunnerItems
from orchestrator.run.batch_progress import finished_line, make_batch_reporter
from orchestrator.run.batch_records import BatchRecords, is_batch_id
from orchestrator.run.batch_render import batch_detail, batches_table, shown_status
from orchestrator.run.batch_session import (
    DEFAULT_CONCURRENCY,
    BatchSummary,
    resume_batch,
    start_batch,
)
from orchestrator.run.records import Records
from orchestrator.run.runner import RunOptions, run_timeout
from orchestrator.run.status import CANCELLED, SUCCEEDED


def _db() -> str:
    return str(state_home() / "runs.db")


def batch_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`run`'s batch options."""
    for option in reversed(
        [
            click.option(
                "--batch",
                "batch_file",
                type=click.Path(exists=True, dir_okay=False),
                help="Run once per line of this JSONL file (one JSON object of inputs a line).",
            ),
            click.option(
                "--concurrency",
                type=click.IntRange(1, 256),
                help=f"With --batch: runs at once (default {DEFAULT_CONCURRENCY}).",
            ),
            click.option(
                "--results",
                type=click.Path(dir_okay=False),
                help="With --batch: the results file (default STATE/batches/BATCH_ID.jsonl).",
            ),
        ]
    ):
        fn = option(fn)
    return fn


def batch_resume_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`resume`'s options for a batch id."""
    fn = click.option(
        "--retry-failed",
        is_flag=True,
        help="A batch: run its failed items again (their runs resume).",
    )(fn)
    return click.option(
        "--concurrency",
        type=click.IntRange(1, 256),
        help="A batch: runs at once (default: as recorded).",
    )(fn)


def check_batch_usage(
    batch_file: str | None, *, concurrency: int | None, results: str | None, **single_run: Any
) -> None:
    """Usage errors (exit 2): batch options without --batch, or options of one run with it
    (each line of the batch file holds one run's inputs)."""
    if not batch_file:
        if concurrency or results:
            raise click.UsageError("--concurrency and --results go with --batch")
        return
    _refuse(
        single_run,
        "cannot be combined with --batch (each line of the batch file holds one run's inputs)",
    )


def check_resume_usage(
    run_id: str, *, concurrency: int | None, retry_failed: bool, **single_run: Any
) -> None:
    if not is_batch_id(run_id):
        if concurrency or retry_failed:
            raise click.UsageError("--concurrency and --retry-failed go with a batch id")
        return
    source = click.get_current_context().get_parameter_source("max_parallel")
    _refuse(
        {**single_run, "max_parallel": source is not None and source.name != "DEFAULT"},
        "cannot be given when resuming a batch (its inputs come from its file, its runs "
        "keep their recorded options)",
    )


def _refuse(given: dict[str, Any], why: str) -> None:
    wrong = [name for name, value in given.items() if value]
    if wrong:
        listed = ", ".join("--" + n.replace("_", "-") for n in wrong)
        raise click.UsageError(f"{listed} {why}")


def run_batch(
    plan: Plan,
    batch_path: str,
    *,
    base_url: str | None,
    api_key: str | None,
    options: RunOptions,
    concurrency: int | None,
    results: str | None,
    as_json: bool,
) -> int:
    batch = read_batch(batch_path, plan.inputs)
    key = resolve_api_key(api_key)
    url = resolve_base_url(base_url)
    records, batch_records = Records(records_location()), BatchRecords(_db())
    reporter = make_batch_reporter(as_json=as_json)
    runner = RunnerItems(
        plan,
        records,
        _backends(url, key, options, plan),
        options=options,
        api_key=key,
        emit=reporter,
    )
    summary = start_batch(
        plan,
        batch,
        runner,
        batch_records,
        options=_recorded(options, url),
        concurrency=concurrency or DEFAULT_CONCURRENCY,
        results_path=results,
        emit=reporter,
    )
    return _finish(summary, reporter, as_json)


def resume_batch_cmd(
    batch_id: str,
    *,
    file: str | None,
    base_url: str | None,
    api_key: str | None,
    concurrency: int | None,
    retry_failed: bool,
    as_json: bool,
) -> int:
    batch_records = BatchRecords(_db())
    rec = batch_records.find(batch_id)
    if rec is None:
        raise RunError(
            f"no batch '{batch_id}' in {batch_records.path} (see `orchestrate batches list`)"
        )
    plan = load_plan(file or rec["pipeline_file"])
    batch = read_batch(rec["file"], plan.inputs)
    recorded = rec["options"]
    options = RunOptions(
        **{
            f.name: recorded[f.name]
            for f in dataclasses.fields(RunOptions)
            if f.name in recorded and f.name != "trace"
        },
        trace=trace_settings(),
    )  # traces: decided again, as for a run
    key = resolve_api_key(api_key)
    url = resolve_base_url(base_url or recorded.get("base_url"))
    reporter = make_batch_reporter(as_json=as_json)
    runner = RunnerItems(
        plan,
        Records(records_location()),
        _backends(url, key, options, plan),
        options=options,
        api_key=key,
        emit=reporter,
    )
    summary = resume_batch(
        rec["id"],
        batch,
        runner,
        batch_records,
        concurrency=concurrency,
        retry_failed=retry_failed,
        emit=reporter,
    )
    return _finish(summary, reporter, as_json)


def _backends(
    url: str, key: str | None, options: RunOptions, plan: Plan
) -> Callable[[], RunBackend]:
    limit = run_timeout(options, plan)  # each item's own deadline, from when its run starts
    shared = run_backend(url, key)  # one HTTP client (connections, TLS) for the batch
    return lambda: shared.for_run(run_timeout=limit)


def _recorded(options: RunOptions, url: str) -> dict[str, Any]:
    recorded = {k: v for k, v in dataclasses.asdict(options).items() if k != "trace"}
    return {**recorded, "base_url": url}  # traces are not the batch's: each start decides


def _finish(summary: BatchSummary, reporter: Callable[..., None], as_json: bool) -> int:
    reporter("batch_finished", summary=summary)
    if as_json:
        click.echo(json.dumps(summary.to_json(), default=str))
    else:
        Console(stderr=False, soft_wrap=True).print(
            finished_line(summary), markup=False, highlight=False
        )
        if summary.error:
            click.echo(f"error: {summary.error}", err=True)
    if summary.status == SUCCEEDED:
        return int(ExitCode.OK)
    if summary.status == CANCELLED:
        sys.stdout.flush()
        return int(ExitCode.CANCELLED)
    return int(ExitCode.USER_ERROR)


@click.group("batches")
def batches_group() -> None:
    """Inspect recorded batches (STATE/runs.db); `orchestrate resume BATCH_ID` continues one."""


@batches_group.command("list")
@click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def batches_list(limit: int, as_json: bool) -> int:
    """Recent batches, newest first."""
    records = _existing()
    batches = records.recent(limit) if records else []
    for batch in batches:
        batch["status"] = shown_status(batch)
    click.echo(json.dumps(batches, indent=2, default=str) if as_json else batches_table(batches))
    return 0


@batches_group.command("show")
@click.argument("batch_id")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def batches_show(batch_id: str, as_json: bool) -> int:
    """One batch: its file, options, progress and every line's status and run id."""
    records = _existing()
    batch = records.find(batch_id) if records else None
    if batch is None:
        raise RunError(f"no batch '{batch_id}' in {state_home()} (see `orchestrate batches list`)")
    items = records.items(batch["id"]) if records else []
    if as_json:
        click.echo(
            json.dumps(
                {"batch": {**batch, "status": shown_status(batch)}, "items": items},
                indent=2,
                default=str,
            )
        )
    else:
        click.echo(batch_detail(batch, items))
    return 0


def _existing() -> BatchRecords | None:
    path = state_home() / "runs.db"
    return BatchRecords(path) if os.path.exists(path) else None
