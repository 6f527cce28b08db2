"""The deleting half of the diff: what `--prune` and `destroy` delete, and what they leave.

Owns the deletion rules (docs/provisioning.md, "Deleting agents"):
- a deleted agent takes its private blocks with it (Letta keeps a block when its agent is
  deleted, attached to nothing: one could hold a resolved secret), unless `keep_blocks`;
  a block that another agent also has attached is kept, and said so;
- memory loss, blocked until the user opts in: archival passages (other than the ones
  seeded from git), message history (memory too), what the agent wrote to an agent-owned block, a folder, an agent-owned shared block;
- managed agents that the source no longer declares are named in a warning when they are
  left behind (no `--prune`): a rename creates a new agent and leaves the old one.

Must not: talk to a server. Pure functions of (ResourceSet, ActualState, DiffOptions).
"""

from __future__ import annotations

from orchestrator.backends import identity
from orchestrator.backends.admin import Block, Folder
from orchestrator.provision.changes import Change
from orchestrator.provision.desired import DiffOptions
from orchestrator.provision.state import ActualState
from orchestrator.spec.model import ResourceSet

AGENT_OWNED_LOSS = "deletes what the agent wrote to this agent-owned block"
MAX_NAMED = 5  # left-behind agents named one by one; beyond that, counted


def delete_agent(name: str, actual: ActualState, options: DiffOptions) -> list[Change]:
    """The agent's private blocks and its sleep-time agent's (first: a crash in between leaves
    the agent, which the next plan finds again), then the agent."""
    agent = actual.agents[name]
    owned = set(_section(agent.metadata).get("agent_owned") or ())
    private = [(b, "") for b in _private_blocks(agent.blocks, actual)]
    notes = [
        f"block {b.label} is kept (another agent uses it)"
        for b, _ in private
        if actual.block_users.get(b.id, 1) > 1
    ]
    private = [(b, "") for b, _ in private if actual.block_users.get(b.id, 1) <= 1]
    seen = {b.id for b in agent.blocks}
    for companion in actual.companions.get(name, ()):  # Letta deletes it, not its blocks
        for b in _private_blocks(companion.blocks, actual):
            if b.id not in seen and actual.block_users.get(b.id, 0) == 0:
                seen.add(b.id)
                private.append((b, f"of its sleep-time agent {companion.name}"))
    out = []
    if options.keep_blocks and private:
        notes = [
            f"its blocks {', '.join(b.label for b, _ in private)} are kept on the server, detached"
        ]
    elif not options.keep_blocks:
        for b, note in private:
            loss = AGENT_OWNED_LOSS if b.label in owned and not note else ""
            out.append(
                Change(
                    "delete",
                    "agent_block",
                    b.label,
                    "delete",
                    agent=name,
                    server_id=b.id,
                    memory_loss=loss,
                    blocked=bool(loss),
                    note=note,
                )
            )
    reasons = []
    seeded = len(actual.seeds.get(name, {}))  # from git: re-seeded by an apply, not lost
    if passages := max(actual.passages.get(name, 0) - seeded, 0):
        reasons.append(f"{passages} archival passage(s) would be lost")
    if seeded:
        notes.append(f"with its {seeded} seeded archival passage(s)")
    if messages := actual.messages.get(name, 0):
        reasons.append(f"{messages} message(s) of conversation history would be lost")
    notes += [
        f"Letta deletes its sleep-time agent {c.name} with it"
        for c in actual.companions.get(name, ())
    ]
    loss = "; ".join(reasons)
    out.append(
        Change(
            "delete",
            "agent",
            name,
            "delete",
            server_id=agent.id,
            memory_loss=loss,
            blocked=bool(loss),
            note="; ".join(notes),
        )
    )
    return out


def _section(metadata: object) -> dict:
    section = (metadata or {}).get(identity.METADATA_KEY) if isinstance(metadata, dict) else None
    return section if isinstance(section, dict) else {}


def _private_blocks(blocks: tuple[Block, ...], actual: ActualState) -> list[Block]:
    """Blocks of an agent that no namespace manages as shared blocks (nor as a lock)."""
    shared = {b.id for b in actual.shared_blocks.values()}
    return [b for b in blocks if b.id not in shared and not identity.is_managed(b.tags)]


def delete_block(name: str, actual: ActualState) -> Change:
    block = actual.shared_blocks[name]
    owned = _section(dict(block.metadata or {})).get("agent_owned", False)
    loss = "the agents' own writes to this agent-owned block would be lost" if owned else ""
    return Change(
        "delete", "block", name, "delete", server_id=block.id, memory_loss=loss, blocked=bool(loss)
    )


def delete_folder(folder: Folder) -> Change:
    loss = f"deletes the folder and its {len(folder.files)} file(s) from the server"
    return Change(
        "delete",
        "folder",
        folder.name,
        "delete",
        server_id=folder.id,
        memory_loss=loss,
        blocked=True,
    )


def our_tool(name: str, actual: ActualState, namespace: str) -> bool:
    tool = actual.tools.get(name)
    return tool is not None and identity.tool_tag(namespace, name) in tool.tags


def prune(
    resources: ResourceSet, actual: ActualState, options: DiffOptions, warnings: list[str]
) -> list[Change]:
    out = [
        c
        for n in sorted(actual.agents)
        if n not in resources.agents
        for c in delete_agent(n, actual, options)
    ]
    out += [
        delete_block(n, actual)
        for n in sorted(actual.shared_blocks)
        if n not in resources.shared_blocks
    ]
    out += [
        delete_folder(folder)
        for n in sorted(actual.folders)
        if n not in resources.folders and (folder := actual.managed_folder(n))
    ]
    out += [
        Change("delete", "tool", n, "delete", server_id=actual.tools[n].id)
        for n in sorted(actual.tools)
        if n not in resources.tools and our_tool(n, actual, options.namespace)
    ]
    warnings += [
        f"--prune skips {n!r}: several agents carry its identity" for n in actual.duplicates
    ]
    return out


def left_behind(
    resources: ResourceSet, actual: ActualState, options: DiffOptions, creates: list[str]
) -> list[str]:
    """Warnings about managed agents SOURCE no longer declares (a rename, a removal)."""
    gone = sorted(n for n in actual.agents if n not in resources.agents)
    if not gone or not (creates or not options.prune):
        return []
    if options.prune:  # deleted by this plan: say that a rename does not carry memory over
        return [
            f"{_names(gone)} deleted and {_names(creates)} created: a rename creates a "
            "new agent, memory is not moved (messages, archival passages and blocks go "
            "with the deleted agent)"
        ]
    rename = (
        f"; a rename creates a new agent ({_names(creates)}) and the old one keeps its memory"
        if creates
        else ""
    )
    if len(gone) > MAX_NAMED:
        return [
            f"{len(gone)} agents managed in namespace {options.namespace!r} are not "
            f"declared here: they are left on the server as they are (--prune deletes "
            f"them){rename}"
        ]
    return [
        f"agent {n!r} is managed in namespace {options.namespace!r} but not declared: it "
        f"is left on the server as it is (--prune deletes it){rename}"
        for n in gone
    ]


def _names(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:MAX_NAMED])
    return shown + (f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else "")
