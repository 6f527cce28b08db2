"""Execute a ChangeSet, change by change, in the order the plan printed.

Owns `apply_changes`: one case per (kind, action) in `_perform`, calling the AdminBackend's
methods by name with the typed `data` the diff built (payloads.py). Every change is
idempotent on its own and the next plan is recomputed from the server, so an apply that
fails halfway is completed by running apply again (nothing is remembered locally between
runs).

Must not: decide anything. It performs exactly the changes it is given (the plan the user
saw), refusing the whole set up front when it holds an unconfirmed memory-loss change.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from orchestrator.backends import identity
from orchestrator.backends.admin import (
    AGENT_SETTINGS,
    AdminBackend,
    NewAgent,
    NewBlock,
    NewTool,
)
from orchestrator.errors import BackendError, ProvisionError
from orchestrator.provision import apply_folders, apply_mcp
from orchestrator.provision.changes import Change, ChangeSet
from orchestrator.provision.desired import DesiredAgent, DesiredBlock
from orchestrator.provision.diff_rules import create_extra
from orchestrator.provision.payloads import (
    AgentData,
    FileData,
    FolderData,
    McpServerData,
    McpToolData,
    PassageData,
    PrivateBlockData,
    SharedBlockData,
    ToolData,
)
from orchestrator.spec.model import NO_MARK

MEMORY_LOSS_HINT = "pass --allow-memory-loss to accept this"


@dataclass
class ApplyResult:
    applied: list[Change] = field(default_factory=list)


@dataclass
class Context:
    """One apply's state: the server ids known so far (the plan's, then what it creates) and
    the folders' metadata as last written (apply_folders.py)."""

    backend: AdminBackend
    namespace: str
    ids: dict[str, dict[str, str]]
    folder_metadata: dict[str, dict] = field(default_factory=dict)

    def agent_id(self, agent: str) -> str:
        """The server id of a managed agent (one this apply created included)."""
        return self.ids["agent"][agent]

    def id_of(self, kind: str, change: Change) -> str:
        return change.server_id or self.ids[kind][change.name]


def check_memory_loss(changeset: ChangeSet, allow_memory_loss: bool, verb: str = "apply") -> None:
    blocked = changeset.blocked
    if blocked and not allow_memory_loss:
        lines = "\n".join(f"  {c.action} {c.address}: {c.memory_loss}" for c in blocked)
        raise ProvisionError(
            f"refusing to {verb}: {len(blocked)} change(s) can destroy "
            f"memory:\n{lines}\n{MEMORY_LOSS_HINT}"
        )


def apply_changes(
    changeset: ChangeSet,
    backend: AdminBackend,
    *,
    allow_memory_loss: bool = False,
    progress: Callable[[Change], None] = lambda _c: None,
    verb: str = "apply",
) -> ApplyResult:
    check_memory_loss(changeset, allow_memory_loss, verb)
    ctx = Context(backend, changeset.namespace, copy.deepcopy(changeset.known_ids))
    for kind in ("agent", "block", "tool", "folder", "mcp"):
        ctx.ids.setdefault(kind, {})
    result = ApplyResult()
    for change in changeset.changes:
        try:
            _perform(ctx, change)
        except BackendError as exc:
            raise ProvisionError(
                f"{change.action} {change.address} failed: {exc}\n{len(result.applied)} of "
                f"{len(changeset.changes)} change(s) were applied; run apply again to complete "
                "the rest (every change is idempotent)"
            ) from exc
        result.applied.append(change)
        progress(change)
    return result


def _perform(ctx: Context, change: Change) -> None:
    """One change: the backend calls it stands for, each by its name (grep finds every write
    to Letta here and in apply_mcp.py); `data` is the type the diff built for its kind."""
    backend, agent = ctx.backend, change.agent
    match change.kind, change.action, change.data:
        case "tool", "create" | "update", ToolData() as tool:
            _upsert_tool(ctx, change.name, tool)
        case "tool", "delete", None:
            backend.delete_tool(change.server_id)
        case "block", "create", SharedBlockData(block=want):
            _create_shared_block(ctx, change.name, want)
        case "block", "update", SharedBlockData(block=want):
            _update_shared_block(ctx, change, want)
        case "block" | "agent_block", "delete", None:
            backend.delete_block(change.server_id)
        case "folder", "create", FolderData() as folder:
            apply_folders.create_folder(ctx, change, folder)
        case "folder", "update" | "adopt", FolderData() as folder:
            apply_folders.update_folder(ctx, change.server_id, folder)
        case "folder", "delete", None:
            backend.delete_folder(change.server_id)
        case "file", "create" | "update", FileData() as file:
            apply_folders.upload_file(ctx, file)
        case "file", "delete", FileData() as file:
            backend.delete_file(ctx.ids["folder"][file.folder.name], change.server_id)
            apply_folders.record_file(ctx, file.folder.name, file.path, None)
        case "agent", "create", AgentData() as want_agent:
            _create_agent(ctx, want_agent)
        case "agent", "update" | "adopt", AgentData() as want_agent:
            _update_agent(ctx, change, want_agent)
        case "agent", "delete", None:
            backend.delete_agent(change.server_id)
        case "agent_block", "create", PrivateBlockData(block=want):
            block = backend.create_block(_new_block(want))
            backend.attach_block(ctx.agent_id(agent), block.id)
        case "agent_block", "update", PrivateBlockData(block=want):
            backend.update_block(change.server_id, **_block_fields(change, want))
        case "agent_shared_block", "attach", None:
            backend.attach_block(ctx.agent_id(agent), ctx.id_of("block", change))
        case "agent_block" | "agent_shared_block", "detach", None:
            backend.detach_block(ctx.agent_id(agent), ctx.id_of("block", change))
        case "agent_passage", "create", PassageData() as passage:
            backend.create_passage(ctx.agent_id(agent), passage.text, passage.tags)
        case "agent_passage", "delete", None:
            backend.delete_passage(ctx.agent_id(agent), change.server_id)
        case "agent_tool", "attach", None:
            backend.attach_tool(ctx.agent_id(agent), ctx.id_of("tool", change))
        case "agent_tool", "detach", None:
            backend.detach_tool(ctx.agent_id(agent), ctx.id_of("tool", change))
        case "agent_folder", "attach", None:
            backend.attach_folder(ctx.agent_id(agent), ctx.id_of("folder", change))
        case "agent_folder", "detach", None:
            backend.detach_folder(ctx.agent_id(agent), ctx.id_of("folder", change))
        case "mcp_server", "create", McpServerData() as server:
            apply_mcp.create_server(ctx, change.name, server)
        case "mcp_server", "update" | "adopt", McpServerData() as server:
            apply_mcp.update_server(ctx, change, server)
        case "mcp_server", "delete", McpServerData() as server:
            apply_mcp.delete_server(ctx, change.server_id, server)
        case "agent_mcp_tool", "attach", McpToolData() as tool_name:
            apply_mcp.attach_tool(ctx, agent, change.server_id, tool_name)
        case "agent_mcp_tool", "detach", None:
            backend.detach_tool(ctx.agent_id(agent), change.server_id)
        case _:
            raise ProvisionError(f"no handler for {change.action} {change.kind} (a bug)")


# ----- tools -----
def _upsert_tool(ctx: Context, name: str, data: ToolData) -> None:
    spec = data.spec
    tool = ctx.backend.upsert_tool(
        NewTool(spec.source_code, spec.description or None, tuple(spec.pip_requirements), data.tags)
    )
    ctx.ids["tool"][name] = tool.id


# ----- shared blocks -----
METADATA_FIELDS = ("agent_owned", "env_template")  # a shared block's, kept in its metadata


def _block_metadata(ctx: Context, name: str, want: DesiredBlock) -> dict:
    section = {"id": identity.agent_id_string(ctx.namespace, name), "agent_owned": want.agent_owned}
    if want.template is not None:  # the value as written: export writes it back (no secret)
        section["env_template"] = want.template
    return {identity.METADATA_KEY: section}


def _create_shared_block(ctx: Context, name: str, want: DesiredBlock) -> None:
    block = ctx.backend.create_block(
        NewBlock(
            want.label,
            want.value,
            limit=want.limit,
            description=want.description,
            read_only=want.read_only,
            tags=(identity.MANAGED_TAG, identity.block_tag(ctx.namespace, name)),
            metadata=_block_metadata(ctx, name, want),
        )
    )
    ctx.ids["block"][name] = block.id


def _block_fields(change: Change, want: DesiredBlock) -> dict[str, Any]:
    return {
        f.field: getattr(want, f.field) for f in change.fields if f.field not in METADATA_FIELDS
    }


def _update_shared_block(ctx: Context, change: Change, want: DesiredBlock) -> None:
    fields = _block_fields(change, want)
    if any(f.field in METADATA_FIELDS for f in change.fields):
        fields["metadata"] = _block_metadata(ctx, change.name, want)
    ctx.backend.update_block(change.server_id, **fields)


# ----- agents -----
def spec_hash(want: DesiredAgent) -> str:
    return hashlib.sha256(repr(replace(want.spec, mark=NO_MARK)).encode()).hexdigest()[:16]


def _agent_metadata(want: DesiredAgent, existing: Mapping[str, Any]) -> dict:
    merged = copy.deepcopy(dict(existing))
    section = dict(want.metadata[identity.METADATA_KEY])
    section["spec_hash"] = spec_hash(want)
    merged[identity.METADATA_KEY] = section
    return merged


def _new_block(block: DesiredBlock) -> NewBlock:
    return NewBlock(
        block.label,
        block.value,
        limit=block.limit,
        description=block.description,
        read_only=block.read_only,
    )


def _create_agent(ctx: Context, data: AgentData) -> None:
    want = data.want
    if want.model is None or want.embedding is None:  # only a `report_only` plan (diff) has one
        raise ProvisionError(
            f"agent {want.name!r}: no model or embedding to create it with "
            "(a plan made for `diff` cannot be applied)"
        )
    agent = ctx.backend.create_agent(
        NewAgent(
            name=want.name,
            model=want.model,
            embedding=want.embedding,
            system=want.system,
            description=want.spec.description or None,
            context_window=want.spec.context_window,
            tags=want.tags,
            metadata=_agent_metadata(want, data.server_metadata),
            memory_blocks=tuple(_new_block(b) for b in want.blocks),
            tool_env=want.tool_env,
        ),
        create_extra(want.spec) or None,
    )
    ctx.ids["agent"][want.name] = agent.id


def _setting(key: str) -> Callable[[DesiredAgent], Any]:
    return lambda w: w.spec.settings[key]


# An agent's field as update_agent takes it, by the name its FieldChange carries.
_AGENT_FIELDS: dict[str, Callable[[DesiredAgent], Any]] = {
    "name": lambda w: w.name,
    "model": lambda w: w.spec.model,
    "embedding": lambda w: w.spec.embedding,
    "system": lambda w: w.system,
    "description": lambda w: w.spec.description,
    "context_window": lambda w: w.spec.context_window,
    "tags": lambda w: list(w.tags),
    "tool_env": lambda w: dict(w.tool_env),
    **{key: _setting(key) for key in AGENT_SETTINGS},
}


def _update_agent(ctx: Context, change: Change, data: AgentData) -> None:
    want, computed = data.want, data.computed
    fields = {
        f.field: computed[f.field] if f.field in computed else _AGENT_FIELDS[f.field](want)
        for f in change.fields
        if f.field in _AGENT_FIELDS or f.field in computed
    }
    if (
        fields
        or change.action == "adopt"
        or any(f.field.startswith("metadata.") for f in change.fields)
    ):
        fields["metadata"] = _agent_metadata(want, data.server_metadata)
    ctx.backend.update_agent(change.server_id, **fields)
    ctx.ids["agent"][want.name] = change.server_id
