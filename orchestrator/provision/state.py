"""The actual state: what a Letta server holds, read once through the admin backend.

Owns: `ActualState` and `read_state`. Objects are sorted into managed (by identity tag or
metadata, in the given namespace) and unmanaged; agents created by hand are kept apart so the
diff can never touch them (they only serve `--adopt` and the "exists but unmanaged" warning).

Must not: decide what changes (that is diff_engine.py) or write anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from orchestrator.backends import identity
from orchestrator.backends.admin import AdminBackend, AgentState, Block, Folder, McpServer, Tool
from orchestrator.provision.diff_archival import seeds_of


@dataclass(frozen=True)
class ActualState:
    base_url: str
    namespace: str
    agents: Mapping[str, AgentState] = field(default_factory=dict)  # managed name -> agent
    duplicates: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> agent ids
    unmanaged: tuple[AgentState, ...] = ()
    shared_blocks: Mapping[str, Block] = field(default_factory=dict)  # managed name -> block
    tools: Mapping[str, Tool] = field(default_factory=dict)  # every tool, by function name
    folders: Mapping[str, Folder] = field(default_factory=dict)  # every folder, by name
    passages: Mapping[str, int] = field(default_factory=dict)  # managed agent -> archival count
    messages: Mapping[str, int] = field(default_factory=dict)  # managed agent -> conversation
    # block id -> how many agents (of any namespace, managed or not) have it attached, not
    # counting sleep-time agents (they go with their agent)
    block_users: Mapping[str, int] = field(default_factory=dict)
    # managed name -> the agents Letta made for it (its sleep-time agent)
    companions: Mapping[str, tuple[AgentState, ...]] = field(default_factory=dict)
    # managed agent -> {seed digest: passage id} of its seeded archival passages (when read)
    seeds: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    mcp_servers: Mapping[str, McpServer] = field(default_factory=dict)  # every one, by name
    mcp_markers: Mapping[str, Block] = field(default_factory=dict)  # managed here, by name
    mcp_owners: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> namespaces
    mcp_tools: Mapping[str, tuple[Tool, ...]] = field(default_factory=dict)  # server -> its tools
    # the handles the server offers (LLM, embedding); None when not read
    models: tuple[str, ...] | None = None
    embeddings: tuple[str, ...] | None = None

    def managed_folder(self, name: str) -> Folder | None:
        folder = self.folders.get(name)
        if folder and identity.metadata_id(dict(folder.metadata)) == identity.agent_id_string(
            self.namespace, name
        ):
            return folder
        return None


def read_state(
    backend: AdminBackend,
    namespace: str,
    deletable: Callable[[str], bool] = lambda _name: False,
    models: bool = False,
    seeded: Callable[[str], bool] = lambda _name: False,
) -> ActualState:
    """Read the server. `deletable(name)`: whether a plan may delete that managed agent; only
    those have their archival passages and messages counted (two reads per agent). `models`:
    also read the model handles it offers (for defaults the user did not give). `seeded(name)`:
    whether to read that managed agent's seeded archival passages (one read per agent)."""
    listed = backend.list_agents()
    by_id = {a.id: a for a in listed}
    made = {c for a in listed for c in a.companion_ids}  # sleep-time agents: part of another
    every = [a for a in listed if a.id not in made]
    agents, duplicates, unmanaged = _agents(every, namespace)
    counted = [name for name in sorted(agents) if deletable(name)]
    users = Counter(b.id for a in every for b in a.blocks)
    managed_blocks = backend.list_blocks(tags=[identity.MANAGED_TAG])
    servers = {s.name: s for s in backend.list_mcp_servers()}
    markers, owners = _mcp_identity(servers, managed_blocks, namespace)
    return ActualState(
        mcp_servers=servers,
        mcp_markers=markers,
        mcp_owners=owners,
        mcp_tools={name: tuple(backend.list_mcp_tools(s.id)) for name, s in servers.items()},
        base_url=backend.base_url,
        namespace=namespace,
        agents=agents,
        duplicates=duplicates,
        unmanaged=unmanaged,
        shared_blocks=_shared_blocks(managed_blocks, namespace),
        tools={t.name: t for t in backend.list_tools()},
        folders={f.name: f for f in backend.list_folders()},
        passages={name: backend.count_passages(agents[name].id) for name in counted},
        messages={name: backend.count_messages(agents[name].id) for name in counted},
        block_users=dict(users),
        companions={
            name: tuple(by_id[c] for c in a.companion_ids if c in by_id)
            for name, a in agents.items()
            if a.companion_ids
        },
        seeds={
            name: seeds_of(backend.list_passages(agents[name].id))
            for name in sorted(agents)
            if seeded(name)
        },
        **_models(backend, models),
    )


def _models(backend: AdminBackend, wanted: bool) -> dict[str, tuple[str, ...]]:
    if not wanted:
        return {}
    llms, embeddings = backend.list_models()
    return {"models": tuple(llms), "embeddings": tuple(embeddings)}


def _agents(
    every: list[AgentState], namespace: str
) -> tuple[dict[str, AgentState], dict[str, tuple[str, ...]], tuple[AgentState, ...]]:
    managed: dict[str, list[AgentState]] = {}
    unmanaged: list[AgentState] = []
    for agent in every:
        if not identity.is_managed(agent.tags):
            unmanaged.append(agent)
            continue
        name = identity.managed_name(agent.tags, namespace)
        if name is not None:  # managed, but maybe in another namespace: not ours to touch
            managed.setdefault(name, []).append(agent)
    single = {name: found[0] for name, found in managed.items() if len(found) == 1}
    dupes = {
        name: tuple(sorted(a.id for a in found))
        for name, found in managed.items()
        if len(found) > 1
    }
    return single, dupes, tuple(unmanaged)


def _mcp_identity(
    servers: Mapping[str, McpServer], blocks: list[Block], namespace: str
) -> tuple[dict[str, Block], dict[str, tuple[str, ...]]]:
    """The marker blocks of this namespace's MCP servers (by name), and the namespaces that
    manage each existing server (Letta keeps no tags on MCP servers: see diff_mcp.py)."""
    markers = {
        name: b
        for b in blocks
        if (name := identity.tagged_name(b.tags, "mcp", namespace)) is not None
    }
    owners: dict[str, set[str]] = {}
    for block in blocks:
        for tag in block.tags:
            found = (
                identity.split_id(tag.removeprefix(identity.MCP_PREFIX))
                if tag.startswith(identity.MCP_PREFIX)
                else None
            )
            if found and found[1] in servers:
                owners.setdefault(found[1], set()).add(found[0])
    return markers, {name: tuple(sorted(found)) for name, found in owners.items()}


def _shared_blocks(blocks: list[Block], namespace: str) -> dict[str, Block]:
    out: dict[str, Block] = {}
    for block in blocks:
        name = identity.tagged_name(block.tags, "block", namespace)
        if name is not None:
            out[name] = block
    return out
