"""Secrets at run time: resolve `${env:VAR}` at the last moment, and mask every secret value.

Owns `Redactor` (collects secret values: resolved env references, inputs marked
`secret: true`, the API key; masks them in text and nested data), `StreamMask` (masks text
that arrives in pieces) and `resolve_env`. Every string the runner writes to run records,
logs, progress or error messages goes through the run's Redactor first.

A secret is masked as written and in every escaped form this program itself produces from
it (`escaped_forms`: JSON as `tojson` and our JSON output write it, HTML as Jinja's `escape`
writes it, URL-quoted as Jinja's `urlencode` writes it, Python's repr as error messages
quote it). Masking is string matching: text that a model (or a template) altered in any
other way (spelled out, reversed, base64) cannot be recognised; docs/running.md says so.

Must not: log, store or return secret values anywhere but in the agent field that needs
them, and never put a value in an error message (the variable's *name* is fine).
"""

from __future__ import annotations

import html
import json
import os
import re
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from orchestrator.errors import RunError
from orchestrator.spec.envrefs import ENV_REF

MASK = "***"
MIN_SECRET_LEN = 3  # masking "a" or "" would shred every record without protecting anything
# What Jinja's `escape` filter (markupsafe) writes, which differs from html.escape on quotes.
_JINJA_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&#39;", '"': "&#34;"})


def escaped_forms(value: str) -> set[str]:
    """`value` and the forms our own output gives it: JSON-escaped (with and without
    ASCII escapes), HTML-escaped (as Jinja's `escape` does, and as html.escape does),
    URL-quoted (as Jinja's `urlencode` does, for a string and inside a query) and repr."""
    forms = {
        value,
        json.dumps(value, ensure_ascii=False)[1:-1],
        json.dumps(value)[1:-1],
        value.translate(_JINJA_ESCAPE),
        html.escape(value),
        urllib.parse.quote(value, safe="/"),
        urllib.parse.quote(value, safe="").replace("%20", "+"),
        repr(value)[1:-1],
    }
    return {f for f in forms if len(f) >= MIN_SECRET_LEN}


class Redactor:
    """Masks registered secret values in each of their `escaped_forms` (longest first, so a
    secret containing another is masked whole)."""

    def __init__(self, secrets: list[str] | tuple[str, ...] = ()):
        self._values: set[str] = set()
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.longest = 0  # the longest form: how much text a stream must hold back
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
            self._forms |= escaped_forms(value)
            ordered = sorted(self._forms, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
            self.longest = len(ordered[0])

    def __bool__(self) -> bool:
        return bool(self._values)

    def stream(self, sink: Callable[[str], None]) -> StreamMask:
        """A `StreamMask` that passes masked text to `sink`."""
        return StreamMask(self, sink)

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


class StreamMask:
    """Masks text that arrives in pieces (a streamed reply), so that a secret split across
    two pieces is still masked: `feed` passes on all but the last `longest - 1` characters
    (a secret's beginning may be among them), never cutting through a secret; `flush` at the
    end of the turn passes on the rest. Not thread-safe: one per streamed message."""

    def __init__(self, redactor: Redactor, sink: Callable[[str], None]):
        self._redactor, self._sink = redactor, sink
        self._held = ""

    def feed(self, piece: str) -> None:
        text = self._held + piece
        pattern, hold = self._redactor._pattern, max(self._redactor.longest - 1, 0)
        cut = len(text) - hold
        if pattern is not None and cut > 0:
            for match in pattern.finditer(text):
                if match.start() >= cut:
                    break
                cut = max(cut, match.end())  # a secret reaching past the cut goes out whole
        if cut <= 0:
            self._held = text
            return
        self._held = text[cut:]
        out = self._redactor.text(text[:cut])
        if out:
            self._sink(out)

    def flush(self) -> None:
        text, self._held = self._held, ""
        if text:
            self._sink(self._redactor.text(text) or "")

    def drop(self) -> None:
        """Forget what is held (a failed turn: its end may be the start of a secret)."""
        self._held = ""


def resolve_env(
    text: str, redactor: Redactor, where: str, environ: Mapping[str, str] | None = None
) -> str:
    """Replace each `${env:VAR}` in `text`; register the values as secrets. A missing
    variable is a `RunError` naming it and the field (`where`), never a value."""
    env = os.environ if environ is None else environ

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise RunError(
                f"{where}: environment variable {name} is not set "
                f"(the pipeline reads it with ${{env:{name}}})"
            )
        redactor.add(env[name])
        return env[name]

    return ENV_REF.sub(value, text)
