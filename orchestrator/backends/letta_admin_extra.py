"""`LettaAdmin`'s MCP servers and agent files, on letta-client 1.12.1 (a mixin).

Owns: `/v1/mcp-servers` (list, create, update + refresh of its tools, delete, the tools of
one server) and the agent-file endpoints (`GET /v1/agents/{id}/export`,
`POST /v1/agents/import`), as Letta 0.16.8 has them, in the plain types of backends.admin.
MCP servers' env and headers are secrets: they go into requests only, never into an error.

Must not: decide anything, or log anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from letta_client import Letta

from orchestrator.backends.admin import McpServer, NewMcpServer, Tool
from orchestrator.errors import BackendError, ServerUnavailable


class LettaExtras:
    _client: Letta
    _call: Callable[[str], AbstractContextManager[None]]
    _as_tool: Callable[[Any], Tool]  # letta_admin._tool

    # ----- MCP servers -----
    def list_mcp_servers(self) -> list[McpServer]:
        with self._call("list MCP servers"):
            return [_mcp_server(s) for s in self._client.mcp_servers.list()]

    def create_mcp_server(self, new: NewMcpServer) -> McpServer:
        with self._call(f"create MCP server {new.name!r}"):
            return _mcp_server(
                self._client.mcp_servers.create(
                    server_name=new.name,
                    config=_mcp_config(new),  # type: ignore[arg-type]
                )
            )

    def update_mcp_server(self, server_id: str, new: NewMcpServer) -> None:
        with self._call(f"update MCP server {new.name!r}"):
            self._client.mcp_servers.update(
                server_id,
                server_name=new.name,
                config=_mcp_config(new),  # type: ignore[arg-type]
            )
        # Its tools, as the new config lists them: best effort, as Letta's own create does
        # (a server it cannot reach now answers 404 MCPServerUnavailable; the update stands).
        try:
            with self._call(f"refresh the tools of MCP server {new.name!r}"):
                self._client.mcp_servers.refresh(server_id)
        except ServerUnavailable:
            raise
        except BackendError:
            pass

    def delete_mcp_server(self, server_id: str) -> None:
        with self._call(f"delete MCP server {server_id}"):
            self._client.mcp_servers.delete(server_id)

    def list_mcp_tools(self, server_id: str) -> list[Tool]:
        with self._call(f"list tools of MCP server {server_id}"):
            return [self._as_tool(t) for t in self._client.mcp_servers.tools.list(server_id)]

    # ----- agent files -----
    def export_agent_file(self, agent_id: str) -> str:
        with self._call(f"export agent {agent_id}"):
            return self._client.agents.export_file(agent_id)

    def import_agent_file(
        self,
        content: bytes,
        secrets: Mapping[str, str],
        model: str | None = None,
        embedding: str | None = None,
    ) -> list[str]:
        # The name as it was (Letta appends "_copy" by default), and the server's own tools
        # kept as they are (a file must not overwrite a tool another agent uses).
        args: dict[str, Any] = {
            "file": ("agent.af", content, "application/json"),
            "append_copy_suffix": False,
            "override_existing_tools": False,
        }
        if secrets:
            args["secrets"] = json.dumps(dict(secrets))
        if model:
            args["model"] = model
        if embedding:
            args["embedding"] = embedding
        with self._call("import an agent file"):
            return list(self._client.agents.import_file(**args).agent_ids)


def _mcp_config(new: NewMcpServer) -> dict[str, Any]:
    if new.transport == "stdio":
        return {
            "mcp_server_type": "stdio",
            "command": new.command,
            "args": list(new.args),
            "env": dict(new.env) or None,
        }
    return {
        "mcp_server_type": new.transport,
        "server_url": new.url,
        "custom_headers": dict(new.headers) or None,
    }


def _mcp_server(s: Any) -> McpServer:
    transport = str(getattr(s, "mcp_server_type", "") or "")
    return McpServer(
        id=s.id or "",
        name=s.server_name or "",
        transport=transport,
        command=getattr(s, "command", None) or "",
        args=tuple(getattr(s, "args", None) or ()),
        env=dict(getattr(s, "env", None) or {}),
        url=getattr(s, "server_url", None) or "",
        headers=dict(getattr(s, "custom_headers", None) or {}),
    )
