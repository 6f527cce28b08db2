"""The Letta agents (and shared blocks) a run talks to.

Owns `AgentPool`: lazily, on a step's first use, it finds a referenced (provisioned) agent
by its managed identity tag (`identity.agent_tag(namespace, name)`: Letta names are not
unique) or creates an inline agent for the run, tagged RUN_TAG + `run_tag(run_id)` (its own
memory blocks too; KEEP_TAG if it is kept), with the pipeline's shared blocks created once and
attached by id. `${env:VAR}` in agent fields is
resolved here, at the last moment, and registered with the run's Redactor.

A Letta agent is one conversation, so its messages go one at a time: a unit *leases* an
agent (`lease` / `give_back`) for all of its attempts. An inline agent with `replicas: N`
has up to N copies, made only as concurrency demands (copy 1 is `<agent>`, copy k is
`<agent>#k` in the run records), each its own Letta agent with the same definition and the
same shared blocks; which copy a unit gets is decided in run.replicas.

Model choice: a step's model is step.model, else the agent's, else the pipeline default,
else the run default (--model / ORCHESTRATE_MODEL / the server's first `openai-proxy/`
model). A step whose model differs from its agent's sends that one message with Letta's
`override_model`: same agent, same memory, another model for that turn.

Provisioned (`ref:`) agents are found by run.provisioned. Deleting what the run created
(`retire`, `release`) is run.cleanup's part of the pool.

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
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from orchestrator import settings
from orchestrator.backends import identity
from orchestrator.backends.base import AgentRef, NewAgent, NewBlock, RunBackend
from orchestrator.compile.fingerprint import agent_payload, block_payload, definition
from orchestrator.compile.plan import Plan, StepPlan
from orchestrator.errors import RunError
from orchestrator.run.cleanup import Cleanup
from orchestrator.run.provisioned import Agent, find_provisioned
from orchestrator.run.records import Records
from orchestrator.run.replicas import Replicas, parse_label, replica_label
from orchestrator.run.secrets import Redactor, resolve_env
from orchestrator.spec.agents import env_templates
from orchestrator.spec.model import AgentSpec, BlockSpec

DEFAULT_EMBEDDING = "openai/text-embedding-3-small"
# Tags of an inline agent: the digest of the definition it was made from, and of each
# shared block it attaches (`orchestrate:block-def=<block>=<digest>`).
DEF_TAG, BLOCK_DEF_TAG = "orchestrate:def=", "orchestrate:block-def="
_DIGEST = 16  # hex digits of a definition digest in a tag


class AgentPool(Cleanup):
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
        self.plan, self.backend, self.records, self.redactor = plan, backend, records, redactor
        self.run_id, self.namespace, self.keep = run_id, namespace, keep
        self._default_model = default_model
        self._reuse = dict(reuse or {})  # (kind, name) -> letta id from an earlier attempt
        # The run's agents known to exist (found on resume; or given: a Temporal worker in a
        # live run trusts the records, saving a lookup per step)
        self._alive: dict[str, AgentRef] | None = dict(alive) if alive is not None else None
        self._groups: dict[str, Replicas[Agent]] = {}
        self._affinity: dict[object, str] = {}  # caller's key -> id of the copy it last had
        self._blocks: dict[str, str] = {}
        self._lock = threading.Lock()  # guards the maps above; copies are made outside it
        self._block_lock = threading.Lock()  # one creation per shared block
        self._models: tuple[list[str], list[str]] | None = models  # the server's, once asked
        self._found = dict(found or {})  # provisioned agents looked up before the run
        # agent -> the copies this pool may use (the Temporal workflow leases copies to units
        # across workers); None: every copy, leased within this process
        self._assigned = dict(assigned or {})
        self._init_cleanup()

    # ----- models -----
    def default_model(self) -> str:
        if self._default_model is None:
            chat = self._server_models()[0]
            proxied = [m for m in chat if m.startswith("openai-proxy/")]
            if not (proxied or chat):
                raise RunError(
                    f"the server at {self.backend.base_url} offers no chat model: "
                    "pass --model or set ORCHESTRATE_MODEL"
                )
            self._default_model = (proxied or chat)[0]
        return self._default_model

    def agent_model(self, spec: AgentSpec) -> str:
        return spec.model or self.plan.defaults.model or self.default_model()

    def step_model(self, step: StepPlan, agent: Agent | None = None) -> str | None:
        """The override for this step's messages, or None to use the agent's own model."""
        if not step.model:
            return None
        return None if agent and agent.model == step.model else step.model

    def _embedding(self, spec: AgentSpec) -> str:
        chosen = (
            spec.embedding
            or self.plan.defaults.embedding
            or settings.value("ORCHESTRATE_EMBEDDING")
        )
        if chosen:
            return chosen
        available = self._server_models()[1]
        return (
            DEFAULT_EMBEDDING if DEFAULT_EMBEDDING in available or not available else available[0]
        )

    def server_models(self) -> tuple[list[str], list[str]]:
        """(chat, embedding) model handles the server offers (asked once per pool)."""
        return self._server_models()

    def _server_models(self) -> tuple[list[str], list[str]]:
        if self._models is None:
            self._models = self.backend.models()
        return self._models

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
                known = {letta_id: index for index, letta_id in self._earlier(name).items()}
                self._groups[name] = Replicas(
                    self.replicas(name),
                    lambda index: self._make(name, spec, index),
                    lambda agent: agent.ref.id,
                    known if not spec.ref else None,
                    indexes=self._assigned.get(name),
                )
            return self._groups[name]

    def _earlier(self, name: str) -> dict[int, str]:
        """Copy index -> Letta id of the agent's copies an earlier attempt created."""
        found = {}
        for (kind, label), letta_id in self._reuse.items():
            base, index = parse_label(label)
            if kind == "agent" and base == name:
                found[index] = letta_id
        return found

    def _make(self, name: str, spec: AgentSpec, index: int) -> Agent:
        return self._find(name, spec) if spec.ref else self._inline(name, spec, index)

    def _find(self, name: str, spec: AgentSpec) -> Agent:
        return self._found.get(name) or find_provisioned(
            self.plan, self.backend, self.namespace, name, spec
        )

    def _inline(self, name: str, spec: AgentSpec, index: int) -> Agent:
        label = replica_label(name, index)
        made_from = DEF_TAG + self._definition(spec)
        earlier = self._reuse.get(("agent", label))
        if earlier:
            alive = self._alive_agents().get(earlier)
            if alive is not None and _same(alive.tags, DEF_TAG, made_from):
                return Agent(alive, model=self.agent_model(spec), name=name, replica=index)
            if alive is not None:  # made from another definition: never answer with it
                self._discard(
                    "agent", label, earlier, self.backend.delete_agent, self._disposable(name)
                )
        request = self._request(name, spec, index)
        request = dataclasses.replace(
            request,
            tags=(
                *request.tags,
                made_from,
                *(f"{BLOCK_DEF_TAG}{b}={self._block_definition(b)}" for b in spec.shared_blocks),
            ),
        )
        ref = self.backend.create_agent(request)
        self.records.add_resource(self.run_id, "agent", label, ref.id)
        return Agent(ref, model=request.model, name=name, replica=index)

    def _definition(self, spec: AgentSpec) -> str:
        return definition(
            {
                "agent": agent_payload(spec, self.plan.shared_blocks),
                "model": self.agent_model(spec),
                "embedding": self._embedding(spec),
            }
        )[:_DIGEST]

    def _block_definition(self, name: str) -> str:
        return block_payload(self.plan.shared_blocks[name])[:_DIGEST]

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
        prefix, now = f"{BLOCK_DEF_TAG}{name}=", self._block_definition(name)
        ids = {i for (kind, _), i in self._reuse.items() if kind == "agent"}
        return any(
            not _same(agent.tags, prefix, prefix + now)
            for letta_id, agent in self._alive_agents().items()
            if letta_id in ids
        )

    def _discard(
        self, kind: str, label: str, letta_id: str, delete: Callable[[str], None], disposable: bool
    ) -> None:
        """An earlier attempt's object whose definition changed: deleted (unless kept), so
        the new one made in its place is all the run's records know."""
        if disposable:
            self._delete((kind, label, letta_id, delete))

    def _request(self, name: str, spec: AgentSpec, index: int = 1) -> NewAgent:
        where = f"agents.{name}"
        env = lambda text, field: resolve_env(text, self.redactor, f"{where}.{field}")  # noqa: E731
        meta: dict[str, Any] = {"run": self.run_id, "agent": name, "pipeline": self.plan.name}
        run_tags = (identity.RUN_TAG, identity.run_tag(self.run_id))
        if self.replicas(name) > 1:
            meta["replica"] = index
        if templates := env_templates(spec):  # names only: export writes them back
            meta["env_fields"] = templates
        # Empty text is left to the server's default (`or None`), as for blocks below.
        return NewAgent(
            name=letta_name(f"{self.plan.name}-{replica_label(name, index)}-{self.run_id}"),
            model=self.agent_model(spec),
            embedding=self._embedding(spec),
            system=(env(spec.system, "system") or None) if spec.system else None,
            description=spec.description or None,
            # its own blocks carry the run's tags: deleting the agent leaves them behind
            memory_blocks=tuple(_block(b, env, tags=run_tags) for b in spec.memory_blocks),
            block_ids=tuple(self._shared_block(b) for b in spec.shared_blocks),
            tools=spec.tools,
            tags=(*run_tags, *(() if self._disposable(name) else (identity.KEEP_TAG,)), *spec.tags),
            metadata={identity.METADATA_KEY: meta},
            tool_env={k: env(v, f"tool_env.{k}") for k, v in spec.tool_env.items()},
            context_window=spec.context_window or None,
        )

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
        spec = self.plan.shared_blocks[name]
        env = lambda text, field: resolve_env(  # noqa: E731
            text, self.redactor, f"shared_blocks.{name}.{field}"
        )
        request = _block(spec, env, tags=(identity.RUN_TAG, identity.run_tag(self.run_id)))
        block_id = self.backend.create_block(request)
        self.records.add_resource(self.run_id, "block", name, block_id)
        return block_id


def _same(tags: tuple[str, ...], prefix: str, expected: str) -> bool:
    """Does the tag starting with `prefix` say `expected`? (An agent made before definitions
    were tagged cannot say: taken as the same.)"""
    told = [tag for tag in tags if tag.startswith(prefix)]
    return not told or expected in told


def _block(spec: BlockSpec, env: Callable[[str, str], str], tags: tuple[str, ...] = ()) -> NewBlock:
    return NewBlock(
        label=spec.label,
        value=env(spec.value, f"{spec.label}.value"),
        description=spec.description or None,
        limit=spec.limit or None,
        read_only=spec.read_only,
        tags=tags,
    )


def letta_name(text: str) -> str:
    """Letta accepts letters, digits, spaces, hyphens, underscores and apostrophes in names."""
    return re.sub(r"[^\w \-']", "-", text)
