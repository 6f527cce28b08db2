"""What a run's inline agents and shared blocks are made from: the create requests and the
definition digests that resume compares.

Owns `agent_request` and `block_request`: the `NewAgent` / `NewBlock` a run sends to make one
copy of an inline agent (tagged RUN_TAG + `run_tag(run_id)`, KEEP_TAG if it is kept; its
own memory blocks carry the run's tags too) or a shared block, with `${env:VAR}` in their
fields resolved here, at the last moment, and registered with the run's Redactor. Also the
tags resume reads: `DEF_TAG` (a digest of an agent's fields, its shared blocks, its
effective model and embedding: `agent_definition`), `BLOCK_DEF_TAG` (one per shared block
it attaches: `block_definition`), `same` (does a tag say so), and `letta_name`.

Must not: talk to Letta (run.agents sends these requests), or choose models (run.models).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from orchestrator.backends import identity
from orchestrator.backends.base import NewAgent, NewBlock
from orchestrator.compile.fingerprint import agent_payload, block_payload, definition
from orchestrator.compile.plan import Plan
from orchestrator.run.replicas import replica_label
from orchestrator.run.secrets import Redactor, resolve_env
from orchestrator.spec.agents import env_templates
from orchestrator.spec.model import AgentSpec, BlockSpec

# Tags of an inline agent: the digest of the definition it was made from, and of each
# shared block it attaches (`orchestrate:block-def=<block>=<digest>`).
DEF_TAG, BLOCK_DEF_TAG = "orchestrate:def=", "orchestrate:block-def="
_DIGEST = 16  # hex digits of a definition digest in a tag


def agent_definition(plan: Plan, spec: AgentSpec, model: str, embedding: str) -> str:
    return definition(
        {
            "agent": agent_payload(spec, plan.shared_blocks),
            "model": model,
            "embedding": embedding,
        }
    )[:_DIGEST]


def block_definition(plan: Plan, name: str) -> str:
    return block_payload(plan.shared_blocks[name])[:_DIGEST]


def same(tags: tuple[str, ...], prefix: str, expected: str) -> bool:
    """Does the tag starting with `prefix` say `expected`? (An agent made before definitions
    were tagged cannot say: taken as the same.)"""
    told = [tag for tag in tags if tag.startswith(prefix)]
    return not told or expected in told


def agent_request(
    plan: Plan,
    name: str,
    spec: AgentSpec,
    index: int,
    *,
    run_id: str,
    redactor: Redactor,
    model: str,
    embedding: str,
    copies: int,
    disposable: bool,
    block_ids: Callable[[], Sequence[str]],
) -> NewAgent:
    """Copy `index` of inline agent `name` (one of `copies`), attaching the shared blocks
    `block_ids()` gives (asked after its own fields' `${env:...}` are resolved)."""
    where = f"agents.{name}"
    env = lambda text, field: resolve_env(text, redactor, f"{where}.{field}")  # noqa: E731
    meta: dict[str, Any] = {"run": run_id, "agent": name, "pipeline": plan.name}
    run_tags = (identity.RUN_TAG, identity.run_tag(run_id))
    if copies > 1:
        meta["replica"] = index
    if templates := env_templates(spec):  # names only: export writes them back
        meta["env_fields"] = templates
    # Empty text is left to the server's default (`or None`), as for blocks below.
    return NewAgent(
        name=letta_name(f"{plan.name}-{replica_label(name, index)}-{run_id}"),
        model=model,
        embedding=embedding,
        system=(env(spec.system, "system") or None) if spec.system else None,
        description=spec.description or None,
        # its own blocks carry the run's tags: deleting the agent leaves them behind
        memory_blocks=tuple(_block(b, env, tags=run_tags) for b in spec.memory_blocks),
        block_ids=tuple(block_ids()),
        tools=spec.tools,
        tags=(*run_tags, *(() if disposable else (identity.KEEP_TAG,)), *spec.tags),
        metadata={identity.METADATA_KEY: meta},
        tool_env={k: env(v, f"tool_env.{k}") for k, v in spec.tool_env.items()},
        context_window=spec.context_window or None,
    )


def block_request(plan: Plan, name: str, *, run_id: str, redactor: Redactor) -> NewBlock:
    """The run's copy of shared block `name`."""
    spec = plan.shared_blocks[name]
    env = lambda text, field: resolve_env(  # noqa: E731
        text, redactor, f"shared_blocks.{name}.{field}"
    )
    return _block(spec, env, tags=(identity.RUN_TAG, identity.run_tag(run_id)))


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
