"""Export agents that exist on a server as a resource directory, so apply right after is a no-op.

Owns `Selection`, `select_agents` and `export_resources`. Layout written under `out`:
  agents/<name>.yaml (+ <name>.system.md)   kind: Agent
  blocks/<name>.yaml                        kind: Block (shared blocks managed in the namespace)
  tools/<name>.yaml + <name>.py             kind: Tool (custom tools, source included)
  folders/<name>.yaml + the files' text     kind: Folder (files at their upload paths, under
                                            folders/: names are relative to the Folder's YAML)
  mcp_servers/<name>.yaml                   kind: McpServer (export_mcp.py; no secret values)
Rules that keep export -> apply a no-op: every compared field is written as the server has
it; blocks shared by hand (not managed) are written as private blocks of each agent (apply
then finds the very same block by label); Letta's own tools are left out; tool_env values are
secrets, written as the `${env:VAR}` references the YAML used (their names are recorded in
metadata at apply), else as `${env:KEY}` (a warning says which to export). A system prompt
or block value apply resolved from `${env:...}` is written as written, references and all,
or export refuses naming the field (export_secrets.py): never a resolved secret.
Unmanaged agents are exported under their Letta name: `apply --adopt` then starts managing
them instead of creating duplicates.

Must not: write anything to the server.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from orchestrator.backends import identity
from orchestrator.backends.admin import CUSTOM_TOOL_TYPE, AdminBackend, AgentState, Block, Folder
from orchestrator.errors import ProvisionError
from orchestrator.provision.export_mcp import mcp_tool_entries, write_mcp_servers
from orchestrator.provision.export_secrets import scrub_agents

API_VERSION = "orchestrate/v1"
NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Selection:
    all: bool = False
    names: tuple[str, ...] = ()
    match: tuple[str, ...] = ()  # shell globs on names
    tags: tuple[str, ...] = ()


@dataclass
class ExportReport:
    agents: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def export_name(agent: AgentState, namespace: str) -> str:
    return identity.managed_name(agent.tags, namespace) or agent.name


def select_agents(
    agents: list[AgentState], selection: Selection, namespace: str
) -> list[AgentState]:
    if not (selection.all or selection.names or selection.match or selection.tags):
        raise ProvisionError(
            "nothing selected: name agents, or pass --all, --match GLOB or --tag T"
        )

    def chosen(agent: AgentState) -> bool:
        name = export_name(agent, namespace)
        if name in selection.names:
            return True
        if identity.RUN_TAG in agent.tags:
            return False  # a pipeline run's own inline agent: not part of any fleet
        return (
            selection.all
            or any(fnmatch.fnmatchcase(name, g) for g in selection.match)
            or bool(set(selection.tags) & set(agent.tags))
        )

    made = {c for a in agents for c in a.companion_ids}  # sleep-time agents: part of another
    picked = [
        a
        for a in agents
        if a.id not in made
        and chosen(a)
        and (identity.managed_name(a.tags, namespace) or not identity.is_managed(a.tags))
    ]
    missing = set(selection.names) - {export_name(a, namespace) for a in picked}
    if missing:
        raise ProvisionError(f"no agent named {', '.join(sorted(missing))} on the server")
    return sorted(picked, key=lambda a: export_name(a, namespace))


class _Literal(str):
    pass


def _literal(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def _text(value: str) -> str:
    # Literal blocks read best for prompts; PyYAML falls back to quoting when a literal
    # cannot round-trip exactly (trailing spaces, tabs...), so values stay exact.
    return _Literal(value) if "\n" in value else value


def _dump(docs: list[dict]) -> str:
    return yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


class _Writer:
    def __init__(self, out: Path, report: ExportReport) -> None:
        self.out, self.report = out, report
        self.seen: set[Path] = set()

    def write(self, relative: str, text: str) -> None:
        path = self.out / relative
        if not path.resolve().is_relative_to(self.out.resolve()):
            # A server-side file name must never make export write outside `out`.
            raise ProvisionError(f"refusing to export {relative!r}: outside {self.out}")
        if path.resolve() in self.seen:  # a folder file named like another exported file
            raise ProvisionError(
                f"refusing to export {relative!r}: two exported files "
                "would have that path (rename one of them on the server)"
            )
        self.seen.add(path.resolve())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.report.files.append(relative)


def _declared_tools(agent: AgentState) -> list[str]:
    before = ((agent.metadata or {}).get(identity.METADATA_KEY) or {}).get("tools") or []
    return sorted({t.name for t in agent.tools if t.tool_type == CUSTOM_TOOL_TYPE} | set(before))


def _block_doc(block: Block, agent_owned: bool) -> dict:
    doc: dict = {"label": block.label, "value": _text(block.value)}
    if block.limit is not None:
        doc["limit"] = block.limit
    if block.description:
        doc["description"] = _text(block.description)
    if block.read_only:
        doc["read_only"] = True
    if agent_owned:
        doc["agent_owned"] = True
    return doc


# Behaviour settings written when they differ from Letta's defaults (the file limits depend
# on the model, so they are left to the server unless the YAML declares them).
EXPORTED_SETTINGS: dict[str, object] = {"message_buffer_autoclear": False, "timezone": "UTC"}


def _agent_doc(
    agent: AgentState,
    name: str,
    shared: dict[str, str],
    folders: dict[str, str],
    writer: _Writer,
    report: ExportReport,
) -> dict:
    section = (agent.metadata or {}).get(identity.METADATA_KEY) or {}
    owned = set(section.get("agent_owned") or ())
    doc: dict = {"apiVersion": API_VERSION, "kind": "Agent", "name": name}
    if agent.description:
        doc["description"] = agent.description
    doc.update(model=agent.model, embedding=agent.embedding)
    if agent.context_window:
        doc["context_window"] = agent.context_window
    writer.write(f"agents/{name}.system.md", agent.system)
    doc["system_file"] = f"{name}.system.md"
    private = [b for b in agent.blocks if b.id not in shared]
    if private:
        doc["memory_blocks"] = [_block_doc(b, b.label in owned) for b in private]
    shared_names = sorted(shared[b.id] for b in agent.blocks if b.id in shared)
    for key, values in (
        ("shared_blocks", shared_names),
        ("tools", _declared_tools(agent)),
        ("folders", sorted(folders[f] for f in agent.folder_ids if f in folders)),
        ("tags", sorted(t for t in agent.tags if not identity.is_identity_tag(t))),
    ):
        if values:
            doc[key] = values
    if mcp_tools := mcp_tool_entries(agent):
        doc["tools"] = [*doc.get("tools", ()), *mcp_tools]
    if isinstance(section.get("tool_rules"), list):  # the rules the YAML declared
        doc["tool_rules"] = list(section["tool_rules"])
    doc.update(
        {
            k: v
            for k, v in agent.settings.items()
            if k in EXPORTED_SETTINGS and v is not None and v != EXPORTED_SETTINGS[k]
        }
    )
    if agent.tool_env_keys:
        # The variables the YAML named (recorded at apply, names only); else the key's name.
        refs = section.get("tool_env_refs") or {}
        names = {k: str(refs.get(k) or k) for k in agent.tool_env_keys}
        doc["tool_env"] = {k: f"${{env:{v}}}" for k, v in names.items()}
        guessed = [k for k in agent.tool_env_keys if k not in refs]
        if guessed:
            report.warnings.append(
                f"agent {name}: tool_env {', '.join(guessed)} written as "
                "${env:KEY} references (the server does not say where their "
                "values came from); export them before apply"
            )
    return doc


def export_resources(
    backend: AdminBackend,
    selection: Selection,
    out: Path,
    namespace: str = identity.DEFAULT_NAMESPACE,
    env: Mapping[str, str] | None = None,
) -> ExportReport:
    """`env`: where the values of `${env:...}` fields changed on the server since apply
    are looked up, to write them back as references (export_secrets.py)."""
    report = ExportReport()
    writer = _Writer(out, report)
    agents = select_agents(backend.list_agents(), selection, namespace)
    agents, values, warnings = scrub_agents(  # before anything is written
        agents, {a.id: export_name(a, namespace) for a in agents}, env or {}
    )
    report.warnings += warnings
    shared = _shared_blocks(backend, namespace, agents, writer, values)
    folders = _folders(backend, agents, writer)
    _tools(agents, writer)
    write_mcp_servers(
        backend,
        agents,
        namespace,
        lambda path, docs: writer.write(path, _dump(docs)),
        report.warnings,
    )
    for agent in agents:
        name = export_name(agent, namespace)
        if not NAME_OK.match(name):
            raise ProvisionError(
                f"agent {agent.id} is named {name!r}, which is not a valid "
                "resource name; rename it on the server first"
            )
        doc = _agent_doc(agent, name, shared, folders, writer, report)
        writer.write(f"agents/{name}.yaml", _dump([doc]))
        report.agents.append(name)
    return report


def _shared_blocks(
    backend: AdminBackend,
    namespace: str,
    agents: list[AgentState],
    writer: _Writer,
    values: Mapping[str, str],
) -> dict[str, str]:
    """Managed shared blocks of the namespace used by these agents: block id -> name."""
    used = {b.id for a in agents for b in a.blocks}
    out = {}
    for block in backend.list_blocks(tags=[identity.MANAGED_TAG]):
        name = identity.tagged_name(block.tags, "block", namespace)
        if name is None or block.id not in used:
            continue
        owned = ((block.metadata or {}).get(identity.METADATA_KEY) or {}).get("agent_owned")
        block = replace(block, value=values.get(block.id, block.value))  # no resolved secret
        doc = {
            "apiVersion": API_VERSION,
            "kind": "Block",
            "name": name,
            **{k: v for k, v in _block_doc(block, bool(owned)).items() if k != "label"},
        }
        writer.write(f"blocks/{name}.yaml", _dump([doc]))
        out[block.id] = name
    return out


def _tools(agents: list[AgentState], writer: _Writer) -> None:
    seen = {t.name: t for a in agents for t in a.tools if t.tool_type == CUSTOM_TOOL_TYPE}
    for name, tool in sorted(seen.items()):
        doc: dict = {
            "apiVersion": API_VERSION,
            "kind": "Tool",
            "name": name,
            "source_file": f"{name}.py",
        }
        if tool.pip_requirements:
            doc["pip_requirements"] = list(tool.pip_requirements)
        writer.write(f"tools/{name}.py", tool.source_code.rstrip("\n") + "\n")
        writer.write(f"tools/{name}.yaml", _dump([doc]))


def _folders(backend: AdminBackend, agents: list[AgentState], writer: _Writer) -> dict[str, str]:
    """Folders these agents use, with their files' text: folder id -> name."""
    used = {f for a in agents for f in a.folder_ids}
    out = {}
    for folder in backend.list_folders():
        if folder.id not in used:
            continue
        out[folder.id] = folder.name
        writer.write(f"folders/{folder.name}.yaml", _dump([_folder_doc(backend, folder, writer)]))
    return out


def _folder_doc(backend: AdminBackend, folder: Folder, writer: _Writer) -> dict:
    contents = backend.file_contents(folder.id)
    for name, text in sorted(contents.items()):
        # Upload names are relative to the YAML file that declares the folder: here
        # folders/<folder>.yaml, so the files go next to it, under folders/.
        writer.write(f"folders/{name}", text)
    doc: dict = {"apiVersion": API_VERSION, "kind": "Folder", "name": folder.name}
    if folder.description:
        doc["description"] = folder.description
    if folder.embedding:
        doc["embedding"] = folder.embedding
    if contents:
        doc["files"] = sorted(contents)
    return doc
