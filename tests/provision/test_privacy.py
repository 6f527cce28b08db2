"""A privacy policy provisions a read-only block; export writes it back so apply after
export is a no-op, and changing the guidelines in the YAML updates the block (issue 20)."""

from __future__ import annotations

from orchestrator.provision.export import Selection, export_resources
from orchestrator.spec.resources import load_resources

AGENT = """\
apiVersion: orchestrate/v1
kind: Agent
name: clerk
model: openai-proxy/test-model
embedding: openai/text-embedding-3-small
privacy:
  guidelines: [{rule}]
"""


def _write(root, rule: str):
    root.mkdir(exist_ok=True)
    (root / "clerk.yaml").write_text(AGENT.format(rule=rule))
    return load_resources(root)


def test_privacy_block_is_read_only_and_round_trips(h, tmp_path):
    res = _write(tmp_path / "src", "No card numbers.")
    h.apply(res)
    (block,) = h.agent("clerk").blocks
    assert block.label == "privacy_guidelines" and block.read_only
    export_resources(h.backend, Selection(all=True), tmp_path / "out")
    assert h.plan(load_resources(tmp_path / "out")).empty
    changed = h.plan(_write(tmp_path / "src", "No card numbers, no e-mails."))
    assert [(c.kind, c.name, c.action) for c in changed.changes] == [
        ("agent_block", "privacy_guidelines", "update")
    ]


def test_a_fleet_wide_policy_attaches_one_read_only_block_and_round_trips(h, tmp_path):
    src = tmp_path / "fleet"
    src.mkdir()
    (src / "agents.yaml").write_text(
        AGENT.format(rule="Own rule.")
        + "---\n"
        + AGENT.replace("name: clerk", "name: other").split("privacy:")[0]
    )
    (src / "privacy.yaml").write_text(
        "apiVersion: orchestrate/v1\nkind: Privacy\nname: house_rules\nguidelines: [No e-mails.]\n"
    )
    h.apply(load_resources(src))
    shared = {
        a: [b for b in h.agent(a).blocks if b.label == "house_rules"] for a in ("clerk", "other")
    }
    assert shared["clerk"][0].id == shared["other"][0].id and shared["clerk"][0].read_only
    export_resources(h.backend, Selection(all=True), tmp_path / "out")
    assert h.plan(load_resources(tmp_path / "out")).empty
