"""Sub-pipelines (`uses:`), expanded into the caller's plan at compile time.

A step `review: {uses: ./review-loop.yaml, with: {...}}` becomes, in the caller's plan:
- `review.inputs`: evaluates `with:` (in the caller's scope, so it depends on the steps those
  templates read, on `needs`, and carries the step's `when`) into the used pipeline's inputs;
- `review.<step>` for every step of the used pipeline (its own plan, compiled on its own and
  prefixed; nested sub-pipelines are already expanded in it, e.g. `review.check.inputs`),
  each depending on `review.inputs` as well as on its own upstream steps; its templates read
  the used pipeline's names (`steps.draft`, `inputs.text`): `StepPlan.scope` says whose;
- `review` itself: evaluates the used pipeline's `outputs:` (in its scope) into the step's
  output, `steps.review.output.<name>`; it depends on every step of the sub-pipeline.
Agents and shared blocks of the used pipeline are prefixed too (`review.writer`): every use
gets its own. Executors, records and resume see ordinary top-level steps.

Owns `check_with` (unknown, missing and mistyped `with:` inputs, located), `expand`, and the
wording of problems inside a used file, reported at the call site as well.

Must not: read files (spec/uses.py does) or know about run time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

from orchestrator.compile.plan import Plan, StepPlan, Template, UsesPlan
from orchestrator.errors import Issue
from orchestrator.spec import schema
from orchestrator.spec.model import AgentSpec, InputSpec, Mark, StepSpec
from orchestrator.spec.suggest import did_you_mean

INPUTS = "inputs"  # the name of a sub-pipeline's inputs step: `<uses step>.inputs`


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def inner_summary(issues: list[Issue], written: str) -> tuple[str, str]:
    """The call site's message for the errors inside a used file (each reported in it)."""
    errors = [i for i in issues if i.severity == "error"]
    if not errors:
        return f"the used pipeline '{written}' could not be read", ""
    first = errors[0]
    where = f"{first.file}:{first.line}:{first.col}: {first.path + ': ' if first.path else ''}"
    count = f"{len(errors)} error{'s' if len(errors) != 1 else ''}"
    return (f"the used pipeline '{written}' has {count}", f"first: {where}{first.message}")


def check_with(step: StepSpec, used: Plan, path: str) -> list[Issue]:
    """`with:` against the used pipeline's inputs: unknown names, required ones missing,
    literal values of the wrong type or not in the enum."""
    issues = []
    call = step.field_marks.get("uses", step.mark)
    if INPUTS in used.steps:  # `<step>.inputs` is where its inputs are evaluated
        mark = used.steps[INPUTS].mark
        issues.append(
            _issue(
                call,
                f"{path}.uses",
                f"'{step.uses}' has a step named "
                f"'{INPUTS}' ({_at(mark)}), a name a sub-pipeline keeps for "
                "its inputs",
                "rename that step to use the pipeline here",
            )
        )
    for name, value in step.with_.items():
        mark = step.field_marks.get(f"with.{name}", call)
        where = f"{path}.with.{name}"
        declared = used.inputs.get(name)
        if declared is None:
            issues.append(
                _issue(
                    step.field_marks.get(f"with.{name}#key", mark),
                    where,
                    f"'{step.uses}' has no input '{name}'",
                    did_you_mean(name, used.inputs, fallback=_inputs_words(used.inputs)),
                )
            )
            continue
        problem = _type_problem(declared, value)
        if problem:
            issues.append(
                _issue(mark, where, problem, f"input '{name}' is declared at {_at(declared.mark)}")
            )
    for name, declared in used.inputs.items():
        if name not in step.with_ and not declared.has_default:
            issues.append(
                _issue(
                    call,
                    f"{path}.with",
                    f"missing input '{name}' of '{step.uses}'",
                    f"add with: {{{name}: ...}} (it is "
                    f"declared at {_at(declared.mark)}, with no default)",
                )
            )
    return issues


def _type_problem(declared: InputSpec, value: Any) -> str:
    if is_template(value):
        return ""  # known when it renders (checked then, as a run's inputs are)
    if isinstance(value, str) and declared.type != "string":
        try:
            value = json.loads(value)
        except ValueError:
            return f"expected {schema.type_words(declared.type)}, got text {value!r}"
    got = schema.json_type(value)
    if not (got == declared.type or (declared.type == "number" and got == "integer")):
        return f"expected {schema.type_words(declared.type)}, got {schema.type_words(got)}"
    if declared.enum is not None and value not in declared.enum:
        return f"{value!r} is not one of the enum values of input '{declared.name}'"
    return ""


def _inputs_words(inputs: Mapping[str, InputSpec]) -> str:
    return f"its inputs: {', '.join(inputs)}" if inputs else "it declares no inputs"


def _at(mark: Mark) -> str:
    return f"{mark.file}:{mark.line}:{mark.col}"


def _issue(mark: Mark, path: str, message: str, hint: str = "") -> Issue:
    return Issue(mark.file, mark.line, mark.col, path, message, hint)


@dataclasses.dataclass
class Expanded:
    steps: dict[str, StepPlan]  # entry, the used pipeline's steps, then the uses step
    deps: dict[str, set[str]]
    agents: dict[str, AgentSpec]
    shared_blocks: dict[str, Any]


def expand(
    step: StepSpec,
    used: Plan,
    values: Mapping[str, Template],
    when: Template | None,
    deps: set[str],
) -> Expanded:
    """The steps, agents and shared blocks a `uses:` step stands for in the caller's plan.
    `values`: its `with:` templates (checked in the caller's scope); `deps`: what they, its
    `needs` and its `when` depend on."""
    p = step.name
    entry = f"{p}.{INPUTS}"
    literals = {n: v for n, v in step.with_.items() if not isinstance(v, str)}
    steps: dict[str, StepPlan] = {
        entry: StepPlan(
            name=entry,
            agent=None,
            prompt=None,
            depends_on=tuple(sorted(deps)),
            when=when,
            uses=UsesPlan(INPUTS, used.source, values, literals, used.inputs),
            fingerprint=_digest(
                "inputs", used.source_hash, {n: t.source for n, t in values.items()}, literals
            ),
            mark=step.field_marks.get("uses", step.mark),
        )
    }
    for inner in used.steps.values():
        renamed = _prefixed(inner, p)
        steps[renamed.name] = dataclasses.replace(
            renamed, depends_on=tuple(sorted({*renamed.depends_on, entry}))
        )
    steps[p] = StepPlan(
        name=p,
        agent=None,
        prompt=None,
        depends_on=tuple(sorted(steps)),
        scope=p,
        uses=UsesPlan("outputs", used.source, used.outputs),
        budget=step.budget,
        fingerprint=_digest(
            "outputs", used.source_hash, {n: t.source for n, t in used.outputs.items()}
        ),
        mark=step.mark,
    )
    agents = {f"{p}.{name}": _agent(agent, p, used) for name, agent in used.agents.items()}
    blocks = {f"{p}.{name}": block for name, block in used.shared_blocks.items()}
    return Expanded(steps, {n: set(s.depends_on) for n, s in steps.items()}, agents, blocks)


def _prefixed(step: StepPlan, p: str) -> StepPlan:
    loop = step.loop
    if loop is not None:
        loop = dataclasses.replace(
            loop,
            steps={
                n: dataclasses.replace(s, agent=f"{p}.{s.agent}" if s.agent else None)
                for n, s in loop.steps.items()
            },
        )
    return dataclasses.replace(
        step,
        name=f"{p}.{step.name}",
        depends_on=tuple(f"{p}.{d}" for d in step.depends_on),
        agent=f"{p}.{step.agent}" if step.agent else None,
        loop=loop,
        scope=f"{p}.{step.scope}" if step.scope else p,
    )


def _agent(agent: AgentSpec, p: str, used: Plan) -> AgentSpec:
    """The used pipeline's agent as the caller's: its own name, its shared blocks', the used
    pipeline's default model and embedding (the caller's defaults are not its), and a `ref:`
    to a file made relative to where the used pipeline is."""
    ref = agent.ref
    if ref is not None and ref.endswith((".yaml", ".yml")) and not os.path.isabs(ref):
        ref = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(used.source)), ref))
    return dataclasses.replace(
        agent,
        name=f"{p}.{agent.name}",
        ref=ref,
        shared_blocks=tuple(f"{p}.{b}" for b in agent.shared_blocks),
        model=agent.model or (None if agent.ref else used.defaults.model),
        embedding=agent.embedding or (None if agent.ref else used.defaults.embedding),
    )


def _digest(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
