"""Step-level semantics, shared by every executor: skips, `when`, `for_each`, bounded loops.

Owns `run_step(svc, step, inputs, results) -> StepResult` for a top-level step whose direct
upstream steps are all settled. Rules:
- a step all of whose direct upstream steps were skipped is skipped too (without evaluating
  its `when`, which could not read their outputs);
- `when` false -> skipped (`steps.X.ran` false, output None);
- `for_each` -> one unit per item; up to min(the agent's `replicas`, --max-parallel) items
  run at once (each on its own copy of the agent; one copy: one after another, in order).
  The output is the list of item outputs in item order. When an item fails, no further item
  starts, those in flight finish (and are recorded), and the first failed item's error is
  the step's;
- a loop runs its body (sequentially, in the body's topological order) per iteration, then
  evaluates `until` with that iteration's body results visible; it stops when `until` is
  true or at `max_iterations` (not an error). Output: body step -> last-iteration output;
- a budget reached before a unit starts (run.budget) ends the step `not_started` with the
  reason; its units that ran are recorded (resume reuses them);
- an approval gate (run.approval) still unanswered ends the step `waiting_approval` (every
  for_each item is asked first); a rejection ends it `rejected`, or `skipped` with the
  decision under `on_reject: continue`, where a downstream step with a `when` decides for
  itself even if all its upstream steps were skipped.

Must not: schedule (the executor decides *when*), or talk to Letta except through step.py.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from orchestrator.compile.plan import StepPlan
from orchestrator.compile.templates import evaluate
from orchestrator.errors import BackendError, RunError
from orchestrator.run import approval
from orchestrator.run import context as ctx
from orchestrator.run.budget import BudgetExceeded
from orchestrator.run.context import StepResult, Usage
from orchestrator.run.fanout import fan_out
from orchestrator.run.records import NO_ITEM, NO_ITERATION, UnitKey
from orchestrator.run.services import Cancelled, Services
from orchestrator.run.status import (
    FAILED,
    NOT_STARTED,
    REJECTED,
    SKIPPED,
    SUCCEEDED,
    WAITING_APPROVAL,
)
from orchestrator.run.step import StepFailed, call_agent
from orchestrator.run.uses import run_uses


def run_step(
    svc: Services, step: StepPlan, inputs: Mapping[str, Any], results: Mapping[str, StepResult]
) -> StepResult:
    """Never raises for a step's own failure (it comes back as status `failed`, recorded);
    `Cancelled` propagates."""
    started = time.monotonic()
    aggregate = step.loop is not None or step.for_each is not None or step.uses is not None
    try:
        result = _run(svc, step, ctx.scoped_context(step.scope, inputs, results), results)
    except Cancelled:
        raise
    except approval.AwaitingApproval as exc:  # the run stops here; resume asks again
        result = StepResult(WAITING_APPROVAL, error=str(exc))
    except approval.Rejected as exc:
        result = StepResult(REJECTED, error=svc.redactor.text(str(exc)), approval=exc.decision)
    except BudgetExceeded as exc:  # what ran is kept (recorded); the rest did not start
        result = StepResult(NOT_STARTED, error=svc.redactor.text(str(exc)))
    except (RunError, BackendError) as exc:  # agent creation/lookup can fail too
        usage = exc.usage if isinstance(exc, StepFailed) else Usage()
        result = StepResult(FAILED, error=svc.redactor.text(str(exc)), usage=usage)
        if not aggregate:  # the unit row exists unless rendering failed before any send
            svc.records.write_unit(
                svc.run_id,
                UnitKey(step.name),
                status=FAILED,
                error=result.error,
                agent=step.agent,
                ended=time.time(),
                fingerprint=step.fingerprint,
            )
    if result.status not in (SKIPPED, NOT_STARTED):  # it never started: it only finishes
        svc.step_began(step.name)  # no-op unless it ended without using an agent
    result.duration = time.monotonic() - svc.began_at(step.name, started)  # not the wait
    # a plain step's gate keeps its own record (run.approval): its unit row stays as it ran
    if aggregate or (result.status == SKIPPED and result.approval is None):
        _record_step(svc, step, result)
    return result


def _run(
    svc: Services, step: StepPlan, context: dict[str, Any], results: Mapping[str, StepResult]
) -> StepResult:
    skipped = _decide_skip(step, results, context)
    if skipped is not None:
        return skipped
    if step.uses is not None:  # an end of a sub-pipeline: no agent
        return run_uses(svc, step, context)
    if step.loop is not None:
        return _loop(svc, step, context)
    if step.for_each is not None:
        return _for_each(svc, step, UnitKey(step.name), context)
    return call_agent(svc, step, UnitKey(step.name), context)


def _decide_skip(
    step: StepPlan, results: Mapping[str, StepResult], context: dict[str, Any]
) -> StepResult | None:
    deps = [results[d] for d in step.depends_on if d in results]
    # A rejection the pipeline continues after leaves its step skipped; a step with a `when`
    # after it decides for itself (it may branch on steps.<name>.approval).
    decides = step.when is not None and any(r.approval is not None for r in deps)
    if deps and all(r.status == SKIPPED for r in deps) and not decides:
        return StepResult(SKIPPED)
    if step.when is not None and not evaluate(step.when, context):
        return StepResult(SKIPPED)
    return None


def _for_each(svc: Services, step: StepPlan, key: UnitKey, context: dict[str, Any]) -> StepResult:
    for_each = step.for_each
    assert for_each is not None  # callers send only for_each steps
    items = evaluate(for_each, context)
    if isinstance(items, Mapping) or isinstance(items, str) or not hasattr(items, "__iter__"):
        raise RunError(f"{for_each.path}: for_each must give a list, got {type(items).__name__}")
    items = list(items)

    def one(index: int) -> StepResult:
        unit = UnitKey(key.step, index, key.iteration)
        try:
            return call_agent(svc, step, unit, ctx.with_item(context, step.item_var, items[index]))
        except approval.AwaitingApproval as exc:  # every item is asked before the step stops
            return StepResult(WAITING_APPROVAL, error=str(exc))

    width = min(len(items), svc.agents.width(step.agent), max(1, svc.max_parallel))
    results = fan_out(svc, len(items), one, width, f"{key.label()}-item")
    waiting = [
        UnitKey(key.step, i, key.iteration).label()
        for i, r in enumerate(results)
        if r.status == WAITING_APPROVAL
    ]
    if waiting:
        raise approval.AwaitingApproval(waiting)
    usage = Usage()
    for result in results:
        usage.add(result.usage)
    decisions = None
    if step.approval is not None:  # one decision per item
        decisions = {
            "approved": all(r.approval is None or r.approval["approved"] for r in results),
            "items": [r.approval for r in results],
        }
    return StepResult(
        SUCCEEDED,
        [r.output for r in results],
        usage=usage,
        reused=bool(results) and all(r.reused for r in results),
        cached=bool(results) and all(r.cached for r in results),
        approval=decisions,
    )


def _loop(svc: Services, step: StepPlan, context: dict[str, Any]) -> StepResult:
    loop = step.loop
    assert loop is not None  # callers send only loop steps
    previous: dict[str, StepResult] | None = None
    usage, iteration = Usage(), 0
    for iteration in range(1, loop.max_iterations + 1):
        svc.check_cancelled()
        body: dict[str, StepResult] = {}
        for name, inner in loop.steps.items():
            here = ctx.loop_context(context, body, iteration, previous)
            result = _decide_skip(inner, body, here)
            if result is None:
                key = UnitKey(f"{step.name}.{name}", NO_ITEM, iteration)
                result = (
                    _for_each(svc, inner, key, here)
                    if inner.for_each is not None
                    else call_agent(svc, inner, key, here)
                )
            body[name] = result
            usage.add(result.usage)
        svc.emit("loop_iteration", step=step.name, iteration=iteration)
        done = loop.until is not None and evaluate(
            loop.until, ctx.loop_context(context, body, iteration, previous)
        )
        previous = body
        if done:
            break
    output = {name: r.output for name, r in (previous or {}).items()}
    return StepResult(SUCCEEDED, output, iterations=iteration, usage=usage)


def _record_step(svc: Services, step: StepPlan, result: StepResult) -> None:
    """The step's own row for skipped, for_each and loop steps (plain steps: step.py's row)."""
    svc.records.write_unit(
        svc.run_id,
        UnitKey(step.name, NO_ITEM, NO_ITERATION),
        status=result.status,
        output=svc.redactor.data(result.output),
        fingerprint=step.fingerprint,
        error=result.error,
        agent=step.agent,
        duration=result.duration,
        iterations=result.iterations,
        attempts=result.usage.attempts,
        prompt_tokens=result.usage.prompt_tokens,
        completion_tokens=result.usage.completion_tokens,
        step_count=result.usage.step_count,
        cost=round(result.usage.usd, 9),
        unpriced_tokens=result.usage.unpriced_tokens,
        repairs=result.usage.repairs,
        ended=time.time(),
        started=time.time() - result.duration,
    )
