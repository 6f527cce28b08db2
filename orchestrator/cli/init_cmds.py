"""`orchestrate init [STARTER] DIR` / `orchestrate init --list`: write a starter project.

Thin: parse, call orchestrator.starters, print what was written and what to run next; exit 0
written, 1 a non-empty DIR (without --force), 2 an unknown starter (a usage error).

Must not: hold the starters or their rules (orchestrator/starters owns them).
"""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator.cli.common import handle_errors
from orchestrator.errors import ExitCode
from orchestrator.starters import DEFAULT, STARTERS, write_starter


@click.command("init")
@click.argument("args", nargs=-1, metavar="[STARTER] DIR")
@click.option("--list", "list_", is_flag=True, help="List the starters and exit.")
@click.option(
    "--force",
    is_flag=True,
    help="Write into a non-empty DIR (files of the same name are overwritten).",
)
@handle_errors
def init_cmd(args: tuple[str, ...], list_: bool, force: bool) -> int:
    """Write a ready project (agent resources, a pipeline, a README) into DIR. STARTER is
    one of `orchestrate init --list` (default: research)."""
    if list_:
        width = max(map(len, STARTERS))
        for name, what in STARTERS.items():
            click.echo(f"{name:<{width}}  {what}")
        return ExitCode.OK
    if len(args) not in (1, 2):
        raise click.UsageError("give a directory: orchestrate init [STARTER] DIR")
    name, target = (DEFAULT, args[0]) if len(args) == 1 else args
    if name not in STARTERS:
        raise click.BadParameter(
            f"{name!r} is not a starter (choose from: {', '.join(STARTERS)})", param_hint="STARTER"
        )
    written = write_starter(name, Path(target), force)
    click.echo(f"Wrote the {name} starter to {target} ({len(written)} files). Next:")
    click.echo(f"  cd {target} && orchestrate server start && orchestrate apply . --yes")
    click.echo("  then see README.md for the run command")
    return ExitCode.OK
