"""`privacy:` on a provisioned agent: its guidelines become one read-only memory block;
a label clash is located; the schema refuses a policy without guidelines (issue 20)."""

from __future__ import annotations

import pytest

from orchestrator.errors import SpecError
from orchestrator.spec.resources import load_resources

HEAD = "apiVersion: orchestrate/v1\nkind: Agent\nname: clerk\n"


def _load(tmp_path, body: str):
    (tmp_path / "clerk.yaml").write_text(HEAD + body)
    return load_resources(tmp_path)


def test_guidelines_become_a_read_only_block(tmp_path):
    res = _load(tmp_path, "privacy:\n  guidelines: [No card numbers., No e-mails.]\n")
    (block,) = res.agents["clerk"].memory_blocks
    assert block.label == "privacy_guidelines" and block.read_only
    assert block.value == "- No card numbers.\n- No e-mails.\n"
    text = _load(tmp_path, "privacy: {guidelines: Be discreet., label: rules}\n")
    assert [(b.label, b.value) for b in text.agents["clerk"].memory_blocks] == [
        ("rules", "Be discreet.")
    ]


def test_a_label_clash_is_located(tmp_path):
    with pytest.raises(SpecError) as err:
        _load(
            tmp_path,
            "memory_blocks: [{label: rules, value: x}]\n"
            "privacy: {guidelines: Be discreet., label: rules}\n",
        )
    (issue,) = err.value.issues
    assert (issue.line, issue.path) == (5, "Agent(clerk).privacy")
    assert "'rules' is also a memory block" in issue.message


def test_a_policy_needs_guidelines(tmp_path):
    with pytest.raises(SpecError) as err:
        _load(tmp_path, "privacy: {label: rules}\n")
    assert any("guidelines" in i.message for i in err.value.issues)


FLEET = "apiVersion: orchestrate/v1\nkind: Privacy\nname: house_rules\n"
AGENTS = "".join(
    f"---\napiVersion: orchestrate/v1\nkind: Agent\nname: {n}\n" for n in ("a", "b", "c")
)


def test_a_fleet_wide_policy_is_one_read_only_block_for_every_agent(tmp_path):
    (tmp_path / "agents.yaml").write_text(AGENTS)
    (tmp_path / "privacy.yaml").write_text(FLEET + "guidelines: [No card numbers.]\n")
    res = load_resources(tmp_path)
    assert {n: a.shared_blocks for n, a in res.agents.items()} == {
        "a": ("house_rules",),
        "b": ("house_rules",),
        "c": ("house_rules",),
    }
    block = res.shared_blocks["house_rules"]
    assert block.read_only and block.value == "- No card numbers.\n"
    from orchestrator.spec.resources import load_agent_file  # a pipeline's ref: sees it too

    assert load_agent_file(tmp_path / "agents.yaml").agents["b"].shared_blocks == ("house_rules",)
    (tmp_path / "privacy.yaml").write_text(FLEET + "guidelines: x\nagents: [b]\n")
    listed = load_resources(tmp_path)
    assert [n for n, a in listed.agents.items() if a.shared_blocks] == ["b"]


def test_fleet_policy_problems_are_located(tmp_path):
    (tmp_path / "agents.yaml").write_text(
        AGENTS + "memory_blocks: [{label: house_rules, value: x}]\n"
    )
    (tmp_path / "privacy.yaml").write_text(FLEET + "guidelines: x\nagents: [a, bee]\n")
    with pytest.raises(SpecError) as err:
        load_resources(tmp_path)
    assert sorted((i.path, i.message) for i in err.value.issues) == [
        ("Privacy(house_rules).agents[1]", "unknown agent 'bee'")
    ]
    (tmp_path / "privacy.yaml").write_text(FLEET + "guidelines: x\n")
    with pytest.raises(SpecError) as err:
        load_resources(tmp_path)
    assert [i.message for i in err.value.issues] == [
        "agent 'c' has a memory block 'house_rules' too"
    ]
