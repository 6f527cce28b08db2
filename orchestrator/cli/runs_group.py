"""`orchestrate runs`: the group of `list`, `show` (cli.run_cmds) and `gc` (cli.gc_cmds).

Must not: hold command logic.
"""

from __future__ import annotations

from orchestrator.cli import gc_cmds, run_cmds

runs_group = run_cmds.runs_group
runs_group.add_command(gc_cmds.runs_gc)
