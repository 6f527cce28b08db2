"""A batch file: JSON lines of pipeline inputs, read and checked line by line.

Owns `read_batch(path, specs) -> BatchFile`: the file's sha256 (a batch resumes only on the
same bytes), and per non-blank line its 1-based physical line number (so `inputs.jsonl:7`
is the line an editor shows) with either the given inputs or the problem: not JSON, not a
JSON object, or what the run's own input checker (`run.inputs.resolve_inputs`) says about
missing, unknown or mistyped inputs. A bad line is reported as `FILE:LINE: message`; it
never stops the other lines.

Must not: run anything, or put an input's value in a message (the input checker already
hides secret values; JSON errors name only the position).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.errors import RunError
from orchestrator.run.inputs import resolve_inputs
from orchestrator.run.secrets import Redactor
from orchestrator.spec.model import InputSpec

_RUN_HINT = "pass --input NAME=VALUE or --input-file"  # run.inputs' hint, for a command line


@dataclass(frozen=True)
class BatchLine:
    line: int  # 1-based physical line number in the file
    given: dict[str, Any] | None  # the inputs as given (None: the line is bad)
    error: str | None = None  # `FILE:LINE: message` for a bad line


@dataclass(frozen=True)
class BatchFile:
    path: str  # absolute
    shown: str  # as the user named it, for messages
    sha256: str
    lines: tuple[BatchLine, ...]

    @property
    def bad(self) -> list[BatchLine]:
        return [b for b in self.lines if b.error is not None]


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_batch(path: str | Path, specs: Mapping[str, InputSpec]) -> BatchFile:
    shown = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise RunError(f"{shown}: cannot read the batch file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RunError(f"{shown}: the batch file is not UTF-8 text (byte {exc.start})") from None
    lines = tuple(
        _line(shown, number, raw, specs)
        for number, raw in enumerate(text.splitlines(), start=1)
        if raw.strip()
    )
    if not lines:
        raise RunError(
            f"{shown}: the batch file has no lines: write one JSON object of inputs per line"
        )
    return BatchFile(str(Path(path).resolve()), shown, hashlib.sha256(data).hexdigest(), lines)


def _line(shown: str, number: int, raw: str, specs: Mapping[str, InputSpec]) -> BatchLine:
    where = f"{shown}:{number}"
    try:
        given = json.loads(raw)
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "invalid JSON"
        col = f" (column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        return BatchLine(
            number,
            None,
            f"{where}: not JSON: {reason}{col} (write one JSON object of inputs per line)",
        )
    if not isinstance(given, dict):
        return BatchLine(
            number,
            None,
            f"{where}: a line is a JSON object of inputs, got "
            f'{_kind(given)} (e.g. {{"topic": "owls"}})',
        )
    try:
        resolve_inputs(specs, given, Redactor())  # the very check a run makes
    except RunError as exc:
        message = str(exc).replace(_RUN_HINT, "add to the line's JSON object")
        return BatchLine(number, None, f"{where}: {message}")
    return BatchLine(number, given)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
