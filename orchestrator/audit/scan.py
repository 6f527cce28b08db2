"""One text in, its located findings out: lines and columns, inline ignores, the wording.

Owns: `Finding` (file, line, col, kind, where, rule, the masked prefix; the matched value is
kept only for the baseline's salted hash and never appears in `format()`, `as_json()` or
`repr()`), `scan_text`, and the inline `# audit: ignore[rule, ...]` comment that suppresses
the named rules on its own line (YAML and Python comments alike).

Must not: read files or decide which files are audited (sources.py does), nor print.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from orchestrator.audit.rules import BY_NAME, hits

IGNORE = re.compile(r"#\s*audit:\s*ignore\[([A-Za-z0-9_,\s-]+)\]")
Where = Callable[[int, int], str]  # (line, col) -> where in the file, e.g. a YAML path


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    col: int
    rule: str
    kind: str = field(compare=False)
    where: str = field(compare=False)
    masked: str = field(default="", compare=False)
    value: str = field(default="", compare=False, repr=False)  # never printed

    @property
    def label(self) -> str:
        return BY_NAME[self.rule].label

    def format(self) -> str:
        shown = f" '{self.masked}'" if self.masked else ""
        return (
            f"{self.file}:{self.line}:{self.col}: {self.kind}: {self.where}: "
            f"{self.label}{shown} ({self.rule})"
        )

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "kind": self.kind,
            "where": self.where,
            "rule": self.rule,
            "label": self.label,
            "masked": self.masked,
        }


def ignored_rules(line: str) -> set[str]:
    """The rules an `# audit: ignore[...]` comment on `line` names."""
    found = IGNORE.search(line)
    if not found:
        return set()
    return {name.strip() for name in found.group(1).split(",") if name.strip()}


def scan_text(text: str, file: str, where: Where) -> tuple[list[Finding], int]:
    """The findings in `text` and how many inline ignore comments suppressed."""
    starts = [0]
    starts.extend(m.end() for m in re.finditer("\n", text))
    findings, suppressed = [], 0
    lines: list[str] | None = None
    for hit in hits(text):
        index = bisect.bisect_right(starts, hit.start) - 1
        line, col = index + 1, hit.start - starts[index] + 1
        if "audit:" in text:
            lines = lines if lines is not None else text.split("\n")
            if hit.rule in ignored_rules(lines[index]):
                suppressed += 1
                continue
        rule = BY_NAME[hit.rule]
        findings.append(
            Finding(
                file,
                line,
                col,
                hit.rule,
                rule.kind,
                where(line, col),
                rule.mask(text[hit.start : hit.end]),
                hit.value,
            )
        )
    return findings, suppressed
