"""What templates see at run time, and the results they read it from.

Owns `StepResult` (one step's outcome: status, output, iterations, usage: tokens,
cost, attempts) and the template
context: `inputs`, `steps.<name>.output / .ran / .status / .iterations`, the `for_each`
item variable, and inside loop bodies `loop.index / .first / .previous` (the previous
iteration's body results, read as `loop.previous.<body step>.output`, or None).

Must not: render templates (the executor-independent step code does) or do I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.run.cost import Cost
from orchestrator.run.status import SUCCEEDED, StepStatus


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    step_count: int = 0
    attempts: int = 0
    usd: float = 0.0  # the priced tokens' cost (run.cost)
    unpriced_tokens: int = 0  # tokens of models with no price: the cost is not fully known
    repairs: int = 0  # JSON repair attempts (the other extra attempts are retries)

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.step_count += other.step_count
        self.attempts += other.attempts
        self.usd += other.usd
        self.unpriced_tokens += other.unpriced_tokens
        self.repairs += other.repairs

    @property
    def cost(self) -> Cost:
        return Cost(self.usd, self.unpriced_tokens)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class StepResult:
    status: StepStatus
    output: Any = None
    error: str | None = None
    iterations: int | None = None  # loop steps only
    duration: float = 0.0
    usage: Usage = field(default_factory=Usage)
    reused: bool = False  # taken from an earlier attempt of this run (resume)
    cached: bool = False  # taken from an earlier run by its cache key (run.cache)
    approval: Any = None  # the gate's decision (run.approval.view), for templates

    @property
    def ran(self) -> bool:
        return self.status == SUCCEEDED

    def view(self) -> dict[str, Any]:
        data = {"output": self.output, "ran": self.ran, "status": self.status}
        if self.iterations is not None:
            data["iterations"] = self.iterations
        if self.approval is not None:
            data["approval"] = self.approval
        return data


def base_context(inputs: Mapping[str, Any], results: Mapping[str, StepResult]) -> dict[str, Any]:
    return {"inputs": inputs, "steps": {name: r.view() for name, r in results.items()}}


def scoped_context(
    scope: str, inputs: Mapping[str, Any], results: Mapping[str, StepResult]
) -> dict[str, Any]:
    """What a step of the sub-pipeline `scope` sees (compile/subpipelines.py): its inputs
    (the output of `<scope>.inputs`) and its steps by their own names (`steps.draft` for
    `<scope>.draft`). Top-level steps (scope "") see the run's."""
    if not scope:
        return base_context(inputs, results)
    prefix, entry = scope + ".", results.get(scope + ".inputs")
    steps = {
        name[len(prefix) :]: r.view()
        for name, r in results.items()
        if name.startswith(prefix) and name != scope + ".inputs"
    }
    return {"inputs": (entry.output if entry is not None else None) or {}, "steps": steps}


def with_item(context: Mapping[str, Any], var: str, item: Any) -> dict[str, Any]:
    return {**context, var: item}


def loop_context(
    context: Mapping[str, Any],
    body: Mapping[str, StepResult],
    index: int,
    previous: Mapping[str, StepResult] | None,
) -> dict[str, Any]:
    """Body steps of the current iteration shadow nothing: their names are unique in the plan."""
    steps = {**context["steps"], **{name: r.view() for name, r in body.items()}}
    prev = {name: r.view() for name, r in previous.items()} if previous else None
    return {
        **context,
        "steps": steps,
        "loop": {"index": index, "first": index == 1, "previous": prev},
    }
