"""`orchestrate audit DIR|FILE... [--json] [--baseline F] [--write-baseline F]` and
`orchestrate audit --server [--namespace NS] [--messages N] [--fix [--fix-mode M]]`.

Thin by design: call `orchestrator.audit.audit` (files) or `provision.audit_server` (the
live managed agents, read-only unless --fix), apply the baseline, print each finding as
`FILE:LINE:COL: kind: where: label (rule)` or `agent NAME (ID): where: kind: label (rule)`
(never the value: a public prefix at most), and return a stable exit code: 0 clean, 1
findings or files that could not be read, 2 usage (click). `--json` always prints one
document. `--fix` prints every passage change first, then makes exactly those.

Must not: hold audit logic, or print anything of a matched value.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from orchestrator.audit import Report, audit
from orchestrator.audit.baseline import BaselineError, accepted, write
from orchestrator.cli.common import handle_errors
from orchestrator.errors import ExitCode, Issue


@click.command("audit")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, file_okay=True, dir_okay=True))
@click.option("--json", "as_json", is_flag=True, help="one JSON document on stdout")
@click.option(
    "--baseline",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="accept the findings this baseline file lists",
)
@click.option(
    "--write-baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="write every finding to this baseline file as accepted, exit 0",
)
@click.option(
    "--server",
    is_flag=True,
    help="audit the live agents this namespace manages "
    "(blocks, archival passages, recent messages, tool environment, system prompts)",
)
@click.option("--namespace", default="default", show_default=True, help="with --server")
@click.option(
    "--base-url",
    default=None,
    help="Letta server (default: $LETTA_BASE_URL, else the embedded stack)",
)
@click.option("--api-key", default=None, help="default: $LETTA_API_KEY")
@click.option(
    "--messages",
    type=click.IntRange(0, 1000),
    default=100,
    show_default=True,
    help="with --server: how many recent messages of each agent to read",
)
@click.option(
    "--fix",
    is_flag=True,
    help="with --server: redact (or delete) the archival "
    "passages holding personal data, after printing each change",
)
@click.option(
    "--fix-mode",
    type=click.Choice(["redact", "delete"]),
    default="redact",
    show_default=True,
    help="with --fix",
)
@handle_errors
def audit_cmd(
    paths: tuple[str, ...],
    as_json: bool,
    baseline: Path | None,
    write_baseline: Path | None,
    server: bool,
    namespace: str,
    base_url: str | None,
    api_key: str | None,
    messages: int,
    fix: bool,
    fix_mode: str,
) -> None:
    """Find secrets and personal data in pipelines, resources, tool sources and folder files,
    or (--server) in the live agents a namespace manages."""
    if server:
        if paths or baseline or write_baseline:
            raise click.UsageError("--server audits the server: give no files, no baseline")
        from orchestrator.cli.audit_server_cmd import run_server_audit

        sys.exit(run_server_audit(namespace, base_url, api_key, messages, fix, fix_mode, as_json))
    if not paths:
        raise click.UsageError("give the files or directories to audit, or --server")
    if fix:
        raise click.UsageError("--fix needs --server")
    report = audit(list(paths))
    written = None
    try:
        if baseline is not None:
            report.findings, report.accepted = accepted(report.findings, baseline)
        if write_baseline is not None:
            written = write(report.findings, write_baseline)
            report.accepted += len(report.findings)
            report.findings = []
    except BaselineError as exc:  # reported like an unreadable file: located, exit 1
        report.problems.append(
            Issue(
                exc.file,
                exc.line,
                exc.col,
                "",
                exc.message,
                "pass a file written by --write-baseline",
            )
        )
    failed = bool(report.findings or report.problems)
    if as_json:
        click.echo(json.dumps(_document(report, failed), indent=2))
    else:
        _print(report, write_baseline, written)
    sys.exit(ExitCode.USER_ERROR if failed else ExitCode.OK)


def _document(report: Report, failed: bool) -> dict[str, object]:
    return {
        "ok": not failed,
        "findings": [f.as_json() for f in report.findings],
        "problems": [
            {
                "file": p.file,
                "line": p.line,
                "col": p.col,
                "path": p.path,
                "message": p.message,
                "hint": p.hint,
            }
            for p in report.problems
        ],
        "files": report.files,
        "skipped_binary": report.skipped,
        "ignored": report.ignored,
        "accepted": report.accepted,
    }


def _print(report: Report, write_baseline: Path | None, written: int | None) -> None:
    for problem in report.problems:
        click.echo(problem.format())
    for finding in report.findings:
        click.echo(finding.format())
    if write_baseline is not None:
        click.echo(f"wrote {written} accepted finding(s) to {write_baseline}", err=True)
    extra = [
        f"{n} {what}"
        for n, what in (
            (report.ignored, "ignored inline"),
            (report.accepted, "accepted by the baseline"),
            (len(report.skipped), "binary file(s) skipped"),
        )
        if n
    ]
    tail = f" ({', '.join(extra)})" if extra else ""
    click.echo(f"{len(report.findings)} finding(s) in {len(report.files)} file(s){tail}", err=True)
