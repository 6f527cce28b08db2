"""Clean-up of the Letta objects a run created: its inline agents (every copy) and shared
blocks.

Owns `Cleanup`, the agent pool's deleting part (run.agents.AgentPool makes one and hands it
what it reads: the records an earlier attempt left, `made()` for the copies made so far and
the map of the shared blocks made): `retire(step)` once a step settled successfully deletes,
in the background, the inline agents no unsettled step needs any more (so clean-up overlaps
the rest of the run); `release(succeeded)` at the end deletes what remains, then the shared
blocks, then the deleted agents' own memory blocks (Letta leaves an agent's blocks behind
when it deletes the agent: they carry the run's tag, and are found attached to nothing).
Kept agents (`keep: true`, --keep-agents) and provisioned (`ref:`) agents are never deleted
(`disposable`); a run that did not succeed keeps everything, so `resume` continues the
agents' conversations. It also deletes copies an earlier attempt of the run made that this
attempt did not need again (`earlier_copies`), an earlier attempt's object the pool replaces
because its definition changed (`discard`), and, once the run succeeded, agents tagged with
the run that no record names (created by a call the run abandoned on a timeout or Ctrl-C).

Must not: create anything, or delete anything not created for this run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from orchestrator.backends import identity
from orchestrator.backends.base import RunBackend
from orchestrator.compile.plan import Plan
from orchestrator.errors import BackendError, NotFound
from orchestrator.run.records import Records
from orchestrator.run.replicas import parse_label, replica_label

Made = Callable[[], dict[str, dict[int, str]]]  # agent -> copy index -> Letta id, made so far


class Cleanup:
    def __init__(
        self,
        plan: Plan,
        backend: RunBackend,
        records: Records,
        *,
        run_id: str,
        keep: bool,
        reuse: Mapping[tuple[str, str], str],
        made: Made,
        blocks: Mapping[str, str],
    ):
        """`reuse`: (kind, name) -> Letta id an earlier attempt recorded; `made()`: the
        copies the pool has made so far of each agent it was asked for;
        `blocks`: shared block -> Letta id, as the pool makes them."""
        self.plan, self.backend, self.records = plan, backend, records
        self.run_id, self.keep = run_id, keep
        self._reuse, self._made, self._blocks = reuse, made, blocks
        self._users_left = agent_users(self.plan)  # agent -> top-level steps not yet settled
        self._retired: set[str] = set()
        self._deleted: list[str] = []
        self._cleaner = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cleanup")

    def disposable(self, name: str) -> bool:
        """May the run delete agent `name`'s copies? (Not if kept or provisioned.)"""
        spec = self.plan.agents[name]
        return not spec.ref and not self.keep and not spec.keep

    def discard(self, kind: str, label: str, letta_id: str, delete: Callable[[str], None]) -> None:
        """Delete an earlier attempt's object now and mark its record deleted."""
        self._delete((kind, label, letta_id, delete))

    def retire(self, step: str) -> None:
        """`step` settled successfully: delete the inline agents no other unsettled step
        needs, in the background, so clean-up overlaps the rest of the run."""
        for name in self._users_left:
            self._users_left[name].discard(step)
        for name, left in self._users_left.items():
            if not left:
                self._retire(name)

    def _retire(self, name: str) -> None:
        """Delete every copy of `name` (also copies an earlier attempt made that this one did
        not need again), once."""
        if name in self._retired or not self.disposable(name):
            return
        copies = self._made().get(name, {})
        leftovers = {
            i: letta_id
            for i, letta_id in earlier_copies(self._reuse, name).items()
            if i not in copies and letta_id not in copies.values()
        }
        if not copies and not leftovers:
            return
        self._retired.add(name)
        for index, letta_id in sorted({**leftovers, **copies}.items()):
            label = replica_label(name, index)
            self._deleted.append(label)
            self._cleaner.submit(
                self._delete, ("agent", label, letta_id, self.backend.delete_agent)
            )

    def release(self, succeeded: bool) -> list[str]:
        """At the end of the run: delete what it created, unless kept (a run that did not
        succeed keeps its agents for resume). Returns the labels of the agents deleted."""
        if succeeded:
            for name in self.plan.agents:
                self._retire(name)
            if not self.keep:
                self._sweep_unrecorded()
        self._cleaner.shutdown(wait=True)
        if not succeeded:
            self._sweep_own_blocks()
            return sorted(self._deleted)
        used = set(self._made()) | {
            parse_label(label)[0] for kind, label in self._reuse if kind == "agent"
        }
        kept = {
            b
            for n in used
            if n in self.plan.agents and not self.disposable(n)
            for b in self.plan.agents[n].shared_blocks
        }
        made = {
            **{n: i for (kind, n), i in self._reuse.items() if kind == "block"},
            **self._blocks,
        }  # with an earlier attempt's blocks this one did not touch
        blocks = [
            ("block", name, block_id, self.backend.delete_block)
            for name, block_id in made.items()
            if name not in kept
        ]
        with ThreadPoolExecutor(max_workers=8) as pool:  # after the agents that use them
            list(pool.map(self._delete, blocks))
        self._sweep_own_blocks()
        return sorted(self._deleted)

    def _sweep_own_blocks(self) -> None:
        """The memory blocks of the run's deleted agents: Letta deletes an agent, not its
        blocks, so they are found by the run's tag, attached to nothing. Shared blocks are
        not this sweep's (a failed run keeps them for resume; release decides)."""
        shared = set(self._blocks.values()) | {
            i for (kind, _), i in self._reuse.items() if kind == "block"
        }
        try:
            left = self.backend.find_blocks((identity.run_tag(self.run_id),), unattached=True)
        except BackendError:
            return  # best effort: `orchestrate runs gc` finds them later
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(
                pool.map(
                    lambda i: self._quietly(lambda: self.backend.delete_block(i)),
                    [b.id for b in left if b.id not in shared],
                )
            )

    def _sweep_unrecorded(self) -> None:
        """Agents carrying this run's tag that no record names: made by a call the run gave
        up on (a timeout, Ctrl-C) after the server had already created them. Nothing can
        use them; a run that succeeded deletes them with the rest."""
        known = {letta_id for (kind, _), letta_id in self._reuse.items() if kind == "agent"}
        known |= {letta_id for copies in self._made().values() for letta_id in copies.values()}
        try:
            tagged = self.backend.find_agents((identity.run_tag(self.run_id),))
        except BackendError:
            return  # best effort: the run itself succeeded
        for agent in tagged:
            if agent.id not in known:
                self._cleaner.submit(
                    self._quietly, functools.partial(self.backend.delete_agent, agent.id)
                )

    def _delete(self, item: tuple) -> None:
        kind, name, letta_id, delete = item
        self.records.flush()  # the final rows of the steps it served, before it is gone
        self._quietly(lambda: delete(letta_id))
        self.records.mark_deleted(self.run_id, kind, name)

    @staticmethod
    def _quietly(action: Callable[[], object]) -> None:
        try:
            action()
        except NotFound:
            pass


def earlier_copies(reuse: Mapping[tuple[str, str], str], name: str) -> dict[int, str]:
    """Copy index -> Letta id of agent `name`'s copies an earlier attempt created."""
    found = {}
    for (kind, label), letta_id in reuse.items():
        base, index = parse_label(label)
        if kind == "agent" and base == name:
            found[index] = letta_id
    return found


def agent_users(plan: Plan) -> dict[str, set[str]]:
    users: dict[str, set[str]] = {name: set() for name in plan.agents}
    for name, step in plan.steps.items():
        inner = step.loop.steps.values() if step.loop else (step,)
        for s in inner:
            if s.agent in users:
                users[s.agent].add(name)
    return users
