"""Step mappings -> `StepSpec` (agent steps and bounded loops), plus the shape rules JSON
Schema cannot say clearly: an agent step has an agent and a prompt; a loop step has neither;
loops do not nest; `as` goes with `for_each`; `schema` goes with format json.

A step the schema rejected (see damage.py) keeps its intact fields; one that is not even a
mapping, or a loop without a readable body, is a placeholder of unknown shape
(`Gaps.steps`). Shape rules judge the keys *written*, so a broken value is not "missing".

Must not: resolve references between steps or agents (compile does, with the whole graph).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from orchestrator.errors import Issue
from orchestrator.spec.damage import Damage
from orchestrator.spec.model import (
    ApprovalSpec,
    BudgetSpec,
    LoopSpec,
    Mark,
    OutputSpec,
    RetrySpec,
    StepSpec,
)
from orchestrator.spec.yaml_marks import MarkedDoc, issue_at

RESERVED_VARS = ("inputs", "steps", "loop")
_AGENT_ONLY = (
    "agent",
    "prompt",
    "for_each",
    "as",
    "output",
    "model",
    "retries",
    "timeout",
    "approval",
    "cache",
)
_NONE: frozenset[str] = frozenset()


def retry_spec(value: Any) -> RetrySpec | None:
    """`retries: 5` is shorthand for `{max_attempts: 5}`; the mapping form fills defaults."""
    if value is None:
        return None
    if isinstance(value, int):
        return RetrySpec(max_attempts=value)
    base = RetrySpec()
    return RetrySpec(
        max_attempts=value.get("max_attempts", base.max_attempts),
        backoff=float(value.get("backoff", base.backoff)),
        max_backoff=float(value.get("max_backoff", base.max_backoff)),
    )


def budget_spec(value: Any) -> BudgetSpec | None:
    """`budget: {max_tokens, max_cost}` (the schema checked the shape)."""
    if not isinstance(value, dict):
        return None
    tokens, cost = value.get("max_tokens"), value.get("max_cost")
    return BudgetSpec(
        max_tokens=int(tokens) if isinstance(tokens, int) else None,
        max_cost=float(cost) if isinstance(cost, (int, float)) else None,
    )


def approval_spec(value: Any) -> ApprovalSpec | None:
    """`approval: true` is shorthand for `{before: true}` (the schema checked the shape)."""
    if value is True:
        return ApprovalSpec(before=True)
    if not isinstance(value, dict):
        return None
    timeout = value.get("timeout")
    return ApprovalSpec(
        before=value.get("before") is True,
        after=value.get("after") is True,
        prompt=value.get("prompt") if isinstance(value.get("prompt"), str) else None,
        timeout=float(timeout) if isinstance(timeout, (int, float)) else None,
        on_timeout="approve" if value.get("on_timeout") == "approve" else "reject",
        on_reject="continue" if value.get("on_reject") == "continue" else "stop",
    )


def build_steps(
    doc: MarkedDoc,
    data: dict,
    path: tuple,
    issues: list[Issue],
    in_loop: bool = False,
    damage: Damage | None = None,
) -> dict[str, StepSpec]:
    """`damage`: what schema errors broke (see damage.py); broken steps become placeholders
    (they exist, so reading them is no error) and damaged ones keep their intact fields."""
    damage = Damage() if damage is None else damage
    return {
        name: _step(doc, name, body, path + (name,), issues, in_loop, damage)
        for name, body in data.items()
    }


def _step(
    doc: MarkedDoc,
    name: str,
    raw: Any,
    path: tuple,
    issues: list[Issue],
    in_loop: bool,
    damage: Damage,
) -> StepSpec:
    meant: frozenset[str] | set[str]
    data, present, meant = raw, raw, _NONE  # a valid step: every key is known and intact
    if path in damage.tainted:
        if not isinstance(raw, dict) or path in damage.broken:
            damage.opaque_steps.add(name)
            return StepSpec(name=name, mark=doc.mark(path))
        data, present, meant = (
            damage.intact(raw, path),
            damage.present(raw, path),
            damage.meant_at(path),
        )
        if {"for_each", "as"} & (set(present) | meant) - data.keys():
            data.pop("prompt", None)  # it may read the item variable, which is unknown
        if {"output", "for_each"} & (set(present) | meant) - data.keys():
            damage.opaque_steps.add(name)  # text or not: what its output holds is unknown
    loop = None
    if "uses" in present:
        issues.extend(uses_shape(doc, present, path, in_loop))
        if "uses" not in data:  # its value is broken: what its output holds is unknown
            damage.opaque_steps.add(name)
    elif "loop" in present:
        issues.extend(_loop_shape(doc, present, path, in_loop))
        loop = _loop(doc, name, raw["loop"], path + ("loop",), issues, damage)
    else:
        if "loop" in meant:  # a misspelt loop: what it holds is unknown
            damage.opaque_steps.add(name)
            damage.unknown_bodies = True
        if "uses" in meant:  # a misspelt uses: what its output holds is unknown
            damage.opaque_steps.add(name)
        issues.extend(_agent_shape(doc, data, present, meant, path))
    if "with" in present and "uses" not in present and "uses" not in meant:
        issues.append(
            issue_at(
                doc.key_mark(path + ("with",)),
                path,
                "'with' needs 'uses'",
                "'with' gives the inputs of the pipeline named by 'uses'",
            )
        )
    output = data.get("output", {})
    issues.extend(_output_shape(doc, output, path + ("output",)))
    issues.extend(_approval_shape(doc, data.get("approval"), path + ("approval",)))
    timeout = data.get("timeout")
    return StepSpec(
        name=name,
        agent=data.get("agent"),
        prompt=data.get("prompt"),
        description=data.get("description", ""),
        needs=tuple(data.get("needs", ())),
        when=data.get("when"),
        output=OutputSpec(format=output.get("format", "text"), schema=output.get("schema")),
        retries=retry_spec(data.get("retries")),
        timeout=float(timeout) if timeout is not None else None,
        for_each=data.get("for_each"),
        item_var=data.get("as", "item"),
        uses=data.get("uses"),
        with_=data.get("with") or {},
        model=data.get("model"),
        loop=loop,
        budget=budget_spec(data.get("budget")),
        approval=approval_spec(data.get("approval")),
        cache=data.get("cache") is True,
        mark=doc.mark(path),
        field_marks=_field_marks(doc, raw, path),
    )


def _field_marks(doc: MarkedDoc, data: dict, path: tuple) -> dict[str, Mark]:
    marks = {key: doc.mark(path + (key,)) for key in data}
    needs, loop, output = data.get("needs"), data.get("loop"), data.get("output")
    if isinstance(needs, list):
        for i in range(len(needs)):
            marks[f"needs[{i}]"] = doc.mark(path + ("needs", i))
    if isinstance(loop, dict):
        for key in loop:
            marks[f"loop.{key}"] = doc.mark(path + ("loop", key))
    if isinstance(output, dict) and "schema" in output:
        marks["output.schema"] = doc.mark(path + ("output", "schema"))
    if isinstance(data.get("with"), dict):
        for key in data["with"]:
            marks[f"with.{key}"] = doc.mark(path + ("with", key))
            marks[f"with.{key}#key"] = doc.key_mark(path + ("with", key))
            found = doc.block_marks.get(path + ("with", key))
            if found:
                marks[f"with.{key}#block"] = Mark(doc.file, *found)
    approval = data.get("approval")
    if isinstance(approval, dict) and "prompt" in approval:
        marks["approval.prompt"] = doc.mark(path + ("approval", "prompt"))
    # "<field>#block": where a literal block template's first line starts (see check.py).
    for field in ("prompt", "when", "for_each", "loop.until", "approval.prompt"):
        found = doc.block_marks.get(path + tuple(field.split(".")))
        if found:
            marks[f"{field}#block"] = Mark(doc.file, *found)
    return marks


def _loop(
    doc: MarkedDoc, name: str, data: Any, path: tuple, issues: list[Issue], damage: Damage
) -> LoopSpec | None:
    body_path = path + ("steps",)
    if path in damage.tainted:
        body = data.get("steps") if isinstance(data, dict) else None
        if path in damage.broken or body_path in damage.broken or not isinstance(body, dict):
            damage.opaque_steps.add(name)  # a loop without a readable body
            damage.unknown_bodies |= body is not None and not isinstance(body, dict)
            return None
        fields = damage.intact(data, path)
        return LoopSpec(
            max_iterations=fields.get("max_iterations", 1),
            steps=build_steps(doc, body, body_path, issues, True, damage),
            until=fields.get("until"),
            mark=doc.mark(path),
        )
    body = build_steps(doc, data["steps"], body_path, issues, True, damage)
    return LoopSpec(
        max_iterations=data["max_iterations"],
        steps=body,
        until=data.get("until"),
        mark=doc.mark(path),
    )


def _loop_shape(
    doc: MarkedDoc, present: Collection[str], path: tuple, in_loop: bool
) -> list[Issue]:
    issues = []
    if in_loop:
        issues.append(
            issue_at(
                doc.key_mark(path + ("loop",)),
                path,
                "loops cannot be nested",
                "make the inner loop a separate loop step after this one",
            )
        )
    for key in _AGENT_ONLY:
        if key in present:
            issues.append(
                issue_at(
                    doc.key_mark(path + (key,)),
                    path,
                    f"a loop step takes no '{key}'",
                    "put agent steps under loop.steps",
                )
            )
    return issues


USES_TAKES = ("uses", "with", "description", "needs", "when", "budget")


def uses_shape(
    doc: MarkedDoc, present: Collection[str], path: tuple, in_loop: bool = False
) -> list[Issue]:
    """A sub-pipeline step (`uses`) runs another pipeline: it has no agent, prompt or loop
    of its own, and `for_each` over a sub-pipeline is not supported (yet)."""
    issues = (
        [
            issue_at(
                doc.key_mark(path + ("uses",)),
                path,
                "a loop body cannot use a sub-pipeline",
                "make the sub-pipeline a step before or after the loop",
            )
        ]
        if in_loop
        else []
    )
    return issues + [
        issue_at(
            doc.key_mark(path + (key,)),
            path,
            f"a step with 'uses' takes no '{key}'",
            "the used pipeline's own steps say how they run; a step with 'uses' "
            f"takes {', '.join(USES_TAKES)}",
        )
        for key in present
        if key not in USES_TAKES
    ]


def _agent_shape(
    doc: MarkedDoc, data: dict, present: Collection[str], meant: Collection[str], path: tuple
) -> list[Issue]:
    """`present`: the known keys written (`data` holds the intact ones); `meant`: keys that
    unknown keys resemble, e.g. 'prompt' for 'promt' (not reported missing a second time)."""
    issues = [
        issue_at(
            doc.mark(path),
            path,
            f"missing required key '{key}'",
            "a step has an agent and a prompt, or a loop",
        )
        for key in ("agent", "prompt")
        if key not in present and key not in meant and "loop" not in meant and "uses" not in meant
    ]
    if "as" in present and "for_each" not in present and "for_each" not in meant:
        issues.append(
            issue_at(
                doc.key_mark(path + ("as",)),
                path,
                "'as' needs 'for_each'",
                "remove 'as', or add for_each: \"{{ inputs.items }}\"",
            )
        )
    if data.get("as") in RESERVED_VARS:
        issues.append(
            issue_at(
                doc.mark(path + ("as",)),
                path + ("as",),
                f"'{data['as']}' is reserved in templates",
                "choose another name for the item, e.g. 'item'",
            )
        )
    return issues


def _approval_shape(doc: MarkedDoc, approval: Any, path: tuple) -> list[Issue]:
    if (
        not isinstance(approval, dict)
        or approval.get("before") is True
        or approval.get("after") is True
    ):
        return []
    return [
        issue_at(
            doc.mark(path),
            path,
            "an approval gate asks before or after the step",
            "add before: true (before it runs) or after: true (before its output is used)",
        )
    ]


def _output_shape(doc: MarkedDoc, output: dict, path: tuple) -> list[Issue]:
    if "schema" not in output:
        return []
    if output.get("format", "text") != "json":
        return [
            issue_at(
                doc.key_mark(path + ("schema",)),
                path,
                "'schema' needs format: json",
                "add format: json next to schema",
            )
        ]
    problem = _schema_problem(json.dumps(output["schema"], sort_keys=True))
    if problem:
        return [
            issue_at(
                doc.mark(path + ("schema",)), path + ("schema",), f"invalid JSON Schema: {problem}"
            )
        ]
    return []


@functools.lru_cache(maxsize=1024)
def _schema_problem(schema_json: str) -> str:
    # Cached by text: generated pipelines repeat the same output schema many times.
    try:
        Draft202012Validator.check_schema(json.loads(schema_json))
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        return f"at '{where}': {exc.message}" if where else exc.message
    return ""
