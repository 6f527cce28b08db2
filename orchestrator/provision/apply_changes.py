"""Execute a ChangeSet, change by change, in the order the plan printed.

Owns `apply_changes`: one small handler per (kind, action). Every handler is idempotent on
its own and the next plan is recomputed from the server, so an apply that fails halfway is
completed by running apply again (nothing is remembered locally between runs).

Must not: decide anything. It performs exactly the changes it is given (the plan the user
saw), refusing the whole set up front when it holds an unconfirmed memory-loss change.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
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
from orchestrator.provision.apply_mcp import MCP_HANDLERS
from orchestrator.provision.changes import Change, ChangeSet
from orchestrator.provision.desired import DesiredAgent, DesiredBlock
from orchestrator.provision.diff_rules import create_extra
from orchestrator.spec.model import NO_MARK

MEMORY_LOSS_HINT = "pass --allow-memory-loss to accept this"


@dataclass
class ApplyResult:
    applied: list[Change] = field(default_factory=list)


@dataclass
class _Context:
    backend: AdminBackend
    namespace: str
    ids: dict[str, dict[str, str]]
    folder_metadata: dict[str, dict] = field(default_factory=dict)

    def agent_id(self, change: Change) -> str:
        return self.ids["agent"][change.agent]

    def id_of(self, kind: str, change: Change) -> str:
        return change.server_id or self.ids[kind][change.name]


def check_memory_loss(changeset: ChangeSet, allow_memory_loss: bool, verb: str = "apply") -> None:
    blocked = changeset.blocked
    if blocked and not allow_memory_loss:
        lines = "\n".join(f"  {c.action} {c.address}: {c.memory_loss}" for c in blocked)
        raise ProvisionError(f"refusing to {verb}: {len(blocked)} change(s) can destroy "
                             f"memory:\n{lines}\n{MEMORY_LOSS_HINT}")


def apply_changes(changeset: ChangeSet, backend: AdminBackend, *, allow_memory_loss: bool = False,
                  progress: Callable[[Change], None] = lambda _c: None,
                  verb: str = "apply") -> ApplyResult:
    check_memory_loss(changeset, allow_memory_loss, verb)
    ctx = _Context(backend, changeset.namespace, copy.deepcopy(changeset.known_ids))
    for kind in ("agent", "block", "tool", "folder", "mcp"):
        ctx.ids.setdefault(kind, {})
    result = ApplyResult()
    for change in changeset.changes:
        handler = _HANDLERS.get((change.kind, change.action))
        if handler is None:
            raise ProvisionError(f"no handler for {change.action} {change.kind} (a bug)")
        try:
            handler(ctx, change)
        except BackendError as exc:
            raise ProvisionError(
                f"{change.action} {change.address} failed: {exc}\n{len(result.applied)} of "
                f"{len(changeset.changes)} change(s) were applied; run apply again to complete "
                "the rest (every change is idempotent)") from exc
        result.applied.append(change)
        progress(change)
    return result


# ----- tools -----
def _upsert_tool(ctx: _Context, change: Change) -> None:
    spec, tags = change.data
    tool = ctx.backend.upsert_tool(NewTool(spec.source_code, spec.description or None,
                                           tuple(spec.pip_requirements), tuple(tags)))
    ctx.ids["tool"][change.name] = tool.id


# ----- shared blocks -----
METADATA_FIELDS = ("agent_owned", "env_template")  # a shared block's, kept in its metadata


def _block_metadata(ctx: _Context, name: str, want: DesiredBlock) -> dict:
    section = {"id": identity.agent_id_string(ctx.namespace, name),
               "agent_owned": want.agent_owned}
    if want.template is not None:  # the value as written: export writes it back (no secret)
        section["env_template"] = want.template
    return {identity.METADATA_KEY: section}


def _create_shared_block(ctx: _Context, change: Change) -> None:
    want: DesiredBlock = change.data
    block = ctx.backend.create_block(NewBlock(
        want.label, want.value, limit=want.limit, description=want.description,
        read_only=want.read_only,
        tags=(identity.MANAGED_TAG, identity.block_tag(ctx.namespace, change.name)),
        metadata=_block_metadata(ctx, change.name, want)))
    ctx.ids["block"][change.name] = block.id


def _block_fields(change: Change, want: DesiredBlock) -> dict[str, Any]:
    return {f.field: getattr(want, f.field) for f in change.fields
            if f.field not in METADATA_FIELDS}


def _update_shared_block(ctx: _Context, change: Change) -> None:
    want: DesiredBlock = change.data
    fields = _block_fields(change, want)
    if any(f.field in METADATA_FIELDS for f in change.fields):
        fields["metadata"] = _block_metadata(ctx, change.name, want)
    ctx.backend.update_block(change.server_id, **fields)


# ----- folders and files -----
def _create_folder(ctx: _Context, change: Change) -> None:
    spec = change.data
    metadata = {identity.METADATA_KEY: {"id": identity.agent_id_string(ctx.namespace, spec.name),
                                        "files": {}}}
    embedding = next(f.new for f in change.fields if f.field == "embedding")
    folder = ctx.backend.create_folder(spec.name, spec.description or None, embedding, metadata)
    ctx.ids["folder"][spec.name] = folder.id
    ctx.folder_metadata[spec.name] = metadata


def _update_folder(ctx: _Context, change: Change) -> None:
    spec, metadata = change.data
    merged = copy.deepcopy(dict(metadata or {}))
    section = merged.setdefault(identity.METADATA_KEY, {})
    section["id"] = identity.agent_id_string(ctx.namespace, spec.name)
    section.setdefault("files", {})
    fields: dict[str, Any] = {"metadata": merged}
    if spec.description:
        fields["description"] = spec.description
    ctx.backend.update_folder(change.server_id, **fields)
    ctx.folder_metadata[spec.name] = merged


def _folder_meta(ctx: _Context, name: str) -> dict:
    if name not in ctx.folder_metadata:  # one read, only when a file changes
        for folder in ctx.backend.list_folders():
            ctx.folder_metadata.setdefault(folder.name, copy.deepcopy(dict(folder.metadata or {})))
    return ctx.folder_metadata.setdefault(name, {})


def _record_file(ctx: _Context, folder: str, path: str, digest: str | None) -> None:
    # Recorded after the upload: a crash in between leaves a file with no digest, which the
    # next plan treats as current (it was uploaded from the same git tree).
    meta = _folder_meta(ctx, folder)
    files = meta.setdefault(identity.METADATA_KEY, {}).setdefault("files", {})
    if digest:
        files[path] = digest
    else:
        files.pop(path, None)
    ctx.backend.update_folder(ctx.ids["folder"][folder], metadata=meta)


def _upload_file(ctx: _Context, change: Change) -> None:
    spec, path, digest = change.data
    content = (Path(spec.root) / path).read_bytes()
    actual = "sha256:" + hashlib.sha256(content).hexdigest()
    if digest and digest.removeprefix("sha256:") != actual.removeprefix("sha256:"):
        raise ProvisionError(f"{path} changed since the plan was made; plan again")
    ctx.backend.upload_file(ctx.ids["folder"][spec.name], path, content)
    _record_file(ctx, spec.name, path, digest)


def _delete_file(ctx: _Context, change: Change) -> None:
    spec, path, _ = change.data
    ctx.backend.delete_file(ctx.ids["folder"][spec.name], change.server_id)
    _record_file(ctx, spec.name, path, None)


# ----- agents -----
def spec_hash(want: DesiredAgent) -> str:
    return hashlib.sha256(repr(replace(want.spec, mark=NO_MARK)).encode()).hexdigest()[:16]


def _agent_metadata(want: DesiredAgent, existing: dict) -> dict:
    merged = copy.deepcopy(existing)
    section = dict(want.metadata[identity.METADATA_KEY])
    section["spec_hash"] = spec_hash(want)
    merged[identity.METADATA_KEY] = section
    return merged


def _new_block(block: DesiredBlock) -> NewBlock:
    return NewBlock(block.label, block.value, limit=block.limit, description=block.description,
                    read_only=block.read_only)


def _create_agent(ctx: _Context, change: Change) -> None:
    want, existing = change.data
    agent = ctx.backend.create_agent(NewAgent(
        name=want.name, model=want.model, embedding=want.embedding, system=want.system,
        description=want.spec.description or None, context_window=want.spec.context_window,
        tags=want.tags, metadata=_agent_metadata(want, existing),
        memory_blocks=tuple(_new_block(b) for b in want.blocks), tool_env=want.tool_env),
        create_extra(want.spec) or None)
    ctx.ids["agent"][want.name] = agent.id


def _setting(key: str) -> Callable[[DesiredAgent], Any]:
    return lambda w: w.spec.settings[key]


_AGENT_FIELDS: dict[str, Callable[[DesiredAgent], Any]] = {
    "name": lambda w: w.name, "model": lambda w: w.spec.model,
    "embedding": lambda w: w.spec.embedding, "system": lambda w: w.system,
    "description": lambda w: w.spec.description, "context_window": lambda w: w.spec.context_window,
    "tags": lambda w: list(w.tags), "tool_env": lambda w: dict(w.tool_env),
    **{key: _setting(key) for key in AGENT_SETTINGS},
}


def _update_agent(ctx: _Context, change: Change) -> None:
    want, existing, computed = change.data
    fields = {f.field: computed[f.field] if f.field in computed else _AGENT_FIELDS[f.field](want)
              for f in change.fields if f.field in _AGENT_FIELDS or f.field in computed}
    if fields or change.action == "adopt" or any(f.field.startswith("metadata.")
                                                 for f in change.fields):
        fields["metadata"] = _agent_metadata(want, existing)
    ctx.backend.update_agent(change.server_id, **fields)
    ctx.ids["agent"][want.name] = change.server_id


def _create_private_block(ctx: _Context, change: Change) -> None:
    block = ctx.backend.create_block(_new_block(change.data))
    ctx.backend.attach_block(ctx.agent_id(change), block.id)


def _update_private_block(ctx: _Context, change: Change) -> None:
    ctx.backend.update_block(change.server_id, **_block_fields(change, change.data))


def _create_passage(ctx: _Context, change: Change) -> None:
    text, tags = change.data
    ctx.backend.create_passage(ctx.agent_id(change), text, tags)


def _delete_passage(ctx: _Context, change: Change) -> None:
    ctx.backend.delete_passage(ctx.agent_id(change), change.server_id)


def _call(method: str, kind: str) -> Callable[[_Context, Change], None]:
    def run(ctx: _Context, change: Change) -> None:
        getattr(ctx.backend, method)(ctx.agent_id(change), ctx.id_of(kind, change))
    return run


def _delete(method: str) -> Callable[[_Context, Change], None]:
    return lambda ctx, change: getattr(ctx.backend, method)(change.server_id)


_HANDLERS: dict[tuple[str, str], Callable[[_Context, Change], None]] = {
    ("tool", "create"): _upsert_tool, ("tool", "update"): _upsert_tool,
    ("tool", "delete"): _delete("delete_tool"),
    ("block", "create"): _create_shared_block, ("block", "update"): _update_shared_block,
    ("block", "delete"): _delete("delete_block"),
    ("folder", "create"): _create_folder, ("folder", "update"): _update_folder,
    ("folder", "adopt"): _update_folder, ("folder", "delete"): _delete("delete_folder"),
    ("file", "create"): _upload_file, ("file", "update"): _upload_file,
    ("file", "delete"): _delete_file,
    ("agent", "create"): _create_agent, ("agent", "update"): _update_agent,
    ("agent", "adopt"): _update_agent, ("agent", "delete"): _delete("delete_agent"),
    ("agent_block", "create"): _create_private_block,
    ("agent_block", "update"): _update_private_block,
    ("agent_block", "detach"): _call("detach_block", "block"),
    ("agent_block", "delete"): _delete("delete_block"),
    ("agent_passage", "create"): _create_passage, ("agent_passage", "delete"): _delete_passage,
    ("agent_shared_block", "attach"): _call("attach_block", "block"),
    ("agent_shared_block", "detach"): _call("detach_block", "block"),
    ("agent_tool", "attach"): _call("attach_tool", "tool"),
    ("agent_tool", "detach"): _call("detach_tool", "tool"),
    **MCP_HANDLERS,
    ("agent_folder", "attach"): _call("attach_folder", "folder"),
    ("agent_folder", "detach"): _call("detach_folder", "folder"),
}
