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

`find_referenced` looks the provisioned agents up before the run sends anything (a missing
one must not cost earlier steps' tokens). Deleting what the run created (`retire`,
`release`) is run.cleanup's part of the pool.

Must not: send messages (run.step does), or delete anything it did not create for this run.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.backends import identity
from orchestrator.backends.base import AgentRef, NewAgent, NewBlock, RunBackend
from orchestrator.compile.plan import Plan, StepPlan
from orchestrator.errors import RunError
from orchestrator.run.cleanup import Cleanup, agent_users
from orchestrator.run.records import Records
from orchestrator.run.replicas import Replicas, parse_label, replica_label
from orchestrator.run.secrets import Redactor, resolve_env
from orchestrator.spec.model import AgentSpec, BlockSpec
from orchestrator.spec.resources import load_agent_file

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


class AgentPool(Cleanup):
    def __init__(self, plan: Plan, backend: RunBackend, records: Records, redactor: Redactor,
                 *, run_id: str, namespace: str = identity.DEFAULT_NAMESPACE,
                 default_model: str | None = None, keep: bool = False,
                 reuse: Mapping[tuple[str, str], str] | None = None,
                 found: Mapping[str, Agent] | None = None,
                 assigned: Mapping[str, Sequence[int]] | None = None):
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

    def width(self, name: str) -> int:
        """How many copies this pool may use at once (its assigned ones, else all)."""
        assigned = self._assigned.get(name)
        return len(assigned) if assigned else self.replicas(name)

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
                    lambda agent: agent.ref.id, known if not spec.ref else None,
                    indexes=self._assigned.get(name))
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
        return self._found.get(name) or find_provisioned(self.plan, self.backend,
                                                         self.namespace, name, spec)

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

    def _request(self, name: str, spec: AgentSpec, index: int = 1) -> NewAgent:
        where = f"agents.{name}"
        env = lambda text, field: resolve_env(text, self.redactor, f"{where}.{field}")  # noqa: E731
        meta = {"run": self.run_id, "agent": name, "pipeline": self.plan.name}
        if self.replicas(name) > 1:
            meta["replica"] = index
        # Empty text is left to the server's default (`or None`), as for blocks below.
        return NewAgent(
            name=letta_name(f"{self.plan.name}-{replica_label(name, index)}-{self.run_id}"),
            model=self.agent_model(spec), embedding=self._embedding(spec),
            system=(env(spec.system, "system") or None) if spec.system else None,
            description=spec.description or None,
            memory_blocks=tuple(_block(b, env) for b in spec.memory_blocks),
            block_ids=tuple(self._shared_block(b) for b in spec.shared_blocks),
            tools=spec.tools,
            tags=(identity.RUN_TAG, identity.run_tag(self.run_id), *spec.tags),
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


def find_referenced(plan: Plan, backend: RunBackend, namespace: str) -> dict[str, Agent]:
    """Every provisioned (`ref:`) agent the steps use, looked up before the run sends
    anything; all missing ones are reported at once."""
    found, problems = {}, []
    for name, users in agent_users(plan).items():
        spec = plan.agents[name]
        if spec.ref and users:
            try:
                found[name] = find_provisioned(plan, backend, namespace, name, spec)
            except RunError as exc:
                problems.append(str(exc))
    if problems:
        raise RunError("; ".join(problems))
    return found


def find_provisioned(plan: Plan, backend: RunBackend, namespace: str, name: str,
                     spec: AgentSpec) -> Agent:
    """A `ref:` agent, by its managed identity tag (Letta names are not unique)."""
    managed = managed_name(spec.ref or "", plan.source)
    tag = identity.agent_tag(namespace, managed)
    found = backend.find_agents((tag,))
    if not found:
        raise RunError(f"agents.{name}: no provisioned agent '{managed}' in namespace "
                       f"'{namespace}' on {backend.base_url} (run "
                       "`orchestrate apply` first, or check --namespace)")
    if len(found) > 1:
        ids = ", ".join(a.id for a in found)
        raise RunError(f"agents.{name}: {len(found)} agents carry the identity '{tag}' "
                       f"({ids}); remove the duplicates")
    return Agent(found[0], inline=False, model=found[0].model, name=name)


def _block(spec: BlockSpec, env, tags: tuple[str, ...] = ()) -> NewBlock:
    return NewBlock(label=spec.label, value=env(spec.value, f"{spec.label}.value"),
                    description=spec.description or None, limit=spec.limit or None,
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

    if "\0" in ref:
        raise RunError(f"agent ref {ref!r}: not a file name")
    path = (Path(pipeline_file).parent / ref).resolve()
    if not path.is_file():
        raise RunError(f"agent ref '{ref}': no such file {path}")
    # Only that file, and what its agents use from sibling files (as `plan` reads it): a
    # ref into a large directory must not load the whole tree.
    resources = load_agent_file(path)
    agents = [name for name, agent in resources.agents.items()
              if Path(agent.mark.file).resolve() == path]
    if len(agents) != 1:
        raise RunError(f"agent ref '{ref}': expected one kind: Agent document in {path}, "
                       f"found {len(agents)}")
    return agents[0]
