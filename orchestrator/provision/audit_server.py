"""`orchestrate audit --server`: the managed agents of a namespace, read and fed to the audit's
rules; `--fix`: their archival passages holding personal data, redacted or deleted.

Owns `read_agents` (what each managed agent holds: system prompt, blocks, archival passages,
its last `messages` messages, tool environment values, and the fields apply resolved from
`${env:...}`, as recorded in its metadata), `audit_server`, `plan_fix` and `apply_fix`.
Only agents this namespace manages are read or changed: agents made by hand, another
namespace's and pipeline runs' own agents are never touched. Reading makes no write;
`apply_fix` changes exactly the passages of the plan it is given (a redacted passage is
re-created with the same tags, then the old one deleted: Letta passages are not edited).

Must not: print (the CLI does), or put a value into anything but the AuditSource's calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from orchestrator.audit.rules import PERSONAL
from orchestrator.audit.server import AgentTexts, ServerFinding, Text, audit_agents, redact
from orchestrator.backends import identity
from orchestrator.backends.admin import AgentState
from orchestrator.backends.letta_audit import AuditSource
from orchestrator.spec.envrefs import env_names

DEFAULT_MESSAGES = 100
FIX_MODES = ("redact", "delete")


@dataclass
class ServerReport:
    findings: list[ServerFinding] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)  # the managed agents read, by name


@dataclass(frozen=True)
class PassageFix:
    agent: str
    agent_id: str
    passage_id: str
    rules: tuple[str, ...]
    action: str  # "redact" | "delete"

    def format(self) -> str:
        verb = "redact" if self.action == "redact" else "delete"
        return (
            f"{verb} passage {self.passage_id} of agent {self.agent} ({self.agent_id}): "
            f"{', '.join(self.rules)}"
        )


def managed_agents(source: AuditSource, namespace: str) -> list[tuple[str, AgentState]]:
    listed = source.list_agents(tags=[identity.MANAGED_TAG])
    made = {c for a in listed for c in a.companion_ids}  # sleep-time agents go with theirs
    named = [
        (name, a)
        for a in listed
        if a.id not in made and (name := identity.managed_name(a.tags, namespace)) is not None
    ]
    return sorted(named, key=lambda pair: pair[0])


def _resolved(agent: AgentState) -> tuple[tuple[str, tuple[str, ...]], ...]:
    section = (agent.metadata or {}).get(identity.METADATA_KEY) or {}
    fields = section.get("env_fields")
    out = []
    if isinstance(fields, dict):
        for key, template in sorted(fields.items()):
            where = (
                "system prompt"
                if key == "system"
                else f"block {key.removeprefix('memory_blocks.')}"
            )
            out.append((where, tuple(sorted(env_names(str(template))))))
    for block in agent.blocks:
        shared = (block.metadata or {}).get(identity.METADATA_KEY) or {}
        if isinstance(shared.get("env_template"), str):
            out.append((f"block {block.label}", tuple(sorted(env_names(shared["env_template"])))))
    return tuple(out)


def read_agent(source: AuditSource, name: str, agent: AgentState, messages: int) -> AgentTexts:
    texts = [Text("system prompt", agent.system)]
    texts += [Text(f"block {b.label}", b.value) for b in agent.blocks]
    texts += [
        Text(f"passage {p.id}", p.text, passage_id=p.id) for p in source.list_passages(agent.id)
    ]
    if messages > 0:
        texts += [
            Text(f"message {m.id} ({m.kind})", m.text)
            for m in source.recent_messages(agent.id, messages)
        ]
    texts += [
        Text(f"tool_env {key} (stored in clear)", value)
        for key, value in sorted(source.tool_env_values(agent.id).items())
    ]
    return AgentTexts(name, agent.id, tuple(texts), _resolved(agent))


def audit_server(
    source: AuditSource, namespace: str, messages: int = DEFAULT_MESSAGES
) -> ServerReport:
    agents = managed_agents(source, namespace)
    texts = [read_agent(source, name, agent, messages) for name, agent in agents]
    return ServerReport(audit_agents(texts), [name for name, _ in agents])


def plan_fix(report: ServerReport, action: str = "redact") -> list[PassageFix]:
    """One change per archival passage with personal-data findings (nothing else is fixed:
    a secret in a passage is rotated, not redacted)."""
    if action not in FIX_MODES:
        raise ValueError(f"unknown fix {action!r}")
    rules: dict[tuple[str, str, str], set[str]] = {}
    for f in report.findings:
        if f.passage_id and f.kind == PERSONAL:
            rules.setdefault((f.agent, f.agent_id, f.passage_id), set()).add(f.rule)
    return [
        PassageFix(agent, agent_id, passage, tuple(sorted(found)), action)
        for (agent, agent_id, passage), found in sorted(rules.items())
    ]


def apply_fix(
    source: AuditSource,
    fixes: list[PassageFix],
    progress: Callable[[PassageFix], None] = lambda _f: None,
) -> list[PassageFix]:
    """Apply the plan; returns the changes made. A passage gone since the plan is skipped;
    one whose text no longer holds personal data is left alone."""
    done: list[PassageFix] = []
    by_agent: dict[str, list[PassageFix]] = {}
    for fix in fixes:
        by_agent.setdefault(fix.agent_id, []).append(fix)
    for agent_id, planned in by_agent.items():
        current = {p.id: p for p in source.list_passages(agent_id)}
        for fix in planned:
            passage = current.get(fix.passage_id)
            if passage is None:
                continue
            cleaned, found = redact(passage.text)
            if not found:
                continue
            if fix.action == "redact":
                source.create_passage(agent_id, cleaned, passage.tags)
            source.delete_passage(agent_id, passage.id)
            progress(fix)
            done.append(fix)
    return done
