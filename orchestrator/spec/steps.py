"""Schema-valid step mappings -> `StepSpec` (agent steps and bounded loops), plus the shape
rules JSON Schema cannot say clearly: an agent step has an agent and a prompt; a loop step
has neither; loops do not nest; `as` goes with `for_each`; `schema` goes with format json.

Must not: resolve references between steps or agents (compile does, with the whole graph).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from orchestrator.errors import Issue
from orchestrator.spec.model import LoopSpec, Mark, OutputSpec, RetrySpec, StepSpec
from orchestrator.spec.yaml_marks import MarkedDoc, issue_at

RESERVED_VARS = ("inputs", "steps", "loop")
_AGENT_ONLY = ("agent", "prompt", "for_each", "as", "output", "model", "retries", "timeout")


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


def build_steps(doc: MarkedDoc, data: dict, path: tuple, issues: list[Issue],
                in_loop: bool = False) -> dict[str, StepSpec]:
    return {name: _step(doc, name, body, path + (name,), issues, in_loop)
            for name, body in data.items()}


def _step(doc: MarkedDoc, name: str, data: dict, path: tuple, issues: list[Issue],
          in_loop: bool) -> StepSpec:
    marks = _field_marks(doc, data, path)
    loop = None
    if "loop" in data:
        issues.extend(_loop_shape(doc, data, path, in_loop))
        loop = _loop(doc, data["loop"], path + ("loop",), issues)
    else:
        issues.extend(_agent_shape(doc, data, path))
    output = data.get("output", {})
    issues.extend(_output_shape(doc, output, path + ("output",)))
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
        model=data.get("model"),
        loop=loop,
        mark=doc.mark(path),
        field_marks=marks,
    )


def _field_marks(doc: MarkedDoc, data: dict, path: tuple) -> dict[str, Mark]:
    marks = {key: doc.mark(path + (key,)) for key in data}
    for i in range(len(data.get("needs", ()))):
        marks[f"needs[{i}]"] = doc.mark(path + ("needs", i))
    for key in data.get("loop", {}):
        marks[f"loop.{key}"] = doc.mark(path + ("loop", key))
    if "schema" in data.get("output", {}):
        marks["output.schema"] = doc.mark(path + ("output", "schema"))
    # "<field>#block": where a literal block template's first line starts (see check.py).
    for field in ("prompt", "when", "for_each", "loop.until"):
        found = doc.block_marks.get(path + tuple(field.split(".")))
        if found:
            marks[f"{field}#block"] = Mark(doc.file, *found)
    return marks


def _loop(doc: MarkedDoc, data: dict, path: tuple, issues: list[Issue]) -> LoopSpec:
    body = build_steps(doc, data["steps"], path + ("steps",), issues, in_loop=True)
    return LoopSpec(max_iterations=data["max_iterations"], steps=body,
                    until=data.get("until"), mark=doc.mark(path))


def _loop_shape(doc: MarkedDoc, data: dict, path: tuple, in_loop: bool) -> list[Issue]:
    issues = []
    if in_loop:
        issues.append(issue_at(doc.key_mark(path + ("loop",)), path, "loops cannot be nested",
                               "make the inner loop a separate loop step after this one"))
    for key in _AGENT_ONLY:
        if key in data:
            issues.append(issue_at(doc.key_mark(path + (key,)), path,
                                   f"a loop step takes no '{key}'",
                                   "put agent steps under loop.steps"))
    return issues


def _agent_shape(doc: MarkedDoc, data: dict, path: tuple) -> list[Issue]:
    issues = [issue_at(doc.mark(path), path, f"missing required key '{key}'",
                       "a step has an agent and a prompt, or a loop")
              for key in ("agent", "prompt") if key not in data]
    if "as" in data and "for_each" not in data:
        issues.append(issue_at(doc.key_mark(path + ("as",)), path, "'as' needs 'for_each'",
                               "remove 'as', or add for_each: \"{{ inputs.items }}\""))
    if data.get("as") in RESERVED_VARS:
        issues.append(issue_at(doc.mark(path + ("as",)), path + ("as",),
                               f"'{data['as']}' is reserved in templates",
                               "choose another name for the item, e.g. 'item'"))
    return issues


def _output_shape(doc: MarkedDoc, output: dict, path: tuple) -> list[Issue]:
    if "schema" not in output:
        return []
    if output.get("format", "text") != "json":
        return [issue_at(doc.key_mark(path + ("schema",)), path, "'schema' needs format: json",
                         "add format: json next to schema")]
    problem = _schema_problem(json.dumps(output["schema"], sort_keys=True))
    if problem:
        return [issue_at(doc.mark(path + ("schema",)), path + ("schema",),
                         f"invalid JSON Schema: {problem}")]
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
