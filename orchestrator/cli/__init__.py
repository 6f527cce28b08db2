"""The `orchestrate` command line: one click group, commands registered from small modules.

Owns: the top-level group and the registration of each command module. Commands stay thin:
parse, call one function of a lower layer, render, return a stable exit code
(see `orchestrator.errors.ExitCode`).
"""

from __future__ import annotations

import click

from orchestrator import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="orchestrate")
def main() -> None:
    """Declarative multi-agent pipelines and agents-as-code for Letta."""


# Command modules register themselves below (one import + add_command each).
from orchestrator.cli import spec_cmds  # noqa: E402

main.add_command(spec_cmds.validate)
main.add_command(spec_cmds.graph)
main.add_command(spec_cmds.schema)

from orchestrator.cli import run_cmds  # noqa: E402

main.add_command(run_cmds.run_cmd)
main.add_command(run_cmds.resume_cmd)
main.add_command(run_cmds.runs_group)

from orchestrator.cli import gc_cmds  # noqa: E402

run_cmds.runs_group.add_command(gc_cmds.runs_gc)

from orchestrator.cli import stats_cmds  # noqa: E402

main.add_command(stats_cmds.stats_cmd)

from orchestrator.cli import batch_cmds  # noqa: E402

main.add_command(batch_cmds.batches_group)

from orchestrator.cli import provision_cmds  # noqa: E402

for _command in (provision_cmds.plan_cmd, provision_cmds.apply_cmd, provision_cmds.diff_cmd,
                 provision_cmds.destroy_cmd, provision_cmds.export_cmd):
    main.add_command(_command)

from orchestrator.cli import server_cmds  # noqa: E402

main.add_command(server_cmds.server_group)

from orchestrator.cli import worker_cmds  # noqa: E402

main.add_command(worker_cmds.worker_cmd)
