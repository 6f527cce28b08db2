"""`orchestrate validate | graph | schema`: the pipeline language on the command line.

Thin by design: parse arguments, call `compile.validate.check_files` / `load_plan` /
`render_graph` / the schema loader, print, and return a stable exit code (0 clean or
warnings only, 1 any error, 3 when checking some file hit a bug). One file that crashes the
checks is reported as a problem of that file and the others are still checked: `--json`
always prints its whole document.

Must not: hold validation logic (orchestrator.spec / orchestrator.compile own it).
"""

from __future__ import annotations

import json

import click

from orchestrator.cli.common import handle_errors
from orchestrator.compile import load_plan, render_graph
from orchestrator.compile.graph import FORMATS
from orchestrator.compile.validate import check_files, passes, yaml_files
from orchestrator.errors import ExitCode
from orchestrator.spec.schema import SCHEMA_NAMES, schema_text

ALLOW_PATH_HELP = (
    "Also let resource files read and upload files under DIR, and pipelines "
    "use sub-pipeline files there (repeatable); by default nothing outside a "
    "resource directory, or a pipeline's directory, is read."
)


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable problems (for editors and CI)."
)
@click.option("--allow-path", "allowed", multiple=True, metavar="DIR", help=ALLOW_PATH_HELP)
@handle_errors
def validate(files: tuple[str, ...], as_json: bool, allowed: tuple[str, ...]) -> int:
    """Check pipeline and resource FILES (or directories of them); print every problem at once."""
    expanded = yaml_files(files)
    if not expanded:
        raise click.ClickException("no *.yaml or *.yml files in " + ", ".join(files))
    results = check_files(expanded, allowed)
    if as_json:
        report = {
            "files": [
                {
                    "file": f,
                    "ok": passes(issues),
                    "unexpected": crashed,
                    "issues": [i.to_dict() for i in issues],
                }
                for f, issues, crashed in results
            ]
        }
        click.echo(json.dumps(report, indent=2))
    else:
        for f, issues, _ in results:
            for issue in issues:
                click.echo(issue.labelled())
            if passes(issues):
                click.echo(f"{f}: ok", err=True)
    if any(crashed for _, _, crashed in results):
        return ExitCode.UNEXPECTED
    return ExitCode.OK if all(passes(issues) for _, issues, _ in results) else ExitCode.USER_ERROR


@click.command()
@click.argument("file")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="mermaid", show_default=True)
@click.option("--allow-path", "allowed", multiple=True, metavar="DIR", help=ALLOW_PATH_HELP)
@handle_errors
def graph(file: str, fmt: str, allowed: tuple[str, ...] = ()) -> int:
    """Print the compiled DAG of FILE: steps, agents, edges, loops, sub-pipelines, parallel
    levels."""
    click.echo(render_graph(load_plan(file, allowed), fmt), nl=False)
    return ExitCode.OK


@click.command()
@click.argument("kind", type=click.Choice(SCHEMA_NAMES), default="pipeline")
@handle_errors
def schema(kind: str) -> int:
    """Print the JSON Schema (draft 2020-12) for pipeline or resource files."""
    click.echo(schema_text(kind), nl=False)
    return ExitCode.OK
