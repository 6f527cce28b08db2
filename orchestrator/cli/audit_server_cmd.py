"""The `--server` half of `orchestrate audit`: connect, audit, print, maybe fix.

Thin: `provision.audit_server` reads the managed agents and plans the fix; this prints each
finding (`agent NAME (ID): where: kind: label (rule)`, never a value), prints every passage
change before making any, and returns the exit code: 0 clean, 1 findings left.

Must not: hold audit logic, or print anything of a matched value.
"""

from __future__ import annotations

import json

import click

from orchestrator.backends.letta_audit import LettaAudit
from orchestrator.cli.common import resolve_api_key, resolve_base_url
from orchestrator.errors import ExitCode, ProvisionError
from orchestrator.provision.audit_server import apply_fix, audit_server, plan_fix


def run_server_audit(
    namespace: str,
    base_url: str | None,
    api_key: str | None,
    messages: int,
    fix: bool,
    fix_mode: str,
    as_json: bool,
) -> int:
    source = LettaAudit(resolve_base_url(base_url), resolve_api_key(api_key))
    if not fix:
        source.create_passage = source.delete_passage = _read_only  # type: ignore[method-assign]
    report = audit_server(source, namespace, messages)
    fixes = plan_fix(report, fix_mode) if fix else []
    for change in fixes:  # what it will do, before doing any of it
        click.echo(f"will {change.format()}", err=True)
    changed = apply_fix(source, fixes, lambda c: click.echo(f"done: {c.format()}", err=True))
    fixed = {c.passage_id for c in changed}
    left = [f for f in report.findings if not (f.passage_id in fixed and f.kind == "personal data")]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": not left,
                    "server": source.base_url,
                    "namespace": namespace,
                    "agents": report.agents,
                    "findings": [f.as_json() for f in left],
                    "fixed": [c.passage_id for c in changed],
                },
                indent=2,
            )
        )
    else:
        for finding in left:
            click.echo(finding.format())
        tail = f", {len(changed)} passage(s) fixed" if fix else ""
        click.echo(
            f"{len(left)} finding(s) in {len(report.agents)} managed agent(s) of "
            f"namespace {namespace!r} on {source.base_url}{tail}",
            err=True,
        )
    return int(ExitCode.USER_ERROR if left else ExitCode.OK)


def _read_only(*_args: object, **_kwargs: object) -> None:
    raise ProvisionError("audit --server without --fix writes nothing")  # a bug if reached
