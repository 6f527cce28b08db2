"""How orchestrate recognises the Letta objects it manages.

Letta agent names are not unique, so identity lives in tags (filterable server-side with
`agents.list(tags=[...])`) and metadata. Provisioned agents carry MANAGED_TAG plus
`agent_tag(namespace, name)`; agents created for one pipeline run carry RUN_TAG plus
`run_tag(run_id)` (as do their own memory blocks and the run's shared blocks), so leftovers
of a crashed run can be found and cleaned (`orchestrate runs gc`); one the run keeps
(`keep: true`, --keep-agents) also carries KEEP_TAG, which clean-up never deletes.

Must not: talk to the server. Pure helpers shared by run/ and provision/.
"""

from __future__ import annotations

import re

MANAGED_TAG = "orchestrate:managed"
RUN_TAG = "orchestrate:run"
KEEP_TAG = "orchestrate:keep"  # a run's agent meant to outlive it
DEFAULT_NAMESPACE = "default"
METADATA_KEY = "orchestrate"  # agent metadata: {"orchestrate": {"id": ..., "hash": ...}}
# A namespace is one path segment (like a managed name): "team/sub" would make the identity
# "team/sub/x" ambiguous with namespace "team" and name "sub/x".
NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
NAMESPACE_HINT = (
    "a namespace is 1-100 letters, digits, '.', '_' or '-', starting with a "
    "letter or digit (no '/')"
)


def namespace_problem(namespace: str) -> str | None:
    """Why `namespace` is not a valid namespace, or None."""
    if NAMESPACE.fullmatch(namespace):
        return None
    return f"invalid namespace {namespace!r}: {NAMESPACE_HINT}"


def agent_id_string(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def agent_tag(namespace: str, name: str) -> str:
    """The tag that identifies one provisioned agent across applies and renames on the server."""
    return f"orchestrate:id={agent_id_string(namespace, name)}"


def run_tag(run_id: str) -> str:
    return f"orchestrate:run={run_id}"


def tagged_run(tags: list[str] | tuple[str, ...]) -> str | None:
    """The run id in these tags' `run_tag`, or None."""
    prefix = run_tag("")
    return next((tag[len(prefix) :] for tag in tags if tag.startswith(prefix)), None)


def is_managed(tags: list[str] | tuple[str, ...]) -> bool:
    return MANAGED_TAG in tags


def managed_name(tags: list[str] | tuple[str, ...], namespace: str) -> str | None:
    """The managed name in `namespace` carried by these tags, or None."""
    return tagged_name(tags, "id", namespace)


# ----- provisioned resources other than agents (shared blocks, tools, folders, the lock) -----
# Shared blocks and tools carry tags (Letta 0.16.8 stores and filters block tags); folders have
# no tags, so their identity lives in metadata[METADATA_KEY]["id"]. Tools are named by their
# function name server-wide, so their tag records which namespace provisioned them.


def block_tag(namespace: str, name: str) -> str:
    return f"orchestrate:block={agent_id_string(namespace, name)}"


def tool_tag(namespace: str, name: str) -> str:
    return f"orchestrate:tool={agent_id_string(namespace, name)}"


def mcp_tag(namespace: str, name: str) -> str:
    """Tag of the marker block that records which namespace manages MCP server `name`
    (Letta keeps no tags or metadata on MCP servers)."""
    return MCP_PREFIX + agent_id_string(namespace, name)


MCP_PREFIX = "orchestrate:mcp="


def lock_tag(namespace: str) -> str:
    """Tag of the server-side apply lock block of one namespace (see provision/lock.py)."""
    return f"orchestrate:lock={namespace}"


def tagged_name(tags: list[str] | tuple[str, ...], kind: str, namespace: str) -> str | None:
    """The managed name of a `kind` ("id" for agents, "block", "tool") in `namespace` carried
    by these tags, or None."""
    prefix = f"orchestrate:{kind}={namespace}/"
    for tag in tags:
        rest = tag[len(prefix) :] if tag.startswith(prefix) else ""
        if rest and "/" not in rest:  # exact: "team/sub/x" is not "sub/x" of namespace "team"
            return rest
    return None


def owner_namespaces(tags: list[str] | tuple[str, ...], kind: str, name: str) -> list[str]:
    """The namespaces whose `kind` tag for `name` these tags carry (sorted)."""
    prefix, suffix = f"orchestrate:{kind}=", f"/{name}"
    return sorted(
        {
            tag[len(prefix) : -len(suffix)]
            for tag in tags
            if tag.startswith(prefix)
            and tag.endswith(suffix)
            and len(tag) > len(prefix) + len(suffix)
        }
    )


def split_id(value: str | None) -> tuple[str, str] | None:
    """("namespace", "name") of a "namespace/name" identity string, or None."""
    if not value or "/" not in value:
        return None
    namespace, name = value.rsplit("/", 1)
    return namespace, name


def metadata_id(metadata: dict | None) -> str | None:
    """The "namespace/name" identity stored in an object's metadata, or None."""
    section = (metadata or {}).get(METADATA_KEY)
    if isinstance(section, dict) and isinstance(section.get("id"), str):
        return section["id"]
    return None


def is_identity_tag(tag: str) -> bool:
    """Tags orchestrate writes itself (never exported as user tags)."""
    return tag.startswith("orchestrate:")
