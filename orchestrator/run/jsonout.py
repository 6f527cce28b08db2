"""`output.format: json`: what the agent is asked, how its reply is parsed and checked, and
what it is told when the reply does not fit.

Owns the request suffix (the `JSON_MARKER` line + the schema in a ```json fence: the local
model endpoint keys on exactly that), `parse_reply` (tolerates a code fence or prose around
one JSON value) and `check` (JSON Schema validation with a one-line reason).

Must not: send anything or decide retries (run.step does).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from orchestrator.backends.base import JSON_MARKER

_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)\n?```", re.S)


class InvalidReply(ValueError):
    """The reply is not JSON, or not valid against the step's schema. The message is short and
    safe to send back to the agent."""


def schema_json(schema: Mapping[str, Any] | None) -> str:
    return json.dumps(_plain(schema or {}), ensure_ascii=False, sort_keys=True)


def request_suffix(schema: Mapping[str, Any] | None) -> str:
    return f"\n\n{JSON_MARKER}\n```json\n{schema_json(schema)}\n```"


def repair_prompt(problem: str, schema: Mapping[str, Any] | None) -> str:
    return f"Your previous answer was not valid: {problem}{request_suffix(schema)}"


def parse_reply(text: str) -> Any:
    candidates = [text.strip()]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    candidates += _bracketed(text)
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    raise InvalidReply("it is not JSON (answer with one JSON value and nothing else)")


def check(value: Any, schema: Mapping[str, Any] | None) -> None:
    if not schema:
        return
    error = best_match(_validator(schema_json(schema)).iter_errors(value))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        raise InvalidReply(f"{'at ' + where + ': ' if where else ''}{error.message}")


def decode(text: str, schema: Mapping[str, Any] | None) -> Any:
    value = parse_reply(text)
    check(value, schema)
    return value


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def _bracketed(text: str) -> list[str]:
    """The outermost {...} or [...] spans, for replies with prose around the JSON."""
    spans = []
    for open_, close in (("{", "}"), ("[", "]")):
        start, end = text.find(open_), text.rfind(close)
        if 0 <= start < end:
            spans.append(text[start : end + 1])
    return spans


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
