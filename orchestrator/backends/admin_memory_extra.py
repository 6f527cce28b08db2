"""The in-memory `AdminBackend`'s MCP servers and agent files (a mixin of `MemoryAdmin`).

Owns: MCP servers as Letta 0.16.8 keeps them (named server-wide; creating or updating one
registers the tools it offers as tools of type MCP_TOOL_TYPE tagged `mcp:<server>`; deleting
it deletes them, detached from every agent). What a server offers is set by the test in
`mcp_catalog` (server name -> tool names). Agent files: a JSON document of one agent with its
blocks and tool names; unlike Letta's it keeps tool_env values, so tests prove that the
caller (provision/agentfile.py) blanks them itself.

Must not: decide anything; it only stores and returns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

from orchestrator.backends.admin import (
    MCP_TOOL_TYPE,
    AgentState,
    Block,
    McpServer,
    NewAgent,
    NewBlock,
    NewMcpServer,
    Tool,
)
from orchestrator.errors import BackendError, NotFound


class MemoryExtras:
    agents: dict[str, dict[str, Any]]
    blocks: dict[str, Block]
    tools: dict[str, Tool]
    _new_id: Callable[[str], str]
    get_agent: Callable[[str], AgentState]
    create_agent: Callable[..., AgentState]

    def _init_extras(self) -> None:
        self.mcp_servers: dict[str, McpServer] = {}
        self.mcp_catalog: dict[str, tuple[str, ...]] = {}  # server name -> the tools it offers

    # ----- MCP servers -----
    def list_mcp_servers(self) -> list[McpServer]:
        return list(self.mcp_servers.values())

    def create_mcp_server(self, new: NewMcpServer) -> McpServer:
        if any(s.name == new.name for s in self.mcp_servers.values()):
            raise BackendError(f"an MCP server named {new.name!r} already exists", status=409)
        server = McpServer(
            self._new_id("mcp_server"),
            new.name,
            new.transport,
            new.command,
            tuple(new.args),
            dict(new.env),
            new.url,
            dict(new.headers),
        )
        self.mcp_servers[server.id] = server
        self._sync_tools(server)
        return server

    def update_mcp_server(self, server_id: str, new: NewMcpServer) -> None:
        if server_id not in self.mcp_servers:
            raise NotFound(f"no MCP server {server_id}", status=404)
        self.mcp_servers[server_id] = McpServer(
            server_id,
            new.name,
            new.transport,
            new.command,
            tuple(new.args),
            dict(new.env),
            new.url,
            dict(new.headers),
        )
        self._sync_tools(self.mcp_servers[server_id])

    def delete_mcp_server(self, server_id: str) -> None:
        server = self.mcp_servers.pop(server_id, None)
        if server is not None:
            for tool in self.list_mcp_tools_named(server.name):
                self._drop_tool(tool.id)

    def list_mcp_tools(self, server_id: str) -> list[Tool]:
        if server_id not in self.mcp_servers:
            raise NotFound(f"no MCP server {server_id}", status=404)
        return self.list_mcp_tools_named(self.mcp_servers[server_id].name)

    def list_mcp_tools_named(self, name: str) -> list[Tool]:
        return [
            t
            for t in self.tools.values()
            if t.tool_type == MCP_TOOL_TYPE and f"mcp:{name}" in t.tags
        ]

    def _sync_tools(self, server: McpServer) -> None:
        offered = self.mcp_catalog.get(server.name, ())
        have = {t.name: t for t in self.list_mcp_tools_named(server.name)}
        for name in offered:
            if name not in have:
                tool_id = self._new_id("tool")
                self.tools[tool_id] = Tool(
                    tool_id,
                    name,
                    description=f"{name} (MCP)",
                    tool_type=MCP_TOOL_TYPE,
                    tags=(f"mcp:{server.name}",),
                )
        for name, tool in have.items():
            if name not in offered:
                self._drop_tool(tool.id)

    def _drop_tool(self, tool_id: str) -> None:
        self.tools.pop(tool_id, None)
        for row in self.agents.values():
            if tool_id in row["tools"]:
                row["tools"].remove(tool_id)

    # ----- agent files -----
    def export_agent_file(self, agent_id: str) -> str:
        agent = self.get_agent(agent_id)
        body = {
            "agents": [
                {
                    **{
                        k: v
                        for k, v in asdict(agent).items()
                        if k not in ("blocks", "tools", "tool_env_keys")
                    },
                    "blocks": [asdict(b) for b in agent.blocks],
                    "tools": [t.name for t in agent.tools],
                    "tool_exec_environment_variables": {
                        k: self.agents[agent_id]["env"].get(k, "") for k in agent.tool_env_keys
                    },
                }
            ]
        }
        return json.dumps(body, default=list)

    def import_agent_file(
        self,
        content: bytes,
        secrets: Mapping[str, str],
        model: str | None = None,
        embedding: str | None = None,
    ) -> list[str]:
        try:
            body = json.loads(content)
            found = body["agents"]
        except (ValueError, KeyError, TypeError) as exc:
            raise BackendError(f"not an agent file: {exc}", status=422) from exc
        out = []
        for a in found:
            blocks = tuple(
                NewBlock(
                    b["label"],
                    b["value"],
                    b.get("limit"),
                    b.get("description"),
                    b.get("read_only", False),
                )
                for b in a.get("blocks", ())
            )
            made = self.create_agent(
                NewAgent(
                    name=a["name"],
                    model=model or a.get("model"),
                    embedding=embedding or a.get("embedding"),
                    system=a.get("system"),
                    description=a.get("description"),
                    tags=tuple(a.get("tags", ())),
                    metadata=dict(a.get("metadata") or {}),
                    memory_blocks=blocks,
                    tools=tuple(a.get("tools", ())),
                    tool_env={
                        k: secrets.get(k, "") for k in a.get("tool_exec_environment_variables", {})
                    },
                )
            )
            out.append(made.id)
        return out
