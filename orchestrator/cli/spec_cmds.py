"""`orchestrate validate | graph | schema`: the pipeline language on the command line.

Thin by design: parse arguments, call `load_plan` / `render_graph` / the schema loader,
print, and return a stable exit code (0 clean or warnings only, 1 any error).

Must not: hold validation logic (orchestrator.spec / orchestrator.compile own it).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from orchestrator.cli.common import handle_errors
from orchestrator.compile import load_plan, render_graph
from orchestrator.compile.graph import FORMATS
from orchestrator.errors import ExitCode, Issue, SpecError
from orchestrator.spec import load_resources
from orchestrator.spec.resources import resource_kind
from orchestrator.spec.schema import SCHEMA_NAMES, schema_text


def _expand(paths: tuple[str, ...]) -> list[str]:
    """Directories stand for the *.yaml / *.yml files directly inside them."""
    files = []
    for path in paths:
        if Path(path).is_dir():
            found = sorted(p for p in Path(path).iterdir() if p.suffix in (".yaml", ".yml"))
            files.extend(str(p) for p in found)
        else:
            files.append(path)
    return files


def check_file(path: str) -> list[Issue]:
    """Every problem in one pipeline or resource file (errors and warnings), in file order."""
    try:
        if resource_kind(path):
            return _resource_issues(path)
        return list(load_plan(path).warnings)
    except SpecError as exc:
        return list(exc.issues)


def _resource_issues(path: str) -> list[Issue]:
    """A resource file is checked the way `orchestrate plan DIR` reads it: with its directory
    (its agents may use blocks, tools and folders declared in sibling files); the problems
    reported are this file's own."""
    try:
        load_resources(Path(path).parent)
    except SpecError as exc:
        here = Path(path).resolve()
        return [i for i in exc.issues if Path(i.file).resolve() == here]
    return []


def _line(issue: Issue) -> str:
    return issue.format() + (" [warning]" if issue.severity == "warning" else "")


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable problems (for editors and CI).")
@handle_errors
def validate(files: tuple[str, ...], as_json: bool) -> int:
    """Check pipeline and resource FILES (or directories of them); print every problem at once."""
    expanded = _expand(files)
    if not expanded:
        raise click.ClickException("no *.yaml or *.yml files in " + ", ".join(files))
    results = [(f, check_file(f)) for f in expanded]
    failed = any(i.severity == "error" for _, issues in results for i in issues)
    if as_json:
        report = {"files": [{"file": f, "ok": not any(i.severity == "error" for i in issues),
                             "issues": [i.to_dict() for i in issues]} for f, issues in results]}
        click.echo(json.dumps(report, indent=2))
    else:
        for f, issues in results:
            for issue in issues:
                click.echo(_line(issue))
            if not any(i.severity == "error" for i in issues):
                click.echo(f"{f}: ok", err=True)
    return ExitCode.USER_ERROR if failed else ExitCode.OK


@click.command()
@click.argument("file")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="mermaid", show_default=True)
@handle_errors
def graph(file: str, fmt: str) -> int:
    """Print the compiled DAG of FILE: steps, agents, edges, loops, parallel levels."""
    click.echo(render_graph(load_plan(file), fmt), nl=False)
    return ExitCode.OK


@click.command()
@click.argument("kind", type=click.Choice(SCHEMA_NAMES), default="pipeline")
@handle_errors
def schema(kind: str) -> int:
    """Print the JSON Schema (draft 2020-12) for pipeline or resource files."""
    click.echo(schema_text(kind), nl=False)
    return ExitCode.OK
