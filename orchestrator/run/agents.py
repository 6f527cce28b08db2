"""The Letta agents (and shared blocks) a run talks to.

Owns `AgentPool`: lazily, on a step's first use, it finds a referenced (provisioned) agent
by its managed identity tag (`identity.agent_tag(namespace, name)`: Letta names are not
unique) or creates an inline agent for the run, tagged RUN_TAG + `run_tag(run_id)`, with the
pipeline's shared blocks created once and attached by id. `${env:VAR}` in agent fields is
resolved here, at the last moment, and registered with the run's Redactor. Each agent has
one lock: a Letta agent is one conversation, so its messages go one at a time.

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
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.backends import identity
from orchestrator.backends.base import AgentRef, AgentRequest, BlockRequest, RunBackend
from orchestrator.compile.plan import Plan, StepPlan
from orchestrator.errors import NotFound, RunError
from orchestrator.run.records import Records
from orchestrator.run.secrets import Redactor, resolve_env
from orchestrator.spec import load_resources
from orchestrator.spec.model import AgentSpec, BlockSpec

DEFAULT_EMBEDDING = "openai/text-embedding-3-small"


@dataclass
class Agent:
    ref: AgentRef
    inline: bool
    model: str | None
    lock: threading.Lock = field(default_factory=threading.Lock)


class AgentPool:
    def __init__(self, plan: Plan, backend: RunBackend, records: Records, redactor: Redactor,
                 *, run_id: str, namespace: str = identity.DEFAULT_NAMESPACE,
                 default_model: str | None = None, keep: bool = False,
                 reuse: Mapping[tuple[str, str], str] | None = None):
        self.plan, self.backend, self.records, self.redactor = plan, backend, records, redactor
        self.run_id, self.namespace, self.keep = run_id, namespace, keep
        self._default_model = default_model
        self._reuse = dict(reuse or {})  # (kind, name) -> letta id from an earlier attempt
        self._agents: dict[str, Agent] = {}
        self._blocks: dict[str, str] = {}
        self._lock = threading.Lock()  # guards creation; per-agent locks guard messaging
        self._models: tuple[list[str], list[str]] | None = None
        self._users_left = _agent_users(plan)  # agent -> top-level steps not yet settled
        self._retired: set[str] = set()
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

    def step_model(self, step: StepPlan) -> str | None:
        """The override for this step's messages, or None to use the agent's own model."""
        if not step.model:
            return None
        agent = self._agents.get(step.agent)
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
    def acquire(self, name: str) -> Agent:
        agent = self._agents.get(name)
        if agent is not None:
            return agent
        with self._lock:
            if name not in self._agents:
                spec = self.plan.agents[name]
                self._agents[name] = self._find(name, spec) if spec.ref else self._inline(name, spec)
            return self._agents[name]

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
        return Agent(found[0], inline=False, model=found[0].model)

    def _inline(self, name: str, spec: AgentSpec) -> Agent:
        earlier = self._reuse.get(("agent", name))
        if earlier:
            alive = {a.id: a for a in self.backend.find_agents((identity.run_tag(self.run_id),))}
            if earlier in alive:
                return Agent(alive[earlier], inline=True, model=self.agent_model(spec))
        request = self._request(name, spec)
        ref = self.backend.create_agent(request)
        self.records.add_resource(self.run_id, "agent", name, ref.id)
        return Agent(ref, inline=True, model=request.model)

    def _request(self, name: str, spec: AgentSpec) -> AgentRequest:
        where = f"agents.{name}"
        env = lambda text, field: resolve_env(text, self.redactor, f"{where}.{field}")  # noqa: E731
        return AgentRequest(
            name=letta_name(f"{self.plan.name}-{name}-{self.run_id}"),
            model=self.agent_model(spec), embedding=self._embedding(spec),
            system=env(spec.system, "system") if spec.system else None,
            description=spec.description,
            memory_blocks=tuple(_block(b, env) for b in spec.memory_blocks),
            block_ids=tuple(self._shared_block(b) for b in spec.shared_blocks),
            tools=spec.tools,
            tags=(identity.RUN_TAG, identity.run_tag(self.run_id), *spec.tags),
            metadata={identity.METADATA_KEY: {"run": self.run_id, "agent": name,
                                              "pipeline": self.plan.name}},
            tool_env={k: env(v, f"tool_env.{k}") for k, v in spec.tool_env.items()},
            context_window=spec.context_window,
        )

    def _shared_block(self, name: str) -> str:
        if name not in self._blocks:
            earlier = self._reuse.get(("block", name))
            if earlier:
                self._blocks[name] = earlier
            else:
                spec = self.plan.shared_blocks[name]
                env = lambda text, field: resolve_env(  # noqa: E731
                    text, self.redactor, f"shared_blocks.{name}.{field}")
                request = _block(spec, env, tags=(identity.RUN_TAG, identity.run_tag(self.run_id)))
                self._blocks[name] = self.backend.create_block(request)
                self.records.add_resource(self.run_id, "block", name, self._blocks[name])
        return self._blocks[name]

    def agent_ids(self) -> dict[str, str]:
        return {name: a.ref.id for name, a in self._agents.items()}

    def retire(self, step: str) -> None:
        """`step` settled successfully: delete the inline agents no other unsettled step
        needs, in the background, so clean-up overlaps the rest of the run."""
        for name in self._users_left:
            self._users_left[name].discard(step)
        for name, left in self._users_left.items():
            agent = self._agents.get(name)
            if not left and agent and self._disposable(name, agent) and name not in self._retired:
                self._retired.add(name)
                self._cleaner.submit(self._delete, ("agent", name, agent.ref.id,
                                                    self.backend.delete_agent))

    def release(self, succeeded: bool) -> list[str]:
        """At the end of the run: delete what it created, unless kept (a run that did not
        succeed keeps its agents for resume). Returns the names of the agents deleted."""
        if succeeded:
            for name, agent in self._agents.items():
                if self._disposable(name, agent) and name not in self._retired:
                    self._retired.add(name)
                    self._cleaner.submit(self._delete, ("agent", name, agent.ref.id,
                                                        self.backend.delete_agent))
        self._cleaner.shutdown(wait=True)
        if not succeeded:
            return sorted(self._retired)
        kept = {b for n, a in self._agents.items() if not self._disposable(n, a)
                for b in self.plan.agents[n].shared_blocks}
        blocks = [("block", name, block_id, self.backend.delete_block)
                  for name, block_id in self._blocks.items() if name not in kept]
        with ThreadPoolExecutor(max_workers=8) as pool:  # after the agents that use them
            list(pool.map(self._delete, blocks))
        return sorted(self._retired)

    def _disposable(self, name: str, agent: Agent) -> bool:
        return agent.inline and not self.keep and not self.plan.agents[name].keep

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
