"""The pure half of `audit --server` and the fix plan, with no server: what is found in each
kind of text, that no finding holds a value, and that the fix touches exactly the passages
with personal data of the managed agents (issue 20)."""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.audit.server import AgentTexts, Text, audit_agents, redact
from orchestrator.backends.admin import AgentState, Passage
from orchestrator.backends.letta_audit import Message
from orchestrator.provision.audit_server import apply_fix, audit_server, plan_fix
from tests.audit.corpus import CARD, EMAIL, GITHUB, PLANTED, SLACK


def test_findings_name_the_place_never_the_value():
    agent = AgentTexts(
        "helper",
        "agent-1",
        (
            Text("block persona", f"write to {EMAIL}"),
            Text("passage p-1", f"card {CARD}", passage_id="p-1"),
            Text("tool_env SLACK (stored in clear)", SLACK),
            Text("system prompt", "plain"),
        ),
        resolved=(("system prompt", ("CRM_KEY",)),),
    )
    found = audit_agents([agent])
    assert [f.format() for f in found] == [
        "agent helper (agent-1): block persona: personal data: e-mail address (email)",
        "agent helper (agent-1): passage p-1: personal data: payment card number (card-number)",
        "agent helper (agent-1): system prompt: secret: secret resolved from ${env:CRM_KEY} at "
        "apply (resolved-secret)",
        "agent helper (agent-1): tool_env SLACK (stored in clear): secret: Slack token 'xoxb-…' "
        "(slack-token)",
    ]
    shown = repr(found) + repr([f.as_json() for f in found])
    assert not [v for v in PLANTED if v in shown]


def test_redact_replaces_personal_data_only():
    text, rules = redact(f"mail {EMAIL}, card {CARD}, token {GITHUB}")
    assert text == f"mail [redacted: email], card [redacted: card-number], token {GITHUB}"
    assert rules == ["card-number", "email"]


@dataclass
class FakeSource:
    """In memory: agents and their passages (the fix's reads and writes, counted)."""

    base_url: str = "memory://"
    agents: list[AgentState] = field(default_factory=list)
    passages: dict[str, list[Passage]] = field(default_factory=dict)
    writes: list[str] = field(default_factory=list)

    def list_agents(self, tags=()):
        return [a for a in self.agents if set(tags) <= set(a.tags)]

    def list_passages(self, agent_id):
        return list(self.passages.get(agent_id, ()))

    def recent_messages(self, agent_id, limit):
        return [Message("m-1", "user_message", "hello")]

    def tool_env_values(self, agent_id):
        return {}

    def create_passage(self, agent_id, text, tags):
        self.writes.append(f"create {agent_id}")
        self.passages[agent_id].append(Passage(f"new-{len(self.writes)}", text, tuple(tags)))

    def delete_passage(self, agent_id, passage_id):
        self.writes.append(f"delete {passage_id}")
        self.passages[agent_id] = [p for p in self.passages[agent_id] if p.id != passage_id]


def test_the_fix_changes_exactly_the_managed_passages_with_personal_data():
    managed = AgentState(
        "a-1", "helper", tags=("orchestrate:managed", "orchestrate:id=default/helper")
    )
    other_ns = AgentState("a-2", "x", tags=("orchestrate:managed", "orchestrate:id=other/x"))
    by_hand = AgentState("a-3", "mine")
    source = FakeSource(
        agents=[managed, other_ns, by_hand],
        passages={
            "a-1": [
                Passage("p-1", f"mail {EMAIL}", ("t",)),
                Passage("p-2", "clean"),
                Passage("p-3", f"token {GITHUB}"),
            ],
            "a-2": [Passage("q-1", f"mail {EMAIL}")],
            "a-3": [Passage("r-1", f"mail {EMAIL}")],
        },
    )
    report = audit_server(source, "default")
    assert report.agents == ["helper"] and source.writes == []  # reading writes nothing
    fixes = plan_fix(report)
    assert [(f.passage_id, f.rules, f.action) for f in fixes] == [("p-1", ("email",), "redact")]
    done = apply_fix(source, fixes)
    assert [f.passage_id for f in done] == ["p-1"]
    assert source.writes == ["create a-1", "delete p-1"]
    texts = {p.id: (p.text, p.tags) for p in source.passages["a-1"]}
    assert texts == {
        "p-2": ("clean", ()),
        "p-3": (f"token {GITHUB}", ()),
        "new-1": ("mail [redacted: email]", ("t",)),
    }
    assert source.passages["a-2"][0].text == source.passages["a-3"][0].text == f"mail {EMAIL}"
    assert apply_fix(source, fixes) == []  # gone since: skipped
