"""Which copy of an agent handles the next message: leasing the replicas of one agent.

Owns `Replicas`: up to `limit` copies of one pipeline agent (`replicas: N`; 1 for most
agents), made on demand by a `make(index)` callback the agent pool supplies, and leased to
one unit at a time: a Letta agent is one conversation, so a leased copy gets no other
message until it is given back. The choice, in order:
1. the copy a unit *needs*: the one its in-flight message went to (resume), since only that
   agent's history can say whether it answered. Busy: wait for it.
2. the copy it *prefers*, if free: the one that handled the same unit's earlier attempt or
   the same (step, item) in the previous loop iteration (conversation continuity);
3. the free copy with the lowest index, so work without concurrency stays on copy 1 (one
   conversation, exactly as with a single agent);
4. a new copy, while fewer than `limit` exist (copies are made only as concurrency demands);
5. otherwise wait until one is given back.

Must not: talk to Letta (the pool's `make` does) or know about steps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
POLL = 0.05  # seconds between cancellation checks while waiting for a copy


def replica_label(name: str, replica: int) -> str:
    """How run records and Letta names tell the copies apart: `analyst`, `analyst#2`, ..."""
    return name if replica == 1 else f"{name}#{replica}"


def parse_label(label: str) -> tuple[str, int]:
    """`analyst#2` -> ("analyst", 2); `analyst` -> ("analyst", 1)."""
    name, _, index = label.partition("#")
    return name, int(index) if index.isdigit() else 1


class Replicas(Generic[T]):
    def __init__(
        self,
        limit: int,
        make: Callable[[int], T],
        ident: Callable[[T], str],
        known: Mapping[str, int] | None = None,
        indexes: Sequence[int] | None = None,
    ):
        """`ident(copy)` is its Letta id; `known` maps the ids of an earlier attempt's copies
        (resume) to their index, so a unit can *need* one before it is taken up again.
        `indexes`: the only copies this process may use (a distributed executor leases
        copies to units globally and hands each unit its own); default 1..limit."""
        self.indexes = sorted(set(indexes)) if indexes else list(range(1, max(1, limit) + 1))
        self.limit = len(self.indexes)
        self._make, self._ident = make, ident
        self._known = dict(known or {})
        self._made: dict[int, T] = {}
        self._free: set[int] = set()
        self._making: set[int] = set()
        self._cond = threading.Condition()

    def lease(
        self,
        *,
        need: str | None = None,
        prefer: str | None = None,
        on_wait: Callable[[], None] | None = None,
        on_got: Callable[[], None] | None = None,
        check: Callable[[], None] | None = None,
    ) -> T:
        """A copy for the caller alone until `give_back`. `on_wait` is called once, before
        the first wait; `on_got` once a copy is the caller's (before a new one is made:
        making it is the caller's own work, not waiting); `check` after each wait (it raises
        to abandon, e.g. on cancel)."""
        waited = False
        while True:
            with self._cond:
                index, fresh = self._choose(need, prefer)
                if index is not None and not fresh:
                    self._free.discard(index)
                    copy = self._made[index]
                elif index is not None:
                    self._making.add(index)
                elif waited:
                    self._cond.wait(POLL)
            if index is not None:
                if on_got is not None:
                    self._guarded(on_got, index, fresh)
                return self._new(index) if fresh else copy
            if not waited:
                waited = True
                if on_wait is not None:
                    on_wait()
            elif check is not None:
                check()

    def give_back(self, copy: T) -> None:
        with self._cond:
            for index, made in self._made.items():
                if made == copy:
                    self._free.add(index)
            self._cond.notify_all()

    def made(self) -> dict[int, T]:
        """The copies made so far, by index (1-based)."""
        with self._cond:
            return dict(self._made)

    def _guarded(self, action: Callable[[], None], index: int, fresh: bool) -> None:
        """Run the caller's callback; if it raises, the copy is not the caller's after all."""
        try:
            action()
        except BaseException:
            with self._cond:
                (self._making.discard if fresh else self._free.add)(index)
                self._cond.notify_all()
            raise

    def _new(self, index: int) -> T:
        try:
            copy = self._make(index)
        except BaseException:
            with self._cond:
                self._making.discard(index)
                self._cond.notify_all()
            raise
        with self._cond:
            self._making.discard(index)
            self._made[index] = copy
            self._cond.notify_all()
        return copy

    def _choose(self, need: str | None, prefer: str | None) -> tuple[int | None, bool]:
        """(index, whether it must be made first), or (None, False) to wait."""
        if need is not None:
            index = self._index_of(need)
            if index is not None and index in self.indexes:
                if index in self._free:
                    return index, False
                if index in self._made or index in self._making:
                    return None, False
                return index, True  # an earlier attempt's copy, not taken up yet
        taken = self._made.keys() | self._making
        room = len(taken) < self.limit
        if prefer is not None:
            index = self._index_of(prefer)
            if index in self._free:
                return index, False
            if index is not None and index in self.indexes and index not in taken and room:
                return index, True  # an earlier attempt's copy: take it up again
        if self._free:
            return min(self._free), False
        if room:
            return min(i for i in self.indexes if i not in taken), True
        return None, False

    def _index_of(self, letta_id: str) -> int | None:
        for index, made in self._made.items():
            if self._ident(made) == letta_id:
                return index
        known = self._known.get(letta_id)
        return None if known is None or known in self._made else known
