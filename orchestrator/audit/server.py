"""The audit's rules over what live agents hold: the pure half of `orchestrate audit --server`.

Owns `Text` and `AgentTexts` (what a managed agent holds, as read by the provision layer:
its system prompt, block values, archival passages, recent messages, tool environment
values; and which fields apply resolved from `${env:...}`), `ServerFinding` (agent, where,
rule: never the value), `audit_agents`, and `redact` (personal data replaced by a marker,
for `--fix`). The same rules as the file audit (rules.py), so a server finding and a file
finding mean the same thing.

Must not: talk to a server (provision/audit_server.py reads and writes), or keep a matched
value in anything it returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from orchestrator.audit.rules import BY_NAME, PERSONAL, SECRET, hits

RESOLVED = "resolved-secret"
RESOLVED_LABEL = "secret resolved from ${env:...} at apply"


@dataclass(frozen=True)
class Text:
    where: str  # "system prompt", "block persona", "passage ID", "message ID (user_message)"
    text: str = field(repr=False)
    passage_id: str = ""  # set for archival passages (what --fix may change)


@dataclass(frozen=True)
class AgentTexts:
    name: str
    agent_id: str
    texts: tuple[Text, ...]
    resolved: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (where, variable names)


@dataclass(frozen=True, order=True)
class ServerFinding:
    agent: str
    where: str
    rule: str
    agent_id: str = field(compare=False)
    kind: str = field(compare=False)
    label: str = field(compare=False)
    masked: str = field(default="", compare=False)
    passage_id: str = field(default="", compare=False)

    def format(self) -> str:
        shown = f" '{self.masked}'" if self.masked else ""
        return (
            f"agent {self.agent} ({self.agent_id}): {self.where}: {self.kind}: "
            f"{self.label}{shown} ({self.rule})"
        )

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "agent": self.agent,
            "agent_id": self.agent_id,
            "where": self.where,
            "kind": self.kind,
            "rule": self.rule,
            "label": self.label,
            "masked": self.masked,
        }
        if self.passage_id:
            out["passage_id"] = self.passage_id
        return out


def _findings(agent: AgentTexts, text: Text) -> Iterable[ServerFinding]:
    for hit in hits(text.text):
        rule = BY_NAME[hit.rule]
        yield ServerFinding(
            agent.name,
            text.where,
            hit.rule,
            agent.agent_id,
            rule.kind,
            rule.label,
            rule.mask(text.text[hit.start : hit.end]),
            text.passage_id,
        )


def audit_agents(agents: Iterable[AgentTexts]) -> list[ServerFinding]:
    """Every rule's findings in every text, and one finding per field apply resolved a
    secret into (the value is on the server, in what the agent reads)."""
    out: list[ServerFinding] = []
    for agent in agents:
        for text in agent.texts:
            out.extend(_findings(agent, text))
        for where, names in agent.resolved:
            label = RESOLVED_LABEL.replace("...", ", ".join(names) or "...")
            out.append(ServerFinding(agent.name, where, RESOLVED, agent.agent_id, SECRET, label))
    return sorted(set(out))


def redact(text: str, kinds: tuple[str, ...] = (PERSONAL,)) -> tuple[str, list[str]]:
    """`text` with every match of a rule of these kinds replaced by `[redacted: RULE]`,
    and the rules that matched."""
    found = [h for h in hits(text) if BY_NAME[h.rule].kind in kinds]
    for hit in sorted(found, key=lambda h: h.start, reverse=True):
        text = f"{text[: hit.start]}[redacted: {hit.rule}]{text[hit.end :]}"
    return text, sorted({h.rule for h in found})
