"""The two ends of a sub-pipeline at run time (compile/subpipelines.py expands it).

Owns `run_uses`: `<step>.inputs` evaluates the `with:` templates (in the caller's scope) and
checks them as a run's inputs are checked (types, enums, defaults, secrets registered with
the run's redactor); the step itself evaluates the used pipeline's `outputs:` (in its
scope) into its output. Neither talks to an agent.

Must not: schedule, or decide skips (run.flow does, as for any step).
"""

from __future__ import annotations

from typing import Any

from orchestrator.compile.plan import StepPlan
from orchestrator.compile.templates import evaluate
from orchestrator.errors import RunError
from orchestrator.run.context import SUCCEEDED, StepResult
from orchestrator.run.inputs import resolve_inputs
from orchestrator.run.services import Services


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
