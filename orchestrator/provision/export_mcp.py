"""Export the MCP servers exported agents use, and those agents' MCP tools.

Owns: `mcp_tool_entries` (an agent's MCP tools as `{mcp: server, tool: name}`) and
`write_mcp_servers` (`mcp_servers/<name>.yaml`, kind: McpServer). `env` and `headers`
values are secrets and are never written: each becomes the `${env:VAR}` reference the YAML
used (recorded, names only, in the server's marker block at apply), else a variable named
after the key (a warning says which to export), so apply right after export is a no-op once
those variables are set.

Must not: write anything to the server, or write a secret value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from orchestrator.backends import identity
from orchestrator.backends.admin import AdminBackend, AgentState, McpServer
from orchestrator.provision.diff_mcp import server_of

API_VERSION = "orchestrate/v1"


def mcp_tool_entries(agent: AgentState) -> list[dict[str, str]]:
    found = {(server, t.name) for t in agent.tools if (server := server_of(t))}
    return [{"mcp": server, "tool": tool} for server, tool in sorted(found)]


def _variable(key: str) -> str:
    name = re.sub(r"\W", "_", key).upper()
    return name if re.match(r"[A-Za-z_]", name) else f"_{name}"


def _refs(
    values: Mapping[str, str], recorded: Mapping[str, str], what: str, warnings: list[str]
) -> dict[str, str]:
    names = {key: str(recorded.get(key) or _variable(key)) for key in values}
    guessed = sorted(k for k in values if k not in recorded)
    if guessed:
        warnings.append(
            f"{what} {', '.join(guessed)} written as ${{env:...}} references named "
            "after the keys (the server does not say where the values came from); "
            "export them before apply"
        )
    return {key: f"${{env:{name}}}" for key, name in names.items()}


def server_doc(
    server: McpServer, recorded: Mapping[str, Mapping[str, str]], warnings: list[str]
) -> dict:
    doc: dict = {
        "apiVersion": API_VERSION,
        "kind": "McpServer",
        "name": server.name,
        "transport": server.transport,
    }
    what = f"MCP server {server.name}:"
    if server.transport == "stdio":
        doc["command"] = server.command
        if server.args:
            doc["args"] = list(server.args)
        if server.env:
            doc["env"] = _refs(server.env, recorded.get("env") or {}, f"{what} env", warnings)
    else:
        doc["url"] = server.url
        if server.headers:
            doc["headers"] = _refs(
                server.headers, recorded.get("headers") or {}, f"{what} headers", warnings
            )
    return doc


def write_mcp_servers(
    backend: AdminBackend,
    agents: list[AgentState],
    namespace: str,
    write: Callable[[str, list[dict]], None],
    warnings: list[str],
) -> None:
    used = {entry["mcp"] for a in agents for entry in mcp_tool_entries(a)}
    if not used:
        return
    recorded: dict[str, Mapping[str, Mapping[str, str]]] = {}
    for block in backend.list_blocks(tags=[identity.MANAGED_TAG]):
        name = identity.tagged_name(block.tags, "mcp", namespace)
        if name is not None:
            section = (block.metadata or {}).get(identity.METADATA_KEY) or {}
            recorded[name] = section.get("refs") or {}
    for server in backend.list_mcp_servers():
        if server.name in used:
            write(
                f"mcp_servers/{server.name}.yaml",
                [server_doc(server, recorded.get(server.name, {}), warnings)],
            )
