"""Apply's steps for MCP servers and agents' MCP tools (see apply_changes.py, diff_mcp.py).

Owns: creating, updating and deleting an MCP server together with the marker block that
records which namespace manages it (Letta keeps no tags on MCP servers), and attaching an
MCP tool by server and tool name (for a server this plan creates, its tools are listed once
it exists).

Must not: decide anything (diff_mcp.py does), or hold a secret beyond the call that sends it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.backends import identity
from orchestrator.backends.admin import NewBlock
from orchestrator.errors import ProvisionError
from orchestrator.provision.changes import Change
from orchestrator.provision.payloads import McpServerData, McpToolData

if TYPE_CHECKING:
    from orchestrator.provision.apply_changes import Context


MCP_MARKER_LABEL = "orchestrate_mcp_server"


def _marker_metadata(ctx: Context, name: str, server_id: str, data: McpServerData) -> dict:
    return {
        identity.METADATA_KEY: {
            "id": identity.agent_id_string(ctx.namespace, name),
            "server_id": server_id,
            "refs": dict(data.refs),
        }
    }


def _mark_server(ctx: Context, name: str, server_id: str, data: McpServerData) -> None:
    metadata = _marker_metadata(ctx, name, server_id, data)
    if data.marker_id:
        ctx.backend.update_block(data.marker_id, metadata=metadata)
        return
    ctx.backend.create_block(
        NewBlock(
            MCP_MARKER_LABEL,
            f"orchestrate manages the MCP server {name!r} here",
            description="orchestrate's record of a provisioned MCP server (do not attach)",
            tags=(identity.MANAGED_TAG, identity.mcp_tag(ctx.namespace, name)),
            metadata=metadata,
        )
    )


def create_server(ctx: Context, name: str, data: McpServerData) -> None:
    server = ctx.backend.create_mcp_server(data.new)
    ctx.ids["mcp"][name] = server.id
    _mark_server(ctx, name, server.id, data)


def update_server(ctx: Context, change: Change, data: McpServerData) -> None:
    if any(not f.field.startswith("metadata.") for f in change.fields):
        ctx.backend.update_mcp_server(change.server_id, data.new)
    _mark_server(ctx, change.name, change.server_id, data)


def delete_server(ctx: Context, server_id: str, data: McpServerData) -> None:
    if server_id:
        ctx.backend.delete_mcp_server(server_id)
    ctx.backend.delete_block(data.marker_id)


def attach_tool(ctx: Context, agent: str, tool_id: str, data: McpToolData) -> None:
    """`tool_id` is "" when the server is new (or reconfigured) in this plan: its tools are
    known now."""
    if not tool_id:
        server, tool = data.server, data.tool
        offered = {t.name: t.id for t in ctx.backend.list_mcp_tools(ctx.ids["mcp"][server])}
        if tool not in offered:
            raise ProvisionError(
                f"MCP server {server!r} has no tool {tool!r} (its tools: "
                f"{', '.join(sorted(offered)) or 'none'})"
            )
        tool_id = offered[tool]
    ctx.backend.attach_tool(ctx.agent_id(agent), tool_id)
