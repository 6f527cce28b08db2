"""The requests to create server objects, shared by both backend Protocols.

Owns: `NewBlock` and `NewAgent`, the one description of "a memory block / an agent to create"
that the run-time Protocol (`base.RunBackend`) and the provisioning Protocol
(`admin.AdminBackend`) both speak, so a field added later is added once. Their mapping onto
letta-client arguments is `letta_args.py`.

Must not: import letta_client, or hold secrets beyond the request: `NewAgent.tool_env` values
are resolved secrets and are never part of a repr.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class NewBlock:
    """A memory block to create: standalone (shared by id) or embedded in a new agent."""

    label: str
    value: str
    limit: int | None = None
    description: str | None = None
    read_only: bool = False
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewAgent:
    """An agent to create. `None` leaves a field to the server's default.

    `block_ids` (blocks created beforehand) and `tools` (by name) are attached at creation:
    the run backend uses them; provisioning attaches afterwards, one change at a time, so its
    requests leave them empty. `tool_env` values are already resolved secrets."""

    name: str
    model: str
    embedding: str
    system: str | None = None
    description: str | None = None
    context_window: int | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    memory_blocks: tuple[NewBlock, ...] = ()
    block_ids: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    tool_env: Mapping[str, str] = field(default_factory=dict, repr=False)
