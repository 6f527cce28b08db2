"""`orchestrate audit`: secrets and personal data in the files a project ships to Letta.

Owns: `audit(paths)` -> `Report` (the findings left after inline ignores, the files read,
the problems met while reading). rules.py says what is found, scan.py where, sources.py in
which files, baseline.py which findings were accepted.

Must not: talk to a server, run anything, or keep a matched value in anything it prints
(a `Finding` carries the value only for the baseline's salted hash).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.audit.rules import RULES
from orchestrator.audit.scan import Finding, scan_text
from orchestrator.audit.sources import collect
from orchestrator.errors import Issue

__all__ = ["RULES", "Finding", "Report", "audit"]


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    problems: list[Issue] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    ignored: int = 0  # suppressed by `# audit: ignore[rule]`
    accepted: int = 0  # suppressed by the baseline


def audit(paths: list[str]) -> Report:
    collected = collect(paths)
    report = Report(problems=sorted(collected.problems), skipped=collected.skipped)
    for source in collected.sources:
        found, ignored = scan_text(source.text, source.file, source.where)
        report.findings.extend(found)
        report.ignored += ignored
        report.files.append(source.file)
    report.findings.sort()
    return report
