"""Load a directory of resource files (`kind: Agent | Block | Tool | Folder`, several
documents per file allowed) into a `ResourceSet` for provisioning.

Owns: finding the YAML files, schema validation, reading the files they point at
(`system_file`, `value_file`, a tool's `source_file`, a folder's `files` globs, all relative
to the YAML file), unique names per kind, and references between resources (an agent's
shared blocks and folders must be defined in the directory; tools may also be Letta
built-ins, so unknown tool names are allowed). `kind: Pipeline` files are skipped.

Must not: talk to a server or run anything (it parses tool source, never imports it).
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import Issue, SpecError
from orchestrator.spec import schema
from orchestrator.spec.agents import agent_issues, build_agent, build_block, env_issues
from orchestrator.spec.model import FolderSpec, ResourceSet, ToolSpec
from orchestrator.spec.suggest import did_you_mean
from orchestrator.spec.yaml_marks import MarkedDoc, issue_at, load_documents

KINDS = ("Agent", "Block", "Tool", "Folder")


@dataclass
class _Doc:
    doc: MarkedDoc
    base: Path  # directory of the YAML file: relative paths start here

    @property
    def data(self) -> dict:
        return self.doc.data


_KIND_LINE = re.compile(r"^kind:[ \t]*['\"]?(\w+)", re.MULTILINE)


def resource_kind(path: str | Path) -> str | None:
    """The resource kind a YAML file declares first (`Agent`, `Block`, `Tool`, `Folder`), or
    None for a pipeline, an unreadable file or one with no top-level `kind:` (a cheap look,
    so callers can pick the right loader; the loaders do the real validation)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    found = _KIND_LINE.search(text)
    return found.group(1) if found and found.group(1) in KINDS else None


def load_resources(root: str | Path) -> ResourceSet:
    """Every resource under `root` (a directory, searched recursively, or one file)."""
    root = Path(root)
    issues: list[Issue] = []
    docs = _read_all(root, issues)
    if issues:  # a malformed document: references between resources cannot be trusted
        raise SpecError(_labelled(issues, docs))
    by_kind: dict[str, list[_Doc]] = {kind: [] for kind in KINDS}
    for item in docs:
        by_kind[item.data["kind"]].append(item)
    for kind, items in by_kind.items():
        issues.extend(_duplicates(kind, items))
    resources = _build(root, by_kind, issues)
    if [i for i in issues if i.severity == "error"]:
        raise SpecError(_labelled(issues, docs))
    return resources


def _labelled(issues: list[Issue], docs: list[_Doc]) -> list[Issue]:
    """Prefix paths with the resource they are in, e.g. `Agent(writer).shared_blocks[0]`:
    several documents share one file, so a bare `shared_blocks[0]` would be ambiguous."""
    starts = sorted(((d.doc.file, d.doc.mark(()).line), d) for d in docs if d.doc.data)
    labelled = []
    for issue in issues:
        owner = None
        for (file, line), item in starts:
            if file == issue.file and line <= issue.line:
                owner = item
        if owner is None or not isinstance(owner.data, dict):
            labelled.append(issue)
            continue
        label = f"{owner.data.get('kind', '?')}({owner.data.get('name', '?')})"
        path = f"{label}.{issue.path}" if issue.path else label
        labelled.append(dataclasses.replace(issue, path=path))
    return labelled


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def _read_all(root: Path, issues: list[Issue]) -> list[_Doc]:
    if not root.exists():
        issues.append(Issue(str(root), 0, 0, "", "no such file or directory"))
        return []
    docs = []
    for path in _files(root):
        found, problems = load_documents(path.read_text(encoding="utf-8"), str(path))
        issues.extend(problems)
        for doc in found:
            if doc.data is None:
                continue  # an empty document (e.g. a trailing `---`)
            if isinstance(doc.data, dict) and doc.data.get("kind") == "Pipeline":
                continue  # pipelines may live next to the agents they use
            problems = schema.validate(doc, "resources")
            issues.extend(problems)
            docs.append(_Doc(doc, path.parent))
    return docs


def _duplicates(kind: str, items: list[_Doc]) -> list[Issue]:
    seen: dict[str, _Doc] = {}
    issues = []
    for item in items:
        name = item.data["name"]
        if name in seen:
            first = seen[name].doc.mark(("name",))
            issues.append(issue_at(item.doc.mark(("name",)), ("name",),
                                   f"duplicate {kind} '{name}'",
                                   f"it is already defined at {first.file}:{first.line}"))
        seen.setdefault(name, item)
    return issues


def _build(root: Path, by_kind: dict[str, list[_Doc]], issues: list[Issue]) -> ResourceSet:
    base = root if root.is_dir() else root.parent
    blocks = {i.data["name"]: _block(i, issues) for i in by_kind["Block"]}
    tools = {i.data["name"]: _tool(i, issues) for i in by_kind["Tool"]}
    folders = {i.data["name"]: _folder(i, base, issues) for i in by_kind["Folder"]}
    agents = {i.data["name"]: _agent(i, blocks, folders, issues) for i in by_kind["Agent"]}
    return ResourceSet(root=str(root), agents=agents, shared_blocks=blocks, tools=tools,
                       folders=folders)


def _read(item: _Doc, path: tuple, relative: str, issues: list[Issue]) -> str:
    try:
        return (item.base / relative).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        issues.append(issue_at(item.doc.mark(path), path, f"cannot read '{relative}': {reason}",
                               "paths are relative to the YAML file"))
        return ""


def _with_files(item: _Doc, data: dict, path: tuple, issues: list[Issue]) -> dict:
    """`data` with `value_file` read into `value`."""
    if "value_file" not in data:
        return data
    value = _read(item, path + ("value_file",), data["value_file"], issues)
    return {**data, "value": value}


def _block(item: _Doc, issues: list[Issue]):
    issues.extend(env_issues(item.doc, item.data, ()))
    return build_block(item.doc, item.data["name"], _with_files(item, item.data, (), issues), ())


def _agent(item: _Doc, blocks: dict, folders: dict, issues: list[Issue]):
    data = dict(item.data)
    if "system_file" in data:
        data["system"] = _read(item, ("system_file",), data["system_file"], issues)
    data["memory_blocks"] = [_with_files(item, block, ("memory_blocks", i), issues)
                             for i, block in enumerate(data.get("memory_blocks", ()))]
    issues.extend(agent_issues(item.doc, item.data, (), blocks))
    for i, folder in enumerate(data.get("folders", ())):
        if folder not in folders:
            where = ("folders", i)
            issues.append(issue_at(item.doc.mark(where), where, f"unknown folder '{folder}'",
                                   did_you_mean(folder, folders,
                                                fallback="define it in a kind: Folder file")))
    return build_agent(item.doc, data["name"], data, ())


def _tool(item: _Doc, issues: list[Issue]) -> ToolSpec:
    data = item.data
    source = _read(item, ("source_file",), data["source_file"], issues)
    if source and not _defines_function(source, data["name"]):
        issues.append(issue_at(item.doc.mark(("source_file",)), ("source_file",),
                               f"'{data['source_file']}' defines no function '{data['name']}'",
                               "a tool's name is the name of its Python function"))
    return ToolSpec(name=data["name"], source_code=source,
                    source_file=str(item.base / data["source_file"]),
                    description=data.get("description", ""),
                    pip_requirements=tuple(data.get("pip_requirements", ())),
                    mark=item.doc.mark(()))


def _defines_function(source: str, name: str) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
               for node in tree.body)


def _folder(item: _Doc, base: Path, issues: list[Issue]) -> FolderSpec:
    files: dict[str, str] = {}
    for i, pattern in enumerate(item.data.get("files", ())):
        matched = sorted(p for p in item.base.glob(pattern) if p.is_file())
        if not matched:
            issues.append(issue_at(item.doc.mark(("files", i)), ("files", i),
                                   f"'{pattern}' matches no files",
                                   "patterns are relative to the YAML file"))
        for path in matched:
            files[_relative(path, base)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return FolderSpec(name=item.data["name"], description=item.data.get("description", ""),
                      embedding=item.data.get("embedding"), files=tuple(sorted(files.items())),
                      root=str(base), mark=item.doc.mark(()))


def _relative(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()
