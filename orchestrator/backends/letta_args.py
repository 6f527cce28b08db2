"""The one mapping of our create/update requests onto letta-client's arguments, shared by the
run-time backend (`letta.py`) and the provisioning backend (`letta_admin.py`), so both send
the same fields under the same names (e.g. `context_window` -> `context_window_limit`,
`tool_env` -> `secrets`).

Rule: a field left `None` (or empty) is left out, so the server applies its default;
`read_only`, `tags` and `metadata` of an agent are always sent.

Must not: call the server, import letta_client, or log (the arguments may hold secrets).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.backends.requests import NewAgent, NewBlock

TOOL_ENV_ARG = "secrets"  # letta-client 1.x; `tool_exec_environment_variables` is deprecated


def block_args(new: NewBlock) -> dict[str, Any]:
    """`blocks.create(**...)`, and one entry of `agents.create(memory_blocks=[...])`."""
    args: dict[str, Any] = {"label": new.label, "value": new.value, "read_only": new.read_only}
    if new.limit is not None:
        args["limit"] = new.limit
    if new.description is not None:
        args["description"] = new.description
    if new.tags:
        args["tags"] = list(new.tags)
    if new.metadata:
        args["metadata"] = dict(new.metadata)
    return args


def agent_args(new: NewAgent) -> dict[str, Any]:
    """`agents.create(**...)`."""
    args: dict[str, Any] = {
        "name": new.name,
        "model": new.model,
        "embedding": new.embedding,
        "tags": list(new.tags),
        "metadata": dict(new.metadata),
        "memory_blocks": [block_args(b) for b in new.memory_blocks],
    }
    for key, value in (
        ("system", new.system),
        ("description", new.description),
        ("context_window_limit", new.context_window),
    ):
        if value is not None:
            args[key] = value
    if new.block_ids:
        args["block_ids"] = list(new.block_ids)
    if new.tools:
        args["tools"] = list(new.tools)
    if new.tool_env:
        args[TOOL_ENV_ARG] = dict(new.tool_env)
    return args


def agent_update_args(fields: Mapping[str, Any]) -> dict[str, Any]:
    """`agents.update(agent_id, **...)` from `AdminBackend.update_agent` fields (checked
    against `admin.AGENT_UPDATE_FIELDS` by the caller)."""
    args = dict(fields)
    if "context_window" in args:
        args["context_window_limit"] = args.pop("context_window")
    if "tool_env" in args:
        args[TOOL_ENV_ARG] = dict(args.pop("tool_env"))
    if "tags" in args:
        args["tags"] = list(args["tags"])
    return args
