"""What a Temporal worker runs: one top-level step of a run (`orchestrate.step`), and the run's
preparation (`orchestrate.prepare`: its shared blocks, made once before any step).

Owns building a step's `Services` on a worker from the run's data and its run records, and
calling `run.flow.run_step` exactly as the local executor does. What the step needs that
earlier steps produced (their outputs, and this step's own units from an earlier attempt)
is read from the run records, which every worker reaches: a retried activity (its worker
died) therefore reuses what was done and reconciles an in-flight message with the agent's
history by its recorded otid, as `resume` does. The agent copies the step may use are the
ones the workflow leased to it (`copies`), so no Letta agent gets two messages at once
across workers. A heartbeat thread tells Temporal the worker is alive and turns a
cancellation into the step's cancel flag. `${env:VAR}` values are read from the worker's
environment (workers need the same variables as a local run) and never leave it.

Must not: decide when steps run (the workflow does) or know step semantics (run.flow does).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from functools import lru_cache
from typing import Any

from temporalio import activity

from orchestrator import settings
from orchestrator.backends.base import AgentRef, RunBackend
from orchestrator.backends.connect import run_backend
from orchestrator.compile import load_plan_text
from orchestrator.compile.plan import Plan
from orchestrator.errors import RunError
from orchestrator.run import approval, records_pg
from orchestrator.run.agents import AgentPool
from orchestrator.run.budget import Budget, spent_so_far, step_limits
from orchestrator.run.cleanup import agent_users
from orchestrator.run.context import StepResult, Usage
from orchestrator.run.fanout import items_by
from orchestrator.run.flow import run_step
from orchestrator.run.records import NO_ITEM, NO_ITERATION, Records, UnitKey
from orchestrator.run.secrets import Redactor
from orchestrator.run.services import Cancelled, EventSink, Services, redacting
from orchestrator.run.status import CANCELLED, DONE_OK, REJECTED, SKIPPED, WAITING
from orchestrator.run.step import unit_gate
from orchestrator.run.temporal import items
from orchestrator.run.uses import rebind_inputs
from orchestrator.spec.model import BudgetSpec

HEARTBEAT_EVERY = 3.0  # seconds; the workflow's heartbeat timeout is 15 s


@lru_cache(maxsize=32)
def _plan(text: str, file: str, source_hash: str, used: tuple[tuple[str, str], ...] = ()) -> Plan:
    # the used files were found inside the run's trust boundary by the process that started it
    plan = load_plan_text(
        text, file, allowed=tuple(os.path.dirname(p) for p, _ in used), used=dict(used)
    )
    if plan.source_hash != source_hash:
        raise RunError(f"{file}: the pipeline this worker compiled differs from the run's")
    return plan


_records: dict[str, Records] = {}
_records_lock = threading.Lock()


def _open_records(ref: str) -> Records:
    """The run's records: a SQLite path, or `env:<URL without password>` for PostgreSQL,
    whose full URL (with its password) the worker takes from ORCHESTRATE_RECORDS_URL."""
    location = ref
    if ref.startswith("env:"):
        location = settings.value("ORCHESTRATE_RECORDS_URL") or ""
        if records_pg.safe_url(location) != ref[4:]:
            shown = records_pg.safe_url(location) if location else "unset"
            raise RunError(
                f"this worker's ORCHESTRATE_RECORDS_URL ({shown}) is not the run's "
                f"records ({ref[4:]}): set it to the same database"
            )
    with _records_lock:  # one connection per database per worker (Records is thread-safe)
        if location not in _records:
            _records[location] = Records(location)
        return _records[location]


def _pool(
    run: dict[str, Any],
    plan: Plan,
    backend: RunBackend,
    records: Records,
    redactor: Redactor,
    assigned: dict[str, list[int]] | None = None,
) -> AgentPool:
    rows = [r for r in records.resources(run["run_id"]) if not r["deleted"]]
    reuse = {(r["kind"], r["name"]): r["letta_id"] for r in rows}
    # In a live first attempt the records are the truth (nothing deletes the run's agents
    # while it runs): no lookup per step. A resume, or an activity retried after its worker
    # died, checks that the recorded agents still exist.
    trusted = run.get("attempt", 0) == 0 and activity.info().attempt == 1
    alive = (
        {r["letta_id"]: AgentRef(r["letta_id"], r["name"]) for r in rows if r["kind"] == "agent"}
        if trusted
        else None
    )
    models = run.get("models")
    return AgentPool(
        plan,
        backend,
        records,
        redactor,
        run_id=run["run_id"],
        namespace=run["namespace"],
        default_model=run.get("model"),
        keep=True,
        reuse=reuse,
        assigned=assigned,
        alive=alive,
        models=(list(models[0]), list(models[1])) if models else None,
    )


_backends: dict[tuple[str, str | None], RunBackend] = {}


def _parts(run: dict[str, Any]) -> tuple[Plan, RunBackend, Records, Redactor]:
    plan = _plan(
        run["pipeline_text"],
        run["pipeline_file"],
        run["source_hash"],
        tuple(sorted((run.get("used_files") or {}).items())),
    )
    api_key = os.environ.get("LETTA_API_KEY") or None
    with _records_lock:  # one client (and its connection pool) per server per worker
        backend = _backends.get((run["base_url"], api_key))
        if backend is None:
            backend = _backends[(run["base_url"], api_key)] = run_backend(run["base_url"], api_key)
    return plan, backend, _open_records(run["records"]), Redactor([api_key] if api_key else [])


@activity.defn(name="orchestrate.prepare")
def prepare(run: dict[str, Any]) -> None:
    """The shared blocks of every agent a step uses, made once (and recorded) before any
    step, so two workers making the same block at once cannot split a shared state."""
    plan, backend, records, redactor = _parts(run)
    pool = _pool(run, plan, backend, records, redactor)
    for name, users in agent_users(plan).items():
        if users and not plan.agents[name].ref:
            for block in plan.agents[name].shared_blocks:
                pool.shared_block(block)


def settled_results(
    plan: Plan, units: dict[UnitKey, dict], gates: list[dict] | None = None
) -> dict[str, StepResult]:
    """The top-level steps' results as recorded (outputs as recorded: masked secrets), with
    the decisions of plain steps' approval gates (`gates`: the run's approvals rows)."""
    decided = {
        (g["step"], g["stage"]): g
        for g in gates or ()
        if g["item"] == NO_ITEM and g["iteration"] == NO_ITERATION and g["status"] != WAITING
    }
    results = {}
    for name in plan.steps:
        row = units.get(UnitKey(name, NO_ITEM, NO_ITERATION))
        if row is not None and row["status"] in DONE_OK:
            results[name] = StepResult(
                row["status"],
                row.get("output"),
                row.get("error"),
                iterations=row.get("iterations"),
                duration=row.get("duration") or 0.0,
            )
        gate = plan.steps[name].approval
        if gate is None:
            continue
        answers = [decided[(name, s)] for s in ("after", "before") if (name, s) in decided]
        if not answers or (name not in results and answers[0]["status"] != REJECTED):
            continue
        view = approval.view(answers[0])
        if view["approved"]:
            results[name].approval = view
        elif gate.on_reject == "continue":  # as the local executor: skipped, with the decision
            results[name] = StepResult(SKIPPED, approval=view)
    return results


@activity.defn(name="orchestrate.step")
def step(run: dict[str, Any]) -> dict[str, Any]:
    plan, backend, records, redactor = _parts(run)
    for secret in run.get("secret_inputs", ()):
        redactor.add(run["inputs"].get(secret))  # masked everywhere, as in a local run
    name = run["step"]
    memo = records.units(run["run_id"])
    pool = _pool(run, plan, backend, records, redactor, assigned=run.get("copies"))
    svc = Services(
        run_id=run["run_id"],
        backend=backend,
        records=records,
        redactor=redactor,
        agents=pool,
        memo=memo,
        max_parallel=max(1, int(run["max_parallel"])),
        stream=bool(run.get("stream")),
    )
    svc.emit = redacting(_relay(records, run["run_id"]), redactor)
    trace = _trace(run, plan, svc)
    limits = run.get("budget") or {}
    svc.budget = Budget(  # what every worker spent so far is in the records
        BudgetSpec(max_tokens=limits.get("max_tokens"), max_cost=limits.get("max_cost")),
        step_limits(plan),
        spent_so_far(memo.values()),
    )
    stop = threading.Event()
    beat = threading.Thread(
        target=contextvars.copy_context().run,
        args=(_heartbeat, svc, stop),
        name=f"heartbeat-{name}",
        daemon=True,
    )
    beat.start()
    mode = run.get("mode", "step")  # a for_each step's phases: see items.py
    hook = {
        "expand": items.expand,
        "item": items.one_item(int(run.get("index", 0))),
        "collect": items.collect(name),
    }.get(mode)
    token = unit_gate.set(items.one_new_unit()) if mode == "unit" else None
    try:
        with items_by(hook) if hook is not None else contextlib.nullcontext():
            settled = settled_results(plan, memo, records.approvals(run["run_id"]))
            rebind_inputs(svc, plan, run["inputs"], settled)  # unmasked, as in a local run
            result = run_step(svc, plan.steps[name], run["inputs"], settled)
    except items.Expanded as exc:
        return {"status": "expand", "count": exc.count}
    except items.MoreUnits:
        return {"status": "more"}
    except items.ItemDone as exc:
        result = exc.result
    except Cancelled as exc:
        result = StepResult(CANCELLED, error=str(exc))
    finally:
        stop.set()
        if trace is not None:
            trace.flush(wait=False)
        if token is not None:
            unit_gate.reset(token)
    return {**summary(result), "stopped": svc.budget.stopped}  # the run's limit, reached


def _trace(run: dict[str, Any], plan: Plan, svc: Services) -> Any:
    """A traced run's spans for this activity's units (run.otel; imported only then)."""
    if not run.get("trace"):
        return None
    from orchestrator.run import otel

    trace = otel.RunTrace.for_worker(run, plan, svc.redactor)
    svc.backend, svc.records = trace.backend(svc.backend), trace.records(svc.records)
    svc.agents.backend = svc.backend  # the copies this step creates: client spans too
    svc.emit = trace.events(svc.emit)
    return trace


# What the following process derives itself from the records (never relayed).
_DERIVED = frozenset(
    {"step_started", "step_finished", "step_waiting", "run_started", "run_finished"}
)


def _relay(records: Records, run_id: str) -> EventSink:
    """The step's events (retries, reconciliations, loop iterations, streamed text,
    warnings) into the run records, where the process that started the run reads them."""

    def sink(kind: str, **data: Any) -> None:
        if kind not in _DERIVED:
            records.add_event(run_id, kind, {k: _plain(v) for k, v in data.items()})

    return sink


def _plain(value: Any) -> Any:
    return (
        value if isinstance(value, (str, int, float, bool, type(None), list, dict)) else str(value)
    )


def _heartbeat(svc: Services, stop: threading.Event) -> None:
    """Tells Temporal the worker is alive (an activity; a local activity has no heartbeat:
    the SDK keeps its workflow task alive) and turns a cancellation into the cancel flag."""
    local = activity.info().is_local
    while not stop.wait(HEARTBEAT_EVERY):
        try:
            if not local:
                activity.heartbeat()
            if activity.is_cancelled():
                svc.stop("cancelled")
                return
        except RuntimeError:  # the activity is over
            return


def summary(result: StepResult) -> dict[str, Any]:
    """What the workflow keeps of a step: no outputs (they live in the run records)."""
    u = result.usage
    return {
        "status": result.status,
        "error": result.error,
        "duration": result.duration,
        "iterations": result.iterations,
        "reused": result.reused,
        "usage": [u.prompt_tokens, u.completion_tokens, u.step_count, u.attempts],
        "cached": result.cached,
        "approval": result.approval,
    }


def from_summary(data: dict[str, Any], output: Any = None) -> StepResult:
    return StepResult(
        data["status"],
        output,
        data.get("error"),
        data.get("iterations"),
        data.get("duration") or 0.0,
        Usage(*data.get("usage", [0, 0, 0, 0])),
        bool(data.get("reused")),
        cached=bool(data.get("cached")),
        approval=data.get("approval"),
    )
