"""What `orchestrate audit --server` reads from Letta beyond provisioning: recent messages and
tool environment values (letta-client 1.12.1).

Owns `LettaAudit` (an `AuditSource`: LettaAdmin's reads of agents and archival passages, its
passage writes for `--fix`, and the two reads below) and `Message`. Values read here are what
the audit looks at: they are returned to the caller, never logged, and no error message
carries one (errors are LettaAdmin's: status and the server's short reason only).

Must not: decide what a finding is (orchestrator/audit/server.py) or write anything but the
passages `--fix` was asked to change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from orchestrator.backends.admin import AgentState, Passage
from orchestrator.backends.letta_admin import LettaAdmin
from orchestrator.backends.letta_errors import listed

# What each Letta message type says, by attribute (reasoning, tool calls and returns too:
# personal data an agent repeats to itself or to a tool is in its history all the same).
_TEXT_FIELDS = ("content", "reasoning", "tool_return")


@dataclass(frozen=True)
class Message:
    id: str
    kind: str  # Letta's message_type: user_message, assistant_message, tool_call_message, ...
    text: str = field(default="", repr=False)


class AuditSource(Protocol):
    base_url: str

    def list_agents(self, tags: Sequence[str] = ()) -> list[AgentState]: ...

    def list_passages(self, agent_id: str) -> list[Passage]: ...

    def recent_messages(self, agent_id: str, limit: int) -> list[Message]: ...

    def tool_env_values(self, agent_id: str) -> dict[str, str]: ...

    def create_passage(self, agent_id: str, text: str, tags: Sequence[str]) -> None: ...

    def delete_passage(self, agent_id: str, passage_id: str) -> None: ...


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "\n".join(
            _text(getattr(p, "text", None) or (p.get("text") if isinstance(p, dict) else ""))
            for p in value
        )
    return ""


def message_text(message: Any) -> str:
    parts = [_text(getattr(message, name, None)) for name in _TEXT_FIELDS]
    for call in [
        getattr(message, "tool_call", None),
        *(getattr(message, "tool_calls", None) or ()),
    ]:
        if call is not None:
            parts.append(str(getattr(call, "arguments", "") or ""))
    return "\n".join(p for p in parts if p)


class LettaAudit(LettaAdmin):
    def recent_messages(self, agent_id: str, limit: int) -> list[Message]:
        """The agent's last `limit` messages (not its system prompt, audited as such)."""
        with self._call(f"list messages of {agent_id}"):
            found = listed(self._client.agents.messages.list(agent_id, limit=limit, order="desc"))
        return [
            Message(m.id or "", getattr(m, "message_type", "") or "", message_text(m))
            for m in found
            if getattr(m, "message_type", "") != "system_message"
        ]

    def tool_env_values(self, agent_id: str) -> dict[str, str]:
        """The agent's tool environment as the server returns it (in clear, unless Letta
        keeps it encrypted: then the value is absent and there is nothing to read)."""
        with self._call(f"read the tool environment of {agent_id}"):
            agent = self._client.agents.retrieve(agent_id, include=["agent.secrets"])
        env = agent.secrets or agent.tool_exec_environment_variables or ()
        return {e.key: e.value for e in env if isinstance(getattr(e, "value", None), str)}


if TYPE_CHECKING:  # mypy checks each method's signature against the Protocol, not only names

    def _is_an_audit_source(backend: LettaAudit) -> AuditSource:
        return backend
