"""Load resource files (`kind: Agent | Block | Tool | Folder | McpServer | Privacy`, several documents per file
allowed) into a `ResourceSet` for provisioning: a whole directory (`load_resources`) or one
Agent file and exactly what its agents use (`load_agent_file`, for a pipeline's `ref:`).

Owns: finding the YAML files (files.py: a bounded walk, size limits), schema validation,
unique names per kind, and references between resources (an agent's shared blocks and
folders must be defined; tools may also be Letta built-ins, so unknown tool names are
allowed). A document with schema errors is left out and the rest is still checked, so one
broken file does not hide the problems of its siblings; names it declares still count as
defined. `kind: Pipeline` files are skipped. The directory is a trust boundary: see
resource_build.py, which reads the files documents point at.

Must not: talk to a server or run anything (it parses tool source, never imports it).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import cast

from orchestrator.errors import Issue, SpecError
from orchestrator.spec import schema
from orchestrator.spec.files import Boundary, FileProblem, read_text, yaml_files
from orchestrator.spec.limits import MAX_YAML_BYTES
from orchestrator.spec.model import ResourceSet
from orchestrator.spec.privacy import apply_policies
from orchestrator.spec.resource_build import Builder, ResourceDoc
from orchestrator.spec.yaml_marks import issue_at, load_documents

KINDS = ("Agent", "Block", "Tool", "Folder", "McpServer", "Privacy")
ANY = "*"  # a `wanted` name matching every document of its kind (no resource is named so)
_KIND_LINE = re.compile(r"^kind:[ \t]*['\"]?(\w+)", re.MULTILINE)


def resource_kind(path: str | Path) -> str | None:
    """The resource kind a YAML file declares first (`Agent`, `Block`, `Tool`, `Folder`), or
    None for a pipeline, an unreadable file or one with no top-level `kind:` (a cheap look,
    so callers can pick the right loader; the loaders do the real validation)."""
    try:
        text = read_text(Path(path), MAX_YAML_BYTES)
    except FileProblem:
        return None
    found = _KIND_LINE.search(text)
    return found.group(1) if found and found.group(1) in KINDS else None


@dataclasses.dataclass
class _Read:
    docs: list[ResourceDoc] = dataclasses.field(default_factory=list)  # schema-valid
    all_docs: list[ResourceDoc] = dataclasses.field(default_factory=list)  # for labels
    declared: set[tuple[str, str]] = dataclasses.field(default_factory=set)  # by broken docs
    unsure: bool = False  # a broken document whose kind or name cannot be read


def load_resources(root: str | Path, allowed: tuple[str | Path, ...] = ()) -> ResourceSet:
    """Every resource under `root` (a directory, searched recursively, or one file).
    `allowed`: directories outside it whose files resources may use (`--allow-path`)."""
    root = Path(root)
    issues: list[Issue] = []
    read = _Read()
    if not root.exists():
        issues.append(Issue(str(root), 0, 0, "", "no such file or directory"))
    elif not (root.is_dir() or root.is_file()):
        issues.append(
            Issue(
                str(root),
                0,
                0,
                "",
                "not a regular file or a directory",
                "name a resource directory or one YAML file",
            )
        )
    else:
        for path in _files(root, issues):
            _read_file(path, read, issues)
    base = root if root.is_dir() else root.parent
    resources = _build(root, base, read, Boundary.of(base, allowed), issues)
    _raise_errors(issues, read)
    return resources


def load_agent_file(path: str | Path, allowed: tuple[str | Path, ...] = ()) -> ResourceSet:
    """The agents of one Agent file with exactly the shared blocks, tools and folders they
    use, looked up in the YAML files of its directory tree: only the documents that define
    them are validated and built (their files read), nothing else in the directory."""
    path = Path(path)
    issues: list[Issue] = []
    read = _Read()
    _read_file(path, read, issues)
    agents = [d for d in read.docs if d.data["kind"] == "Agent"]
    wanted = {("Block", n) for a in agents for n in a.data.get("shared_blocks", ())}
    wanted |= {("Folder", n) for a in agents for n in a.data.get("folders", ())}
    wanted |= {
        ("Tool", n) if isinstance(n, str) else ("McpServer", n["mcp"])
        for a in agents
        for n in a.data.get("tools", ())
    }
    wanted -= {(d.data["kind"], d.data["name"]) for d in read.docs}
    wanted.add(("Privacy", ANY))  # fleet-wide policies apply to every agent, this one too
    if path.is_file():
        for sibling in _files(path.parent, issues):
            if sibling.resolve() != path.resolve():
                _read_file(sibling, read, issues, wanted)
    names = {d.data["name"] for d in agents}
    resources = _build(
        path, path.parent, read, Boundary.of(path.parent, allowed), issues, partial=True
    )
    _raise_errors(issues, read)
    return dataclasses.replace(
        resources, agents={n: a for n, a in resources.agents.items() if n in names}
    )


def _raise_errors(issues: list[Issue], read: _Read) -> None:
    if any(i.severity == "error" for i in issues):
        raise SpecError(_labelled(issues, read.all_docs))


def _labelled(issues: list[Issue], docs: list[ResourceDoc]) -> list[Issue]:
    """Prefix paths with the resource they are in, e.g. `Agent(writer).shared_blocks[0]`:
    several documents share one file, so a bare `shared_blocks[0]` would be ambiguous."""
    starts = sorted(((d.doc.file, d.doc.mark(()).line), i) for i, d in enumerate(docs))
    labelled = []
    for issue in issues:
        owner = None
        for (file, line), index in starts:
            if file == issue.file and line <= issue.line:
                owner = docs[index]
        if owner is None or not isinstance(owner.data, dict):
            labelled.append(issue)
            continue
        label = f"{owner.data.get('kind', '?')}({owner.data.get('name', '?')})"
        path = f"{label}.{issue.path}" if issue.path else label
        labelled.append(dataclasses.replace(issue, path=path))
    return labelled


def _files(root: Path, issues: list[Issue]) -> list[Path]:
    if root.is_file():
        return [root]
    try:
        return yaml_files(root)
    except FileProblem as problem:
        issues.append(Issue(str(root), 0, 0, "", problem.message, problem.hint))
        return []


def _read_file(
    path: Path, read: _Read, issues: list[Issue], wanted: set[tuple[str, str]] | None = None
) -> None:
    """Add the file's documents to `read`. With `wanted`, only documents defining one of
    those (kind, name) pairs (a cheap text look first: most files define none)."""
    try:
        text = read_text(path, MAX_YAML_BYTES)
    except FileProblem as problem:
        if wanted is None:
            issues.append(Issue(str(path), 0, 0, "", problem.message, problem.hint))
        return
    if wanted is not None and not any(
        (kind if name == ANY else name) in text for kind, name in wanted
    ):
        return
    found, problems = load_documents(text, str(path))
    issues.extend(problems)
    for doc in found:
        data = doc.data
        if data is None or (isinstance(data, dict) and data.get("kind") == "Pipeline"):
            continue  # an empty document, or a pipeline next to the agents it uses
        item = ResourceDoc(doc, path.parent)
        key = (data.get("kind"), data.get("name")) if isinstance(data, dict) else None
        if wanted is not None and key not in wanted and (key and (key[0], ANY)) not in wanted:
            continue
        read.all_docs.append(item)
        problems = schema.validate(doc, "resources")
        issues.extend(problems)
        if problems or doc.broken:
            if key and key[0] in KINDS and isinstance(key[1], str):
                read.declared.add(cast(tuple[str, str], key))  # both checked above
            else:
                read.unsure = True
            continue
        read.docs.append(item)


def _duplicates(kind: str, items: list[ResourceDoc]) -> list[Issue]:
    seen: dict[str, ResourceDoc] = {}
    issues = []
    for item in items:
        name = item.data["name"]
        if name in seen:
            first = seen[name].doc.mark(("name",))
            issues.append(
                issue_at(
                    item.doc.mark(("name",)),
                    ("name",),
                    f"duplicate {kind} '{name}'",
                    f"it is already defined at {first.file}:{first.line}",
                )
            )
        seen.setdefault(name, item)
    return issues


def _build(
    root: Path,
    base: Path,
    read: _Read,
    boundary: Boundary,
    issues: list[Issue],
    partial: bool = False,
) -> ResourceSet:
    """`partial`: the agents of one file (a policy's `agents:` may name agents elsewhere)."""
    by_kind: dict[str, list[ResourceDoc]] = {kind: [] for kind in KINDS}
    for item in read.docs:
        by_kind[item.data["kind"]].append(item)
    for kind, items in by_kind.items():
        issues.extend(_duplicates(kind, items))
    build = Builder(boundary, issues)
    blocks = {i.data["name"]: build.block(i) for i in by_kind["Block"]}
    tools = {i.data["name"]: build.tool(i) for i in by_kind["Tool"]}
    folders = {i.data["name"]: build.folder(i, base) for i in by_kind["Folder"]}
    servers = {i.data["name"]: build.mcp_server(i) for i in by_kind["McpServer"]}

    policies = {i.data["name"] for i in by_kind["Privacy"]}  # their blocks are shared ones

    def known(kind: str, built: dict) -> set[str] | None:
        extra = policies if kind == "Block" else set()
        return (
            None if read.unsure else set(built) | extra | {n for k, n in read.declared if k == kind}
        )

    agents = {
        i.data["name"]: build.agent(
            i, known("Block", blocks), known("Folder", folders), known("McpServer", servers)
        )
        for i in by_kind["Agent"]
    }
    agents = apply_policies(by_kind["Privacy"], agents, blocks, issues, partial)
    return ResourceSet(
        root=str(root),
        agents=agents,
        shared_blocks=blocks,
        tools=tools,
        folders=folders,
        mcp_servers=servers,
    )
