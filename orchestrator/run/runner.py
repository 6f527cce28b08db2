"""Start or resume one run: the glue between a plan, a backend, the records and an executor.

Owns `RunOptions`, `RunOutcome`, `start_run` and `resume_run`: pre-flight (server answers,
`${env:VAR}` set, inputs typed, price files readable), the run's budget (run.budget), the
run record, the agent pool, executing, the pipeline
outputs, releasing agents, and the final status: `succeeded`, `failed` (a step failed or the
run timed out: what succeeded is kept for `orchestrate resume`), `cancelled` (Ctrl-C),
`waiting_approval` (an approval gate waits for `orchestrate approve`; nothing failed) or
`rejected` (a person rejected a gated step that does not `continue`).

Resume reloads the pipeline, recompiles, and re-executes the whole plan against a memo of
the earlier attempt: a unit whose fingerprint and rendered prompt (hence its upstream
outputs) are unchanged and that succeeded is reused without a message; a unit caught in
flight is reconciled with the agent's history by its otid; everything else runs.

Must not: parse CLI arguments or print (events go to `emit`).
"""

from __future__ import annotations

import os
import secrets as pysecrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.backends import identity
from orchestrator.backends.base import RunBackend
from orchestrator.compile.plan import Plan
from orchestrator.compile.templates import evaluate
from orchestrator.errors import RunError
from orchestrator.run import approval, executor, liveness
from orchestrator.run.agents import AgentPool
from orchestrator.run.budget import Budget, run_limit, spent_so_far, step_limits
from orchestrator.run.context import StepResult, base_context
from orchestrator.run.cost import load_prices
from orchestrator.run.inputs import resolve_inputs
from orchestrator.run.liveness import process_alive  # noqa: F401  (run.stats imports it here)
from orchestrator.run.model_check import check_models
from orchestrator.run.provisioned import Agent, find_referenced, replaced_refs
from orchestrator.run.records import Records
from orchestrator.run.secrets import Redactor
from orchestrator.run.services import CTRL_C, EventSink, Services, redacting
from orchestrator.run.status import (
    BROKEN,
    CANCELLED,
    DONE_OK,
    FAILED,
    REJECTED,
    SUCCEEDED,
    WAITING_APPROVAL,
    RunStatus,
)
from orchestrator.run.tracing import TraceSettings

# resume takes the options a user may need to fix what failed (see cli resume)
RESUME_OPTIONS_HINT = " (it takes --model, --timeout and --max-parallel to change them)"
DEFAULT_RUN_TIMEOUT = 6 * 3600.0  # seconds: a run with no --timeout and no defaults.run_timeout


def run_timeout(options: RunOptions, plan: Plan) -> float:
    """The whole run's limit: --timeout, else the pipeline's defaults.run_timeout, else
    DEFAULT_RUN_TIMEOUT (a run that hangs, e.g. on a server that never answers, must end)."""
    return options.timeout or plan.defaults.run_timeout or DEFAULT_RUN_TIMEOUT


@dataclass(frozen=True)
class RunOptions:
    max_parallel: int = 4
    timeout: float | None = None  # the whole run; None: the pipeline's defaults.run_timeout
    model: str | None = None  # the run's default model
    keep_agents: bool = False
    namespace: str = identity.DEFAULT_NAMESPACE
    stream: bool = False
    executor: str = "local"  # or "temporal": steps run as activities on `orchestrate worker`s
    temporal_address: str | None = None  # default 127.0.0.1:7233
    task_queue: str | None = None  # default "orchestrate"
    # on Temporal, which units any worker may take: "items" (a for_each step's items and a
    # loop's iterations; whole steps run where the run's workflow runs) or "all"
    spread: str = "items"
    max_tokens: int | None = None  # the run's budget; None: the pipeline's defaults.budget
    max_cost: float | None = None  # US dollars; likewise
    # OpenTelemetry traces (run.tracing, run.otel): not recorded, each start or resume decides
    trace: TraceSettings = TraceSettings()
    allow_path: tuple[str, ...] = ()  # --allow-path: where used pipelines may also be (resume)


@dataclass
class RunOutcome:
    run_id: str
    status: RunStatus
    results: dict[str, StepResult]
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    duration: float = 0.0
    redactor: Redactor = field(default_factory=Redactor, repr=False)
    # the whole run over every attempt, from its records (Records.usage_totals)
    totals: dict[str, Any] = field(default_factory=dict)


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + pysecrets.token_hex(3)


def start_run(
    plan: Plan,
    given: Mapping[str, Any],
    backend: RunBackend,
    records: Records,
    *,
    options: RunOptions = RunOptions(),
    emit: EventSink = lambda k, **d: None,
    api_key: str | None = None,
    run_id: str | None = None,
    cancel: threading.Event | None = None,
) -> RunOutcome:
    redactor = Redactor([api_key] if api_key else [])
    inputs = resolve_inputs(plan.inputs, given, redactor)
    _check_budget(plan, options)
    refs = _preflight(plan, backend, options)
    run_id = run_id or new_run_id()
    secret = sorted(n for n, s in plan.inputs.items() if s.secret)
    records.start_run(
        run_id,
        pipeline=plan.name,
        file=os.path.abspath(plan.source),
        file_hash=plan.source_hash,
        inputs={k: v for k, v in redactor.data(inputs).items() if k not in secret},
        secret_inputs=secret,
        base_url=backend.base_url,
        namespace=options.namespace,
        options={**_options(options), "given": sorted(set(given) - set(secret))},
        pid=os.getpid(),
    )
    return _execute(
        plan,
        inputs,
        backend,
        records,
        redactor,
        options,
        emit,
        run_id,
        memo={},
        reuse={},
        refs=refs,
        cancel=cancel,
    )


def resume_run(
    run_id: str,
    plan: Plan,
    backend: RunBackend,
    records: Records,
    *,
    given_secrets: Mapping[str, Any] | None = None,
    options: RunOptions | None = None,
    emit: EventSink = lambda k, **d: None,
    api_key: str | None = None,
    cancel: threading.Event | None = None,
) -> RunOutcome:
    run = records.run(run_id)
    if run is None:
        raise RunError(f"no run '{run_id}' in {records.path}")
    _check_resumable(run, plan)
    options = options or recorded_options(run)
    _check_budget(plan, options)
    redactor = Redactor([api_key] if api_key else [])
    # Only what was given explicitly: defaults are recomputed (an ${env:VAR} default was
    # recorded masked, and must be read from the environment again).
    names = run["options"].get("given", list(run["inputs"]))
    given = {**{n: run["inputs"][n] for n in names if n in run["inputs"]}, **(given_secrets or {})}
    missing = [n for n in run["secret_inputs"] if n not in given]
    if missing:
        raise RunError(secret_inputs_missing(missing))
    inputs = resolve_inputs(plan.inputs, given, redactor)
    if {k: v for k, v in redactor.data(inputs).items() if k not in run["secret_inputs"]} != run[
        "inputs"
    ]:
        raise RunError(
            f"run {run_id}: the pipeline's inputs no longer match the run's "
            "(an input was added, removed or its default changed); start a new run"
        )
    refs = _preflight(plan, backend, options)
    records.reopen_run(
        run_id, file_hash=plan.source_hash, base_url=backend.base_url, pid=os.getpid()
    )
    reuse = {
        (r["kind"], r["name"]): r["letta_id"] for r in records.resources(run_id) if not r["deleted"]
    }
    return _execute(
        plan,
        inputs,
        backend,
        records,
        redactor,
        options,
        emit,
        run_id,
        memo=replaced_refs(records.units(run_id), refs),
        reuse=reuse,
        refs=refs,
        cancel=cancel,
    )


def secret_inputs_missing(names: list[str]) -> str:
    again = " ".join(f"-i {n}=..." for n in names)
    if len(names) == 1:
        return f"input '{names[0]}' is secret and was not recorded: pass it again with {again}"
    listed = ", ".join(f"'{n}'" for n in names)
    return f"inputs {listed} are secret and were not recorded: pass them again with {again}"


def recorded_options(run: dict) -> RunOptions:
    options = {k: v for k, v in run["options"].items() if k != "given"}
    options["allow_path"] = tuple(options.get("allow_path") or ())
    return RunOptions(**options)


def _check_resumable(run: dict, plan: Plan) -> None:
    if run["status"] == SUCCEEDED:
        raise RunError(f"run {run['id']} already succeeded: nothing to resume")
    if liveness.alive(run):
        where = "" if liveness.on_this_host(run) else f" on {run['host']}"
        raise RunError(f"run {run['id']} is still running (pid {run['pid']}{where})")
    if plan.name != run["pipeline"]:
        raise RunError(
            f"run {run['id']} is of pipeline '{run['pipeline']}', not "
            f"'{plan.name}': resume it with its own file ({run['file']})"
        )


def check_env(plan: Plan) -> None:
    """Every `${env:VAR}` the pipeline reads is set (checked before anything is created;
    the values are read only when needed). Also used by `run --dry-run`."""
    missing = sorted(n for n in plan.env_refs if n not in os.environ)
    if missing:
        raise RunError(
            f"environment variable{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} not set (the pipeline reads "
            f"{', '.join('${env:' + n + '}' for n in missing)})"
        )


def _preflight(plan: Plan, backend: RunBackend, options: RunOptions) -> dict[str, Agent]:
    """Before the first message: the environment, the server, the models the run asks for,
    and every provisioned (`ref:`) agent the steps use (so a missing one costs no step's
    tokens). Returns those agents."""
    check_env(plan)
    backend.check()
    check_models(plan, options.model, backend.models()[0], backend.base_url)
    return find_referenced(plan, backend, options.namespace)


def _check_budget(plan: Plan, options: RunOptions) -> None:
    """Before anything starts: the price files read, and a budget only where it is kept."""
    load_prices()  # a user's price file with a mistake is reported before the run
    run_limit(plan, options.max_tokens, options.max_cost)  # the limits must read


def _options(options: RunOptions) -> dict:
    return {
        "max_parallel": options.max_parallel,
        "timeout": options.timeout,
        "model": options.model,
        "keep_agents": options.keep_agents,
        "namespace": options.namespace,
        "stream": options.stream,
        "executor": options.executor,
        "temporal_address": options.temporal_address,
        "task_queue": options.task_queue,
        "spread": options.spread,
        "max_tokens": options.max_tokens,
        "max_cost": options.max_cost,
        "allow_path": list(options.allow_path),
    }


def _execute(
    plan: Plan,
    inputs: dict,
    backend: RunBackend,
    records: Records,
    redactor: Redactor,
    options: RunOptions,
    emit: EventSink,
    run_id: str,
    *,
    memo: dict,
    reuse: dict,
    refs: dict[str, Agent],
    cancel: threading.Event | None = None,
    trace: Any = None,
) -> RunOutcome:
    if options.trace.on and trace is None:  # its spans ride on the records, backend, events
        from orchestrator.run import otel

        trace = otel.RunTrace.for_run(
            plan, run_id, redactor, options.trace, resumed=bool(memo), executor=options.executor
        )
        return trace.around(
            lambda: _execute(
                plan,
                inputs,
                trace.backend(backend),
                trace.records(records),
                redactor,
                options,
                trace.events(emit),
                run_id,
                memo=memo,
                reuse=reuse,
                refs=refs,
                cancel=cancel,
                trace=trace,
            )
        )
    started = time.monotonic()
    emit = redacting(emit, redactor)  # every event of the run passes here
    pool = AgentPool(
        plan,
        backend,
        records,
        redactor,
        run_id=run_id,
        namespace=options.namespace,
        default_model=options.model,
        keep=options.keep_agents,
        reuse=reuse,
        found=refs,
    )

    def on_event(kind: str, **data: Any) -> None:
        emit(kind, **data)
        if kind == "step_finished" and data["result"].status in DONE_OK:
            pool.retire(data["step"])  # its agents may be deleted while the rest runs

    svc = Services(
        run_id=run_id,
        backend=backend,
        records=records,
        redactor=redactor,
        agents=pool,
        emit=on_event,
        stream=options.stream,
        memo=memo,
        max_parallel=max(1, options.max_parallel),
        budget=Budget(
            run_limit(plan, options.max_tokens, options.max_cost),
            step_limits(plan),
            spent_so_far(memo.values()),
        ),
    )
    svc.trace = trace.for_workers() if trace is not None else None
    if cancel is not None:  # set from another thread (a batch's Ctrl-C): as Ctrl-C does
        svc.cancel, svc.cancel_reason = cancel, CTRL_C
        if hasattr(cancel, "on_stop"):  # it may say why, when it is set (output closed)
            cancel.on_stop = lambda reason: setattr(svc, "cancel_reason", reason)
    emit(
        "run_started", run_id=run_id, pipeline=plan.name, steps=list(plan.steps), resumed=bool(memo)
    )
    deadline = started + run_timeout(options, plan)
    if options.executor == "temporal":
        results = _on_temporal(plan, inputs, svc, options, deadline, backend.base_url)
        # the workers made the run's agents: clean-up must know them all
        pool = AgentPool(
            plan,
            backend,
            records,
            redactor,
            run_id=run_id,
            namespace=options.namespace,
            default_model=options.model,
            keep=options.keep_agents,
            found=refs,
            reuse={
                (r["kind"], r["name"]): r["letta_id"]
                for r in records.resources(run_id)
                if not r["deleted"]
            },
        )
    else:
        results = executor.execute(
            plan, inputs, svc, max_parallel=max(1, options.max_parallel), deadline=deadline
        )
    outcome = RunOutcome(run_id, SUCCEEDED, results, redactor=redactor)
    _settle(plan, inputs, svc, outcome, options)
    outcome.error = redactor.text(outcome.error)
    outcome.duration = time.monotonic() - started
    try:
        pool.release(outcome.status == SUCCEEDED)
    except RunError as exc:  # cleanup trouble must not turn a good run into a failed one
        emit("warning", message=redactor.text(f"could not delete the run's agents: {exc}"))
    records.finish_run(
        run_id, outcome.status, outputs=redactor.data(outcome.outputs) or None, error=outcome.error
    )
    outcome.totals = records.usage_totals(run_id)
    emit("run_finished", outcome=outcome)
    return outcome


def _on_temporal(
    plan: Plan,
    inputs: dict,
    svc: Services,
    options: RunOptions,
    deadline: float | None,
    base_url: str,
) -> dict[str, StepResult]:
    try:
        from orchestrator.run.temporal import client
    except ImportError as exc:
        raise RunError(
            f"the Temporal executor needs the `temporal` extra ({exc.name} is not "
            "installed): pip install 'orchestrate[temporal]'"
        ) from None
    target = client.TemporalTarget(
        options.temporal_address or client.DEFAULT_ADDRESS,
        options.task_queue or client.DEFAULT_QUEUE,
    )
    run = svc.records.run(svc.run_id) or {}
    return client.execute(
        plan,
        inputs,
        svc,
        target=target,
        max_parallel=max(1, options.max_parallel),
        deadline=deadline,
        base_url=base_url,
        namespace=options.namespace,
        model=options.model,
        attempt=int(run.get("resumes") or 0),
        spread=options.spread,
    )


def _settle(
    plan: Plan, inputs: dict, svc: Services, outcome: RunOutcome, options: RunOptions
) -> None:
    results = outcome.results
    if svc.cancel.is_set():
        outcome.status = FAILED if svc.timed_out else CANCELLED
        svc.records.mark_interrupted(svc.run_id, CANCELLED, svc.cancel_reason)
        outcome.error = f"{svc.cancel_reason}; continue with `orchestrate resume {svc.run_id}`"
        if svc.timed_out:  # the same limit would end it again
            outcome.error = (
                f"the run timed out after {run_timeout(options, plan):g} s; "
                f"continue with `orchestrate resume {svc.run_id} --timeout "
                "SECONDS` (a longer limit for the rest of the run)"
            )
        return
    if svc.budget.stopped:  # what ran is kept; a higher limit lets resume carry on
        flag = "--max-tokens" if "max_tokens" in svc.budget.stopped else "--max-cost"
        outcome.status = FAILED
        outcome.error = (
            f"{svc.budget.stopped}; the run stopped (what ran is kept): continue "
            f"with `orchestrate resume {svc.run_id} {flag} HIGHER`"
        )
        return
    bad = [(n, r) for n, r in results.items() if r.status not in DONE_OK]
    broken = [n for n, r in bad if r.status in BROKEN]
    if any(r.status == WAITING_APPROVAL for _, r in bad) and not broken:
        outcome.status = WAITING_APPROVAL
        outcome.error = approval.how_to_answer(
            svc.run_id, svc.records.approvals(svc.run_id, status="waiting")
        )
        return
    rejected = [(n, r) for n, r in bad if r.status == REJECTED]
    if rejected and not broken:
        outcome.status = REJECTED
        outcome.error = f"{rejected[0][1].error}; the run ends here"
        return
    if bad:
        first = next(((n, r) for n, r in bad if r.status == FAILED), bad[0])
        outcome.status = FAILED
        outcome.error = (
            f"step '{first[0]}' {first[1].status}: {first[1].error}; fix the cause "
            f"and continue with `orchestrate resume {svc.run_id}`" + RESUME_OPTIONS_HINT
        )
        return
    read = {name for t in plan.outputs.values() for name in t.steps}  # all they can read
    context = base_context(inputs, {name: results[name] for name in read if name in results})
    try:
        outcome.outputs = {name: evaluate(t, context) for name, t in plan.outputs.items()}
    except RunError as exc:
        outcome.status, outcome.error = FAILED, svc.redactor.text(str(exc))
