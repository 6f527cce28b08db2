"""The MCP half of the diff: `kind: McpServer` resources and the MCP tools agents attach.

Owns the rules (docs/provisioning.md, "MCP servers"):
- an MCP server is named server-wide by Letta, which keeps no tags or metadata on it, so
  orchestrate's identity lives in a marker block (tagged `orchestrate:mcp=<namespace>/<name>`)
  holding the server's id and the names of the variables its env/headers came from;
- `env` and `headers` values are secrets (`${env:VAR}` resolved here): compared by digest
  with what the server holds, shown as `(sensitive)`, never printed or kept;
- a server another namespace manages, or an unmanaged one, is never taken over silently
  (an error at its line; `--adopt` takes an unmanaged one);
- an agent's MCP tools (`{mcp: server, tool: name}`) are attached by server and tool name;
  attached MCP tools it does not declare are detached.

Must not: talk to a server. Pure functions of (desired, actual) returning Change objects.
"""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.backends import identity
from orchestrator.backends.admin import MCP_TOOL_TYPE, AgentState, McpServer, NewMcpServer, Tool
from orchestrator.errors import Issue
from orchestrator.provision.changes import Change, FieldChange, Problems
from orchestrator.provision.desired import DiffOptions, digest, env_names, resolve
from orchestrator.provision.payloads import McpServerData, McpToolData
from orchestrator.provision.state import ActualState
from orchestrator.spec.model import AgentSpec, McpServerSpec, ResourceSet

MCP_TOOL_TAG = "mcp:"  # Letta tags each tool it registers from a server `mcp:<server name>`


def desired_server(
    spec: McpServerSpec, env: Mapping[str, str], missing: list[Issue]
) -> NewMcpServer:
    def value(key: str, name: str, text: str) -> str:
        return resolve(
            text,
            env,
            spec.field_marks.get(f"{key}.{name}", spec.mark),
            f"mcp_servers.{spec.name}.{key}.{name}",
            missing,
        )

    return NewMcpServer(
        name=spec.name,
        transport=spec.transport,
        command=spec.command,
        args=spec.args,
        env={k: value("env", k, v) for k, v in spec.env.items()},
        url=spec.url,
        headers={k: value("headers", k, v) for k, v in spec.headers.items()},
    )


def server_changes(
    resources: ResourceSet,
    actual: ActualState,
    options: DiffOptions,
    env: Mapping[str, str],
    problems: Problems,
) -> list[Change]:
    missing: list[Issue] = []
    out = []
    for name, spec in resources.mcp_servers.items():
        want = desired_server(spec, env, missing)
        refs = {"env": env_names(spec.env), "headers": env_names(spec.headers)}
        have = actual.mcp_servers.get(name)
        marker = actual.mcp_markers.get(name)
        if have is None:
            out.append(
                Change(
                    "create",
                    "mcp_server",
                    name,
                    "mcp",
                    fields=_shown(want),
                    data=McpServerData(want, refs, marker.id if marker else ""),
                )
            )
            continue
        others = [ns for ns in actual.mcp_owners.get(name, ()) if ns != options.namespace]
        if marker is None and others:
            problems.add(
                spec.mark,
                f"mcp_servers.{name}",
                f"MCP server {name!r} is managed in namespace {others[0]!r}",
                "MCP servers are named server-wide: rename this one, or use that "
                "server's tools without declaring it here",
            )
            continue
        if marker is None and not options.adopt:
            problems.add(
                spec.mark,
                f"mcp_servers.{name}",
                f"an MCP server named {name!r} exists and is not managed",
                "pass --adopt to manage it (its config is then set from this file)",
            )
            continue
        fields = _compared(want, have)
        recorded = dict((marker.metadata or {}).get(identity.METADATA_KEY) or {}) if marker else {}
        if marker is not None and recorded.get("refs") != refs:
            fields.append(FieldChange("metadata.refs", recorded.get("refs"), refs))
        if fields or marker is None:
            out.append(
                Change(
                    "update" if marker else "adopt",
                    "mcp_server",
                    name,
                    "mcp",
                    server_id=have.id,
                    fields=tuple(fields),
                    data=McpServerData(want, refs, marker.id if marker else ""),
                )
            )
    if missing:
        problems.issues.extend(sorted(set(missing)))
    return out


def _shown(want: NewMcpServer) -> tuple[FieldChange, ...]:
    fields = [FieldChange("transport", None, want.transport)]
    if want.transport == "stdio":
        fields += [
            FieldChange("command", None, want.command),
            FieldChange("args", None, list(want.args)),
        ]
        if want.env:
            fields.append(FieldChange("env", None, sorted(want.env), secret=True))
    else:
        fields.append(FieldChange("url", None, want.url))
        if want.headers:
            fields.append(FieldChange("headers", None, sorted(want.headers), secret=True))
    return tuple(fields)


def _compared(want: NewMcpServer, have: McpServer) -> list[FieldChange]:
    fields = [
        FieldChange(key, getattr(have, key) or None, getattr(want, key) or None)
        for key in ("transport", "command", "url")
        if getattr(have, key) != getattr(want, key)
    ]
    if tuple(have.args) != tuple(want.args):
        fields.append(FieldChange("args", list(have.args), list(want.args)))
    for key, theirs, ours in (("env", have.env, want.env), ("headers", have.headers, want.headers)):
        if digest(dict(theirs)) != digest(dict(ours)):
            fields.append(FieldChange(key, sorted(theirs), sorted(ours), secret=True))
    return fields


def delete_server(name: str, actual: ActualState) -> Change:
    marker = actual.mcp_markers[name]
    have = actual.mcp_servers.get(name)
    return Change(
        "delete",
        "mcp_server",
        name,
        "delete",
        server_id=have.id if have else "",
        note="Letta deletes its tools with it (and detaches them from every agent)",
        data=McpServerData(NewMcpServer(name, have.transport if have else ""), {}, marker.id),
    )


def prune(resources: ResourceSet, actual: ActualState) -> list[Change]:
    return [
        delete_server(n, actual)
        for n in sorted(actual.mcp_markers)
        if n not in resources.mcp_servers
    ]


def destroy(resources: ResourceSet, actual: ActualState) -> list[Change]:
    return [delete_server(n, actual) for n in resources.mcp_servers if n in actual.mcp_markers]


def server_of(tool: Tool) -> str | None:
    """The MCP server a Letta tool came from (None for any other tool)."""
    if tool.tool_type != MCP_TOOL_TYPE:
        return None
    return next((t[len(MCP_TOOL_TAG) :] for t in tool.tags if t.startswith(MCP_TOOL_TAG)), "")


def tool_problems(
    spec: AgentSpec, resources: ResourceSet, actual: ActualState, problems: Problems
) -> None:
    """An MCP tool the (existing) server does not offer; a server neither declared nor there."""
    for server, tool in spec.mcp_tools:
        offered = actual.mcp_tools.get(server)
        where = f"agents.{spec.name}.tools"
        if server not in resources.mcp_servers and server not in actual.mcp_servers:
            problems.add(
                spec.mark,
                where,
                f"unknown MCP server {server!r}",
                "declare it as an McpServer in this directory",
            )
        elif (
            offered is not None
            and tool not in {t.name for t in offered}
            and not _reconfigured(server, resources, actual)
        ):
            names = ", ".join(sorted(t.name for t in offered)) or "none"
            problems.add(
                spec.mark,
                where,
                f"MCP server {server!r} has no tool {tool!r}",
                f"its tools: {names}",
            )


def _reconfigured(server: str, resources: ResourceSet, actual: ActualState) -> bool:
    """Whether this plan changes the server's config (its tools are then known only after)."""
    spec, have = resources.mcp_servers.get(server), actual.mcp_servers.get(server)
    if spec is None or have is None:
        return False
    return (spec.transport, spec.command, spec.args, spec.url) != (
        have.transport,
        have.command,
        have.args,
        have.url,
    )


def agent_tool_changes(
    spec: AgentSpec, name: str, have: AgentState | None, actual: ActualState
) -> list[Change]:
    """Attach the declared MCP tools (by server and tool name), detach undeclared ones."""
    attached: dict[tuple[str, str], Tool] = {}
    for found in have.tools if have else ():
        if (server := server_of(found)) is not None:
            attached[(server, found.name)] = found
    out = []
    for server, tool in spec.mcp_tools:
        if (server, tool) in attached:
            continue
        offered = {t.name: t.id for t in actual.mcp_tools.get(server, ())}
        out.append(
            Change(
                "attach",
                "agent_mcp_tool",
                f"{server}/{tool}",
                "attach",
                agent=name,
                server_id=offered.get(tool, ""),
                data=McpToolData(server, tool),
            )
        )
    for (server, tool), found in attached.items():
        if (server, tool) not in spec.mcp_tools:
            out.append(
                Change(
                    "detach",
                    "agent_mcp_tool",
                    f"{server}/{tool}",
                    "detach",
                    agent=name,
                    server_id=found.id,
                )
            )
    return out
