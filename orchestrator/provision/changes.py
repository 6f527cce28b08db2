"""The ChangeSet: what `plan` prints and `apply` executes — the very same object.

Owns: `Change`, `FieldChange`, `ChangeSet` and the phase order apply follows (tools, shared
blocks, folders and their files, agents, attachments, then deletions). A ChangeSet is frozen;
its `fingerprint` lets apply check, under the lock, that the server still calls for exactly
the plan the user saw (optimistic check).

Must not: talk to a server or hold secrets (secret fields carry no values, only a digest).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.errors import Issue, SpecError
from orchestrator.spec.model import Mark

if TYPE_CHECKING:  # payloads.py reads the desired state, which reads this module
    from orchestrator.provision.payloads import ChangeData

# Phases, in apply order. Detaches run before attaches so a private block can make room for
# a shared block of the same label; deletions run last, after nothing references the object.
PHASES = ("tool", "mcp", "block", "folder", "file", "agent", "detach", "attach", "delete")

ACTIONS = ("create", "update", "adopt", "attach", "detach", "delete")


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any
    secret: bool = False  # rendered as "(sensitive)"; old/new then hold digests only

    def __repr__(self) -> str:  # a repr in a log or traceback must not leak a secret either
        if self.secret:
            return f"FieldChange({self.field!r}, (sensitive))"
        return f"FieldChange({self.field!r}, {self.old!r} -> {self.new!r})"

    def to_dict(self) -> dict:
        if self.secret:
            return {"field": self.field, "old": "(sensitive)", "new": "(sensitive)"}
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Change:
    """One step of a plan.

    kind: "tool" | "mcp_server" | "block" (shared) | "folder" | "file" | "agent"
          | "agent_block" (private) | "agent_shared_block" | "agent_tool" | "agent_mcp_tool"
          | "agent_folder" | "agent_passage".
    name: the managed name of the object (for agent_* kinds: the block label / tool / folder).
    agent: the managed agent name for agent-scoped changes ("" otherwise).
    server_id: the existing server object (update/delete/detach/adopt); "" when created here.
    memory_loss: why this change can destroy memory ("" if it cannot); `blocked` when the
    user has not opted in yet (apply refuses the whole plan then).
    data: what apply needs to perform it (one type per kind of change, payloads.py; None
    when the name, agent and server id say it all); never printed.
    """

    action: str
    kind: str
    name: str
    phase: str
    agent: str = ""
    server_id: str = ""
    fields: tuple[FieldChange, ...] = ()
    memory_loss: str = ""
    blocked: bool = False
    note: str = ""
    data: ChangeData | None = field(default=None, compare=False, repr=False)

    @property
    def address(self) -> str:
        if self.agent:
            return f"agent {self.agent}: {self.kind.removeprefix('agent_').replace('_', ' ')} {self.name}"
        return f"{self.kind.replace('_', ' ')} {self.name}"

    def to_dict(self) -> dict:
        out: dict[str, Any] = {
            "action": self.action,
            "kind": self.kind,
            "name": self.name,
            "address": self.address,
            "fields": [f.to_dict() for f in self.fields],
        }
        if self.agent:
            out["agent"] = self.agent
        if self.server_id:
            out["server_id"] = self.server_id
        if self.memory_loss:
            out["memory_loss"] = self.memory_loss
            out["blocked"] = self.blocked
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class ChangeSet:
    namespace: str
    base_url: str
    changes: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = ()
    # managed name -> server id of objects that already exist, per kind ("agent", "block",
    # "tool", "folder"); apply adds what it creates, so later changes can refer to them.
    known_ids: dict[str, dict[str, str]] = field(default_factory=dict, compare=False)

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def blocked(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.blocked)

    def summary(self) -> dict[str, int]:
        counts = Counter(c.action for c in self.changes)
        return {action: counts.get(action, 0) for action in ACTIONS}

    def fingerprint(self) -> str:
        """A digest of what the plan will do (not of ids it will learn), for the apply check."""
        body = json.dumps([c.to_dict() for c in self.changes], sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()

    def to_dict(self) -> dict:
        return {
            "namespace": self.namespace,
            "base_url": self.base_url,
            "summary": self.summary(),
            "changes": [c.to_dict() for c in self.changes],
            "warnings": list(self.warnings),
            "fingerprint": self.fingerprint(),
        }


def ordered(changes: list[Change]) -> tuple[Change, ...]:
    """Stable order: by phase, keeping the diff's order inside a phase."""
    rank = {phase: i for i, phase in enumerate(PHASES)}
    return tuple(sorted(changes, key=lambda c: rank[c.phase]))


class Problems:
    """Every problem a plan finds, raised together (one SpecError) once the diff is done."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def add(self, mark: Mark, path: str, message: str, hint: str = "") -> None:
        self.issues.append(
            Issue(mark.file or "<resources>", mark.line, mark.col, path, message, hint)
        )

    def raise_any(self) -> None:
        if self.issues:
            raise SpecError(self.issues)
