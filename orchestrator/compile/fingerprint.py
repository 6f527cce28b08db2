"""Content fingerprints of steps, and the `${env:VAR}` names a plan needs.

A step's fingerprint is a sha256 over what defines its result: template sources (prompt,
when, for_each, until), the agent definition (every field except marks, plus the shared
blocks it attaches), the output format and schema, the effective model, and for a loop the
fingerprints of its body. `resume` re-runs a step whose fingerprint changed, and the agent
pool compares `definition` digests before it takes up an earlier attempt's Letta agent or
shared block again (a changed definition gets a new one). Retries and
timeouts are deliberately left out: they change how a step is run, not what it produces.

Must not: include marks (moving a step in the file must not invalidate it) or env values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from orchestrator.spec.envrefs import env_names, strings
from orchestrator.spec.model import AgentSpec, BlockSpec, PipelineSpec, StepSpec

_SKIP = ("mark", "field_marks")


def plain(value: Any) -> Any:
    """JSON-able form of spec objects, without marks."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in _SKIP
        }
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        items = [plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, frozenset | set) else items
    return value


def agent_payload(agent: AgentSpec, shared: Mapping[str, BlockSpec]) -> str:
    """A digest of the agent's definition and the shared blocks it attaches (computed once
    per agent: many steps share an agent)."""
    attached = {name: plain(shared[name]) for name in agent.shared_blocks if name in shared}
    definition = plain(agent)
    # How many copies a run may make changes how steps are scheduled, not what they
    # produce (like retries and timeouts): it must not make resume re-run anything.
    definition.pop("replicas", None)
    return _digest({"agent": definition, "shared_blocks": attached})


def block_payload(block: BlockSpec) -> str:
    """A digest of a shared block's definition (resume makes the block again when it
    changed)."""
    return _digest({"block": plain(block)})


def definition(payload: dict) -> str:
    """A digest of what a run made a Letta object from (e.g. an agent's payload plus the
    model it was given): resume compares it before taking the object up again."""
    return _digest(payload)


def _digest(payload: dict) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def step_fingerprint(
    step: StepSpec, agent: str | None, model: str | None, body: Mapping[str, str] | None = None
) -> str:
    """`agent` is `agent_payload(...)` of the step's agent (None for loop steps)."""
    payload: dict[str, Any] = {
        "prompt": step.prompt,
        "when": step.when,
        "for_each": step.for_each,
        "as": step.item_var if step.for_each else None,
        "output": {"format": step.output.format, "schema": step.output.schema},  # plain data
        "model": model,
        "agent": agent,
        "loop": None,
    }
    if step.loop is not None:
        payload["loop"] = {
            "max_iterations": step.loop.max_iterations,
            "until": step.loop.until,
            "body": dict(body or {}),
        }
    return _digest(payload)


def env_refs(spec: PipelineSpec) -> frozenset[str]:
    """Every ${env:VAR} name in agent fields, shared blocks and input defaults."""
    names: set[str] = set()
    sources = [
        plain(spec.agents),
        plain(spec.shared_blocks),
        [i.default for i in spec.inputs.values() if i.has_default],
    ]
    for source in sources:
        for _, text in strings(source):
            if "${env:" in text:
                names |= env_names(text)
    return frozenset(names)
