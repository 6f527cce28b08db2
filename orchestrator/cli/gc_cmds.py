"""`orchestrate runs gc`: delete what crashed, failed or cancelled runs left on the server.

Owns the command's options, the text and JSON rendering of `run.gc.Sweep`, and the exit
code (0 done or nothing to do, 1 a deletion failed or no server). What may be deleted is
decided in run.gc.

Must not: decide what to delete.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING

import click

from orchestrator.cli.common import (
    handle_errors,
    records_location,
    resolve_api_key,
    resolve_base_url,
)
from orchestrator.errors import ExitCode

if TYPE_CHECKING:  # imported where used, so the CLI starts fast
    from orchestrator.run.gc import Leftover, Sweep
    from orchestrator.run.records import Records


@click.command("gc")
@click.argument("run_ids", nargs=-1, metavar="[RUN_ID]...")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON document.")
@click.option(
    "--base-url", help="Letta server URL (default: LETTA_BASE_URL, else the embedded server)."
)
@click.option("--api-key", help="Letta API key (default: LETTA_API_KEY).")
@handle_errors
def runs_gc(
    run_ids: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
    base_url: str | None,
    api_key: str | None,
) -> int:
    """Delete the agents and blocks that runs which will not finish left on the server
    (failed, cancelled or killed runs; only those named, if RUN_IDs are given). Nothing
    without a run's tag is touched, nor a run still running, nor kept agents."""
    from orchestrator.backends.connect import run_backend
    from orchestrator.run.gc import collect
    from orchestrator.run.records import Records

    backend = run_backend(resolve_base_url(base_url), resolve_api_key(api_key))
    backend.check()
    records = Records(records_location())
    try:
        sweep = collect(
            records, backend, dry_run=dry_run, only=_full_ids(records, run_ids) if run_ids else None
        )
    finally:
        records.close()
    click.echo(json.dumps(sweep.to_json(), indent=2) if as_json else _text(sweep))
    return int(ExitCode.USER_ERROR if sweep.failed else ExitCode.OK)


def _full_ids(records: Records, prefixes: Iterable[str]) -> set[str]:
    from orchestrator.errors import RunError

    found: set[str] = set()
    for prefix in prefixes:
        run = records.find_run(prefix)
        if run is None:
            raise RunError(f"no run '{prefix}' in {records.path} (see `orchestrate runs list`)")
        found.add(run["id"])
    return found


def _text(sweep: Sweep) -> str:
    verb = "would delete" if sweep.dry_run else "deleted"
    if not sweep.deleted and not sweep.failed:
        lines = ["nothing to delete: no run that is over left agents or blocks"]
    else:
        agents = sum(1 for x in sweep.deleted if x.kind == "agent")
        by_run: defaultdict[tuple[str, str], list[Leftover]] = defaultdict(list)
        for item in sweep.deleted:
            by_run[(item.run_id, item.status)].append(item)
        lines = [
            f"{verb} {agents} agent{'s' * (agents != 1)} and "
            f"{len(sweep.deleted) - agents} block"
            f"{'s' * (len(sweep.deleted) - agents != 1)} of {len(by_run)} "
            f"run{'s' * (len(by_run) != 1)}:"
        ]
        for (run_id, status), items in sorted(by_run.items()):
            lines.append(f"  run {run_id} ({status}):")
            lines += [f"    {x.kind} {x.name} ({x.id})" for x in items]
    for item, error in sweep.failed:
        lines.append(
            f"could not delete {item.kind} {item.name} ({item.id}) of run {item.run_id}: {error}"
        )
    if sweep.skipped:
        lines.append("left alone:")
        lines += [f"  {run_id}: {why}" for run_id, why in sweep.skipped]
    return "\n".join(lines)
