"""`${env:VAR}` placeholders: the way a spec names a secret without containing it.

They are not Jinja: the runner substitutes them in agent fields (tool_env, system, block
values) and input defaults just before use, so the value never lands in a spec, plan, log
or run record. Owns: the syntax, finding the names, and spotting malformed references.

Must not: read the environment (that is the runner's job, at the last moment).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
_ANY_REF = re.compile(r"\$\{env:[^}\n]*\}?")
ENV_HINT = "write ${env:NAME}, NAME being letters, digits and _, not starting with a digit"


def env_names(text: str) -> set[str]:
    return set(ENV_REF.findall(text))


def bad_env_refs(text: str) -> list[str]:
    """Every `${env:...` in `text` that is not a well-formed reference."""
    if "${env:" not in text:
        return []
    return [m.group(0) for m in _ANY_REF.finditer(text) if not ENV_REF.fullmatch(m.group(0))]


def strings(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """(path, string) for every string inside nested lists/mappings (keys excluded)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, path + (key,))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from strings(item, path + (i,))
