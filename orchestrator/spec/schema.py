"""JSON Schema validation of loaded YAML, turned into located, human-sized issues.

Owns: finding the shipped schemas (`schemas/*.schema.json`, the single source of truth,
reachable as `orchestrator/schemas` both in a checkout and in an installed wheel), caching
one validator per schema, and translating jsonschema errors into one clear `Issue` each:
"unknown key 'promt' (did you mean 'prompt'?)", "missing required key 'prompt'",
"expected a string, got a list".

Must not: check meaning beyond the schema (references, cycles: the loaders and compile do).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from orchestrator.errors import Issue
from orchestrator.spec.damage import Damage
from orchestrator.spec.suggest import as_identifier, did_you_mean, meant_key, one_of
from orchestrator.spec.yaml_marks import QUOTE_HINT, MarkedDoc, issue_at

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
SCHEMA_NAMES = ("pipeline", "resources")
NAME_PATTERN = re.compile(r"^[a-z_][a-z0-9_]*$")

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true/false)",
    "null": "nothing (null)",
}


def schema_text(name: str) -> str:
    """The schema file's text, exactly as shipped (what `orchestrate schema` prints)."""
    return (SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8")


@functools.cache
def schema(name: str) -> dict:
    return json.loads(schema_text(name))


@functools.cache
def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(inline_refs(schema(name)))


def inline_refs(document: dict) -> dict:
    """The same schema with local `$ref`s replaced by their targets (recursive ones kept).
    Resolving a `$ref` costs more than checking the keywords behind it, and a 2,000-step
    pipeline resolves thousands of them; validation results are identical."""
    defs = document.get("$defs", {})

    def expand(node: Any, stack: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [expand(item, stack) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref", "")
        name = ref.removeprefix("#/$defs/")
        if ref.startswith("#/$defs/") and len(node) == 1 and name in defs and name not in stack:
            return expand(defs[name], stack + (name,))
        return {key: expand(value, stack) for key, value in node.items()}

    inlined = {key: expand(value, ()) for key, value in document.items() if key != "$defs"}
    inlined["$defs"] = {name: expand(body, (name,)) for name, body in defs.items()}
    return inlined


def json_type(value: Any) -> str:
    """The JSON Schema type word for a Python value loaded from YAML."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def type_words(types: str | list[str]) -> str:
    types = [types] if isinstance(types, str) else list(types)
    return " or ".join(_TYPE_WORDS.get(t, t) for t in types)


def type_hint(expected: str | list[str], value: Any) -> str:
    """A fix for the common type mistakes: unquoted templates, scalars where lists go."""
    expected = [expected] if isinstance(expected, str) else list(expected)
    got = json_type(value)
    if "string" in expected and got == "object":
        return QUOTE_HINT
    if "string" in expected and got in ("integer", "number", "boolean", "null"):
        return "quote the value to make it a string"
    if "array" in expected and got in ("string", "integer", "number"):
        return f"write a list, e.g. [{value}]"
    return ""


def validate(doc: MarkedDoc, name: str, data: Any = None, base: tuple = ()) -> list[Issue]:
    """Every schema problem of `data` (default: the whole document) as located issues.
    `base` is the path of `data` inside the document (for multi-part documents)."""
    data = doc.data if data is None else data
    issues = set()
    for error in validator(name).iter_errors(data):
        for issue in _issues(error, doc, base):
            issues.add(issue)
    return sorted(issues)


def check(doc: MarkedDoc, name: str) -> tuple[list[Issue], Damage]:
    """Like `validate` for the whole document, plus the `Damage` the errors (and the YAML
    problems the document already had, `doc.broken`) leave. Errors inside a value the YAML
    loader already reported on are left out: they would only echo it."""
    damage = Damage()
    for path in doc.broken:
        damage.break_at(path)
    issues = set()
    for error in validator(name).iter_errors(doc.data):
        path = tuple(error.absolute_path)
        if doc.broken and damage.within_broken(path):
            continue
        _record(error, path, damage)
        issues.update(_issues(error, doc, ()))
    return sorted(issues), damage


def _record(error: ValidationError, path: tuple, damage: Damage) -> None:
    if "propertyNames" in error.absolute_schema_path:
        return  # a badly named part is still itself: only its name is reported
    if error.validator == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        for key in error.instance:
            if key not in allowed:
                damage.unknown_key(path, key, meant_key(str(key), allowed))
    elif error.validator == "required":
        for key in error.validator_value:
            if key not in error.instance:
                damage.break_at(path + (key,))
    else:
        damage.break_at(path)


def _issues(error: ValidationError, doc: MarkedDoc, base: tuple) -> list[Issue]:
    path = base + tuple(error.absolute_path)
    kind = error.validator
    if "propertyNames" in error.absolute_schema_path:
        return [_bad_name(doc, path, error.instance)]
    if kind == "additionalProperties":
        return _unknown_keys(error, doc, path)
    if kind == "required":
        return [
            issue_at(doc.mark(path), path, f"missing required key '{key}'")
            for key in error.validator_value
            if key not in error.instance
        ]
    message, hint = _describe(error)
    return [issue_at(doc.mark(path), path, message, hint)]


def _unknown_keys(error: ValidationError, doc: MarkedDoc, path: tuple) -> list[Issue]:
    allowed = list(error.schema.get("properties", {}))
    issues = []
    for key in error.instance:
        if key in allowed:
            continue
        meant = meant_key(str(key), allowed)
        hint = (
            f"did you mean '{meant}'?"
            if meant is not None
            else _cut_value_hint(error.instance, key) or f"allowed keys: {one_of(allowed)}"
        )
        issues.append(issue_at(doc.key_mark(path + (key,)), path, f"unknown key '{key}'", hint))
    return issues


def _cut_value_hint(mapping: dict, key: Any) -> str:
    """In a flow mapping `{prompt: Write a poem, short and sweet}` the comma ends the
    unquoted value and the rest becomes a key without a value: suggest quoting it."""
    keys = list(mapping)
    at = keys.index(key)
    if mapping[key] is not None or at == 0 or not isinstance(mapping[keys[at - 1]], str):
        return ""
    before = keys[at - 1]
    joined = f"{mapping[before]}, {key}".replace('"', '\\"')
    return f'a comma ends an unquoted value inside {{...}}: quote it, e.g. {before}: "{joined}"'


def _bad_name(doc: MarkedDoc, path: tuple, name: Any) -> Issue:
    what = {
        "steps": "step",
        "agents": "agent",
        "inputs": "input",
        "outputs": "output",
        "shared_blocks": "shared block",
    }.get(str(path[-1]) if path else "", "")
    fixed = as_identifier(str(name))
    message = f"invalid {what} name '{name}'" if what else f"invalid name '{name}'"
    hint = f"use a lowercase identifier [a-z_][a-z0-9_]*, e.g. '{fixed}'"
    return issue_at(doc.key_mark(path + (name,)), path, message, hint)


def _describe(error: ValidationError) -> tuple[str, str]:
    """Message and hint for one keyword failure (type, enum, const, bounds, pattern)."""
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "type":
        got = _TYPE_WORDS[json_type(value)]
        hint = type_hint(expected, value)
        if (
            value in ("json", "text")
            and error.absolute_path
            and error.absolute_path[-1] == "output"
        ):
            hint = f"write output: {{format: {value}}}"
        return f"expected {type_words(expected)}, got {got}", hint
    if kind == "enum":
        choices = ", ".join(str(c) for c in expected)
        return f"'{value}' is not one of: {choices}", did_you_mean(str(value), map(str, expected))
    if kind == "const":
        return f"expected '{expected}', got '{value}'", ""
    bounds = {
        "minimum": "at least",
        "exclusiveMinimum": "greater than",
        "maximum": "at most",
        "exclusiveMaximum": "less than",
    }
    if kind in bounds:
        return f"must be {bounds[kind]} {expected}, got {value}", ""
    if kind == "minLength":
        return "must not be empty", ""
    if kind in ("minItems", "minProperties"):
        return f"must have at least {expected} entr{'y' if expected == 1 else 'ies'}", ""
    if kind == "pattern" and expected == NAME_PATTERN.pattern:
        what = "agent " if error.absolute_path and error.absolute_path[-1] == "agent" else ""
        return (
            f"invalid {what}name '{value}'",
            f"use a lowercase identifier [a-z_][a-z0-9_]*, e.g. '{as_identifier(str(value))}'",
        )
    if kind == "pattern":
        return f"'{value}' does not match the pattern {expected}", ""
    return error.message, ""
