"""`orchestrate stats`: usage statistics over the run records (a thin click command).

Owns argument parsing, rendering (table, `--json`, `--plot FILE.svg`) and the exit code:
0 (also with no runs recorded), 1 a bad `--since` or (with `--server`) no server to ask,
2 a command line click refuses (a plot file that is not .svg or .png). All figures come from
`orchestrator.run.stats`; with `--server`, also `orchestrator.run.server_stats` over what
the Letta server lists (read-only).

Must not: compute figures or write anything but the plot file.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from orchestrator.backends import identity
from orchestrator.cli.common import (
    handle_errors,
    records_location,
    resolve_api_key,
    resolve_base_url,
    state_home,
)
from orchestrator.errors import RunError
from orchestrator.run.cost import load_prices
from orchestrator.run.records import Records
from orchestrator.run.stats import StatsFilter, collect, empty, parse_since
from orchestrator.run.stats_plot import plot_svg
from orchestrator.run.stats_render import stats_text


def _plot_path(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.lower().endswith((".svg", ".png")):
        raise click.BadParameter(
            "the plot is written as SVG or PNG: name a .svg or .png file", ctx, param
        )
    return value


def _write_plot(path: str, doc: dict) -> None:
    if path.lower().endswith(".png"):
        from orchestrator.run.stats_png import plot_png

        data = plot_png(doc)  # before opening the file: no Pillow, no empty file
        write = lambda: Path(path).write_bytes(data)  # noqa: E731
    else:
        text = plot_svg(doc)
        write = lambda: Path(path).write_text(text, encoding="utf-8")  # noqa: E731
    try:
        write()
    except OSError as exc:
        raise RunError(f"{path}: cannot write the plot: {exc.strerror}") from None


@click.command("stats")
@click.option(
    "--since",
    metavar="AGE|DATE",
    help="Runs started since: 7d, 12h, 30m, 2w, or a UTC date YYYY-MM-DD (default: all).",
)
@click.option("--pipeline", help="Only runs of this pipeline.")
@click.option("--agent", help="Only the steps of this agent (the pipeline's name for it).")
@click.option("--model", help="Only the steps answered by this model handle.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    callback=_plot_path,
    metavar="FILE.svg|FILE.png",
    help="Also draw tokens per day and the step-duration distribution, as SVG or "
    "(with the `plot` extra, Pillow) PNG.",
)
@click.option(
    "--server",
    "from_server",
    is_flag=True,
    help="Also what the Letta server knows of the namespace's provisioned agents: "
    "messages, tool calls, archival passages, block sizes, runs, last activity.",
)
@click.option(
    "--namespace",
    default=identity.DEFAULT_NAMESPACE,
    show_default=True,
    help="With --server: whose provisioned agents.",
)
@click.option(
    "--base-url",
    help="With --server: the Letta server (default: LETTA_BASE_URL, else the embedded stack).",
)
@click.option("--api-key", help="With --server: its API key (default: LETTA_API_KEY).")
@handle_errors
def stats_cmd(
    since: str | None,
    pipeline: str | None,
    agent: str | None,
    model: str | None,
    as_json: bool,
    plot: str | None,
    from_server: bool,
    namespace: str,
    base_url: str | None,
    api_key: str | None,
) -> int:
    """Runs, success rates, step durations, tokens and cost by model, agent and pipeline,
    retries, repairs and the most frequent errors, from the run records."""
    flt = StatsFilter(
        since=parse_since(since) if since else None, pipeline=pipeline, agent=agent, model=model
    )
    location = records_location()
    if location == str(state_home() / "runs.db") and not Path(location).exists():
        doc = None  # nothing recorded yet: create nothing
    else:
        records = Records(location)
        try:
            doc = collect(records, flt, load_prices())
        finally:
            records.close()
    if doc is None:
        doc = empty(flt)
    if from_server:
        problem = identity.namespace_problem(namespace)
        if problem:
            raise RunError(problem)
        from orchestrator.backends.letta_usage import LettaUsage
        from orchestrator.run.server_stats import server_doc

        url = resolve_base_url(base_url)
        agents = LettaUsage(url, resolve_api_key(api_key)).agents(namespace)
        doc["server"] = server_doc(url, namespace, agents)
    if plot:
        _write_plot(plot, doc)
    if as_json:
        click.echo(json.dumps(doc, indent=2, default=str))
    else:
        click.echo(stats_text(doc))
        if from_server:
            from orchestrator.run.server_stats import server_text

            click.echo("\n" + server_text(doc["server"]))
        if plot:
            click.echo(f"\nplot written to {plot}", err=True)
    return 0
