"""`orchestrate approve RUN UNIT [--reject] [--comment TEXT] [--resume]`: answer a gate.

Owns parsing and the message; the decision is written to the run records by
`run.approval.answer` (so any machine that reaches the records may answer), and `--resume`
then continues the run as `orchestrate resume RUN` does. Exit codes: 0 answered (or, with
--resume, the run's own exit code), 1 nothing of that name waits.

Must not: decide anything about the run itself.
"""

from __future__ import annotations

import getpass
import json

import click

from orchestrator.cli.common import handle_errors, server_options
from orchestrator.cli.run_cmds import _exec_options, _records, _resume
from orchestrator.run.approval import answer
from orchestrator.run.status import APPROVED, REJECTED


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment
        return "unknown"


@click.command("approve")
@click.argument("run_id")
@click.argument("unit")
@click.option("--reject", is_flag=True, help="Reject instead of approving.")
@click.option(
    "--comment",
    default=None,
    help="Why; templates downstream read it as steps.<name>.approval.comment.",
)
@click.option("--by", "by", default=None, help="Who answers (default: the user name).")
@click.option("--resume", "then_resume", is_flag=True, help="Then continue the run.")
@click.option(
    "--input",
    "-i",
    "inputs",
    multiple=True,
    metavar="NAME=VALUE",
    help="With --resume: secret inputs again (they are never recorded).",
)
@server_options
@_exec_options
@handle_errors
def approve_cmd(
    run_id: str,
    unit: str,
    reject: bool,
    comment: str | None,
    by: str | None,
    then_resume: bool,
    inputs: tuple[str, ...],
    base_url: str | None,
    api_key: str | None,
    max_parallel: int,
    timeout: float | None,
    as_json: bool,
    stream: bool,
) -> int:
    """Approve (or --reject) what a waiting run asks about. UNIT is a step (every unit of it
    that waits), or one unit: `step[2]` (a for_each item), `loop.body#3` (iteration 3)."""
    records = _records()
    run = records.find_run(run_id)
    full = run["id"] if run else run_id
    done = answer(records, full, unit, approved=not reject, comment=comment, by=by or _user())
    word = REJECTED if reject else APPROVED
    if as_json and not then_resume:
        click.echo(json.dumps({"run_id": full, "decision": word, "units": done}))
    elif not as_json:
        click.echo(f"{word}: {', '.join(done)} (run {full})", err=then_resume)
        if not then_resume:
            click.echo(f"continue with `orchestrate resume {full}`")
    if not then_resume:
        return 0
    return _resume(full, inputs, None, base_url, api_key, max_parallel, timeout, as_json, stream)
