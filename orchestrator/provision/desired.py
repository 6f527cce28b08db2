"""The desired state: a ResourceSet made ready to compare with a server.

Owns: `DiffOptions`, `Desired*` dataclasses and `build_desired`, which adds what orchestrate
itself writes (identity tags, metadata), applies the default model/embedding, and resolves
`${env:VAR}` references from the given environment. Values that came from `${env:...}` are
flagged `secret`, so no plan, log or error ever shows them.

Must not: talk to a server. The environment is passed in (tests pass a dict).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.backends import identity
from orchestrator.errors import Issue, ProvisionError, SpecError
from orchestrator.provision.diff_rules import declared_rules
from orchestrator.spec.agents import env_templates
from orchestrator.spec.envrefs import ENV_REF
from orchestrator.spec.model import AgentSpec, BlockSpec, Mark, ResourceSet

ENV_PREFIX = "${env:"


@dataclass(frozen=True)
class DiffOptions:
    namespace: str = identity.DEFAULT_NAMESPACE
    prune: bool = False  # delete managed objects of this namespace that git no longer declares
    adopt: bool = False  # manage an existing unmanaged agent of the same name instead of creating
    force_agent_owned: bool = False  # overwrite agent-written values of agent_owned blocks
    default_model: str | None = None
    default_embedding: str | None = None
    keep_blocks: bool = False  # deleting an agent leaves its private blocks (detached)
    report_only: bool = False  # `diff`: a missing model/embedding is drift, not an error

    def __post_init__(self) -> None:
        problem = identity.namespace_problem(self.namespace)
        if problem:
            raise ProvisionError(problem)


@dataclass(frozen=True)
class DesiredBlock:
    label: str
    value: str = field(repr=False)  # may hold a resolved ${env:...} secret
    limit: int | None
    description: str | None
    read_only: bool
    agent_owned: bool
    secret: bool = False  # the value came from ${env:...}
    template: str | None = None  # the value as written, `${env:...}` unresolved (when secret)


@dataclass(frozen=True)
class DesiredAgent:
    name: str
    spec: AgentSpec
    model: str | None  # declared or default; only a declared one is compared
    embedding: str | None
    system: str | None = field(repr=False)  # may hold a resolved ${env:...} secret
    system_secret: bool
    blocks: tuple[DesiredBlock, ...]
    tags: tuple[str, ...]  # user tags + identity tags, sorted
    metadata: dict
    tool_env: Mapping[str, str] = field(default_factory=dict, repr=False)


def _resolve(text: str, env: Mapping[str, str], mark: Mark, path: str, missing: list[Issue]) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            missing.append(
                Issue(
                    mark.file or "<resources>",
                    mark.line,
                    mark.col,
                    path,
                    f"environment variable {name} is not set",
                    hint="export it before plan/apply",
                )
            )
            return ""
        return env[name]

    return ENV_REF.sub(sub, text)


resolve = _resolve  # for the other desired kinds (MCP servers' env and headers)


def desired_block(
    spec: BlockSpec, env: Mapping[str, str], mark: Mark, path: str, missing: list[Issue]
) -> DesiredBlock:
    return DesiredBlock(
        label=spec.label,
        value=_resolve(spec.value, env, mark, path, missing),
        limit=spec.limit,
        description=spec.description,
        read_only=spec.read_only,
        agent_owned=spec.agent_owned,
        secret=ENV_PREFIX in spec.value,
        template=spec.value if ENV_PREFIX in spec.value else None,
    )


def env_names(tool_env: Mapping[str, str]) -> dict[str, str]:
    """tool_env key -> the variable its value names, for values that are exactly one
    `${env:VAR}` of another name than the key (names only, never values): export writes them
    back as written; any other value is exported as `${env:KEY}`."""
    return {
        key: found.group(1)
        for key, text in tool_env.items()
        if (found := ENV_REF.fullmatch(text.strip())) and found.group(1) != key
    }


def managed_metadata(
    namespace: str,
    name: str,
    agent_owned: list[str],
    tools: list[str],
    tool_env_digest: str,
    tool_env_refs: Mapping[str, str] | None = None,
    tool_rules: list[dict] | None = None,
    env_fields: Mapping[str, str] | None = None,
) -> dict:
    """What orchestrate keeps in an agent's metadata; only these keys are compared
    (`tool_env_refs` and `env_fields` only when there are any, `tool_rules` only when
    declared, so agents without them never drift)."""
    section: dict[str, Any] = {
        "id": identity.agent_id_string(namespace, name),
        "agent_owned": sorted(agent_owned),
        "tools": sorted(tools),
        "tool_env": tool_env_digest,
    }
    if tool_env_refs:
        section["tool_env_refs"] = dict(sorted(tool_env_refs.items()))
    if tool_rules is not None:
        section["tool_rules"] = list(tool_rules)
    if env_fields:
        section["env_fields"] = dict(env_fields)
    return {identity.METADATA_KEY: section}


def digest(values: Mapping[str, str]) -> str:
    if not values:
        return ""
    body = json.dumps(dict(sorted(values.items())))
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()[:16]


def desired_agent(
    spec: AgentSpec, options: DiffOptions, env: Mapping[str, str], missing: list[Issue]
) -> DesiredAgent:
    at, mark = f"agents.{spec.name}", spec.mark
    tool_env = {
        k: _resolve(v, env, mark, f"{at}.tool_env.{k}", missing) for k, v in spec.tool_env.items()
    }
    blocks = tuple(
        desired_block(b, env, mark, f"{at}.memory_blocks.{b.label}", missing)
        for b in spec.memory_blocks
    )
    owned = [b.label for b in blocks if b.agent_owned]
    tags = set(spec.tags) | {identity.MANAGED_TAG, identity.agent_tag(options.namespace, spec.name)}
    system = (
        _resolve(spec.system, env, mark, f"{at}.system", missing)
        if spec.system is not None
        else None
    )
    return DesiredAgent(
        name=spec.name,
        spec=spec,
        model=spec.model or options.default_model,
        embedding=spec.embedding or options.default_embedding,
        system=system,
        system_secret=ENV_PREFIX in (spec.system or ""),
        blocks=blocks,
        tags=tuple(sorted(tags)),
        metadata=managed_metadata(
            options.namespace,
            spec.name,
            owned,
            list(spec.tools),
            digest(tool_env),
            env_names(spec.tool_env),
            declared_rules(spec),
            env_templates(spec),
        ),
        tool_env=tool_env,
    )


def build_desired(
    resources: ResourceSet, options: DiffOptions, env: Mapping[str, str]
) -> tuple[dict[str, DesiredAgent], dict[str, DesiredBlock]]:
    """(agents by name, shared blocks by name). Missing env vars are collected and raised
    together as one SpecError (names only, never values)."""
    missing: list[Issue] = []
    agents = {
        name: desired_agent(spec, options, env, missing) for name, spec in resources.agents.items()
    }
    shared = {
        name: desired_block(spec, env, spec.mark, f"blocks.{name}", missing)
        for name, spec in resources.shared_blocks.items()
    }
    if missing:
        raise SpecError(sorted(set(missing)))
    return agents, shared
