"""The DAG scheduler of the Temporal workflow: which steps may start now, on which agent copies.

Owns `Schedule`, built from plain data (so the workflow can hold it deterministically):
`steps` maps each top-level step to its direct upstream steps and the agent copies it needs
(`{agent: count}`; a for_each step needs up to min(replicas, max_parallel) copies of its
agent, a loop the copies of every body step's agent). A step may start when all its upstream
steps are settled and all the copies it needs are free; it is `blocked` when an upstream
step did not end succeeded or skipped. Copies are leased here, for the whole run, so a Letta
agent never gets two messages at once across workers; a step's copies go back when it ends.
Ready steps start in plan order (deterministic). O(1) amortised work per finished step.

Must not: do I/O, read clocks or random numbers (it runs inside a Temporal workflow).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from orchestrator.run.status import BLOCKED, DONE_OK, NOT_STARTED, WAITING_APPROVAL

# An upstream step waiting for a person's approval (or not started because of one) leaves
# its downstream steps `not_started`, not blocked: resume runs them once it is answered.


@dataclass
class Schedule:
    order: list[str]  # plan order
    deps: dict[str, list[str]]
    needs: dict[str, dict[str, int]]  # step -> {agent: copies}
    replicas: dict[str, int]  # agent -> copies that may exist
    settled: dict[str, str] = field(default_factory=dict)  # step -> final status
    running: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # step -> copies
    _waiting_on: dict[str, int] = field(default_factory=dict)
    _downstream: dict[str, list[str]] = field(default_factory=dict)
    _ready: list[str] = field(default_factory=list)  # deps settled, maybe no free copies
    _free: dict[str, list[int]] = field(default_factory=dict)
    postponed: set[str] = field(default_factory=set)  # not started: behind a waiting gate

    def __post_init__(self) -> None:
        position = {name: i for i, name in enumerate(self.order)}
        for name in self.order:
            self._waiting_on[name] = len(self.deps[name])
            for dep in self.deps[name]:
                self._downstream.setdefault(dep, []).append(name)
        self._downstream = {
            k: sorted(v, key=position.__getitem__) for k, v in self._downstream.items()
        }
        self._ready = [n for n in self.order if not self.deps[n]]
        self._free = {a: list(range(1, max(1, n) + 1)) for a, n in self.replicas.items()}
        self._position = position

    def done(self) -> bool:
        return len(self.settled) == len(self.order)

    def start(self, slots: int) -> tuple[list[tuple[str, dict[str, list[int]]]], list[str]]:
        """Up to `slots` steps to start now with the copies leased to each, and the steps
        found blocked on the way (settled as `blocked`, with no activity)."""
        started: list[tuple[str, dict[str, list[int]]]] = []
        blocked: list[str] = []
        pending = deque(self._ready)
        self._ready = []
        while pending:
            name = pending.popleft()
            bad = [
                self.settled.get(d) for d in self.deps[name] if self.settled.get(d) not in DONE_OK
            ]
            if bad:
                blocked.append(name)
                waits = all(
                    self.settled.get(d) == WAITING_APPROVAL or d in self.postponed
                    for d in self.deps[name]
                    if self.settled.get(d) not in DONE_OK
                )
                if waits:
                    self.postponed.add(name)
                for later in self._settle(name, NOT_STARTED if waits else BLOCKED):
                    pending.append(later)
                continue
            copies = self._lease(name) if len(started) < slots else None
            if copies is None:
                self._ready.append(name)
                continue
            self.running[name] = copies
            started.append((name, copies))
        self._ready.sort(key=self._position.__getitem__)
        return started, blocked

    def finish(self, name: str, status: str) -> None:
        for agent, indexes in self.running.pop(name, {}).items():
            self._free[agent] = sorted(self._free[agent] + indexes)
        self._ready.extend(self._settle(name, status))
        self._ready.sort(key=self._position.__getitem__)

    def _settle(self, name: str, status: str) -> list[str]:
        """Record `name`'s end; the downstream steps that have all their upstream now."""
        self.settled[name] = status
        now_ready = []
        for later in self._downstream.get(name, []):
            self._waiting_on[later] -= 1
            if self._waiting_on[later] == 0:
                now_ready.append(later)
        return now_ready

    def _lease(self, name: str) -> dict[str, list[int]] | None:
        wanted = self.needs.get(name, {})
        if any(
            len(self._free.get(a, [])) < min(n, self.replicas.get(a, 1)) for a, n in wanted.items()
        ):
            return None
        leased = {}
        for agent, n in wanted.items():
            take = min(n, self.replicas.get(agent, 1))
            leased[agent], self._free[agent] = self._free[agent][:take], self._free[agent][take:]
        return leased
