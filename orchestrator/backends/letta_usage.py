"""What a live Letta server knows about the agents orchestrate manages (`stats --server`).

Owns `LettaUsage.agents(namespace)`: for each provisioned agent of one namespace, from the
server's own records: its messages (and the tool calls among them, by tool name), archival
passages, memory blocks (characters against their limits), the runs (turns) Letta recorded
for it with their status, duration and tokens (GET /v1/runs, /v1/runs/{id}/usage: Letta
0.16.8's GET /v1/steps answers HTTP 400 whatever is asked), and when it was last active. Read-only: it lists, never writes. Every
listing is bounded (`cap` items per agent and kind: a count that reached it is reported as
capped, "at least").

Must not: compute statistics (run.server_stats does) or know pipelines.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.backends.identity import MANAGED_TAG, managed_name
from orchestrator.backends.letta import LettaBackend

PAGE = 100
CAP = 1_000  # items read per agent and kind at most (runs: one usage call each)


@dataclass(frozen=True)
class Count:
    n: int = 0
    capped: bool = False  # the listing stopped at the cap: at least `n`


@dataclass(frozen=True)
class BlockUsage:
    label: str
    chars: int
    limit: int | None


@dataclass(frozen=True)
class AgentUsage:
    name: str  # the managed name in the namespace
    agent_id: str
    model: str | None
    messages: Count
    passages: Count
    runs: Count  # the runs (one per message turn) Letta recorded for the agent
    failed_runs: int  # runs that ended in an error (status failed or an error stop reason)
    run_seconds: tuple[float, ...]  # the finished runs' durations, as Letta measured them
    prompt_tokens: int
    completion_tokens: int
    blocks: tuple[BlockUsage, ...]
    tools: dict[str, int] = field(default_factory=dict)  # tool calls by tool name
    last_activity: float | None = None  # epoch seconds: its newest message or finished run


class LettaUsage(LettaBackend):
    """The read-only usage listings, on LettaBackend's client and error mapping."""

    def __init__(self, base_url: str, api_key: str | None = None, *, cap: int = CAP):
        super().__init__(base_url, api_key)
        self.cap = cap

    def agents(self, namespace: str) -> list[AgentUsage]:
        """The namespace's provisioned agents, by name."""
        self.check()
        client, listed = self._client, list[Any]()
        self._count(
            "list managed agents",
            lambda after: (
                client.agents.list(
                    tags=[MANAGED_TAG],
                    match_all_tags=True,
                    include=["agent.blocks", "agent.tags"],
                    limit=PAGE,
                    after=after,
                ).items
            ),
            listed.append,
        )
        found = []
        for agent in listed:
            name = managed_name(list(agent.tags or []), namespace)
            if name is not None:
                found.append(self._agent(name, agent))
        return sorted(found, key=lambda a: a.name)

    def _agent(self, name: str, agent: Any) -> AgentUsage:
        client, agent_id = self._client, agent.id
        tools: Counter[str] = Counter()
        newest: list[float] = []

        def message(m: Any) -> None:
            if getattr(m, "message_type", "") == "tool_call_message":
                for call in _calls(m):
                    tools[call] += 1
            when = _epoch(getattr(m, "date", None))
            if when is not None:
                newest[:] = [max(newest[0], when)] if newest else [when]

        messages = self._count(
            f"list messages of agent {agent_id}",
            lambda after: (
                client.agents.messages.list(agent_id, limit=PAGE, order="asc", after=after).items
            ),
            message,
        )
        passages = self._count(
            f"list archival memory of agent {agent_id}",
            lambda after: client.agents.passages.list(
                agent_id, limit=PAGE, ascending=True, after=after
            ),
        )
        tokens, failed, seconds = [0, 0], [0], []

        def run(r: Any) -> None:
            usage = self._do(f"read usage of run {r.id}", lambda: client.runs.usage.retrieve(r.id))
            tokens[0] += getattr(usage, "prompt_tokens", 0) or 0
            tokens[1] += getattr(usage, "completion_tokens", 0) or 0
            if str(getattr(r, "status", "")) == "failed" or "error" in str(
                getattr(r, "stop_reason", "") or ""
            ):
                failed[0] += 1
            if getattr(r, "total_duration_ns", None):
                seconds.append(r.total_duration_ns / 1e9)
            when = _epoch(getattr(r, "completed_at", None))
            if when is not None:
                newest[:] = [max(newest[0], when)] if newest else [when]

        runs = self._count(
            f"list runs of agent {agent_id}",
            lambda after: (
                client.runs.list(agent_id=agent_id, limit=PAGE, order="asc", after=after).items
            ),
            run,
        )
        finished = _epoch(getattr(agent, "last_run_completion", None))
        last = max([t for t in (*newest, finished) if t is not None], default=None)
        blocks = tuple(
            BlockUsage(b.label or "", len(b.value or ""), b.limit) for b in (agent.blocks or [])
        )
        llm = getattr(agent, "llm_config", None)
        return AgentUsage(
            name,
            agent_id,
            getattr(llm, "handle", None) or getattr(agent, "model", None),
            messages,
            passages,
            runs,
            failed[0],
            tuple(seconds),
            tokens[0],
            tokens[1],
            blocks,
            dict(tools),
            last,
        )

    def _count(
        self,
        what: str,
        page: Callable[[str | None], Iterable[Any]],
        each: Callable[[Any], None] = lambda _x: None,
    ) -> Count:
        """Walk a listing page by page (cursor: the last id), up to the cap."""
        n, after = 0, None
        while True:
            items = self._do(what, functools.partial(_listed, page, after))
            for item in items:
                each(item)
            n += len(items)
            if n >= self.cap:
                return Count(n, True)
            if len(items) < PAGE:
                return Count(n)
            after = items[-1].id


def _listed(page: Callable[[str | None], Iterable[Any]], after: str | None) -> list[Any]:
    return list(page(after))


def _calls(message: Any) -> list[str]:
    calls = list(getattr(message, "tool_calls", None) or [])
    one = getattr(message, "tool_call", None)
    if not calls and one is not None:
        calls = [one]
    return [c.name for c in calls if getattr(c, "name", None)]


def _epoch(value: Any) -> float | None:
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return moment.timestamp()
    return None
