"""The backend Protocol for *running* pipelines: agent lifecycle and messaging, plus its data types.

Owns: `RunBackend` (what the runner needs from a Letta server) and the plain data it speaks:
`AgentRef`, `BlockRef`, `Reply` (with a `ToolRequest` waiting for approval), `Delivery`; what to create (`NewAgent`, `NewBlock`) is shared with the
provisioning Protocol in `requests.py`. Two implementations ship:
`orchestrator.backends.letta.LettaBackend` (letta-client) and
`orchestrator.backends.memory.MemoryBackend` (in-process, scriptable; the unit-test fake).

Must not: import letta_client, know pipeline semantics (templates, retries, JSON schemas), or
hold secrets beyond the call that needs them. Errors are `orchestrator.errors.BackendError`
and subclasses; `transient=True` marks what a retry may cure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from orchestrator.backends.requests import NewAgent, NewBlock

# The line the runner puts before the JSON Schema of a `format: json` step. The local model
# endpoint keys on it to answer a valid instance, so its wording is a contract.
JSON_MARKER = "Respond with only a JSON value that matches this JSON Schema:"

# Called with each piece of assistant text as it arrives (`--stream`).
ChunkSink = Callable[[str], None]


@dataclass(frozen=True)
class AgentRef:
    """An agent that exists on the server."""

    id: str
    name: str
    model: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class BlockRef:
    """A memory block that exists on the server (found by its tags)."""

    id: str
    label: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ToolRequest:
    """A tool call the agent wants to make that needs a person's approval first (Letta's
    `requires_approval` tool rule): the turn is paused until `answer_tool` decides."""

    call_id: str
    name: str
    arguments: str = ""  # as the model wrote them (JSON text)


@dataclass(frozen=True)
class Reply:
    """The agent's answer to one user message: its assistant text plus usage; `pending`
    when the turn stopped for a tool call that needs approval (the text so far)."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    step_count: int = 0
    pending: ToolRequest | None = None


@dataclass(frozen=True)
class Delivery:
    """What the server knows about a message sent with a given `otid` (crash reconciliation).

    `received`: the message is in the agent's history. `reply`: the assistant answer that
    followed it, if the turn completed. `busy`: the agent is still working on a turn (Letta
    stores a message only when its turn ends, so "not received" may still be in flight)."""

    received: bool
    reply: Reply | None = None
    busy: bool = False


@runtime_checkable
class RunBackend(Protocol):
    base_url: str

    def check(self) -> None:
        """Raise `ServerUnavailable` (with the URL and a hint) unless the server answers."""

    def for_run(self, *, run_timeout: float | None = None) -> RunBackend:
        """A backend for another run on the same server: its own deadline (`run_timeout`
        seconds from now), this one's connections (a batch makes one per item)."""

    def models(self) -> tuple[list[str], list[str]]:
        """(chat model handles, embedding model handles) the server offers."""

    def create_block(self, block: NewBlock) -> str:
        """Create a standalone block (to share between agents); returns its id."""

    def delete_block(self, block_id: str) -> None: ...

    def create_agent(self, request: NewAgent) -> AgentRef: ...

    def find_agents(self, tags: tuple[str, ...]) -> list[AgentRef]:
        """Agents carrying *all* these tags (identity lives in tags: names are not unique)."""

    def delete_agent(self, agent_id: str) -> None:
        """Delete; an agent that is already gone is not an error. Its own memory blocks stay
        on the server (Letta deletes only the agent): `find_blocks(..., unattached=True)`
        finds them afterwards."""

    def find_blocks(self, tags: tuple[str, ...], *, unattached: bool = False) -> list[BlockRef]:
        """Blocks carrying *all* these tags; with `unattached`, only those no agent uses."""

    def agent_blocks(self, agent_id: str) -> list[str]:
        """Ids of the blocks the agent uses (its own and shared ones)."""

    def send(
        self,
        agent_id: str,
        prompt: str,
        *,
        otid: str,
        model: str | None = None,
        timeout: float | None = None,
        on_chunk: ChunkSink | None = None,
    ) -> Reply:
        """Send one user message (tagged with the client-chosen `otid`) and wait for the turn
        to finish. `model` overrides the agent's model for this message only."""

    def answer_tool(
        self,
        agent_id: str,
        call_id: str,
        *,
        approve: bool,
        reason: str | None,
        otid: str,
        timeout: float | None = None,
    ) -> Reply:
        """Approve or deny the agent's pending tool call `call_id` (a message tagged `otid`,
        which `delivery` finds like a user message) and wait for the turn to go on."""

    def delivery(self, agent_id: str, otid: str) -> Delivery:
        """Did the message with this `otid` reach the agent, and what did it answer?"""
