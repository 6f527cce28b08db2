"""How orchestrate recognises the Letta objects it manages.

Letta agent names are not unique, so identity lives in tags (filterable server-side with
`agents.list(tags=[...])`) and metadata. Provisioned agents carry MANAGED_TAG plus
`agent_tag(namespace, name)`; agents created for one pipeline run carry RUN_TAG plus
`run_tag(run_id)`, so leftovers of a crashed run can be found and cleaned.

Must not: talk to the server. Pure helpers shared by run/ and provision/.
"""

from __future__ import annotations

MANAGED_TAG = "orchestrate:managed"
RUN_TAG = "orchestrate:run"
DEFAULT_NAMESPACE = "default"
METADATA_KEY = "orchestrate"  # agent metadata: {"orchestrate": {"id": ..., "hash": ...}}


def agent_id_string(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def agent_tag(namespace: str, name: str) -> str:
    """The tag that identifies one provisioned agent across applies and renames on the server."""
    return f"orchestrate:id={agent_id_string(namespace, name)}"


def run_tag(run_id: str) -> str:
    return f"orchestrate:run={run_id}"


def is_managed(tags: list[str] | tuple[str, ...]) -> bool:
    return MANAGED_TAG in tags


def managed_name(tags: list[str] | tuple[str, ...], namespace: str) -> str | None:
    """The managed name in `namespace` carried by these tags, or None."""
    prefix = f"orchestrate:id={namespace}/"
    for tag in tags:
        if tag.startswith(prefix):
            return tag[len(prefix):]
    return None
