"""The folder half of the diff: folders (identified by name + metadata id) and their files.

Owns the file rule: a file is uploaded when it is missing on the server or its sha256
differs from the digest recorded in the folder's metadata at the last upload; a file the
server has that git no longer lists is deleted (git holds its content). A file with no
recorded digest (uploaded by an apply that crashed before recording it) is taken as current.

Must not: talk to a server or read files (digests come from the ResourceSet).
"""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.backends import identity
from orchestrator.backends.admin import Folder
from orchestrator.provision.changes import Change, FieldChange, Problems
from orchestrator.provision.defaults import missing_hint
from orchestrator.provision.desired import DiffOptions
from orchestrator.provision.payloads import FileData, FolderData
from orchestrator.provision.state import ActualState
from orchestrator.spec.model import FolderSpec


def folder_and_file_changes(
    folders: Mapping[str, FolderSpec],
    actual: ActualState,
    options: DiffOptions,
    problems: Problems,
    warnings: list[str],
) -> list[Change]:
    """The declared folders (create, update, adopt) and their files; an agent's folder
    attachments are diff_agents.folder_changes."""
    out = []
    for name, spec in folders.items():
        have = actual.folders.get(name)
        managed = actual.managed_folder(name) is not None
        owner = identity.split_id(identity.metadata_id(dict(have.metadata))) if have else None
        if have is not None and not managed and owner is not None:
            problems.add(
                spec.mark,
                f"folders.{name}",
                f"folder {name!r} is managed in namespace {owner[0]!r}",
                "folders are named server-wide: rename it here, or destroy it in "
                f"namespace {owner[0]!r} first (--adopt never takes another "
                "namespace's folder)",
            )
            continue
        if have is not None and not managed and not options.adopt:
            problems.add(
                spec.mark,
                f"folders.{name}",
                "a folder with this name exists on the server but is not managed by orchestrate",
                "pass --adopt to manage it",
            )
            continue
        if have is None:
            if not (spec.embedding or options.default_embedding):
                hint = missing_hint("embedding", actual.embeddings)
                if options.report_only:  # diff: the folder is missing all the same (drift)
                    warnings.append(f"folder {name!r}: apply needs an embedding ({hint})")
                else:
                    problems.add(
                        spec.mark, f"folders.{name}", "no embedding for a new folder", hint
                    )
            embedding = spec.embedding or options.default_embedding
            out.append(
                Change(
                    "create",
                    "folder",
                    name,
                    "folder",
                    data=FolderData(spec),
                    fields=(FieldChange("embedding", None, embedding),),
                )
            )
            out += [
                Change(
                    "create",
                    "file",
                    path,
                    "file",
                    agent="",
                    data=FileData(spec, path, digest),
                    note=f"in folder {name}",
                )
                for path, digest in spec.files
            ]
            continue
        fields = []
        if not managed:
            fields.append(FieldChange("metadata.id", None, f"{options.namespace}/{name}"))
        if spec.description and have.description != spec.description:
            fields.append(FieldChange("description", have.description, spec.description))
        if fields:
            out.append(
                Change(
                    "adopt" if not managed else "update",
                    "folder",
                    name,
                    "folder",
                    server_id=have.id,
                    fields=tuple(fields),
                    data=FolderData(spec, have.metadata),
                )
            )
        out += _file_changes(spec, have)
    return out


def _file_changes(spec: FolderSpec, have: Folder) -> list[Change]:
    recorded = ((have.metadata or {}).get(identity.METADATA_KEY) or {}).get("files") or {}
    on_server = {f.name: f for f in have.files}
    wanted = dict(spec.files)
    out = []
    for path, digest in spec.files:
        if path not in on_server:
            out.append(
                Change(
                    "create",
                    "file",
                    path,
                    "file",
                    data=FileData(spec, path, digest),
                    note=f"in folder {spec.name}",
                )
            )
        elif recorded.get(path) not in (None, digest):
            # A file uploaded by a crashed apply has no recorded digest: it came from git at
            # that time and is assumed current (documented); a changed digest re-uploads it.
            out.append(
                Change(
                    "update",
                    "file",
                    path,
                    "file",
                    server_id=on_server[path].id,
                    fields=(FieldChange("sha256", recorded[path][:12], digest[:12]),),
                    data=FileData(spec, path, digest),
                    note=f"in folder {spec.name}",
                )
            )
    out += [
        Change(
            "delete",
            "file",
            name,
            "file",
            server_id=f.id,
            data=FileData(spec, name, ""),
            note=f"in folder {spec.name}",
        )
        for name, f in on_server.items()
        if name not in wanted
    ]
    return out
