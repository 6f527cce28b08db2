"""Small wording helpers shared by the spec and compile phases: "did you mean", dotted paths.

Must not: know about pipelines; it only formats words and paths.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

PathKey = tuple  # a path into a YAML document: str keys and int list indices
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
# Keys other tools use for what this language calls differently (no spelling is close).
SYNONYMS = {
    "depends_on": "needs",
    "dependencies": "needs",
    "after": "needs",
    "requires": "needs",
    "depends": "needs",
}


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate nearest to `word`, or None when nothing is close enough to suggest."""
    matches = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return matches[0] if matches else None


def meant_key(word: str, allowed: Iterable[str]) -> str | None:
    """The allowed key an unknown key was probably meant to be: a known synonym
    ('depends_on' -> 'needs') or the closest spelling."""
    allowed = list(allowed)
    synonym = SYNONYMS.get(word)
    return synonym if synonym in allowed else closest(word, allowed)


def as_identifier(name: str) -> str:
    """The lowercase identifier a badly written name most likely means: 'Draft-1' -> 'draft_1'."""
    fixed = re.sub(r"[^a-z0-9_]", "_", str(name).lower())
    return "_" + fixed if fixed[:1].isdigit() else fixed


def did_you_mean(word: str, candidates: Iterable[str], *, fallback: str = "") -> str:
    """'did you mean 'x'?' when a candidate is close; otherwise `fallback` (may be "")."""
    candidates = list(candidates)
    match = closest(word, candidates)
    if match is not None:
        return f"did you mean '{match}'?"
    return fallback


def one_of(names: Iterable[str], *, empty: str = "none") -> str:
    """'a, b, c' (sorted) for hints that list what exists."""
    names = sorted(set(names))
    return ", ".join(names) if names else empty


def dotted(path: PathKey) -> str:
    """('steps', 'draft', 'needs', 0) -> 'steps.draft.needs[0]'."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
