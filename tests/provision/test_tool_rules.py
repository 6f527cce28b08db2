"""Tool rules and behaviour settings on provisioned agents (issue 14): declared ones are
created, compared and updated like any field; Letta's own rules and defaults never drift."""

from __future__ import annotations

import pytest

from orchestrator.errors import SpecError
from orchestrator.provision.export import Selection, export_resources
from orchestrator.spec.resources import load_resources

from .helpers import agent, resources, tool

FIRST = {"type": "run_first", "tool_name": "shout"}
MAX2 = {"type": "max_count_per_step", "tool_name": "shout", "max_count_limit": 2}
EXIT = {"type": "exit_loop", "tool_name": "conversation_search"}


def with_rules(*rules, **kw):
    return resources(agent("a", tools=["shout"], tool_rules=tuple(rules), **kw), tools=[tool()])


def rules_on(h):
    return {(r["type"], r["tool_name"]) for r in h.agent("a").tool_rules}


def test_declared_rules_are_created_and_letta_defaults_are_not_drift(h):
    shown = h.apply(with_rules(FIRST, MAX2))
    create = next(c for c in shown.changes if c.address == "agent a")
    rules = next(f.new for f in create.fields if f.field == "tool_rules")
    assert rules == ["run_first(shout)", "max_count_per_step(shout, max_count_limit=2)"]
    assert {
        ("run_first", "shout"),
        ("max_count_per_step", "shout"),
        ("continue_loop", "conversation_search"),
    } <= rules_on(h)
    assert h.plan(with_rules(FIRST, MAX2)).empty


def test_a_changed_rule_is_an_update_and_only_declared_rules_are_removed(h):
    h.apply(with_rules(FIRST, MAX2))
    changed = with_rules(FIRST, {**MAX2, "max_count_limit": 3}, EXIT)
    (change,) = [c for c in h.plan(changed).changes if c.address == "agent a"]
    (rules,) = [f for f in change.fields if f.field == "tool_rules"]
    assert "max_count_per_step(shout, max_count_limit=2)" in rules.old
    assert "max_count_per_step(shout, max_count_limit=3)" in rules.new
    h.apply(changed)
    assert h.plan(changed).empty
    h.apply(with_rules())  # `tool_rules: []`: the declared ones go, Letta's own stay
    assert rules_on(h) == {
        ("continue_loop", n) for n in ("conversation_search", "memory_insert", "memory_replace")
    }
    assert h.plan(with_rules()).empty


def test_undeclared_rules_are_not_compared_but_a_removed_declaration_removes_them(h):
    h.apply(with_rules(FIRST))
    no_rules = resources(agent("a", tools=["shout"]), tools=[tool()])
    h.apply(no_rules)
    assert ("run_first", "shout") not in rules_on(h)
    assert h.plan(no_rules).empty


def test_a_key_another_kind_of_rule_uses_is_located(h):
    res = with_rules({"type": "run_first", "tool_name": "shout", "children": ["x"]})
    with pytest.raises(
        SpecError,
        match=r"tool_rules\[0\]: 'children' is not used by a "
        "run_first rule",
    ):
        h.plan(res)


def test_rules_naming_unknown_tools_are_located(h):
    res = with_rules({"type": "constrain_child_tools", "tool_name": "shout", "children": ["shuot"]})
    with pytest.raises(SpecError, match="tool_rules: unknown tool 'shuot'"):
        h.plan(res)


def test_settings_are_compared_only_when_declared(h):
    res = resources(
        agent("a", settings={"timezone": "Europe/Paris", "message_buffer_autoclear": True})
    )
    h.apply(res)
    assert h.agent("a").settings["timezone"] == "Europe/Paris"
    assert h.plan(res).empty
    assert h.plan(resources(agent("a"))).empty
    other = resources(agent("a", settings={"timezone": "UTC", "message_buffer_autoclear": True}))
    (change,) = h.plan(other).changes
    assert [(f.field, f.old, f.new) for f in change.fields] == [("timezone", "Europe/Paris", "UTC")]
    h.apply(other)
    assert h.plan(other).empty


RESOURCE = """apiVersion: orchestrate/v1
kind: Agent
name: a
model: m
embedding: e
tools: [conversation_search]
timezone: Europe/Paris
tool_rules:
  - {type: run_first, tool_name: conversation_search}
  - {type: max_count_per_step, tool_name: conversation_search, max_count_limit: 2}
"""


def test_yaml_rules_load_apply_and_export_round_trip(h, tmp_path):
    (tmp_path / "a.yaml").write_text(RESOURCE)
    res = load_resources(tmp_path)
    assert res.agents["a"].tool_rules[1]["max_count_limit"] == 2
    assert res.agents["a"].settings == {"timezone": "Europe/Paris"}
    h.apply(res)
    out = tmp_path / "exported"
    export_resources(h.backend, Selection(all=True), out)
    again = load_resources(out)
    assert again.agents["a"].tool_rules == res.agents["a"].tool_rules
    assert h.plan(again).empty


@pytest.mark.parametrize(
    "rule, message",
    [
        ("{type: first, tool_name: x}", "type"),
        ("{type: max_count_per_step, tool_name: x}", "max_count_limit"),
        ("{type: run_first, tool_nme: x}", "tool_name"),
    ],
)
def test_bad_rules_are_schema_errors_at_their_line(tmp_path, rule, message):
    text = RESOURCE.split("tool_rules:")[0] + f"tool_rules:\n  - {rule}\n"
    (tmp_path / "a.yaml").write_text(text)
    with pytest.raises(SpecError) as err:
        load_resources(tmp_path)
    assert any(i.line == 9 and "tool_rules" in i.path for i in err.value.issues), [
        i.format() for i in err.value.issues
    ]
    assert message in " ".join(i.format() for i in err.value.issues)
