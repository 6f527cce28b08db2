"""`orchestrate ui`: serve the local, read-only web view of the run records.

Owns the options and the message; the app is `orchestrator.ui.app`, imported only when the
command runs (Starlette and uvicorn are the optional `ui` extra: without them, a clear
message says what to install).

Must not: import the web stack at import time (`orchestrate --help` imports this module).
"""

from __future__ import annotations

import click

from orchestrator.cli.common import handle_errors, records_location
from orchestrator.errors import RunError


@click.command("ui")
@click.option("--port", type=click.IntRange(1, 65535), default=8290, show_default=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind (the default is reachable from this machine only).",
)
@handle_errors
def ui_cmd(port: int, host: str) -> int:
    """A local web view of the runs: list, graph, timeline, units; live while a run runs."""
    try:
        from orchestrator.ui.app import serve
    except ImportError as exc:
        raise RunError(
            f"orchestrate ui needs the web extra ({exc.name} is missing): "
            "pip install 'orchestrate[ui]'"
        ) from None
    from orchestrator.run.records_pg import safe_url

    location = records_location()
    shown = host if ":" not in host else f"[{host}]"
    click.echo(
        f"orchestrate ui: http://{shown}:{port}/ (read-only; records: "
        f"{safe_url(location)}; Ctrl-C to stop)",
        err=True,
    )
    serve(location, host, port)
    return 0
