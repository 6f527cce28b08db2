"""What apply needs to perform a change: one small frozen type per kind of change.

Owns the `data` of a `Change` (changes.py): the diff modules build these, apply_changes.py
dispatches on their type, so every write to Letta can be followed from the diff that asked
for it to the backend method that makes it. A change that needs nothing beyond its own
name, agent and server id (a deletion, an attach or detach by id) carries no data (None).

Must not: be printed, compared or fingerprinted (plan output is `Change.to_dict`); these hold
resolved values (a block's value, an MCP server's secrets) that only apply may send.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from orchestrator.backends.admin import NewMcpServer
from orchestrator.provision.desired import DesiredAgent, DesiredBlock
from orchestrator.spec.model import FolderSpec, ToolSpec


@dataclass(frozen=True)
class ToolData:
    """tool create/update: the source to upload and the identity tags it carries."""

    spec: ToolSpec
    tags: tuple[str, ...]


@dataclass(frozen=True)
class SharedBlockData:
    """block (shared) create/update."""

    block: DesiredBlock


@dataclass(frozen=True)
class FolderData:
    """folder create (`server_metadata` None) or update/adopt (the folder's metadata as the
    server has it, which apply merges orchestrate's section into)."""

    spec: FolderSpec
    server_metadata: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class FileData:
    """file create/update/delete: a file of a declared folder; `digest` is the sha256 the
    plan saw ("" for a deletion), checked again before the upload."""

    folder: FolderSpec
    path: str
    digest: str


@dataclass(frozen=True)
class AgentData:
    """agent create/update/adopt: the desired agent, the metadata the server has (empty for
    a new agent) and values to send that the spec does not hold as they are (the full
    `tool_rules` list)."""

    want: DesiredAgent
    server_metadata: Mapping[str, Any] = field(default_factory=dict)
    computed: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PrivateBlockData:
    """agent_block create/update: one of the agent's own blocks."""

    block: DesiredBlock


@dataclass(frozen=True)
class PassageData:
    """agent_passage create: an archival passage seeded from git, with its seed tag."""

    text: str = field(repr=False)
    tags: tuple[str, ...]


@dataclass(frozen=True)
class McpServerData:
    """mcp_server create/update/adopt/delete: the config to send (secrets resolved) and the
    marker block's metadata (variable names only)."""

    new: NewMcpServer = field(repr=False)
    refs: Mapping[str, Mapping[str, str]]  # {"env": {KEY: VAR}, "headers": {...}}
    marker_id: str = ""


@dataclass(frozen=True)
class McpToolData:
    """agent_mcp_tool attach: the tool by server and tool name (for a server this plan
    creates, its tool ids are known only once it exists)."""

    server: str
    tool: str


ChangeData: TypeAlias = (
    ToolData
    | SharedBlockData
    | FolderData
    | FileData
    | AgentData
    | PrivateBlockData
    | PassageData
    | McpServerData
    | McpToolData
)
