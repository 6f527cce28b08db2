"""Checking files as `orchestrate validate` does: every problem of each pipeline or resource file.

Owns `yaml_files` (which files a list of paths names: a directory stands for the *.yaml /
*.yml files in it and its subdirectories, hidden ones left out), `check_files` /
`check_file` (the problems of each file, errors and warnings, in file order: a pipeline is
loaded and compiled; a resource file is checked with its directory, as `orchestrate plan
DIR` reads it) and `passes` (a file with warnings only passes). One file that crashes the
checks is reported as a problem of that file, and the others are still checked.

Must not: print or choose exit codes (the CLI does), or reach a server.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.compile import load_plan
from orchestrator.errors import Issue, SpecError
from orchestrator.spec import load_resources
from orchestrator.spec.resources import resource_kind

Checked = tuple[str, list[Issue], bool]  # (file, problems, crashed)


def yaml_files(paths: tuple[str, ...] | list[str]) -> list[str]:
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


def passes(issues: list[Issue]) -> bool:
    """No errors (warnings alone do not fail a file)."""
    return not any(i.severity == "error" for i in issues)


def check_file(path: str, allowed: tuple[str, ...] = ()) -> list[Issue]:
    """Every problem in one pipeline or resource file (errors and warnings), in file order;
    for a resource file, also those of its sibling files (they decide whether it applies)."""
    return check_files([path], allowed)[0][1]


def check_files(paths: list[str], allowed: tuple[str, ...] = ()) -> list[Checked]:
    """(file, problems, crashed) for each path. A resource directory is loaded once however
    many of its files are named; its problems outside those files go with the first one
    named. `crashed`: checking the file hit a bug (reported as its one problem)."""
    named = {Path(p).resolve() for p in paths}
    directories: dict[Path, list[Issue]] = {}
    results: list[Checked] = []
    for path in paths:
        try:
            results.append((path, _check_one(path, allowed, named, directories), False))
        except Exception as exc:  # noqa: BLE001 - one file's bug must not lose the others' results
            results.append(
                (
                    path,
                    [
                        Issue(
                            path,
                            0,
                            0,
                            "",
                            f"unexpected {type(exc).__name__}: {exc}",
                            "a bug in orchestrate: please report it",
                        )
                    ],
                    True,
                )
            )
    return results


def _check_one(
    path: str, allowed: tuple[str, ...], named: set[Path], directories: dict[Path, list[Issue]]
) -> list[Issue]:
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
    return [
        i
        for i in directories[directory]
        if Path(i.file).resolve() == here or (first and Path(i.file).resolve() not in named)
    ]


def _resource_issues(directory: Path, allowed: tuple[str, ...]) -> list[Issue]:
    """A resource file is checked the way `orchestrate plan DIR` reads it: with its directory
    (its agents may use blocks, tools and folders declared in sibling files)."""
    try:
        load_resources(directory, allowed)
    except SpecError as exc:
        return list(exc.issues)
    return []
