"""Warnings for a pipeline that compiles but carries dead weight: agents no step uses,
inputs no template reads, steps whose output nobody reads. They never fail validation.

Must not: raise; it only returns issues with severity "warning".
"""

from __future__ import annotations

from collections.abc import Collection

from orchestrator.errors import Issue
from orchestrator.spec.model import Mark, PipelineSpec


def _warning(mark: Mark, path: str, message: str, hint: str) -> Issue:
    return Issue(mark.file, mark.line, mark.col, path, message, hint, "warning")


def unused_warnings(
    spec: PipelineSpec,
    steps_read: Collection[str],
    inputs_read: Collection[str],
    agents_used: Collection[str],
    errors: bool = False,
) -> list[Issue]:
    """`errors`: the pipeline has errors; a template that failed to check records no reads,
    so "never read" warnings would only echo those errors and are left out."""
    found = []
    for name, agent in spec.agents.items():
        if name not in agents_used:
            found.append(
                _warning(
                    agent.mark,
                    f"agents.{name}",
                    f"agent '{name}' is not used by any step",
                    "remove it, or give it a step",
                )
            )
    for name, spec_input in spec.inputs.items():
        if name not in inputs_read:
            found.append(
                _warning(
                    spec_input.mark,
                    f"inputs.{name}",
                    f"input '{name}' is never read",
                    f"read it as {{{{ inputs.{name} }}}} or remove it",
                )
            )
    # Without `outputs:` the run record is where results are read, so every step counts.
    for name, step in spec.steps.items() if spec.outputs and not errors else ():
        if name not in steps_read:
            found.append(
                _warning(
                    step.mark,
                    f"steps.{name}",
                    f"the output of step '{name}' is never read",
                    "read it in outputs: or in a later step, or remove the step",
                )
            )
    return found
