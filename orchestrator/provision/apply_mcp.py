"""Apply's handlers for MCP servers and agents' MCP tools (see apply_changes.py, diff_mcp.py).

Owns: creating, updating and deleting an MCP server together with the marker block that
records which namespace manages it (Letta keeps no tags on MCP servers), and attaching an
MCP tool by server and tool name (for a server this plan creates, its tools are listed once
it exists).

Must not: decide anything (diff_mcp.py does), or hold a secret beyond the call that sends it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from orchestrator.backends import identity
from orchestrator.backends.admin import NewBlock
from orchestrator.errors import ProvisionError
from orchestrator.provision.changes import Change
from orchestrator.provision.diff_mcp import McpData

if TYPE_CHECKING:
    from orchestrator.provision.apply_changes import _Context as Context


MCP_MARKER_LABEL = "orchestrate_mcp_server"


def _marker_metadata(ctx: Context, name: str, server_id: str, data: McpData) -> dict:
    return {identity.METADATA_KEY: {"id": identity.agent_id_string(ctx.namespace, name),
                                    "server_id": server_id, "refs": dict(data.refs)}}


def _mark_server(ctx: Context, name: str, server_id: str, data: McpData) -> None:
    metadata = _marker_metadata(ctx, name, server_id, data)
    if data.marker_id:
        ctx.backend.update_block(data.marker_id, metadata=metadata)
        return
    ctx.backend.create_block(NewBlock(
        MCP_MARKER_LABEL, f"orchestrate manages the MCP server {name!r} here",
        description="orchestrate's record of a provisioned MCP server (do not attach)",
        tags=(identity.MANAGED_TAG, identity.mcp_tag(ctx.namespace, name)), metadata=metadata))


def _create_mcp_server(ctx: Context, change: Change) -> None:
    data: McpData = change.data
    server = ctx.backend.create_mcp_server(data.new)
    ctx.ids["mcp"][change.name] = server.id
    _mark_server(ctx, change.name, server.id, data)


def _update_mcp_server(ctx: Context, change: Change) -> None:
    data: McpData = change.data
    if any(not f.field.startswith("metadata.") for f in change.fields):
        ctx.backend.update_mcp_server(change.server_id, data.new)
    _mark_server(ctx, change.name, change.server_id, data)


def _delete_mcp_server(ctx: Context, change: Change) -> None:
    data: McpData = change.data
    if change.server_id:
        ctx.backend.delete_mcp_server(change.server_id)
    ctx.backend.delete_block(data.marker_id)


def _attach_mcp_tool(ctx: Context, change: Change) -> None:
    tool_id = change.server_id
    if not tool_id:  # the server is new (or reconfigured) in this plan: its tools are known now
        server, tool = change.data
        offered = {t.name: t.id for t in ctx.backend.list_mcp_tools(ctx.ids["mcp"][server])}
        if tool not in offered:
            raise ProvisionError(f"MCP server {server!r} has no tool {tool!r} (its tools: "
                                 f"{', '.join(sorted(offered)) or 'none'})")
        tool_id = offered[tool]
    ctx.backend.attach_tool(ctx.agent_id(change), tool_id)



def _detach_mcp_tool(ctx: Context, change: Change) -> None:
    ctx.backend.detach_tool(ctx.agent_id(change), change.server_id)


MCP_HANDLERS: dict[tuple[str, str], Callable[[Context, Change], None]] = {
    ("mcp_server", "create"): _create_mcp_server, ("mcp_server", "update"): _update_mcp_server,
    ("mcp_server", "adopt"): _update_mcp_server, ("mcp_server", "delete"): _delete_mcp_server,
    ("agent_mcp_tool", "attach"): _attach_mcp_tool, ("agent_mcp_tool", "detach"): _detach_mcp_tool,
}
