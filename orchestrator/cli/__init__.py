"""The `orchestrate` command line: one click group, its commands in small modules.

Owns: the top-level group and where each command lives. A command's module is imported only
when the command is used (cli.lazy), so a command pays only for what it needs: `--version`
and `validate` never import letta-client. Commands stay thin: parse, call one function of a
lower layer, render, return a stable exit code (see `orchestrator.errors.ExitCode`).
"""

from __future__ import annotations

import click

from orchestrator import __version__
from orchestrator.cli.lazy import LazyGroup

_PROVISION = "orchestrator.cli.provision_cmds"
COMMANDS = {  # name -> "module:attribute"
    "validate": "orchestrator.cli.spec_cmds:validate",
    "graph": "orchestrator.cli.spec_cmds:graph",
    "schema": "orchestrator.cli.spec_cmds:schema",
    "audit": "orchestrator.cli.audit_cmds:audit_cmd",
    "run": "orchestrator.cli.run_cmds:run_cmd",
    "resume": "orchestrator.cli.run_cmds:resume_cmd",
    "approve": "orchestrator.cli.approve_cmds:approve_cmd",
    "runs": "orchestrator.cli.runs_group:runs_group",
    "stats": "orchestrator.cli.stats_cmds:stats_cmd",
    "batches": "orchestrator.cli.batch_cmds:batches_group",
    "plan": f"{_PROVISION}:plan_cmd",
    "apply": f"{_PROVISION}:apply_cmd",
    "diff": f"{_PROVISION}:diff_cmd",
    "destroy": f"{_PROVISION}:destroy_cmd",
    "export": f"{_PROVISION}:export_cmd",
    "import": "orchestrator.cli.agentfile_cmds:import_cmd",
    "init": "orchestrator.cli.init_cmds:init_cmd",
    "server": "orchestrator.cli.server_cmds:server_group",
    "worker": "orchestrator.cli.worker_cmds:worker_cmd",
    "ui": "orchestrator.cli.ui_cmds:ui_cmd",
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="orchestrate")
def main() -> None:
    """Declarative multi-agent pipelines and agents-as-code for Letta."""
