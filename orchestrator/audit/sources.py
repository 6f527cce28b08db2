"""Which files an audit reads, read safely, each with a way to say where in it a finding is.

Owns: expanding the command line (a directory stands for every YAML file under it, found
by spec's bounded walk; a file stands for itself), following what a resource document
points at (an agent's `system_file`, a block's `value_file`, a tool's `source_file`, the
files a Folder's `files:` patterns would upload), and `Source` (the text plus its `where`).
Every read goes through `orchestrator.spec.files`, so the trust boundary (the directory
audited, or a lone file's directory), the size limits and the refusal of devices apply.

Must not: match rules (rules.py, scan.py) or judge a spec's validity (a file that does not
parse as YAML is still audited as text; `validate` reports what is wrong with it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.audit.scan import Where
from orchestrator.errors import Issue
from orchestrator.spec.files import (
    Boundary,
    FileProblem,
    glob_files,
    read_bytes,
    read_text,
    yaml_files,
)
from orchestrator.spec.limits import MAX_TEXT_FILE_BYTES, MAX_UPLOAD_FILE_BYTES, MAX_YAML_BYTES
from orchestrator.spec.suggest import dotted
from orchestrator.spec.yaml_marks import MarkedDoc, load_documents

_YAML = (".yaml", ".yml")
_GLOB_CHARS = set("*?[")


@dataclass
class Source:
    file: str  # as shown in findings
    text: str
    where: Where


@dataclass
class Collected:
    sources: list[Source] = field(default_factory=list)
    problems: list[Issue] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # binary files: nothing to read as text
    seen: set[Path] = field(default_factory=set)


def shown(path: Path) -> str:
    """A path as findings show it: relative to the working directory when under it."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)


def collect(paths: list[str]) -> Collected:
    out = Collected()
    for arg in paths:
        path = Path(arg)
        boundary = Boundary.of(path if path.is_dir() else path.parent)
        try:
            files = yaml_files(path) if path.is_dir() else [path]
        except FileProblem as problem:
            out.problems.append(Issue(arg, 0, 0, "", problem.message, problem.hint))
            continue
        for file in files:
            if file.suffix in _YAML:
                _yaml_file(file, boundary, out)
            else:
                _text_file(file, "file", MAX_TEXT_FILE_BYTES, out)
    return out


def _first_visit(path: Path, out: Collected) -> bool:
    # abspath, not resolve: the reader resolves links itself, and a file reached twice
    # through a link is only audited twice, never missed.
    real = Path(os.path.abspath(path))
    if real in out.seen:
        return False
    out.seen.add(real)
    return True


def _text_file(path: Path, role: str, limit: int, out: Collected) -> None:
    if not _first_visit(path, out):
        return
    try:
        data = read_bytes(path, limit)
    except FileProblem as problem:
        out.problems.append(Issue(shown(path), 0, 0, "", problem.message, problem.hint))
        return
    if b"\0" in data:
        out.skipped.append(shown(path))
        return
    text = data.decode("utf-8", errors="replace")
    out.sources.append(Source(shown(path), text, _comment_or(text, role)))


def _yaml_file(path: Path, boundary: Boundary, out: Collected) -> None:
    if not _first_visit(path, out):
        return
    try:
        text = read_text(path, MAX_YAML_BYTES)
    except FileProblem as problem:
        out.problems.append(Issue(shown(path), 0, 0, "", problem.message, problem.hint))
        return
    docs: list[MarkedDoc] | None = None

    def parsed() -> list[MarkedDoc]:
        nonlocal docs
        if docs is None:
            docs = load_documents(text, shown(path))[0]  # broken YAML: audited as text
        return docs

    out.sources.append(Source(shown(path), text, _yaml_where(text, parsed)))
    if "_file" in text or "files" in text:
        for doc in parsed():
            _follow(doc, path.parent, boundary, out)


def _comment_or(text: str, role: str) -> Where:
    lines = text.split("\n")

    def where(line: int, col: int) -> str:
        return "comment" if lines[line - 1].lstrip().startswith("#") else role

    return where


def _yaml_where(text: str, parsed: Callable[[], list[MarkedDoc]]) -> Where:
    lines = text.split("\n")

    def where(line: int, col: int) -> str:
        if lines[line - 1].lstrip().startswith("#"):
            return "comment"
        best: tuple[int, int] = (0, 0)
        label = "file"
        for doc in parsed():
            owner = _owner(doc.data)
            for path, mark in doc.marks.items():
                if best <= mark <= (line, col) and path:
                    best, label = mark, f"{owner}{dotted(path)}"
        return label

    return where


def _owner(data: Any) -> str:
    if isinstance(data, dict) and isinstance(data.get("kind"), str) and data.get("name"):
        return f"{data['kind']} {data['name']}: "
    return ""


def _follow(doc: MarkedDoc, base: Path, boundary: Boundary, out: Collected) -> None:
    """Audit what a resource document would read or upload."""
    data = doc.data
    if not isinstance(data, dict):
        return
    owner = _owner(data).rstrip(": ")
    for key, role in _pointers(data, owner):
        _referenced(doc, key, base, boundary, role, out)


def _pointers(data: dict[str, Any], owner: str) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(data.get("system_file"), str):
        yield ("system_file",), f"{owner}: system prompt"
    if isinstance(data.get("value_file"), str):
        yield ("value_file",), f"{owner}: block value"
    if isinstance(data.get("source_file"), str):
        yield ("source_file",), f"{owner}: tool source"
    for i, block in enumerate(data.get("memory_blocks") or ()):
        if isinstance(block, dict) and isinstance(block.get("value_file"), str):
            yield ("memory_blocks", i, "value_file"), f"{owner}: block {block.get('label')}"
    if data.get("kind") == "Folder":
        for i, pattern in enumerate(data.get("files") or ()):
            if isinstance(pattern, str):
                yield ("files", i), f"{owner}: upload"


def _value(data: Any, key: tuple[Any, ...]) -> str:
    for part in key:
        data = data[part]
    return str(data)


def _referenced(
    doc: MarkedDoc, key: tuple[Any, ...], base: Path, boundary: Boundary, role: str, out: Collected
) -> None:
    written = _value(doc.data, key)
    mark = doc.mark(key)
    try:
        if key[0] == "files":
            prefix = _fixed_prefix(written)
            boundary.check(base / prefix, written)  # '/**' must not walk the whole disk
            for found in glob_files(base, written):
                boundary.check(found, written)
                _text_file(found, role, MAX_UPLOAD_FILE_BYTES, out)
            return
        target = base / written
        if target.is_file():
            boundary.check(target, written)
            _text_file(target, role, MAX_TEXT_FILE_BYTES, out)
    except FileProblem as problem:
        out.problems.append(
            Issue(mark.file, mark.line, mark.col, dotted(key), problem.message, problem.hint)
        )


def _fixed_prefix(pattern: str) -> str:
    fixed = []
    for part in Path(pattern).parts:
        if _GLOB_CHARS & set(part):
            break
        fixed.append(part)
    return str(Path(*fixed)) if fixed else "."
