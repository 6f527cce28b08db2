"""Secrets at run time: resolve `${env:VAR}` at the last moment, and mask every secret value.

Owns `Redactor` (collects secret values: resolved env references, inputs marked
`secret: true`, the API key; masks them in text and nested data) and `resolve_env`. Every
string the runner writes to run records, logs, progress or error messages goes through the
run's Redactor first.

Must not: log, store or return secret values anywhere but in the agent field that needs
them, and never put a value in an error message (the variable's *name* is fine).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from typing import Any

from orchestrator.errors import RunError
from orchestrator.spec.envrefs import ENV_REF

MASK = "***"
MIN_SECRET_LEN = 3  # masking "a" or "" would shred every record without protecting anything


class Redactor:
    """Masks registered secret values (longest first, so a secret containing another is
    masked whole)."""

    def __init__(self, secrets: list[str] | tuple[str, ...] = ()):
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        for value in secrets:
            self.add(value)

    def add(self, value: Any) -> None:
        if not isinstance(value, str):
            value = "" if value is None else str(value)
        if len(value) < MIN_SECRET_LEN or value in self._values:
            return
        with self._lock:
            self._values.add(value)
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def __bool__(self) -> bool:
        return bool(self._values)

    def text(self, value: str | None) -> str | None:
        if value is None or self._pattern is None:
            return value
        return self._pattern.sub(MASK, value)

    def data(self, value: Any) -> Any:
        """Mask inside nested lists/mappings (JSON-like values); other types pass through."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value


def resolve_env(text: str, redactor: Redactor, where: str,
                environ: Mapping[str, str] | None = None) -> str:
    """Replace each `${env:VAR}` in `text`; register the values as secrets. A missing
    variable is a `RunError` naming it and the field (`where`), never a value."""
    env = os.environ if environ is None else environ

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise RunError(f"{where}: environment variable {name} is not set "
                           f"(the pipeline reads it with ${{env:{name}}})")
        redactor.add(env[name])
        return env[name]

    return ENV_REF.sub(value, text)
