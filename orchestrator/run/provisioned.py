"""The provisioned (`ref:`) agents a run uses, and `Agent`, one Letta agent it talks to.

Owns `Agent` (an inline or provisioned agent as the pool leases it), `find_referenced` (every
`ref:` agent the steps use, looked up before the run sends anything: a missing one must not
cost earlier steps' tokens), `find_provisioned` (one, by its managed identity tag
`identity.agent_tag(namespace, name)`: Letta names are not unique), `ref_agent_name` (what a
`ref:` names) and `replaced_refs`: on resume, a unit a `ref:` agent answered is not reused
once that identity is another Letta agent (destroyed and applied again): the agent is part
of what resume compares.

Must not: create, change or delete agents (provisioning does; a run only uses them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.backends import identity
from orchestrator.backends.base import AgentRef, RunBackend
from orchestrator.compile.plan import Plan
from orchestrator.errors import RunError
from orchestrator.run.cleanup import agent_users
from orchestrator.run.replicas import replica_label
from orchestrator.spec.model import AgentSpec
from orchestrator.spec.resources import load_agent_file


@dataclass(frozen=True, eq=False)
class Agent:
    ref: AgentRef
    model: str | None
    name: str = ""  # the pipeline's name for it
    replica: int = 1  # which copy (1-based) of an agent with `replicas: N`

    @property
    def label(self) -> str:
        return replica_label(self.name, self.replica)


def replaced_refs(memo: Mapping[Any, dict], found: Mapping[str, Agent]) -> dict[Any, dict]:
    """The earlier attempt's units, with those answered by a provisioned agent that is now
    another Letta agent marked stale (no fingerprint): their outputs came from an agent that
    no longer holds that identity, so resume runs them again."""
    now = {name: agent.ref.id for name, agent in found.items()}
    return {
        key: (
            {**row, "fingerprint": None}
            if row.get("agent") in now
            and row.get("agent_id")
            and row["agent_id"] != now[row["agent"]]
            else row
        )
        for key, row in memo.items()
    }


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


def find_provisioned(
    plan: Plan, backend: RunBackend, namespace: str, name: str, spec: AgentSpec
) -> Agent:
    """A `ref:` agent, by its managed identity tag (Letta names are not unique)."""
    managed = ref_agent_name(spec.ref or "", plan.source)
    tag = identity.agent_tag(namespace, managed)
    found = backend.find_agents((tag,))
    if not found:
        raise RunError(
            f"agents.{name}: no provisioned agent '{managed}' in namespace "
            f"'{namespace}' on {backend.base_url} (run "
            "`orchestrate apply` first, or check --namespace)"
        )
    if len(found) > 1:
        ids = ", ".join(a.id for a in found)
        raise RunError(
            f"agents.{name}: {len(found)} agents carry the identity '{tag}' "
            f"({ids}); remove the duplicates"
        )
    return Agent(found[0], model=found[0].model, name=name)


def ref_agent_name(ref: str, pipeline_file: str) -> str:
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
    agents = [
        name for name, agent in resources.agents.items() if Path(agent.mark.file).resolve() == path
    ]
    if len(agents) != 1:
        raise RunError(
            f"agent ref '{ref}': expected one kind: Agent document in {path}, found {len(agents)}"
        )
    return agents[0]
