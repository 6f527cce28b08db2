"""The provisioning backend: what `orchestrator.provision` may ask of a Letta server.

Owns: the `AdminBackend` Protocol and the plain, frozen data types it speaks (server objects as
read back, and `NewTool`; `NewAgent` and `NewBlock` come from `requests.py`, shared with the
run-time Protocol). provision/ depends on this module only, never on letta_client;
`letta_admin.LettaAdmin` implements it over HTTP and `admin_memory.MemoryAdmin` in memory
(the test fake, shipped so users can test their own tooling too).

Must not: decide anything (what to create, what is drift): that is provision/diff_engine.py.
Secrets: `NewAgent.tool_env` values are resolved secrets; they are never part of a repr.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from orchestrator.backends.requests import NewAgent, NewBlock

# Tool types Letta attaches on its own (memory, files, base tools). Provisioning never detaches
# them unless the YAML listed them before, so they never show up as perpetual drift.
CUSTOM_TOOL_TYPE = "custom"


@dataclass(frozen=True)
class Block:
    id: str
    label: str
    value: str = ""
    limit: int | None = None
    description: str | None = None
    read_only: bool = False
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Tool:
    id: str
    name: str
    source_code: str = ""
    description: str | None = None
    tool_type: str = CUSTOM_TOOL_TYPE
    pip_requirements: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class FolderFile:
    id: str
    name: str  # the name given at upload (a path relative to the resource directory)


@dataclass(frozen=True)
class Folder:
    id: str
    name: str
    description: str | None = None
    embedding: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    files: tuple[FolderFile, ...] = ()


@dataclass(frozen=True)
class AgentState:
    """An agent as the server holds it (Letta's own name for it), read back for the diff."""

    id: str
    name: str
    model: str | None = None
    embedding: str | None = None
    system: str = ""
    description: str | None = None
    context_window: int | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    blocks: tuple[Block, ...] = ()
    tools: tuple[Tool, ...] = ()
    folder_ids: tuple[str, ...] = ()
    tool_env_keys: tuple[str, ...] = ()  # values are secrets: never read back
    tool_rules: tuple[Mapping[str, Any], ...] = ()  # as Letta's API has them (None values dropped)
    settings: Mapping[str, Any] = field(
        default_factory=dict
    )  # AGENT_SETTINGS, as the server has them
    # the agents Letta made for this one (its sleep-time agent): deleted with it, share its blocks
    companion_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Passage:
    """An archival passage of an agent, as read back."""

    id: str
    text: str = field(default="", repr=False)
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class McpServer:
    """An MCP server registered on Letta (stdio: command/args/env; sse and streamable_http:
    url/headers). `env` and `headers` hold secrets as the server has them: never in a repr."""

    id: str
    name: str
    transport: str  # "stdio" | "sse" | "streamable_http"
    command: str = ""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class NewMcpServer:
    name: str
    transport: str
    command: str = ""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # resolved secrets
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)


# The tool type Letta gives the tools it registers from an MCP server.
MCP_TOOL_TYPE = "external_mcp"


@dataclass(frozen=True)
class NewTool:
    source_code: str
    description: str | None = None
    pip_requirements: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


# Letta behaviour settings provisioning reads, creates with and updates (same names as Letta's).
AGENT_SETTINGS = (
    "message_buffer_autoclear",
    "max_files_open",
    "per_file_view_window_char_limit",
    "timezone",
    "enable_sleeptime",
)
# Fields `update_agent` accepts; `tool_env` values are secrets.
AGENT_UPDATE_FIELDS = frozenset(
    {
        "name",
        "model",
        "embedding",
        "system",
        "description",
        "context_window",
        "tags",
        "metadata",
        "tool_env",
        "tool_rules",
        *AGENT_SETTINGS,
    }
)
BLOCK_UPDATE_FIELDS = frozenset({"value", "limit", "description", "read_only", "tags", "metadata"})

# Every method that changes the server: a counting wrapper over these proves that a second
# apply makes zero writes.
WRITE_METHODS = (
    "create_agent",
    "update_agent",
    "delete_agent",
    "create_passage",
    "delete_passage",
    "create_block",
    "update_block",
    "delete_block",
    "attach_block",
    "detach_block",
    "upsert_tool",
    "delete_tool",
    "attach_tool",
    "detach_tool",
    "create_folder",
    "update_folder",
    "delete_folder",
    "upload_file",
    "delete_file",
    "attach_folder",
    "detach_folder",
    "create_mcp_server",
    "update_mcp_server",
    "delete_mcp_server",
)


@runtime_checkable
class AdminBackend(Protocol):
    """Reads return fresh server state; writes raise orchestrator.errors.BackendError."""

    base_url: str

    # agents
    def list_agents(self, tags: Sequence[str] = ()) -> list[AgentState]: ...
    def get_agent(self, agent_id: str) -> AgentState: ...
    def create_agent(self, new: NewAgent, extra: Mapping[str, Any] | None = None) -> AgentState: ...
    # `extra`: provisioning-only fields set at creation (`tool_rules`, AGENT_SETTINGS)
    def update_agent(self, agent_id: str, **fields: Any) -> None: ...
    def delete_agent(self, agent_id: str) -> None: ...
    def count_passages(self, agent_id: str) -> int: ...
    def count_messages(self, agent_id: str) -> int: ...  # conversation (not system) messages
    def list_passages(self, agent_id: str) -> list[Passage]: ...
    def create_passage(self, agent_id: str, text: str, tags: Sequence[str]) -> None: ...
    def delete_passage(self, agent_id: str, passage_id: str) -> None: ...

    # models the server offers: (LLM handles, embedding handles)
    def list_models(self) -> tuple[tuple[str, ...], tuple[str, ...]]: ...

    # blocks
    def list_blocks(self, tags: Sequence[str] = ()) -> list[Block]: ...
    def create_block(self, new: NewBlock) -> Block: ...
    def update_block(self, block_id: str, **fields: Any) -> None: ...
    def delete_block(self, block_id: str) -> None: ...
    def attach_block(self, agent_id: str, block_id: str) -> None: ...
    def detach_block(self, agent_id: str, block_id: str) -> None: ...

    # tools (named by their function name, server-wide)
    def list_tools(self) -> list[Tool]: ...
    def upsert_tool(self, new: NewTool) -> Tool: ...
    def delete_tool(self, tool_id: str) -> None: ...
    def attach_tool(self, agent_id: str, tool_id: str) -> None: ...
    def detach_tool(self, agent_id: str, tool_id: str) -> None: ...

    # folders
    def list_folders(self) -> list[Folder]: ...
    def create_folder(
        self, name: str, description: str | None, embedding: str, metadata: Mapping[str, Any]
    ) -> Folder: ...
    def update_folder(self, folder_id: str, **fields: Any) -> None: ...
    def delete_folder(self, folder_id: str) -> None: ...
    def upload_file(self, folder_id: str, name: str, content: bytes) -> FolderFile: ...
    def file_contents(self, folder_id: str) -> dict[str, str]: ...  # name -> text (export)
    def delete_file(self, folder_id: str, file_id: str) -> None: ...
    def attach_folder(self, agent_id: str, folder_id: str) -> None: ...
    def detach_folder(self, agent_id: str, folder_id: str) -> None: ...

    # MCP servers (named server-wide); their tools are Letta tools of type MCP_TOOL_TYPE,
    # attached with attach_tool. create/update connect to the server and (re)list its tools.
    def list_mcp_servers(self) -> list[McpServer]: ...
    def create_mcp_server(self, new: NewMcpServer) -> McpServer: ...
    def update_mcp_server(self, server_id: str, new: NewMcpServer) -> None: ...
    def delete_mcp_server(self, server_id: str) -> None: ...
    def list_mcp_tools(self, server_id: str) -> list[Tool]: ...

    # Letta agent files (.af): the agent with its blocks, tools, messages (JSON text)
    def export_agent_file(self, agent_id: str) -> str: ...
    def import_agent_file(
        self,
        content: bytes,
        secrets: Mapping[str, str],
        model: str | None = None,
        embedding: str | None = None,
    ) -> list[str]: ...  # model/embedding: handles that replace the file's
