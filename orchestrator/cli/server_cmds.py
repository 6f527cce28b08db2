"""`orchestrate server start|stop|status|logs`: thin click commands over `orchestrator.server`.

Owns argument parsing, rendering and exit codes only (0 ok, 1 user error or "not running"
for `status`, 3 unexpected; errors are rendered by `cli.common.handle_errors`). Registered by
the main CLI with `main.add_command(server_group)`.
"""

from __future__ import annotations

import json

import click

from orchestrator.cli.common import handle_errors
from orchestrator.errors import ExitCode, OrchestrateError
from orchestrator.home import resolve_home
from orchestrator.server import logs as server_logs
from orchestrator.server import phoenix, stack, temporal_dev
from orchestrator.server.paths import LOG_NAMES, StackPaths

_home_option = click.option(
    "--home",
    type=click.Path(file_okay=False),
    default=None,
    help="State directory (default: $ORCHESTRATE_HOME, else a .orchestrate with state in "
    "this directory or above, else the per-user one, e.g. ~/.local/state/orchestrate).",
)


CTRL_C_EXIT = ExitCode.CANCELLED


def _progress(message: str) -> None:
    click.echo(f"  {message}", err=True)


@click.group("server")
def server_group() -> None:
    """The embedded local Letta stack (PostgreSQL, Letta 0.16.8, a local model endpoint)."""


@server_group.command("start")
@_home_option
@click.option(
    "--letta-port",
    type=int,
    default=None,
    help="Letta's port (default $ORCHESTRATE_LETTA_PORT or 8283).",
)
@click.option(
    "--model-port",
    type=int,
    default=None,
    help="Local model port (default $ORCHESTRATE_MODEL_PORT or 8284).",
)
@click.option(
    "--model-base-url",
    default=None,
    help="Use this OpenAI-compatible endpoint instead of the local model "
    "(default $ORCHESTRATE_OPENAI_API_BASE; key from $ORCHESTRATE_OPENAI_API_KEY or $OPENAI_API_KEY).",
)
@click.option(
    "--model-script",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Rules file for the local model (default $ORCHESTRATE_MODEL_SCRIPT).",
)
@click.option(
    "--model-delay", type=float, default=None, help="Fixed latency of the local model, seconds."
)
@click.option(
    "--timeout", type=float, default=None, help="Seconds to wait for Letta (default 240)."
)
@click.option(
    "--temporal",
    is_flag=True,
    default=False,
    help="Also start a local Temporal dev server for `--executor temporal` and "
    "`orchestrate worker` (default: $ORCHESTRATE_TEMPORAL=1; port $ORCHESTRATE_TEMPORAL_PORT "
    "or 7233).",
)
@click.option(
    "--traces",
    is_flag=True,
    default=False,
    help="Also start a local trace viewer (Arize Phoenix, installed into its own venv on first "
    "use) that receives `orchestrate run --otel` traces (default: $ORCHESTRATE_TRACES=1; port "
    "$ORCHESTRATE_PHOENIX_PORT or 6006).",
)
@handle_errors
def start_cmd(
    home: str | None,
    letta_port: int | None,
    model_port: int | None,
    model_base_url: str | None,
    model_script: str | None,
    model_delay: float | None,
    timeout: float | None,
    temporal: bool,
    traces: bool,
) -> int:
    """Install (first run only) and start the stack; wait until it is healthy."""
    options = stack.StartOptions.from_env(
        letta_port=letta_port,
        model_port=model_port,
        model_base_url=model_base_url,
        model_script=model_script,
        model_delay=model_delay,
        timeout=timeout,
    )
    info = stack.start(home, options, progress=_progress)
    if info.already_running:
        click.echo(f"already running: Letta at {info.base_url} (state in {info.home})")
    else:
        click.echo(
            f"Letta server ready at {info.base_url} in {info.seconds:.1f}s (state in {info.home})"
        )
    for line in model_lines(info):
        click.echo(line)
    click.echo(f"  embedding:       {info.embedding_handle}")
    click.echo(f"  state dir:       {resolve_home(home).describe()}")
    if temporal or temporal_dev.wanted_by_env():
        entry = temporal_dev.start(home)
        ready = (
            "already running"
            if entry.get("already_running")
            else f"ready in {entry.get('ready_seconds', 0):.1f}s"
        )
        click.echo(f"  temporal:        {entry['address']} ({ready})")
    if traces or phoenix.wanted_by_env():
        if not phoenix.is_installed(StackPaths.resolve(home)):
            _progress("installing the Phoenix trace viewer into its own venv (first time only)")
        viewer = phoenix.start(home)
        ready = (
            "already running"
            if viewer.get("already_running")
            else f"ready in {viewer.get('ready_seconds', 0):.1f}s"
        )
        click.echo(
            f"  traces:          {viewer['url']} (OTLP {viewer['traces_endpoint']}; {ready})"
        )
    return 0


PROXY_PREFIX = "openai-proxy/"  # how Letta names the models of OPENAI_API_BASE
SHOWN_HANDLES = 12


def model_lines(info: stack.StackInfo) -> list[str]:
    """The model lines of `server start`: with an external endpoint, the handles Letta
    offers for it (read from the server), so that one can be named for runs and agents."""
    external = info.model_url is None
    lines = [f"  model endpoint:  {info.model_base_url}" + (" (external)" if external else "")]
    if not external or info.model_handle:
        lines.append(f"  model handle:    {info.model_handle}")
    if not external:
        return lines
    try:
        from orchestrator.backends.connect import run_backend

        chat, _ = run_backend(info.base_url).models()
    except OrchestrateError as exc:
        return [*lines, f"  model handles:   (could not list them: {exc})"]
    handles = sorted(h for h in chat if h.startswith(PROXY_PREFIX))
    if not handles:
        return [
            *lines,
            f"  model handles:   none: Letta lists no {PROXY_PREFIX} model (is "
            f"the endpoint {info.model_base_url} up? see `orchestrate server "
            "logs letta`)",
        ]
    more = f", ... ({len(handles)} in all)" if len(handles) > SHOWN_HANDLES else ""
    lines.append(f"  model handles:   {', '.join(handles[:SHOWN_HANDLES])}{more}")
    if not info.model_handle:
        lines.append(
            "                   (name one with ORCHESTRATE_MODEL, or --model for runs"
            " and --default-model for `apply`)"
        )
    return lines


@server_group.command("stop")
@_home_option
@handle_errors
def stop_cmd(home: str | None) -> int:
    """Stop Letta, the model endpoint and PostgreSQL (gracefully)."""
    stopped = stack.stop(home, progress=_progress)
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


@server_group.command("status")
@_home_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
def status_cmd(home: str | None, as_json: bool) -> int:
    """Show pids, URLs, ports and memory; exit 0 when running, 1 when not."""
    st = stack.status(home)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "home": str(st.home),
                    "home_source": resolve_home(home).source,
                    "running": st.running,
                    "base_url": st.base_url,
                    "components": [
                        {**c.__dict__, "log": str(c.log) if c.log else None} for c in st.components
                    ],
                },
                indent=2,
            )
        )
        return 0 if st.running else 1
    for name in st.cleaned:
        click.echo(f"note: removed stale state for {name} (process gone)")
    click.echo(f"state: {resolve_home(home).describe()}")
    for c in st.components:
        state = "running" if c.running else "stopped"
        if c.running and c.healthy is False:
            state = "running (not answering)"
        parts = [f"{c.name:<9}{state:<24}"]
        if c.pid:
            parts.append(f"pid {c.pid:<8}")
        if c.url:
            parts.append(c.url)
        if c.rss_bytes is not None:
            parts.append(
                f"RSS {_mb(c.rss_bytes)}"
                + (
                    f" (with children {_mb(c.tree_rss_bytes)})"
                    if c.tree_rss_bytes and c.tree_rss_bytes != c.rss_bytes
                    else ""
                )
            )
        if c.detail:
            parts.append(c.detail)
        click.echo("  " + "  ".join(parts))
    click.echo(
        "running" if st.running else "not running (start it with `orchestrate server start`)"
    )
    return 0 if st.running else 1


@server_group.command("logs")
@_home_option
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines.")
@click.option(
    "--lines", "-n", type=int, default=50, show_default=True, help="Lines of history per log."
)
@click.argument("component", required=False, type=click.Choice(LOG_NAMES))
@handle_errors
def logs_cmd(home: str | None, follow: bool, lines: int, component: str | None) -> int:
    """Show the logs (letta, model, postgres by default; or one component)."""
    files = server_logs.log_files(home, component)
    many = len(files) > 1
    for name, path in files:
        if many:
            click.echo(f"==> {name}: {path} <==")
        if not path.exists():
            click.echo(f"(no log yet at {path})")
            continue
        for line in server_logs.tail_lines(path, lines):
            click.echo(line)
    if follow:
        try:
            for name, line in server_logs.follow(files):
                click.echo(f"{name}| {line}" if many else line)
        except KeyboardInterrupt:  # Ctrl-C is how one stops following: no error message
            return CTRL_C_EXIT
    return 0


def _mb(n: int | None) -> str:
    return f"{(n or 0) / 1e6:.0f} MB"
