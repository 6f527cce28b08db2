"""`orchestrate validate | graph | schema`: the pipeline language on the command line.

Thin by design: parse arguments, call `load_plan` / `render_graph` / the schema loader,
print, and return a stable exit code (0 clean or warnings only, 1 any error, 3 when checking
some file hit a bug). One file that crashes the checks is reported as a problem of that file
and the others are still checked: `--json` always prints its whole document.

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
    """Directories stand for the *.yaml / *.yml files in them and in their subdirectories
    (`pipelines/` includes the resource files of `pipelines/agents/`), hidden ones left out."""
    files: list[str] = []
    for path in paths:
        if Path(path).is_dir():
            files.extend(str(p) for p in _yaml_files(Path(path)))
        else:
            files.append(path)
    return files


def _yaml_files(directory: Path) -> list[Path]:
    entries = sorted(p for p in directory.iterdir() if not p.name.startswith("."))
    found = [p for p in entries if p.suffix in (".yaml", ".yml") and p.is_file()]
    for sub in entries:
        if sub.is_dir() and not sub.is_symlink():
            found.extend(_yaml_files(sub))
    return found


def check_file(path: str, allowed: tuple[str, ...] = ()) -> list[Issue]:
    """Every problem in one pipeline or resource file (errors and warnings), in file order;
    for a resource file, also those of its sibling files (they decide whether it applies)."""
    return check_files([path], allowed)[0][1]


def check_files(paths: list[str], allowed: tuple[str, ...] = ()) -> list[tuple[str, list[Issue], bool]]:
    """(file, problems, crashed) for each path. A resource directory is loaded once however
    many of its files are named; its problems outside those files go with the first one
    named. `crashed`: checking the file hit a bug (reported as its one problem)."""
    named = {Path(p).resolve() for p in paths}
    directories: dict[Path, list[Issue]] = {}
    results = []
    for path in paths:
        try:
            results.append((path, _check_one(path, allowed, named, directories), False))
        except Exception as exc:  # noqa: BLE001 - one file's bug must not lose the others' results
            results.append((path, [Issue(path, 0, 0, "", f"unexpected {type(exc).__name__}: "
                                         f"{exc}", "a bug in orchestrate: please report it")],
                            True))
    return results


def _check_one(path: str, allowed: tuple[str, ...], named: set[Path],
               directories: dict[Path, list[Issue]]) -> list[Issue]:
    try:
        if not resource_kind(path):
            return list(load_plan(path, allowed).warnings)
    except SpecError as exc:
        return list(exc.issues)
    directory = Path(path).resolve().parent
    first = directory not in directories
    if first:
        directories[directory] = _resource_issues(Path(path).parent, allowed)
    here = Path(path).resolve()
    return [i for i in directories[directory] if Path(i.file).resolve() == here
            or (first and Path(i.file).resolve() not in named)]


def _resource_issues(directory: Path, allowed: tuple[str, ...]) -> list[Issue]:
    """A resource file is checked the way `orchestrate plan DIR` reads it: with its directory
    (its agents may use blocks, tools and folders declared in sibling files)."""
    try:
        load_resources(directory, allowed)
    except SpecError as exc:
        return list(exc.issues)
    return []


def _line(issue: Issue) -> str:
    return issue.labelled()


def _ok(issues: list[Issue]) -> bool:
    return not any(i.severity == "error" for i in issues)


ALLOW_PATH_HELP = ("Also let resource files read and upload files under DIR, and pipelines "
                   "use sub-pipeline files there (repeatable); by default nothing outside a "
                   "resource directory, or a pipeline's directory, is read.")


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable problems (for editors and CI).")
@click.option("--allow-path", "allowed", multiple=True, metavar="DIR", help=ALLOW_PATH_HELP)
@handle_errors
def validate(files: tuple[str, ...], as_json: bool, allowed: tuple[str, ...]) -> int:
    """Check pipeline and resource FILES (or directories of them); print every problem at once."""
    expanded = _expand(files)
    if not expanded:
        raise click.ClickException("no *.yaml or *.yml files in " + ", ".join(files))
    results = check_files(expanded, allowed)
    if as_json:
        report = {"files": [{"file": f, "ok": _ok(issues), "unexpected": crashed,
                             "issues": [i.to_dict() for i in issues]}
                            for f, issues, crashed in results]}
        click.echo(json.dumps(report, indent=2))
    else:
        for f, issues, _ in results:
            for issue in issues:
                click.echo(_line(issue))
            if _ok(issues):
                click.echo(f"{f}: ok", err=True)
    if any(crashed for _, _, crashed in results):
        return ExitCode.UNEXPECTED
    return ExitCode.OK if all(_ok(issues) for _, issues, _ in results) else ExitCode.USER_ERROR


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
