"""The Letta agents (and shared blocks) a run talks to.

Owns `AgentPool`: lazily, on a step's first use, it finds a referenced (provisioned) agent
by its managed identity tag (`identity.agent_tag(namespace, name)`: Letta names are not
unique) or creates an inline agent for the run, tagged RUN_TAG + `run_tag(run_id)`, with the
pipeline's shared blocks created once and attached by id. `${env:VAR}` in agent fields is
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

`release()` deletes the inline agents and blocks of the run unless kept (`keep: true`,
--keep-agents); a run that did not succeed keeps them, so `resume` continues their
conversations.

Must not: send messages (run.step does), or delete anything it did not create for this run.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from orchestrator.backends import identity
from orchestrator.backends.base import AgentRef, AgentRequest, BlockRequest, RunBackend
from orchestrator.compile.plan import Plan, StepPlan
from orchestrator.errors import NotFound, RunError
from orchestrator.run.records import Records
from orchestrator.run.replicas import Replicas
from orchestrator.run.secrets import Redactor, resolve_env
from orchestrator.spec import load_resources
from orchestrator.spec.model import AgentSpec, BlockSpec

DEFAULT_EMBEDDING = "openai/text-embedding-3-small"


@dataclass(frozen=True, eq=False)
class Agent:
    ref: AgentRef
    inline: bool
    model: str | None
    name: str = ""  # the pipeline's name for it
    replica: int = 1  # which copy (1-based) of an agent with `replicas: N`

    @property
    def label(self) -> str:
        return replica_label(self.name, self.replica)


def replica_label(name: str, replica: int) -> str:
    """How run records and Letta names tell the copies apart: `analyst`, `analyst#2`, ..."""
    return name if replica == 1 else f"{name}#{replica}"


def _parse_label(label: str) -> tuple[str, int]:
    name, _, index = label.partition("#")
    return name, int(index) if index.isdigit() else 1


class AgentPool:
    def __init__(self, plan: Plan, backend: RunBackend, records: Records, redactor: Redactor,
                 *, run_id: str, namespace: str = identity.DEFAULT_NAMESPACE,
                 default_model: str | None = None, keep: bool = False,
                 reuse: Mapping[tuple[str, str], str] | None = None):
        self.plan, self.backend, self.records, self.redactor = plan, backend, records, redactor
        self.run_id, self.namespace, self.keep = run_id, namespace, keep
        self._default_model = default_model
        self._reuse = dict(reuse or {})  # (kind, name) -> letta id from an earlier attempt
        self._alive: dict[str, AgentRef] | None = None  # the run's agents found on resume
        self._groups: dict[str, Replicas[Agent]] = {}
        self._affinity: dict[object, str] = {}  # caller's key -> id of the copy it last had
        self._blocks: dict[str, str] = {}
        self._lock = threading.Lock()  # guards the maps above; copies are made outside it
        self._block_lock = threading.Lock()  # one creation per shared block
        self._models: tuple[list[str], list[str]] | None = None
        self._users_left = _agent_users(plan)  # agent -> top-level steps not yet settled
        self._retired: set[str] = set()
        self._deleted: list[str] = []
        self._cleaner = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cleanup")

    # ----- models -----
    def default_model(self) -> str:
        if self._default_model is None:
            chat = self._server_models()[0]
            proxied = [m for m in chat if m.startswith("openai-proxy/")]
            if not (proxied or chat):
                raise RunError(f"the server at {self.backend.base_url} offers no chat model: "
                               "pass --model or set ORCHESTRATE_MODEL")
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
        chosen = spec.embedding or self.plan.defaults.embedding or os.environ.get(
            "ORCHESTRATE_EMBEDDING")
        if chosen:
            return chosen
        available = self._server_models()[1]
        return DEFAULT_EMBEDDING if DEFAULT_EMBEDDING in available or not available else available[0]

    def _server_models(self) -> tuple[list[str], list[str]]:
        if self._models is None:
            self._models = self.backend.models()
        return self._models

    # ----- agents -----
    def replicas(self, name: str) -> int:
        """How many copies of the agent may exist (1 for a provisioned agent)."""
        spec = self.plan.agents[name]
        return 1 if spec.ref else max(1, spec.replicas)

    def lease(self, name: str, *, need: str | None = None, prefer: str | None = None,
              affinity: object = None, on_wait: Callable[[], None] | None = None,
              on_got: Callable[[], None] | None = None,
              check: Callable[[], None] | None = None) -> Agent:
        """A copy of agent `name` for the caller alone until `give_back` (found or created on
        first use). `need`: the Letta id it must be (a message in flight went there);
        `prefer`: the id it should be if free; `affinity`: a key whose last copy is preferred
        (loop iterations of one unit). Other arguments: see `Replicas.lease`."""
        group = self._group(name)
        if prefer is None and affinity is not None:
            prefer = self._affinity.get(affinity)
        agent = group.lease(need=need, prefer=prefer, on_wait=on_wait, on_got=on_got,
                            check=check)
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
                    self.replicas(name), lambda index: self._make(name, spec, index),
                    lambda agent: agent.ref.id, known if not spec.ref else None)
            return self._groups[name]

    def _earlier(self, name: str) -> dict[int, str]:
        """Copy index -> Letta id of the agent's copies an earlier attempt created."""
        found = {}
        for (kind, label), letta_id in self._reuse.items():
            base, index = _parse_label(label)
            if kind == "agent" and base == name:
                found[index] = letta_id
        return found

    def _make(self, name: str, spec: AgentSpec, index: int) -> Agent:
        return self._find(name, spec) if spec.ref else self._inline(name, spec, index)

    def _find(self, name: str, spec: AgentSpec) -> Agent:
        managed = managed_name(spec.ref or "", self.plan.source)
        tag = identity.agent_tag(self.namespace, managed)
        found = self.backend.find_agents((tag,))
        if not found:
            raise RunError(f"agents.{name}: no provisioned agent '{managed}' in namespace "
                           f"'{self.namespace}' on {self.backend.base_url} (run "
                           "`orchestrate apply` first, or check --namespace)")
        if len(found) > 1:
            ids = ", ".join(a.id for a in found)
            raise RunError(f"agents.{name}: {len(found)} agents carry the identity '{tag}' "
                           f"({ids}); remove the duplicates")
        return Agent(found[0], inline=False, model=found[0].model, name=name)

    def _inline(self, name: str, spec: AgentSpec, index: int) -> Agent:
        label = replica_label(name, index)
        earlier = self._reuse.get(("agent", label))
        if earlier:
            with self._lock:
                if self._alive is None:
                    self._alive = {a.id: a for a in self.backend.find_agents(
                        (identity.run_tag(self.run_id),))}
                alive = self._alive.get(earlier)
            if alive is not None:
                return Agent(alive, inline=True, model=self.agent_model(spec), name=name,
                             replica=index)
        request = self._request(name, spec, index)
        ref = self.backend.create_agent(request)
        self.records.add_resource(self.run_id, "agent", label, ref.id)
        return Agent(ref, inline=True, model=request.model, name=name, replica=index)

    def _request(self, name: str, spec: AgentSpec, index: int = 1) -> AgentRequest:
        where = f"agents.{name}"
        env = lambda text, field: resolve_env(text, self.redactor, f"{where}.{field}")  # noqa: E731
        meta = {"run": self.run_id, "agent": name, "pipeline": self.plan.name}
        if self.replicas(name) > 1:
            meta["replica"] = index
        return AgentRequest(
            name=letta_name(f"{self.plan.name}-{replica_label(name, index)}-{self.run_id}"),
            model=self.agent_model(spec), embedding=self._embedding(spec),
            system=env(spec.system, "system") if spec.system else None,
            description=spec.description,
            memory_blocks=tuple(_block(b, env) for b in spec.memory_blocks),
            block_ids=tuple(self._shared_block(b) for b in spec.shared_blocks),
            tools=spec.tools,
            tags=(identity.RUN_TAG, identity.run_tag(self.run_id), *spec.tags),
            metadata={identity.METADATA_KEY: meta},
            tool_env={k: env(v, f"tool_env.{k}") for k, v in spec.tool_env.items()},
            context_window=spec.context_window,
        )

    def _shared_block(self, name: str) -> str:
        with self._block_lock:  # copies are made in parallel: the block is made once
            if name not in self._blocks:
                self._blocks[name] = self._reuse.get(("block", name)) or self._new_block(name)
            return self._blocks[name]

    def _new_block(self, name: str) -> str:
        spec = self.plan.shared_blocks[name]
        env = lambda text, field: resolve_env(  # noqa: E731
            text, self.redactor, f"shared_blocks.{name}.{field}")
        request = _block(spec, env, tags=(identity.RUN_TAG, identity.run_tag(self.run_id)))
        block_id = self.backend.create_block(request)
        self.records.add_resource(self.run_id, "block", name, block_id)
        return block_id

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
        if name in self._retired or not self._disposable(name):
            return
        with self._lock:
            group = self._groups.get(name)
        copies = {index: a.ref.id for index, a in (group.made() if group else {}).items()}
        leftovers = {i: letta_id for i, letta_id in self._earlier(name).items()
                     if i not in copies and letta_id not in copies.values()}
        if not copies and not leftovers:
            return
        self._retired.add(name)
        for index, letta_id in sorted({**leftovers, **copies}.items()):
            label = replica_label(name, index)
            self._deleted.append(label)
            self._cleaner.submit(self._delete, ("agent", label, letta_id,
                                                self.backend.delete_agent))

    def release(self, succeeded: bool) -> list[str]:
        """At the end of the run: delete what it created, unless kept (a run that did not
        succeed keeps its agents for resume). Returns the labels of the agents deleted."""
        if succeeded:
            for name in self.plan.agents:
                self._retire(name)
        self._cleaner.shutdown(wait=True)
        if not succeeded:
            return sorted(self._deleted)
        used = set(self._groups) | {_parse_label(label)[0] for kind, label in self._reuse
                                    if kind == "agent"}
        kept = {b for n in used if n in self.plan.agents and not self._disposable(n)
                for b in self.plan.agents[n].shared_blocks}
        made = {**{n: i for (kind, n), i in self._reuse.items() if kind == "block"},
                **self._blocks}  # with an earlier attempt's blocks this one did not touch
        blocks = [("block", name, block_id, self.backend.delete_block)
                  for name, block_id in made.items() if name not in kept]
        with ThreadPoolExecutor(max_workers=8) as pool:  # after the agents that use them
            list(pool.map(self._delete, blocks))
        return sorted(self._deleted)

    def _disposable(self, name: str) -> bool:
        spec = self.plan.agents[name]
        return not spec.ref and not self.keep and not spec.keep

    def _delete(self, item: tuple) -> None:
        kind, name, letta_id, delete = item
        self._quietly(lambda: delete(letta_id))
        self.records.mark_deleted(self.run_id, kind, name)

    @staticmethod
    def _quietly(action) -> None:
        try:
            action()
        except NotFound:
            pass


def _agent_users(plan: Plan) -> dict[str, set[str]]:
    users: dict[str, set[str]] = {name: set() for name in plan.agents}
    for name, step in plan.steps.items():
        inner = step.loop.steps.values() if step.loop else (step,)
        for s in inner:
            if s.agent in users:
                users[s.agent].add(name)
    return users


def _block(spec: BlockSpec, env, tags: tuple[str, ...] = ()) -> BlockRequest:
    return BlockRequest(label=spec.label, value=env(spec.value, f"{spec.label}.value"),
                        description=spec.description, limit=spec.limit,
                        read_only=spec.read_only, tags=tags)


def letta_name(text: str) -> str:
    """Letta accepts letters, digits, spaces, hyphens, underscores and apostrophes in names."""
    return re.sub(r"[^\w \-']", "-", text)


def managed_name(ref: str, pipeline_file: str) -> str:
    """`ref: researcher` names a managed agent; `ref: agents/researcher.yaml` its resource
    file (relative to the pipeline), whose one `kind: Agent` document names it. The file is
    read by the same loader `orchestrate apply` uses, so both agree on the name."""
    if not ref.endswith((".yaml", ".yml")):
        return ref

    path = (Path(pipeline_file).parent / ref).resolve()
    # Its directory is loaded whole: an Agent file may use blocks and folders declared
    # in sibling files, exactly as `orchestrate apply DIR` sees it.
    resources = load_resources(path.parent)
    agents = [name for name, agent in resources.agents.items()
              if Path(agent.mark.file).resolve() == path]
    if len(agents) != 1:
        raise RunError(f"agent ref '{ref}': expected one kind: Agent document in {path}, "
                       f"found {len(agents)}")
    return agents[0]
