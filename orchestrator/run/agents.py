"""The Letta agents (and shared blocks) a run talks to.

Owns `AgentPool`: lazily, on a step's first use, it finds a referenced (provisioned) agent
(run.provisioned: by its managed identity tag, unless looked up before the run) or creates
an inline agent for the run from run.inline's request, with the pipeline's shared blocks
created once and attached by id. It is made of parts it composes: `models` (run.models:
which model and embedding) and `cleanup` (run.cleanup: deleting what the run created,
`retire` / `release`); the methods of the same names are theirs, kept here for callers.

A Letta agent is one conversation, so its messages go one at a time: a unit *leases* an
agent (`lease` / `give_back`) for all of its attempts. An inline agent with `replicas: N`
has up to N copies, made only as concurrency demands (copy 1 is `<agent>`, copy k is
`<agent>#k` in the run records), each its own Letta agent with the same definition and the
same shared blocks; which copy a unit gets is decided in run.replicas.

Resume takes up an earlier attempt's inline agents and shared blocks only if they were made
from the same definition: an inline agent carries a digest of what it was made from
(`DEF_TAG`: its fields, its shared blocks, its effective model and embedding) and one of
each shared block it attaches (`BLOCK_DEF_TAG`). One made from another definition is deleted
(unless kept) and made again, so a step re-run after an edit is answered by an agent that
matches the file.

Must not: send messages (run.step does), or delete anything it did not create for this run.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence

from orchestrator.backends import identity
from orchestrator.backends.base import AgentRef, RunBackend
from orchestrator.compile.plan import Plan, StepPlan
from orchestrator.run import inline
from orchestrator.run.cleanup import Cleanup, earlier_copies
from orchestrator.run.inline import BLOCK_DEF_TAG, DEF_TAG, same
from orchestrator.run.models import Models
from orchestrator.run.provisioned import Agent, find_provisioned
from orchestrator.run.records import Records
from orchestrator.run.replicas import Replicas, replica_label
from orchestrator.run.secrets import Redactor
from orchestrator.spec.model import AgentSpec


class AgentPool:
    def __init__(
        self,
        plan: Plan,
        backend: RunBackend,
        records: Records,
        redactor: Redactor,
        *,
        run_id: str,
        namespace: str = identity.DEFAULT_NAMESPACE,
        default_model: str | None = None,
        keep: bool = False,
        reuse: Mapping[tuple[str, str], str] | None = None,
        found: Mapping[str, Agent] | None = None,
        assigned: Mapping[str, Sequence[int]] | None = None,
        alive: Mapping[str, AgentRef] | None = None,
        models: tuple[list[str], list[str]] | None = None,
    ):
        self.plan, self.records, self.redactor = plan, records, redactor
        self.run_id, self.namespace, self.keep = run_id, namespace, keep
        self._reuse = dict(reuse or {})  # (kind, name) -> letta id from an earlier attempt
        # The run's agents known to exist (found on resume; or given: a Temporal worker in a
        # live run trusts the records, saving a lookup per step)
        self._alive: dict[str, AgentRef] | None = dict(alive) if alive is not None else None
        self._groups: dict[str, Replicas[Agent]] = {}
        self._affinity: dict[object, str] = {}  # caller's key -> id of the copy it last had
        self._blocks: dict[str, str] = {}
        self._lock = threading.Lock()  # guards the maps above; copies are made outside it
        self._block_lock = threading.Lock()  # one creation per shared block
        self._found = dict(found or {})  # provisioned agents looked up before the run
        # agent -> the copies this pool may use (the Temporal workflow leases copies to units
        # across workers); None: every copy, leased within this process
        self._assigned = dict(assigned or {})
        self.models = Models(plan, backend, default_model=default_model, server=models)
        self.cleanup = Cleanup(
            plan,
            backend,
            records,
            run_id=run_id,
            keep=keep,
            reuse=self._reuse,
            made=self._made,
            blocks=self._blocks,
        )
        self.backend = backend

    @property
    def backend(self) -> RunBackend:
        return self._backend

    @backend.setter
    def backend(self, backend: RunBackend) -> None:
        """Replaced by a traced run's worker (client spans): every part uses the new one."""
        self._backend = self.models.backend = self.cleanup.backend = backend

    # ----- the parts', for callers -----
    def default_model(self) -> str:
        return self.models.default()

    def agent_model(self, spec: AgentSpec) -> str:
        return self.models.agent(spec)

    def step_model(self, step: StepPlan, agent: Agent | None = None) -> str | None:
        """The override for this step's messages, or None to use the agent's own model."""
        return self.models.step(step, agent)

    def server_models(self) -> tuple[list[str], list[str]]:
        """(chat, embedding) model handles the server offers (asked once per pool)."""
        return self.models.server()

    def retire(self, step: str) -> None:
        """`step` settled successfully: its agents no other step needs are deleted."""
        self.cleanup.retire(step)

    def release(self, succeeded: bool) -> list[str]:
        """At the end of the run: delete what it created, unless kept."""
        return self.cleanup.release(succeeded)

    # ----- agents -----
    def replicas(self, name: str) -> int:
        """How many copies of the agent may exist (1 for a provisioned agent)."""
        spec = self.plan.agents[name]
        return 1 if spec.ref else max(1, spec.replicas)

    def width(self, name: str) -> int:
        """How many copies this pool may use at once (its assigned ones, else all)."""
        assigned = self._assigned.get(name)
        return len(assigned) if assigned else self.replicas(name)

    def lease(
        self,
        name: str,
        *,
        need: str | None = None,
        prefer: str | None = None,
        affinity: object = None,
        on_wait: Callable[[], None] | None = None,
        on_got: Callable[[], None] | None = None,
        check: Callable[[], None] | None = None,
    ) -> Agent:
        """A copy of agent `name` for the caller alone until `give_back` (found or created on
        first use). `need`: the Letta id it must be (a message in flight went there);
        `prefer`: the id it should be if free; `affinity`: a key whose last copy is preferred
        (loop iterations of one unit). Other arguments: see `Replicas.lease`."""
        group = self._group(name)
        if prefer is None and affinity is not None:
            prefer = self._affinity.get(affinity)
        agent = group.lease(need=need, prefer=prefer, on_wait=on_wait, on_got=on_got, check=check)
        if affinity is not None:
            self._affinity[affinity] = agent.ref.id
        return agent

    def give_back(self, agent: Agent) -> None:
        self._groups[agent.name].give_back(agent)

    def _group(self, name: str) -> Replicas[Agent]:
        with self._lock:
            if name not in self._groups:
                spec = self.plan.agents[name]
                known = {
                    letta_id: index for index, letta_id in earlier_copies(self._reuse, name).items()
                }
                self._groups[name] = Replicas(
                    self.replicas(name),
                    lambda index: self._make(name, spec, index),
                    lambda agent: agent.ref.id,
                    known if not spec.ref else None,
                    indexes=self._assigned.get(name),
                )
            return self._groups[name]

    def _make(self, name: str, spec: AgentSpec, index: int) -> Agent:
        return self._find(name, spec) if spec.ref else self._inline(name, spec, index)

    def _find(self, name: str, spec: AgentSpec) -> Agent:
        return self._found.get(name) or find_provisioned(
            self.plan, self.backend, self.namespace, name, spec
        )

    def _inline(self, name: str, spec: AgentSpec, index: int) -> Agent:
        label = replica_label(name, index)
        model = self.models.agent(spec)
        made_from = DEF_TAG + inline.agent_definition(
            self.plan, spec, model, self.models.embedding(spec)
        )
        earlier = self._reuse.get(("agent", label))
        if earlier:
            alive = self._alive_agents().get(earlier)
            if alive is not None and same(alive.tags, DEF_TAG, made_from):
                return Agent(alive, model=model, name=name, replica=index)
            if alive is not None:  # made from another definition: never answer with it
                self._discard(
                    "agent", label, earlier, self.backend.delete_agent, self._disposable(name)
                )
        request = inline.agent_request(
            self.plan,
            name,
            spec,
            index,
            run_id=self.run_id,
            redactor=self.redactor,
            model=model,
            embedding=self.models.embedding(spec),
            copies=self.replicas(name),
            disposable=self._disposable(name),
            block_ids=lambda: [self._shared_block(b) for b in spec.shared_blocks],
        )
        request = dataclasses.replace(
            request,
            tags=(
                *request.tags,
                made_from,
                *(
                    f"{BLOCK_DEF_TAG}{b}={inline.block_definition(self.plan, b)}"
                    for b in spec.shared_blocks
                ),
            ),
        )
        ref = self.backend.create_agent(request)
        self.records.add_resource(self.run_id, "agent", label, ref.id)
        return Agent(ref, model=request.model, name=name, replica=index)

    def _made(self) -> dict[str, dict[int, str]]:
        """Agent -> copy index -> Letta id of the copies made so far (every agent asked for)."""
        with self._lock:
            groups = dict(self._groups)
        return {
            name: {index: agent.ref.id for index, agent in group.made().items()}
            for name, group in groups.items()
        }

    def _disposable(self, name: str) -> bool:
        return self.cleanup.disposable(name)

    def _alive_agents(self) -> dict[str, AgentRef]:
        """The run's agents that still exist (asked once: resume)."""
        with self._lock:
            if self._alive is None:
                self._alive = {
                    a.id: a for a in self.backend.find_agents((identity.run_tag(self.run_id),))
                }
            return self._alive

    def _block_changed(self, name: str) -> bool:
        """Was the earlier attempt's copy of this shared block made from another definition?
        (Its agents say: each carries the digest of every block it attaches.)"""
        prefix = f"{BLOCK_DEF_TAG}{name}="
        now = inline.block_definition(self.plan, name)
        ids = {i for (kind, _), i in self._reuse.items() if kind == "agent"}
        return any(
            not same(agent.tags, prefix, prefix + now)
            for letta_id, agent in self._alive_agents().items()
            if letta_id in ids
        )

    def _discard(
        self, kind: str, label: str, letta_id: str, delete: Callable[[str], None], disposable: bool
    ) -> None:
        """An earlier attempt's object whose definition changed: deleted (unless kept), so
        the new one made in its place is all the run's records know."""
        if disposable:
            self.cleanup.discard(kind, label, letta_id, delete)

    def shared_block(self, name: str) -> str:
        """The run's copy of a shared block (made on first use, then recorded)."""
        return self._shared_block(name)

    def _shared_block(self, name: str) -> str:
        with self._block_lock:  # copies are made in parallel: the block is made once
            if name not in self._blocks:
                earlier = self._reuse.get(("block", name))
                if earlier and self._block_changed(name):
                    users = [n for n, a in self.plan.agents.items() if name in a.shared_blocks]
                    self._discard(
                        "block",
                        name,
                        earlier,
                        self.backend.delete_block,
                        all(self._disposable(n) for n in users),
                    )
                    earlier = None
                self._blocks[name] = earlier or self._new_block(name)
            return self._blocks[name]

    def _new_block(self, name: str) -> str:
        request = inline.block_request(self.plan, name, run_id=self.run_id, redactor=self.redactor)
        block_id = self.backend.create_block(request)
        self.records.add_resource(self.run_id, "block", name, block_id)
        return block_id
