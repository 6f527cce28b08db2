"""Starter projects for `orchestrate init`: the use cases people start from, shipped as
package data (each a subdirectory here: agent resources, a pipeline, a README).

Owns: the catalogue (`STARTERS`: name -> one-line description), `write_starter` (copies one
into a directory, refusing a non-empty one unless `force`). Each starter validates, applies
and runs on the embedded default as written (tests/starters run them end to end).

Must not: talk to a server, or overwrite a file outside the target directory.
"""

from __future__ import annotations

from importlib.abc import Traversable
from importlib.resources import files
from pathlib import Path

from orchestrator.errors import OrchestrateError

STARTERS = {
    "research": "a research analyst: research -> write -> review (revise until approved)",
    "support": "customer support: a triager and an agent with an FAQ folder and a ticket tool",
    "code-assistant": "a code assistant with a code-search tool and a docs folder",
}
DEFAULT = "research"
SKIPPED = ("__pycache__", "__init__.py")


class InitError(OrchestrateError):
    """`init` cannot write the starter (unknown name, a non-empty directory)."""


def _files(node: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    out = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name in SKIPPED or child.name.endswith(".pyc"):
            continue
        relative = f"{prefix}{child.name}"
        out += _files(child, relative + "/") if child.is_dir() else [(relative, child)]
    return out


def starter_files(name: str) -> list[tuple[str, Traversable]]:
    if name not in STARTERS:
        raise InitError(f"unknown starter {name!r} (starters: {', '.join(STARTERS)})")
    return _files(files(__name__) / name)


def write_starter(name: str, target: Path, force: bool = False) -> list[str]:
    """Write starter `name` into `target` (created if missing); the relative paths written.
    A non-empty `target` is refused unless `force` (then files of the same name are
    overwritten and other files are left as they are)."""
    chosen = starter_files(name)
    if target.exists() and not target.is_dir():
        raise InitError(f"{target}: not a directory")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise InitError(
            f"{target} is not empty; choose an empty directory, or pass --force "
            "to write the starter's files into it (overwriting files of the same "
            "name)"
        )
    root = target.resolve()
    written = []
    for relative, source in chosen:
        path = root / relative
        if path.is_symlink() or not path.resolve().is_relative_to(root):
            raise InitError(f"{target / relative}: leads outside {target}; nothing more written")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(source.read_bytes())
        written.append(relative)
    return written
