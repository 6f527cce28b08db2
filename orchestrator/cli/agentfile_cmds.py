"""`orchestrate import FILE.af...`: Letta agent files onto a server (`export --format af`
writes them).

Thin: parse, call provision.agentfile, render, exit code (0 imported; 1 a file that is not
an agent file, an identity the server already has, a server error).

Must not: hold the import rules (provision/agentfile.py) or import letta_client.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from orchestrator.backends.connect import admin_backend
from orchestrator.cli.common import handle_errors, resolve_api_key, resolve_base_url
from orchestrator.errors import ExitCode
from orchestrator.provision.agentfile import import_agent_files


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--base-url", help="Letta server URL (default: LETTA_BASE_URL, else the embedded stack)."
)
@click.option("--api-key", help="Letta API key (default: LETTA_API_KEY).")
@click.option(
    "--model",
    help="Model handle for the imported agents, instead of the file's (one the new server offers).",
)
@click.option(
    "--embedding", help="Embedding handle for the imported agents, instead of the file's."
)
@handle_errors
def import_cmd(
    files: tuple[str, ...],
    base_url: str | None,
    api_key: str | None,
    model: str | None,
    embedding: str | None,
) -> int:
    """Import Letta agent files (.af): each agent with its blocks, tools and messages. Tool
    environment values are taken from the environment, by the names the agent uses."""
    backend = admin_backend(resolve_base_url(base_url), resolve_api_key(api_key))
    report = import_agent_files(backend, [Path(f) for f in files], os.environ, model, embedding)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"Imported {len(report.agents)} agent(s): {', '.join(report.agents)}")
    return ExitCode.OK
