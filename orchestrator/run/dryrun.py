"""`orchestrate run --dry-run`: the plan and every prompt, rendered without a server.

Owns `dry_run(plan, given) -> list[DryStep]`. Upstream outputs, missing inputs and
for_each items are `Placeholder`s that render as `<steps.draft.output>` and survive
attribute access, indexing, iteration and filters, so a prompt shows exactly where each
handoff lands. `when`/`until` are shown as written, not evaluated (their data does not
exist yet). Secret inputs are shown as `<secret>`.

Must not: touch a backend, the records or the environment's secrets.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.compile.plan import Plan, StepPlan
from orchestrator.compile.templates import render
from orchestrator.run import jsonout
from orchestrator.run.status import SUCCEEDED


class Placeholder:
    def __init__(self, path: str):
        self._path = path

    def __str__(self) -> str:
        return f"<{self._path}>"

    __repr__ = __str__

    def __getattr__(self, name: str) -> Placeholder:
        if name.startswith("__"):
            raise AttributeError(name)
        return Placeholder(f"{self._path}.{name}")

    def __getitem__(self, key: Any) -> Placeholder:
        return Placeholder(f"{self._path}[{key!r}]")

    def __iter__(self) -> Iterator[Placeholder]:
        yield Placeholder(f"{self._path}[0]")

    def __len__(self) -> int:
        return 1

    def __bool__(self) -> bool:
        return True


@dataclass(frozen=True)
class DryStep:
    name: str  # "loop.body" for loop body steps
    agent: str | None
    model: str | None
    depends_on: tuple[str, ...]
    when: str | None
    for_each: str | None
    prompt: str | None
    loop: str | None = None  # "max 3, until {{ ... }}" for loop steps
    uses: str | None = None  # "inputs of review-loop.yaml" for the ends of a sub-pipeline


def dry_run(plan: Plan, given: Mapping[str, Any]) -> list[DryStep]:
    inputs = {}
    for name, spec in plan.inputs.items():
        if spec.secret:
            inputs[name] = Placeholder("secret")
        elif name in given:
            inputs[name] = given[name]
        elif spec.has_default:
            inputs[name] = spec.default
        else:
            inputs[name] = Placeholder(f"inputs.{name}")
    steps = {name: _view(name) for name in plan.steps}
    scopes: dict[str, dict[str, Any]] = {"": {"inputs": inputs, "steps": steps}}
    out: list[DryStep] = []
    for name, step in plan.steps.items():
        if step.uses is not None:  # an end of a sub-pipeline: no prompt
            out.append(_uses_step(name, step, scopes))
            continue
        here = scopes.get(step.scope) or scopes[""]
        if step.loop is None:
            out.append(_agent_step(name, step, plan, here))
            continue
        until = step.loop.until.source if step.loop.until else "never (runs every iteration)"
        out.append(
            DryStep(
                name,
                None,
                None,
                step.depends_on,
                step.when.source if step.when else None,
                None,
                None,
                loop=f"at most {step.loop.max_iterations} iterations, until {until}",
            )
        )
        body_steps = {**here["steps"], **{b: _view(f"{name}.{b}") for b in step.loop.steps}}
        loop_vars = {
            "index": Placeholder("loop.index"),
            "first": True,
            "previous": Placeholder("loop.previous"),
        }
        for body, inner in step.loop.steps.items():
            context = {"inputs": here["inputs"], "steps": body_steps, "loop": loop_vars}
            out.append(_agent_step(f"{name}.{body}", inner, plan, context))
    return out


def _uses_step(name: str, step: StepPlan, scopes: dict[str, dict[str, Any]]) -> DryStep:
    """`X.inputs` renders `with:` in its caller's scope, which becomes X's inputs; the
    steps of X read each other by their own names."""
    uses = step.uses
    assert uses is not None  # dry_run sends only the ends of sub-pipelines here
    shown = None
    if uses.role == "inputs":
        scope = name.rsplit(".", 1)[0]
        caller = scopes.get(step.scope) or scopes[""]
        given = {**uses.literals, **{n: render(t, caller) for n, t in uses.values.items()}}
        values = {
            n: given[n]
            if n in given
            else spec.default
            if spec.has_default
            else Placeholder(f"{scope}.inputs.{n}")
            for n, spec in uses.inputs.items()
        }
        prefix = scope + "."
        scopes[scope] = {
            "inputs": values,
            "steps": {
                n[len(prefix) :]: _view(n) for n in scopes[""]["steps"] if n.startswith(prefix)
            },
        }
        shown = "\n".join(f"{n}: {v}" for n, v in values.items())
    role = "inputs" if uses.role == "inputs" else "outputs"
    return DryStep(
        name,
        None,
        None,
        step.depends_on,
        step.when.source if step.when else None,
        None,
        shown,
        uses=f"the {role} of sub-pipeline {uses.file}",
    )


def _view(name: str) -> dict[str, Any]:
    return {
        "output": Placeholder(f"steps.{name}.output"),
        "ran": True,
        "status": SUCCEEDED,
        "iterations": Placeholder(f"steps.{name}.iterations"),
    }


def _agent_step(name: str, step: StepPlan, plan: Plan, context: dict[str, Any]) -> DryStep:
    if step.for_each is not None:
        context = {**context, step.item_var: Placeholder(step.item_var)}
    assert step.prompt is not None  # every agent step has one
    prompt = render(step.prompt, context)
    if step.output_format == "json":
        prompt += jsonout.request_suffix(step.output_schema)
    agent = plan.agents.get(step.agent) if step.agent is not None else None
    model = step.model or (agent.model if agent else None) or plan.defaults.model
    return DryStep(
        name,
        step.agent,
        model,
        step.depends_on,
        step.when.source if step.when else None,
        step.for_each.source if step.for_each else None,
        prompt,
    )
