"""`orchestrate run`, `orchestrate runs list|show`, `orchestrate resume`: thin click commands.

Owns argument parsing, choosing the reporter, rendering results, and exit codes: 0 the run
succeeded, 1 it failed or was rejected (or bad input / unreachable server), 4 it waits for
approval (`orchestrate approve`), 130 cancelled with Ctrl-C, 3 unexpected. All run logic is in `orchestrator.run`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console

from orchestrator import settings
from orchestrator.backends.connect import run_backend
from orchestrator.cli import batch_cmds
from orchestrator.cli.common import (
    handle_errors,
    records_location,
    resolve_api_key,
    resolve_base_url,
    server_options,
    state_home,
)
from orchestrator.cli.otel_opts import otel_options, trace_settings
from orchestrator.cli.output_guard import Cancel, OutputGuard, silence_stdout
from orchestrator.compile import load_plan
from orchestrator.compile.plan import Plan
from orchestrator.errors import ExitCode, OrchestrateError, RunError, SpecError
from orchestrator.run import approval, render
from orchestrator.run.batch_records import is_batch_id
from orchestrator.run.dryrun import dry_run
from orchestrator.run.inputs import parse_assignments, resolve_inputs
from orchestrator.run.liveness import shown_status
from orchestrator.run.progress import make_reporter, outcome_json, totals_json
from orchestrator.run.records import Records
from orchestrator.run.runner import (
    RunOptions,
    RunOutcome,
    check_env,
    recorded_options,
    resume_run,
    run_timeout,
    start_run,
)
from orchestrator.run.secrets import Redactor
from orchestrator.run.status import CANCELLED, SUCCEEDED, WAITING, WAITING_APPROVAL


def _records() -> Records:
    return Records(records_location())


def _exec_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = otel_options(fn)
    for option in reversed(
        [
            click.option(
                "--max-parallel",
                type=click.IntRange(1, 64),
                default=4,
                show_default=True,
                help="Steps running at once.",
            ),
            click.option(
                "--timeout",
                type=click.FloatRange(min=0, min_open=True),
                help="Seconds for the whole run (default: the pipeline's run_timeout, else 6 hours).",
            ),
            click.option(
                "--json",
                "as_json",
                is_flag=True,
                help="JSON lines of events, then the outcome as one JSON document.",
            ),
            click.option("--stream", is_flag=True, help="Show agent output as it arrives."),
        ]
    ):
        fn = option(fn)
    return fn


def _budget_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--max-cost",
        type=click.FloatRange(min=0, min_open=True),
        metavar="USD",
        help="The run's budget in US dollars (default: the pipeline's "
        "defaults.budget): no further step starts once it is spent.",
    )(fn)
    fn = click.option(
        "--max-tokens",
        type=click.IntRange(min=1),
        metavar="N",
        help="The run's budget in tokens (prompt + completion).",
    )(fn)
    return fn


@click.command("run")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--input",
    "-i",
    "inputs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A pipeline input; repeat for several. Typed by the input's declaration.",
)
@click.option(
    "--input-file",
    type=click.Path(exists=True, dir_okay=False),
    help="A YAML or JSON mapping of inputs (--input wins on conflicts).",
)
@server_options
@_exec_options
@click.option(
    "--model",
    help="Default model handle (default: ORCHESTRATE_MODEL, else the server's local model).",
)
@click.option("--dry-run", is_flag=True, help="Show the plan and prompts; no server needed.")
@click.option("--keep-agents", is_flag=True, help="Keep the run's inline agents afterwards.")
@click.option(
    "--namespace",
    default="default",
    show_default=True,
    help="Namespace of provisioned agents referenced with ref:.",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "temporal"]),
    default="local",
    show_default=True,
    help="Where steps run: this process, or Temporal workers (`orchestrate worker`).",
)
@click.option(
    "--temporal-address",
    default=None,
    metavar="HOST:PORT",
    help="Temporal's address (default $ORCHESTRATE_TEMPORAL_ADDRESS or 127.0.0.1:7233).",
)
@click.option(
    "--task-queue",
    default=None,
    help="Temporal task queue the workers poll (default 'orchestrate').",
)
@click.option(
    "--spread",
    type=click.Choice(["items", "all"]),
    default="items",
    show_default=True,
    help="On Temporal, what any worker may take: a for_each "
    "step's items and a loop's iterations (whole steps run on the worker holding the "
    "run, as local activities), or every step.",
)
@_budget_options
@batch_cmds.batch_options
@click.option(
    "--allow-path",
    "allowed",
    multiple=True,
    metavar="DIR",
    help="Also let the pipeline use sub-pipeline files under DIR (repeatable).",
)
@handle_errors
def run_cmd(
    file: str,
    inputs: tuple[str, ...],
    input_file: str | None,
    base_url: str | None,
    api_key: str | None,
    max_parallel: int,
    timeout: float | None,
    as_json: bool,
    stream: bool,
    model: str | None,
    dry_run: bool,
    keep_agents: bool,
    namespace: str,
    executor: str,
    temporal_address: str | None,
    task_queue: str | None,
    spread: str,
    max_tokens: int | None,
    max_cost: float | None,
    batch_file: str | None,
    concurrency: int | None,
    results: str | None,
    allowed: tuple[str, ...] = (),
) -> int:
    """Run a pipeline against a Letta server (or once per line of a --batch file)."""
    batch_cmds.check_batch_usage(
        batch_file,
        concurrency=concurrency,
        results=results,
        input=inputs,
        input_file=input_file,
        dry_run=dry_run,
        stream=stream,
    )
    with _json_errors(as_json):
        plan = load_plan(file, allowed)
        if not as_json:
            for warning in getattr(plan, "warnings", ()):
                click.echo(warning.labelled(), err=True)
        options = RunOptions(
            max_parallel=max_parallel,
            timeout=timeout,
            keep_agents=keep_agents,
            model=model or settings.value("ORCHESTRATE_MODEL"),
            namespace=namespace,
            stream=stream,
            executor=executor,
            temporal_address=temporal_address
            or settings.value("ORCHESTRATE_TEMPORAL_ADDRESS")
            or None,
            task_queue=task_queue,
            spread=spread,
            max_tokens=max_tokens,
            max_cost=max_cost,
            allow_path=tuple(str(Path(a).resolve()) for a in allowed),
        )
        options = dataclasses.replace(options, trace=trace_settings())
        if batch_file:
            return batch_cmds.run_batch(
                plan,
                batch_file,
                base_url=base_url,
                api_key=api_key,
                options=options,
                concurrency=concurrency,
                results=results,
                as_json=as_json,
            )
        given = {**_input_file(input_file), **parse_assignments(inputs)}
        # Input mistakes first, exactly as a run checks them (no server needed).
        values = resolve_inputs(plan.inputs, given, Redactor())
        if dry_run:
            check_env(plan)  # as a run does before creating anything; values are not read
            steps = dry_run_steps(plan, {n: v for n, v in values.items() if n in given})
            click.echo(json.dumps(steps, indent=2) if as_json else render.dry_run_text(plan, steps))
            return 0
        return _run(plan, given, base_url, api_key, as_json, options)


def _run(
    plan: Plan,
    given: Mapping[str, Any],
    base_url: str | None,
    api_key: str | None,
    as_json: bool,
    options: RunOptions,
) -> int:
    key = resolve_api_key(api_key)
    backend = run_backend(resolve_base_url(base_url), key, run_timeout=run_timeout(options, plan))
    records = _records()
    cancel = Cancel()  # set when our output is closed (`| head`): the run stops cleanly
    reporter = OutputGuard(make_reporter(as_json=as_json, stream=options.stream), cancel)
    outcome = start_run(
        plan, given, backend, records, options=options, emit=reporter, api_key=key, cancel=cancel
    )
    return _finish(outcome, as_json)


def dry_run_steps(plan: Plan, given: Mapping[str, Any]) -> list[dict]:
    return [step.__dict__ for step in dry_run(plan, given)]


@click.command("resume")
@click.argument("run_id")
@click.option(
    "--input",
    "-i",
    "inputs",
    multiple=True,
    metavar="NAME=VALUE",
    help="Secret inputs again (they are never recorded).",
)
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False),
    help="The pipeline file, if it moved (default: the recorded path).",
)
@server_options
@_exec_options
@click.option(
    "--model",
    help="The run's default model from now on (to fix a model that "
    "failed; default: the recorded one).",
)
@_budget_options
@batch_cmds.batch_resume_options
@handle_errors
def resume_cmd(
    run_id: str,
    inputs: tuple[str, ...],
    file: str | None,
    base_url: str | None,
    api_key: str | None,
    max_parallel: int,
    timeout: float | None,
    as_json: bool,
    stream: bool,
    model: str | None,
    max_tokens: int | None,
    max_cost: float | None,
    concurrency: int | None,
    retry_failed: bool,
) -> int:
    """Continue a failed, cancelled or killed run, or a batch (BATCH_ID): only what did
    not succeed runs again."""
    batch_cmds.check_resume_usage(
        run_id,
        concurrency=concurrency,
        retry_failed=retry_failed,
        input=inputs,
        timeout=timeout,
        stream=stream,
        model=model,
        max_tokens=max_tokens,
        max_cost=max_cost,
    )
    with _json_errors(as_json):
        if is_batch_id(run_id):
            return batch_cmds.resume_batch_cmd(
                run_id,
                file=file,
                base_url=base_url,
                api_key=api_key,
                concurrency=concurrency,
                retry_failed=retry_failed,
                as_json=as_json,
            )
        return _resume(
            run_id,
            inputs,
            file,
            base_url,
            api_key,
            max_parallel,
            timeout,
            as_json,
            stream,
            model,
            budget=(max_tokens, max_cost),
        )


def _resume(
    run_id: str,
    inputs: tuple[str, ...],
    file: str | None,
    base_url: str | None,
    api_key: str | None,
    max_parallel: int,
    timeout: float | None,
    as_json: bool,
    stream: bool,
    model: str | None = None,
    budget: tuple[int | None, float | None] = (None, None),
) -> int:
    records = _records()
    run = records.find_run(run_id)
    if run is None:
        raise RunError(f"no run '{run_id}' in {records.path} (see `orchestrate runs list`)")
    recorded = recorded_options(run)
    plan = load_plan(file or run["file"], recorded.allow_path)
    key = resolve_api_key(api_key)
    parallel_source = click.get_current_context().get_parameter_source("max_parallel")
    assert parallel_source is not None  # an option of `resume`: click always knows its source
    options = dataclasses.replace(  # the recorded options (executor too), but what is given
        recorded,
        max_parallel=max_parallel if parallel_source.name != "DEFAULT" else recorded.max_parallel,
        timeout=timeout or recorded.timeout,
        model=model or recorded.model,
        stream=stream,
        max_tokens=budget[0] if budget[0] is not None else recorded.max_tokens,
        max_cost=budget[1] if budget[1] is not None else recorded.max_cost,
    )
    options = dataclasses.replace(options, trace=trace_settings())
    backend = run_backend(
        resolve_base_url(base_url or run.get("base_url")),
        key,
        run_timeout=run_timeout(options, plan),
    )
    cancel = Cancel()
    reporter = OutputGuard(make_reporter(as_json=as_json, stream=stream), cancel)
    outcome = resume_run(
        run["id"],
        plan,
        backend,
        records,
        options=options,
        emit=reporter,
        given_secrets=parse_assignments(inputs),
        api_key=key,
        cancel=cancel,
    )
    return _finish(outcome, as_json)


@click.group("runs")
def runs_group() -> None:
    """Inspect recorded runs (STATE/runs.db)."""


@runs_group.command("list")
@click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def runs_list(limit: int, as_json: bool) -> int:
    """Recent runs, newest first."""
    records = _existing_records()  # a read-only command: no records, nothing to create
    runs = records.list_runs(limit) if records else []
    for run in runs:  # a run whose process is gone without finishing was killed
        run["status"] = shown_status(run)
        if run["status"] == WAITING_APPROVAL and records is not None:
            run["waiting"] = [
                approval.label(a) for a in records.approvals(run["id"], status=WAITING)
            ]
    if as_json:
        click.echo(json.dumps(runs, indent=2, default=str))
    else:
        click.echo(render.runs_table(runs))
    return 0


@runs_group.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def runs_show(run_id: str, as_json: bool) -> int:
    """One run: per step status, attempts, duration, tokens, prompt, output and error."""
    records = _existing_records()
    if records is None:
        raise RunError(f"no run '{run_id}': no runs recorded in {state_home()}")
    run = records.find_run(run_id)
    if run is None:
        raise RunError(f"no run '{run_id}' in {records.path} (see `orchestrate runs list`)")
    run["status"] = shown_status(run)  # as `runs list` says
    units = list(records.units(run["id"]).values())
    approvals = records.approvals(run["id"])
    if as_json:
        usage = totals_json(render.unit_totals(units))  # the whole run, every attempt
        click.echo(
            json.dumps(
                {"run": run, "usage": usage, "steps": units, "approvals": approvals},
                indent=2,
                default=str,
            )
        )
    else:
        click.echo(render.run_detail(run, units, approvals))
    return 0


def _existing_records() -> Records | None:
    location = records_location()
    return (
        Records(location)
        if location != str(state_home() / "runs.db") or Path(location).exists()
        else None
    )


@contextlib.contextmanager
def _json_errors(as_json: bool) -> Iterator[None]:
    """With --json, a run that stops before it starts (bad spec, inputs, environment, no
    server, a bug) still ends with one JSON outcome document on stdout; the error is re-raised for
    the usual message on stderr and exit code."""
    try:
        yield
    except (click.exceptions.Exit, click.Abort):
        raise
    except Exception as exc:  # a bug too: the document is still printed, exit 3 follows
        if as_json:
            message = (
                exc.message
                if isinstance(exc, click.ClickException)
                else str(exc)
                if isinstance(exc, OrchestrateError)
                else f"unexpected {type(exc).__name__}: {exc}"
            )
            doc: dict[str, Any] = {"run_id": None, "status": "error", "error": message}
            if isinstance(exc, SpecError):
                doc["issues"] = [
                    {
                        "file": i.file,
                        "line": i.line,
                        "col": i.col,
                        "path": i.path,
                        "message": i.message,
                        "hint": i.hint,
                        "severity": i.severity,
                    }
                    for i in exc.issues
                ]
            click.echo(json.dumps(doc, default=str))
        raise


def _input_file(path: str | None) -> dict:
    if not path:
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RunError(f"{path}: cannot read inputs: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RunError(f"{path}: an input file is a mapping of input names to values")
    return data


def _finish(outcome: RunOutcome, as_json: bool) -> int:
    try:
        _show_outcome(outcome, as_json)
    except BrokenPipeError:  # the reader left at the very end: the run itself is recorded
        silence_stdout()
    if outcome.status == SUCCEEDED:
        return int(ExitCode.OK)
    if outcome.status == CANCELLED:
        return int(ExitCode.CANCELLED)
    if outcome.status == WAITING_APPROVAL:
        return int(ExitCode.WAITING_APPROVAL)
    return int(ExitCode.USER_ERROR)


def _show_outcome(outcome: RunOutcome, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(outcome_json(outcome), default=str))
    else:
        # Outputs are the models' text: never markup, never :emoji: codes.
        Console(stderr=False, soft_wrap=True).print(
            render.outcome_text(outcome), markup=False, highlight=False, emoji=False
        )
        if outcome.status == WAITING_APPROVAL:  # not an error: what waits, how to answer
            click.echo(outcome.error, err=True)
        elif outcome.error:
            click.echo(f"error: {outcome.error}", err=True)
    sys.stdout.flush()
