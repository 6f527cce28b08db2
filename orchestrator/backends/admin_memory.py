"""An in-memory `AdminBackend`: the test fake for provisioning, shipped with the package.

Owns: a dict-backed imitation of the parts of a Letta 0.16.8 server that provisioning uses,
including the server defaults that make naive diffs drift forever (a default system prompt,
default block descriptions, base tools attached to every new agent, file tools attached with a
folder). Blocks are shared by id, as on Letta, so one block can sit on several agents.

Must not: be used to decide anything; it only stores and returns.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from orchestrator.backends.admin import (
    AGENT_SETTINGS,
    AGENT_UPDATE_FIELDS,
    BLOCK_UPDATE_FIELDS,
    AgentState,
    Block,
    Folder,
    FolderFile,
    NewAgent,
    NewBlock,
    NewTool,
    Passage,
    Tool,
)
from orchestrator.backends.admin_memory_extra import MemoryExtras
from orchestrator.errors import BackendError, NotFound

DEFAULT_SYSTEM = "<base_instructions>You are a helpful agent (server default).</base_instructions>"
BASE_TOOLS = (
    ("conversation_search", "letta_core"),
    ("memory_insert", "letta_sleeptime_core"),
    ("memory_replace", "letta_sleeptime_core"),
)
FILE_TOOLS = (("open_files", "letta_files_core"), ("grep_files", "letta_files_core"))
DEFAULT_CONTEXT_WINDOW = 30000
DEFAULT_SETTINGS = {
    "message_buffer_autoclear": False,
    "max_files_open": 5,
    "per_file_view_window_char_limit": 15000,
    "timezone": "UTC",
    "enable_sleeptime": None,
}


class MemoryAdmin(MemoryExtras):
    """State lives in plain dicts; agents keep block/tool/folder ids, resolved on read."""

    def __init__(self, base_url: str = "memory://") -> None:
        self.base_url = base_url
        self._ids = itertools.count(1)
        self.agents: dict[str, dict[str, Any]] = {}
        self.blocks: dict[str, Block] = {}
        self.tools: dict[str, Tool] = {}
        self.folders: dict[str, Folder] = {}
        self.file_content: dict[str, bytes] = {}
        self.passages: dict[str, int] = {}  # agent id -> passages beyond `archive` (a count)
        self.archive: dict[str, list[Passage]] = {}
        self.messages: dict[str, int] = {}  # agent id -> conversation messages
        self.llm_handles: list[str] = []  # what list_models offers (none by default)
        self.embedding_handles: list[str] = []
        self._init_extras()
        for name, kind in BASE_TOOLS + FILE_TOOLS:
            tool_id = self._new_id("tool")
            self.tools[tool_id] = Tool(tool_id, name, tool_type=kind)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):04d}"

    def _agent(self, agent_id: str) -> dict[str, Any]:
        if agent_id not in self.agents:
            raise NotFound(f"no agent {agent_id}", status=404)
        return self.agents[agent_id]

    # ----- agents -----
    def list_agents(self, tags: Sequence[str] = ()) -> list[AgentState]:
        return [
            self.get_agent(a)
            for a, row in self.agents.items()
            if set(tags) <= set(row["agent"].tags)
        ]

    def get_agent(self, agent_id: str) -> AgentState:
        row = self._agent(agent_id)
        return replace(
            row["agent"],
            blocks=tuple(self.blocks[b] for b in row["blocks"]),
            tools=tuple(self.tools[t] for t in row["tools"]),
            folder_ids=tuple(row["folders"]),
        )

    def create_agent(self, new: NewAgent, extra: Mapping[str, Any] | None = None) -> AgentState:
        extra = dict(extra or {})
        if unknown := set(extra) - {"tool_rules", *AGENT_SETTINGS}:
            raise BackendError(f"create_agent: unknown fields {sorted(unknown)}")
        shared = list(new.block_ids)  # attached at creation, as on Letta (the run backend)
        if missing := [b for b in shared if b not in self.blocks]:
            raise NotFound(f"no block {missing[0]}", status=404)
        agent_id = self._new_id("agent")
        blocks = [
            self.create_block(replace(b, description=b.description or f"The {b.label} block"))
            for b in new.memory_blocks
        ]
        base = [
            t.id
            for t in self.tools.values()
            if (t.name, t.tool_type) in BASE_TOOLS or t.name in new.tools
        ]
        agent = AgentState(
            id=agent_id,
            name=new.name,
            model=new.model,
            embedding=new.embedding,
            system=new.system or DEFAULT_SYSTEM,
            description=new.description,
            context_window=new.context_window or DEFAULT_CONTEXT_WINDOW,
            tags=tuple(new.tags),
            metadata=dict(new.metadata),
            tool_env_keys=tuple(sorted(new.tool_env)),
            # Letta adds a continue_loop rule for each base tool it attaches
            tool_rules=tuple(extra.pop("tool_rules", ()))
            + tuple({"tool_name": name, "type": "continue_loop"} for name, _ in BASE_TOOLS),
            settings={**DEFAULT_SETTINGS, **extra},
        )
        self.agents[agent_id] = {
            "agent": agent,
            "blocks": [b.id for b in blocks] + shared,
            "tools": base,
            "folders": [],
            "env": dict(new.tool_env),
        }
        if agent.settings.get("enable_sleeptime"):
            self._add_companion(agent_id)
        return self.get_agent(agent_id)

    def _add_companion(self, agent_id: str) -> None:
        """As Letta: a sleep-time agent sharing the agent's blocks, plus one block of its own."""
        row = self.agents[agent_id]
        if row["agent"].companion_ids:
            return
        own = self.create_block(NewBlock("memory_persona", "I tidy memory."))
        companion_id = self._new_id("agent")
        name = f"{row['agent'].name}-sleeptime"
        self.agents[companion_id] = {
            "agent": AgentState(companion_id, name),
            "blocks": [*row["blocks"], own.id],
            "tools": [],
            "folders": [],
            "env": {},
        }
        row["agent"] = replace(row["agent"], companion_ids=(companion_id,))

    def update_agent(self, agent_id: str, **fields: Any) -> None:
        unknown = set(fields) - AGENT_UPDATE_FIELDS
        if unknown:
            raise BackendError(f"update_agent: unknown fields {sorted(unknown)}")
        row = self._agent(agent_id)
        env = fields.pop("tool_env", None)
        if env is not None:
            row["env"] = dict(env)
            fields["tool_env_keys"] = tuple(sorted(env))
        if "tags" in fields:
            fields["tags"] = tuple(fields["tags"])
        if "tool_rules" in fields:
            fields["tool_rules"] = tuple(dict(r) for r in fields["tool_rules"])
        settings = {k: fields.pop(k) for k in AGENT_SETTINGS if k in fields}
        if settings:
            fields["settings"] = {**row["agent"].settings, **settings}
        row["agent"] = replace(row["agent"], **fields)
        if settings.get("enable_sleeptime"):
            self._add_companion(agent_id)  # disabling keeps it, as Letta does

    def delete_agent(self, agent_id: str) -> None:
        row = self._agent(agent_id)
        for companion in row["agent"].companion_ids:  # Letta deletes them too, not their blocks
            self.agents.pop(companion, None)
        del self.agents[agent_id]

    def count_passages(self, agent_id: str) -> int:
        return self.passages.get(agent_id, 0) + len(self.archive.get(agent_id, ()))

    def list_passages(self, agent_id: str) -> list[Passage]:
        self._agent(agent_id)
        return list(self.archive.get(agent_id, ()))

    def create_passage(self, agent_id: str, text: str, tags: Sequence[str]) -> None:
        self._agent(agent_id)
        self.archive.setdefault(agent_id, []).append(
            Passage(self._new_id("passage"), text, tuple(tags))
        )

    def delete_passage(self, agent_id: str, passage_id: str) -> None:
        self.archive[agent_id] = [p for p in self.archive.get(agent_id, ()) if p.id != passage_id]

    def count_messages(self, agent_id: str) -> int:
        return self.messages.get(agent_id, 0)

    def list_models(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return tuple(self.llm_handles), tuple(self.embedding_handles)

    # ----- blocks -----
    def list_blocks(self, tags: Sequence[str] = ()) -> list[Block]:
        return [b for b in self.blocks.values() if set(tags) <= set(b.tags)]

    def create_block(self, new: NewBlock) -> Block:
        block = Block(
            id=self._new_id("block"),
            label=new.label,
            value=new.value,
            limit=new.limit,
            description=new.description,
            read_only=new.read_only,
            tags=tuple(new.tags),
            metadata=dict(new.metadata),
        )
        self.blocks[block.id] = block
        return block

    def update_block(self, block_id: str, **fields: Any) -> None:
        unknown = set(fields) - BLOCK_UPDATE_FIELDS
        if unknown or block_id not in self.blocks:
            raise BackendError(f"update_block: bad block {block_id} or fields {sorted(unknown)}")
        self.blocks[block_id] = replace(self.blocks[block_id], **fields)

    def delete_block(self, block_id: str) -> None:
        self.blocks.pop(block_id, None)
        for row in self.agents.values():
            _detach(row["blocks"], block_id)

    def attach_block(self, agent_id: str, block_id: str) -> None:
        _attach(self._agent(agent_id)["blocks"], block_id)

    def detach_block(self, agent_id: str, block_id: str) -> None:
        _detach(self._agent(agent_id)["blocks"], block_id)

    # ----- tools -----
    def list_tools(self) -> list[Tool]:
        return list(self.tools.values())

    def upsert_tool(self, new: NewTool) -> Tool:
        name = _function_name(new.source_code)
        existing = next((t for t in self.tools.values() if t.name == name), None)
        tool_id = existing.id if existing else self._new_id("tool")
        tool = Tool(
            id=tool_id,
            name=name,
            source_code=new.source_code,
            description=new.description or f"{name} (from docstring)",
            pip_requirements=tuple(new.pip_requirements),
            tags=tuple(new.tags),
        )
        self.tools[tool_id] = tool
        return tool

    def delete_tool(self, tool_id: str) -> None:
        self.tools.pop(tool_id, None)
        for row in self.agents.values():
            _detach(row["tools"], tool_id)

    def attach_tool(self, agent_id: str, tool_id: str) -> None:
        _attach(self._agent(agent_id)["tools"], tool_id)

    def detach_tool(self, agent_id: str, tool_id: str) -> None:
        _detach(self._agent(agent_id)["tools"], tool_id)

    # ----- folders -----
    def list_folders(self) -> list[Folder]:
        return list(self.folders.values())

    def create_folder(
        self, name: str, description: str | None, embedding: str, metadata: Mapping[str, Any]
    ) -> Folder:
        if any(f.name == name for f in self.folders.values()):
            raise BackendError(f"a folder named {name!r} already exists", status=409)
        folder = Folder(self._new_id("source"), name, description, embedding, dict(metadata))
        self.folders[folder.id] = folder
        return folder

    def update_folder(self, folder_id: str, **fields: Any) -> None:
        self.folders[folder_id] = replace(self.folders[folder_id], **fields)

    def delete_folder(self, folder_id: str) -> None:
        self.folders.pop(folder_id, None)
        for row in self.agents.values():
            _detach(row["folders"], folder_id)

    def upload_file(self, folder_id: str, name: str, content: bytes) -> FolderFile:
        folder = self.folders[folder_id]
        kept = tuple(f for f in folder.files if f.name != name)  # duplicate_handling=replace
        new = FolderFile(self._new_id("file"), name)
        self.folders[folder_id] = replace(folder, files=kept + (new,))
        self.file_content[new.id] = content
        return new

    def file_contents(self, folder_id: str) -> dict[str, str]:
        return {
            f.name: self.file_content[f.id].decode("utf-8", "replace")
            for f in self.folders[folder_id].files
        }

    def delete_file(self, folder_id: str, file_id: str) -> None:
        folder = self.folders[folder_id]
        self.folders[folder_id] = replace(
            folder, files=tuple(f for f in folder.files if f.id != file_id)
        )

    def attach_folder(self, agent_id: str, folder_id: str) -> None:
        row = self._agent(agent_id)
        _attach(row["folders"], folder_id)
        for tool in self.tools.values():  # Letta adds its file tools with the first folder
            if (tool.name, tool.tool_type) in FILE_TOOLS:
                _attach(row["tools"], tool.id)

    def detach_folder(self, agent_id: str, folder_id: str) -> None:
        _detach(self._agent(agent_id)["folders"], folder_id)


def _attach(ids: list[str], item: str) -> None:
    if item not in ids:
        ids.append(item)


def _detach(ids: list[str], item: str) -> None:
    if item in ids:
        ids.remove(item)


def _function_name(source: str) -> str:
    for line in source.splitlines():
        if line.startswith("def "):
            return line[4:].split("(", 1)[0].strip()
    raise BackendError("tool source defines no top-level function")


if TYPE_CHECKING:  # mypy checks each method's signature against the Protocol, not only names
    from orchestrator.backends.admin import AdminBackend

    def _is_an_admin_backend(backend: MemoryAdmin) -> AdminBackend:
        return backend
