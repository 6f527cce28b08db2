"""Which steps of a plan may start now: the ready set, as a pure data structure.

Owns `ReadyQueue`: built once from the steps in plan order and their direct upstream steps;
`pop()` gives the ready step that comes first in plan order (so a run with one slot runs its
steps in plan order, as before), `settle(name)` marks a step as finished (whatever its
outcome) and makes ready the downstream steps whose upstream steps have now all settled.
Each call costs O(log n) plus the settled step's downstream edges, so a whole run costs
O((V + E) log V) instead of a rescan of every waiting step after each finished one.

Any executor drives it the same way (the local thread pool in run.executor, a Temporal
workflow later): pop what is ready, start it, settle it when its result is in.

Must not: know what a step means, run anything, use threads or clocks, or decide what an
upstream failure does to a step (the executor asks `upstream(name)` and decides).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence


class ReadyQueue:
    def __init__(self, order: Sequence[str], upstream: Mapping[str, Iterable[str]]):
        """`order`: every step, in plan (topological) order; `upstream[name]`: its direct
        upstream steps (names outside `order` are ignored: they never settle here)."""
        self._index = {name: i for i, name in enumerate(order)}
        self._upstream: dict[str, tuple[str, ...]] = {}
        self._downstream: dict[str, list[str]] = {name: [] for name in order}
        self._waiting_on: dict[str, int] = {}
        self._ready: list[int] = []
        for name in order:
            deps = tuple(dict.fromkeys(d for d in upstream.get(name, ()) if d in self._index))
            self._upstream[name] = deps
            self._waiting_on[name] = len(deps)
            for dep in deps:
                self._downstream[dep].append(name)
            if not deps:
                self._ready.append(self._index[name])
        heapq.heapify(self._ready)
        self._order = list(order)
        self._settled: set[str] = set()

    def pop(self) -> str | None:
        """The first ready step in plan order (now taken), or None if none is ready."""
        return self._order[heapq.heappop(self._ready)] if self._ready else None

    def settle(self, name: str) -> None:
        """`name` finished: its downstream steps wait for one upstream step less."""
        if name in self._settled:
            raise ValueError(f"step '{name}' settled twice")
        self._settled.add(name)
        for down in self._downstream[name]:
            self._waiting_on[down] -= 1
            if self._waiting_on[down] == 0:
                heapq.heappush(self._ready, self._index[down])

    def upstream(self, name: str) -> tuple[str, ...]:
        """The direct upstream steps of `name` (all settled once it was popped)."""
        return self._upstream[name]

    def has_ready(self) -> bool:
        return bool(self._ready)

    def done(self) -> bool:
        """Every step has settled."""
        return len(self._settled) == len(self._order)
