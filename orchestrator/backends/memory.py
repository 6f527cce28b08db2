"""An in-process `RunBackend`: no server, scriptable answers and failures.

Owns `MemoryBackend` and its `Rule`s. It ships (e.g. for trying a pipeline's wiring without
a server) and doubles as the unit-test fake: rules decide replies, JSON answers, failures
(`fail` + `times`), delays, and "lost replies" (the message reaches the agent but the
connection drops before the answer arrives, to test crash reconciliation). It records every
message sent and the peak number of concurrent messages per agent and overall.

Must not: know pipeline semantics. Unscripted messages get a deterministic default reply;
a prompt that asks for JSON (the runner's marker line) gets a minimal valid instance.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.backends.base import (
    JSON_MARKER,
    AgentRef,
    BlockRef,
    ChunkSink,
    Delivery,
    NewAgent,
    NewBlock,
    Reply,
    ToolRequest,
)
from orchestrator.errors import BackendError, NotFound, ServerUnavailable


@dataclass
class Rule:
    """Matches by agent (the pipeline's agent name) and/or prompt substring (all given keys must hold).

    `replies`: successive answers (the last repeats); `json`: one value dumped as JSON;
    `fail`: raise it on the first `times` matches; `delay`: seconds before answering;
    `lose_reply`: on the first `times` matches deliver the message, then fail as if the
    connection dropped (the reply stays in the agent's history); `lose_with`: the error to
    fail with instead (e.g. an HTTP 500 a busy server sends after it stored the turn)."""

    agent: str | None = None
    prompt_contains: str | None = None
    replies: list[str] = field(default_factory=list)
    json: Any = None
    fail: BackendError | None = None
    lose_reply: bool = False
    lose_with: BackendError | None = None
    times: int = 1
    delay: float = 0.0
    served: int = 0
    failed: int = 0
    # `ask_tool`: the turn stops for approval of a call to this tool (Letta's
    # requires_approval); `answer_tool` then answers with `replies` / `json` as usual
    ask_tool: str | None = None

    def matches(self, agent_name: str, prompt: str) -> bool:
        if self.agent is not None and self.agent != agent_name:
            return False
        return self.prompt_contains is None or self.prompt_contains in prompt


@dataclass
class _Agent:
    ref: AgentRef
    request: NewAgent
    history: list[dict] = field(default_factory=list)  # {"otid", "prompt", "reply": Reply|None}

    @property
    def label(self) -> str:
        """The pipeline's name for the agent (from the run's metadata), else its Letta name."""
        meta = self.request.metadata.get("orchestrate")
        return meta.get("agent", self.ref.name) if isinstance(meta, dict) else self.ref.name


class MemoryBackend:
    """A fake Letta: thread-safe, deterministic, inspectable."""

    def __init__(self, base_url: str = "memory://", *, up: bool = True):
        self.base_url = base_url
        self.up = up
        self.rules: list[Rule] = []
        self.agents: dict[str, _Agent] = {}
        self.blocks: dict[str, NewBlock] = {}  # shared ones and agents' own, as on Letta
        self.attached: dict[str, set[str]] = defaultdict(set)  # block id -> agent ids
        self.sent: list[dict] = []  # every message that reached an agent, in order
        self.pending_tools: dict[str, tuple[ToolRequest, Rule]] = {}  # agent id -> its ask
        self.decisions: list[dict] = []  # every answer_tool that reached an agent
        self.deleted: list[str] = []
        self.peak_per_agent: dict[str, int] = defaultdict(int)
        self.peak_total = 0
        self.history_errors = 0  # the next N history reads fail (a server still in trouble)
        self.chat_models = ["memory/echo"]  # the handles `models()` offers (any one answers)
        self._busy: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    # ----- scripting -----
    def script(self, **rule: Any) -> Rule:
        made = Rule(**rule)
        with self._lock:
            self.rules.append(made)
        return made

    def prompts(self, agent_name: str | None = None) -> list[str]:
        return [m["prompt"] for m in self.sent if agent_name in (None, m["agent"])]

    # ----- RunBackend -----
    def for_run(self, *, run_timeout: float | None = None) -> MemoryBackend:
        """As LettaBackend.for_run: the in-memory server has no deadline, so itself."""
        return self

    def check(self) -> None:
        if not self.up:
            raise ServerUnavailable(f"no Letta server answers at {self.base_url}")

    def models(self) -> tuple[list[str], list[str]]:
        return list(self.chat_models), ["memory/embed"]

    def create_block(self, block: NewBlock) -> str:
        self.check()
        with self._lock:
            block_id = f"block-{next(self._ids)}"
            self.blocks[block_id] = block
        return block_id

    def delete_block(self, block_id: str) -> None:
        with self._lock:
            self.blocks.pop(block_id, None)
            self.attached.pop(block_id, None)

    def create_agent(self, request: NewAgent) -> AgentRef:
        self.check()
        with self._lock:
            ref = AgentRef(f"agent-{next(self._ids)}", request.name, request.model, request.tags)
            self.agents[ref.id] = _Agent(ref, request)
            own = []
            for block in request.memory_blocks:  # the agent's own blocks: made with it
                own.append(f"block-{next(self._ids)}")
                self.blocks[own[-1]] = block
            for block_id in (*own, *request.block_ids):
                self.attached[block_id].add(ref.id)
        return ref

    def find_blocks(self, tags: tuple[str, ...], *, unattached: bool = False) -> list[BlockRef]:
        self.check()
        with self._lock:
            return [
                BlockRef(i, b.label, b.tags)
                for i, b in self.blocks.items()
                if set(tags) <= set(b.tags) and not (unattached and self.attached.get(i))
            ]

    def find_agents(self, tags: tuple[str, ...]) -> list[AgentRef]:
        self.check()
        with self._lock:
            return [a.ref for a in self.agents.values() if set(tags) <= set(a.ref.tags)]

    def agent_blocks(self, agent_id: str) -> list[str]:
        self._agent(agent_id)
        with self._lock:
            return [i for i, users in self.attached.items() if agent_id in users]

    def delete_agent(self, agent_id: str) -> None:
        """As Letta does: the agent's own memory blocks stay, attached to nothing."""
        with self._lock:
            if self.agents.pop(agent_id, None):
                self.deleted.append(agent_id)
            for users in self.attached.values():
                users.discard(agent_id)

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
        self.check()
        agent = self._agent(agent_id)
        rule = self._rule(agent.label, prompt)
        self._enter(agent_id)
        try:
            self._wait(rule.delay if rule else 0.0, timeout)
            if rule and rule.fail is not None and rule.failed < rule.times:
                rule.failed += 1
                raise rule.fail
            entry: dict[str, Any] = {
                "agent": agent.label,
                "agent_id": agent_id,
                "prompt": prompt,
                "otid": otid,
                "model": model,
                "reply": None,
            }
            if rule is not None and rule.ask_tool:
                call = ToolRequest(f"call-{next(self._ids)}", rule.ask_tool, "{}")
                reply = Reply(
                    "",
                    prompt_tokens=len(prompt.split()),
                    completion_tokens=2,
                    step_count=1,
                    pending=call,
                )
                with self._lock:
                    self.pending_tools[agent_id] = (call, rule)
            else:
                reply = Reply(
                    self._answer(rule, agent.label, prompt),
                    prompt_tokens=len(prompt.split()),
                    completion_tokens=5,
                    step_count=1,
                )
            entry["reply"] = reply
            with self._lock:
                agent.history.append(entry)
                self.sent.append(entry)
            if rule and (rule.lose_reply or rule.lose_with) and rule.failed < rule.times:
                rule.failed += 1
                raise rule.lose_with or ServerUnavailable(
                    "connection dropped after the message was delivered"
                )
            if on_chunk:
                on_chunk(reply.text)
            return reply
        finally:
            self._leave(agent_id)

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
        self.check()
        agent = self._agent(agent_id)
        with self._lock:
            pending = self.pending_tools.get(agent_id)
            if pending is None or pending[0].call_id != call_id:
                raise BackendError(
                    f"agent {agent_id} has no pending tool call {call_id}", status=400
                )
            del self.pending_tools[agent_id]
        call, rule = pending
        text = self._answer(rule, agent.label, "") if approve else f"denied: {reason or ''}"
        reply = Reply(text, prompt_tokens=3, completion_tokens=5, step_count=1)
        entry = {
            "agent": agent.label,
            "agent_id": agent_id,
            "otid": otid,
            "reply": reply,
            "prompt": f"[{'approve' if approve else 'deny'} {call.name}]",
            "model": None,
        }
        with self._lock:
            agent.history.append(entry)
            self.decisions.append(
                {
                    "agent_id": agent_id,
                    "call_id": call_id,
                    "approve": approve,
                    "reason": reason,
                    "otid": otid,
                }
            )
        return reply

    def delivery(self, agent_id: str, otid: str) -> Delivery:
        self.check()
        with self._lock:
            failing, self.history_errors = self.history_errors > 0, max(0, self.history_errors - 1)
        if failing:
            raise BackendError(
                f"read history of agent {agent_id}: HTTP 500: too many clients",
                transient=True,
                status=500,
            )
        for entry in self._agent(agent_id).history:
            if entry["otid"] == otid:
                return Delivery(True, entry["reply"])
        return Delivery(False)

    # ----- internals -----
    def _agent(self, agent_id: str) -> _Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise NotFound(f"agent {agent_id} not found", status=404)
        return agent

    def _rule(self, agent_name: str, prompt: str) -> Rule | None:
        with self._lock:
            return next((r for r in self.rules if r.matches(agent_name, prompt)), None)

    def _answer(self, rule: Rule | None, agent_name: str, prompt: str) -> str:
        if rule and rule.json is not None:
            return json.dumps(rule.json)
        if rule and rule.replies:
            with self._lock:
                text = rule.replies[min(rule.served, len(rule.replies) - 1)]
                rule.served += 1
            return text
        if JSON_MARKER in prompt:
            return json.dumps(placeholder_instance(_schema_in(prompt)))
        return f"[memory] {agent_name}: reply to: {prompt[:80]}"

    def _wait(self, delay: float, timeout: float | None) -> None:
        if timeout is not None and delay > timeout:
            time.sleep(timeout)
            raise BackendError(f"timed out after {timeout:g}s", transient=True)
        if delay:
            time.sleep(delay)

    def _enter(self, agent_id: str) -> None:
        with self._lock:
            self._busy[agent_id] += 1
            self.peak_per_agent[agent_id] = max(self.peak_per_agent[agent_id], self._busy[agent_id])
            self.peak_total = max(self.peak_total, sum(self._busy.values()))

    def _leave(self, agent_id: str) -> None:
        with self._lock:
            self._busy[agent_id] -= 1


def _schema_in(prompt: str) -> dict:
    body = prompt.split(JSON_MARKER, 1)[1].split("```json", 1)[-1].split("```", 1)[0]
    try:
        return json.loads(body)
    except ValueError:
        return {}


def placeholder_instance(schema: Any) -> Any:
    """A small valid instance of a simple JSON Schema (enough for default fake answers)."""
    if not isinstance(schema, dict):
        return None
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "object")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        props = schema.get("properties", {})
        return {k: placeholder_instance(props.get(k, {})) for k in schema.get("required", [])}
    if kind == "array":
        return [placeholder_instance(schema.get("items", {}))] * schema.get("minItems", 0)
    return {"string": "", "boolean": True, "integer": 0, "number": 0, "null": None}.get(kind)


if TYPE_CHECKING:  # mypy checks each method's signature against the Protocol, not only names
    from orchestrator.backends.base import RunBackend

    def _is_a_run_backend(backend: MemoryBackend) -> RunBackend:
        return backend
