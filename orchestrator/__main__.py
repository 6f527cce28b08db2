"""`python -m orchestrator` is the `orchestrate` command (handy where scripts are not on PATH)."""

from orchestrator.cli import main

main(prog_name="orchestrate")
