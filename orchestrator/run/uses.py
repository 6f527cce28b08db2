"""The two ends of a sub-pipeline at run time (compile/subpipelines.py expands it).

Owns `run_uses`: `<step>.inputs` evaluates the `with:` templates (in the caller's scope) and
checks them as a run's inputs are checked (types, enums, defaults, secrets registered with
the run's redactor); the step itself evaluates the used pipeline's `outputs:` (in its
scope) into its output. Neither talks to an agent.

Must not: schedule, or decide skips (run.flow does, as for any step).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from orchestrator.compile.plan import Plan, StepPlan
from orchestrator.compile.templates import evaluate
from orchestrator.errors import RunError
from orchestrator.run.context import StepResult, scoped_context
from orchestrator.run.inputs import resolve_inputs
from orchestrator.run.services import Services
from orchestrator.run.status import SUCCEEDED


def run_uses(svc: Services, step: StepPlan, context: dict[str, Any]) -> StepResult:
    uses = step.uses
    assert uses is not None  # run.flow sends only the ends of sub-pipelines here
    values = {name: evaluate(t, context) for name, t in uses.values.items()}
    if uses.role != "inputs":
        return StepResult(SUCCEEDED, values)
    try:
        bound = resolve_inputs(uses.inputs, {**uses.literals, **values}, svc.redactor)
    except RunError as exc:
        caller = step.name.rsplit(".", 1)[0]
        raise RunError(f"steps.{caller}.with ({uses.file}): {exc}") from None
    return StepResult(SUCCEEDED, bound)


def rebind_inputs(
    svc: Services, plan: Plan, inputs: Mapping[str, Any], results: dict[str, StepResult]
) -> None:
    """Evaluate again the inputs of every sub-pipeline that `results` (read back from the run
    records) says succeeded: the records hold them masked (a secret passed with `with:`), and
    a Temporal worker's step must see what a local run's does. In plan order, so a nested
    sub-pipeline's inputs are evaluated from its caller's, already unmasked."""
    for name, step in plan.steps.items():
        if (
            step.uses is not None
            and step.uses.role == "inputs"
            and name in results
            and results[name].status == SUCCEEDED
        ):
            context = scoped_context(step.scope, inputs, results)
            try:
                output = run_uses(svc, step, context).output
            except RunError:  # as recorded, then: the step reading it says what is wrong
                continue
            results[name] = dataclasses.replace(results[name], output=output)
