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
