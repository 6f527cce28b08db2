"""Apply's steps for folders and their files (see apply_changes.py, diff_folders.py).

Owns: a folder's metadata section (its identity, and the sha256 of each file as uploaded:
the digest the next plan compares), creating and updating a folder, uploading a file after
checking it is still the file the plan saw, and recording (or forgetting) its digest.

Must not: decide anything (diff_folders.py does).
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.backends import identity
from orchestrator.errors import ProvisionError
from orchestrator.provision.changes import Change
from orchestrator.provision.payloads import FileData, FolderData

if TYPE_CHECKING:
    from orchestrator.provision.apply_changes import Context


def create_folder(ctx: Context, change: Change, data: FolderData) -> None:
    spec = data.spec
    metadata = {
        identity.METADATA_KEY: {
            "id": identity.agent_id_string(ctx.namespace, spec.name),
            "files": {},
        }
    }
    embedding = next(f.new for f in change.fields if f.field == "embedding")
    folder = ctx.backend.create_folder(spec.name, spec.description or None, embedding, metadata)
    ctx.ids["folder"][spec.name] = folder.id
    ctx.folder_metadata[spec.name] = metadata


def update_folder(ctx: Context, folder_id: str, data: FolderData) -> None:
    spec = data.spec
    merged = copy.deepcopy(dict(data.server_metadata or {}))
    section = merged.setdefault(identity.METADATA_KEY, {})
    section["id"] = identity.agent_id_string(ctx.namespace, spec.name)
    section.setdefault("files", {})
    fields: dict[str, Any] = {"metadata": merged}
    if spec.description:
        fields["description"] = spec.description
    ctx.backend.update_folder(folder_id, **fields)
    ctx.folder_metadata[spec.name] = merged


def _folder_meta(ctx: Context, name: str) -> dict:
    if name not in ctx.folder_metadata:  # one read, only when a file changes
        for folder in ctx.backend.list_folders():
            ctx.folder_metadata.setdefault(folder.name, copy.deepcopy(dict(folder.metadata or {})))
    return ctx.folder_metadata.setdefault(name, {})


def record_file(ctx: Context, folder: str, path: str, digest: str | None) -> None:
    # Recorded after the upload: a crash in between leaves a file with no digest, which the
    # next plan treats as current (it was uploaded from the same git tree).
    meta = _folder_meta(ctx, folder)
    files = meta.setdefault(identity.METADATA_KEY, {}).setdefault("files", {})
    if digest:
        files[path] = digest
    else:
        files.pop(path, None)
    ctx.backend.update_folder(ctx.ids["folder"][folder], metadata=meta)


def upload_file(ctx: Context, file: FileData) -> None:
    spec, path, digest = file.folder, file.path, file.digest
    content = (Path(spec.root) / path).read_bytes()
    actual = "sha256:" + hashlib.sha256(content).hexdigest()
    if digest and digest.removeprefix("sha256:") != actual.removeprefix("sha256:"):
        raise ProvisionError(f"{path} changed since the plan was made; plan again")
    ctx.backend.upload_file(ctx.ids["folder"][spec.name], path, content)
    record_file(ctx, spec.name, path, digest)
