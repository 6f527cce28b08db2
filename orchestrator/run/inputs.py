"""Pipeline inputs: from `--input k=v` strings and input files to typed, checked values.

Owns `parse_assignments` (the CLI's `k=v` form), `coerce` (a string typed by the declared
input type: arrays/objects/numbers/booleans are JSON-parsed; an integer must be written as
one: `1e3` or `2.0` is refused, not read as 1000 or 2), and `resolve_inputs` (defaults,
`${env:VAR}` in defaults, enum checks, unknown and missing names, secret registration).
All problems are reported at once; values of secret inputs never appear in messages.

Must not: read files or the terminal (the CLI does) beyond the environment for defaults.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchestrator.errors import RunError
from orchestrator.run.secrets import Redactor, resolve_env
from orchestrator.spec.model import InputSpec
from orchestrator.spec.suggest import did_you_mean

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def parse_assignments(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    values, bad = {}, []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            bad.append(pair.split("=", 1)[0] or pair)
            continue
        values[name.strip()] = value
    if bad:
        raise RunError(f"--input takes NAME=VALUE (got {', '.join(repr(b) for b in bad)})")
    return values


def coerce(spec: InputSpec, raw: Any) -> Any:
    """A CLI string becomes the declared type; values from input files are checked as is."""
    value = raw
    if isinstance(raw, str) and spec.type != "string":
        try:
            value = json.loads(raw)
        except ValueError:
            raise RunError(
                f"input '{spec.name}': expected {_article(spec.type)}, got {_shown(spec, raw)}"
            ) from None
    if spec.type == "integer" and isinstance(value, float):
        # 1e3, 2.0: a number written as a float is not an integer, whatever its value
        raise RunError(
            f"input '{spec.name}': expected an integer, got {_shown(spec, raw)} "
            "(write it with digits only"
            + (
                f", e.g. {int(value)})"
                if value.is_integer() and not spec.secret and abs(value) < 1e18
                else ")"
            )
        )
    if not _is_type(value, spec.type):
        raise RunError(
            f"input '{spec.name}': expected {_article(spec.type)}, got {_shown(spec, raw)}"
        )
    if spec.enum is not None and value not in spec.enum:
        choices = ", ".join(json.dumps(e) for e in spec.enum)
        raise RunError(f"input '{spec.name}': {_shown(spec, raw)} is not one of {choices}")
    return value


def resolve_inputs(
    specs: Mapping[str, InputSpec], given: Mapping[str, Any], redactor: Redactor
) -> dict[str, Any]:
    problems: list[str] = []
    for name in given:
        if name not in specs:
            hint = did_you_mean(name, specs, fallback="")
            problems.append(f"unknown input '{name}'" + (f" ({hint})" if hint else ""))
    values: dict[str, Any] = {}
    missing = []
    for name, spec in specs.items():
        try:
            if name in given:
                values[name] = coerce(spec, given[name])
            elif spec.has_default:
                values[name] = _default(spec, redactor)
            else:
                missing.append(name)
                continue
        except RunError as exc:
            problems.append(str(exc))
            continue
        if spec.secret:
            for secret in _strings(values[name]):
                redactor.add(secret)
    if missing:
        problems.append(
            f"missing required input{'s' if len(missing) > 1 else ''}: "
            f"{', '.join(missing)} (pass --input NAME=VALUE or --input-file)"
        )
    if problems:
        raise RunError("; ".join(problems))
    return values


def _default(spec: InputSpec, redactor: Redactor) -> Any:
    if isinstance(spec.default, str) and "${env:" in spec.default:
        return coerce(spec, resolve_env(spec.default, redactor, f"inputs.{spec.name}.default"))
    return spec.default


def _is_type(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind != "boolean":
        return False
    return isinstance(value, _PY_TYPES.get(kind, (object,)))


def _article(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _shown(spec: InputSpec, raw: Any) -> str:
    if spec.secret:
        return "a value (secret: not shown)"
    text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [str(value)] if value is not None else []
