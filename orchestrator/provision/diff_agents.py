"""The per-agent half of the diff: fields, private blocks, shared-block/tool/folder attachments.

Owns the comparison rules for one agent (documented in docs/provisioning.md):
- only fields the YAML declares are compared (server defaults are never drift);
- tags and orchestrate's own metadata keys are compared exactly;
- config-owned block values are re-synced; agent-owned values only seed the block, unless
  the user forces them (then the change is marked as overwriting agent-written memory);
- every block on a managed agent that the YAML does not declare is detached (never deleted);
- custom tools not declared are detached; Letta's own tools (memory, files) are left alone
  unless the YAML declared them before.

Must not: talk to a server. Pure functions of (desired, actual) returning Change objects.
"""

from __future__ import annotations

from orchestrator.backends import identity
from orchestrator.backends.admin import CUSTOM_TOOL_TYPE, AgentState, Block
from orchestrator.provision import diff_rules as rules
from orchestrator.provision.changes import Change, FieldChange
from orchestrator.provision.desired import DesiredAgent, DesiredBlock, DiffOptions
from orchestrator.provision.payloads import PrivateBlockData
from orchestrator.provision.state import ActualState

COMPARED_METADATA = (
    "id",
    "agent_owned",
    "tools",
    "tool_env",
    "tool_env_refs",
    "tool_rules",
    "env_fields",
)
OVERWRITES_AGENT_MEMORY = "overwrites a value the agent wrote (agent_owned, --force-agent-owned)"


def _label_note(name: str, labels: dict[str, str]) -> str:
    label = labels.get(name, name)
    return "" if label == name else f"label {label}"


def create_fields(want: DesiredAgent) -> tuple[FieldChange, ...]:
    shown = [
        ("model", want.model),
        ("embedding", want.embedding),
        ("system", want.system),
        ("description", want.spec.description or None),
        ("context_window", want.spec.context_window),
    ]
    fields = [
        FieldChange(name, None, value, secret=(name == "system" and want.system_secret))
        for name, value in shown
        if value is not None
    ]
    fields += [
        FieldChange(f"blocks.{b.label}", None, b.value, secret=b.secret) for b in want.blocks
    ]
    fields += [FieldChange(key, None, value) for key, value in sorted(want.spec.settings.items())]
    if want.spec.tool_rules:
        fields.append(
            FieldChange(
                "tool_rules", None, [rules.shown(r) for r in rules.declared_rules(want.spec) or ()]
            )
        )
    fields.append(FieldChange("tags", None, list(want.tags)))
    if want.tool_env:
        fields.append(FieldChange("tool_env", None, sorted(want.tool_env), secret=True))
    return tuple(fields)


def field_changes(want: DesiredAgent, have: AgentState) -> tuple[tuple[FieldChange, ...], dict]:
    """The agent's field changes, and the values to send that the spec does not hold as
    they are (the full tool_rules list)."""
    spec = want.spec
    declared = [
        ("name", want.name),
        ("model", spec.model),
        ("embedding", spec.embedding),
        ("system", want.system),
        ("description", spec.description or None),
        ("context_window", spec.context_window),
    ]
    out = [
        FieldChange(
            name, getattr(have, name), value, secret=(name == "system" and want.system_secret)
        )
        for name, value in declared
        if value is not None and getattr(have, name) != value
    ]
    out += rules.settings_changes(spec, have)
    computed: dict = {}
    if (rule_change := rules.rules_change(spec, have)) is not None:
        out.append(rule_change[0])
        computed["tool_rules"] = rule_change[1]
    if set(have.tags) != set(want.tags):
        out.append(FieldChange("tags", sorted(have.tags), list(want.tags)))
    ours = want.metadata[identity.METADATA_KEY]
    theirs = (have.metadata or {}).get(identity.METADATA_KEY) or {}
    for key in COMPARED_METADATA:
        if theirs.get(key) != ours.get(key) and key != "tool_env":
            out.append(FieldChange(f"metadata.{key}", theirs.get(key), ours.get(key)))
    if theirs.get("tool_env") != ours.get("tool_env") or set(have.tool_env_keys) != set(
        want.tool_env
    ):
        out.append(
            FieldChange("tool_env", sorted(have.tool_env_keys), sorted(want.tool_env), secret=True)
        )
    return tuple(out), computed


def block_changes(
    want: DesiredAgent,
    have: AgentState,
    actual: ActualState,
    options: DiffOptions,
    shared_labels: dict[str, str],
) -> list[Change]:
    """Private block updates/creations, shared block attaches, and detaches of the rest.
    `shared_labels`: shared block name -> its label, for the shared blocks this agent wants."""
    shared_ids = {b.id: name for name, b in actual.shared_blocks.items()}
    keep: set[str] = set()
    out: list[Change] = []
    for block in want.blocks:
        found = next(
            (
                b
                for b in have.blocks
                if b.label == block.label and b.id not in shared_ids and b.id not in keep
            ),
            None,
        )
        if found is None:
            out.append(
                Change(
                    "create",
                    "agent_block",
                    block.label,
                    "attach",
                    agent=want.name,
                    fields=(FieldChange("value", None, block.value, block.secret),),
                    data=PrivateBlockData(block),
                )
            )
            continue
        keep.add(found.id)
        change = _private_block_update(want.name, block, found, options)
        if change:
            out.append(change)
    for name in want.spec.shared_blocks:
        shared = actual.shared_blocks.get(name)
        if shared is not None and shared.id in {b.id for b in have.blocks}:
            keep.add(shared.id)
            continue
        out.append(
            Change(
                "attach",
                "agent_shared_block",
                name,
                "attach",
                agent=want.name,
                server_id=shared.id if shared else "",
                note=_label_note(name, shared_labels),
            )
        )
    for attached in have.blocks:
        if attached.id not in keep:
            kind = "agent_shared_block" if attached.id in shared_ids else "agent_block"
            out.append(
                Change(
                    "detach",
                    kind,
                    shared_ids.get(attached.id, attached.label),
                    "detach",
                    agent=want.name,
                    server_id=attached.id,
                    note="the block is kept on the server",
                )
            )
    return out


def _private_block_update(
    agent: str, want: DesiredBlock, have: Block, options: DiffOptions
) -> Change | None:
    fields = []
    loss = ""
    if want.value != have.value and (not want.agent_owned or options.force_agent_owned):
        fields.append(FieldChange("value", have.value, want.value, want.secret))
        loss = OVERWRITES_AGENT_MEMORY if want.agent_owned else ""
    for name in ("limit", "description"):
        value = getattr(want, name)
        if value is not None and getattr(have, name) != value:
            fields.append(FieldChange(name, getattr(have, name), value))
    if want.read_only != have.read_only:
        fields.append(FieldChange("read_only", have.read_only, want.read_only))
    if not fields:
        return None
    return Change(
        "update",
        "agent_block",
        want.label,
        "agent",
        agent=agent,
        server_id=have.id,
        fields=tuple(fields),
        memory_loss=loss,
        data=PrivateBlockData(want),
    )


def tool_changes(want: DesiredAgent, have: AgentState, actual: ActualState) -> list[Change]:
    declared = list(want.spec.tools)
    before = set(((have.metadata or {}).get(identity.METADATA_KEY) or {}).get("tools") or ())
    attached = {t.name: t for t in have.tools}
    out = [
        Change(
            "attach",
            "agent_tool",
            name,
            "attach",
            agent=want.name,
            server_id=actual.tools[name].id if name in actual.tools else "",
        )
        for name in declared
        if name not in attached
    ]
    for name, tool in attached.items():
        if name not in declared and (tool.tool_type == CUSTOM_TOOL_TYPE or name in before):
            out.append(
                Change("detach", "agent_tool", name, "detach", agent=want.name, server_id=tool.id)
            )
    return out


def folder_changes(want: DesiredAgent, have: AgentState, actual: ActualState) -> list[Change]:
    names_by_id = {f.id: name for name, f in actual.folders.items()}
    out = []
    for name in want.spec.folders:
        folder = actual.folders.get(name)
        if folder is None or folder.id not in have.folder_ids:
            out.append(
                Change(
                    "attach",
                    "agent_folder",
                    name,
                    "attach",
                    agent=want.name,
                    server_id=folder.id if folder else "",
                )
            )
    for folder_id in have.folder_ids:
        name = names_by_id.get(folder_id, folder_id)
        if name not in want.spec.folders:
            out.append(
                Change(
                    "detach", "agent_folder", name, "detach", agent=want.name, server_id=folder_id
                )
            )
    return out


def new_agent_attachments(
    want: DesiredAgent, actual: ActualState, shared_labels: dict[str, str]
) -> list[Change]:
    """Attachments of an agent created by this plan (its private blocks come with it)."""
    out = [
        Change(
            "attach",
            "agent_shared_block",
            name,
            "attach",
            agent=want.name,
            server_id=actual.shared_blocks[name].id if name in actual.shared_blocks else "",
            note=_label_note(name, shared_labels),
        )
        for name in want.spec.shared_blocks
    ]
    out += [
        Change(
            "attach",
            "agent_tool",
            name,
            "attach",
            agent=want.name,
            server_id=actual.tools[name].id if name in actual.tools else "",
        )
        for name in want.spec.tools
    ]
    out += [
        Change(
            "attach",
            "agent_folder",
            name,
            "attach",
            agent=want.name,
            server_id=actual.folders[name].id if name in actual.folders else "",
        )
        for name in want.spec.folders
    ]
    return out
