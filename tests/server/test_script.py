"""Script parsing: a bad script is refused with a message naming the rule and the key."""

from __future__ import annotations

import pytest

from orchestrator.server.model_endpoint.conversation import Conversation
from orchestrator.server.model_endpoint.script import Script, ScriptError


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ({"nope": 1}, "a script is a list of rules"),
        (["reply"], "rule 0: must be a mapping"),
        ([{"reply": "a"}, {"prompt_contains": "x"}], "rule 1: has no action"),
        (
            [{"reply": "a", "json": {}}],
            "rule 0: choose one of reply, replies, json (got reply, json)",
        ),
        ([{"prompt_regex": "(", "reply": "a"}], "rule 0: prompt_regex is not a valid regex"),
        ([{"agent_id": 3, "reply": "a"}], "rule 0: agent_id must be a string"),
        ([{"error": {"status": 200}}], "rule 0: error.status must be an HTTP error status"),
        ([{"error": {"times": 0}}], "rule 0: error.times must be an integer >= 1"),
        ([{"delay": -1}], "rule 0: delay must be a number of seconds >= 0"),
        ([{"replies": []}], "rule 0: replies must be a non-empty list"),
        ([{"tool_call": {"arguments": {}}}], "rule 0: tool_call needs a name"),
        (
            [{"tool_call": {"name": "t", "arguments": "x"}}],
            "rule 0: tool_call.arguments must be a mapping",
        ),
    ],
)
def test_bad_scripts_are_refused_with_a_located_message(script, message):
    with pytest.raises(ScriptError) as err:
        Script.parse(script)
    assert message in str(err.value)


def test_rules_wrapper_empty_and_yaml_forms():
    assert Script.parse({"rules": [{"reply": "x"}]}).rules[0].replies == ("x",)
    assert Script.parse(None).rules == ()
    assert Script.from_text("").rules == ()
    assert Script.from_text('[{"json": [1, 2]}]').rules[0].replies == ("[1, 2]",)
    assert Script.from_text("rules:\n  - reply: hi\n    delay: 0.5\n").rules[0].delay == 0.5


def test_tool_call_list_gives_one_call_per_round():
    script = Script.parse([{"tool_call": [{"name": "a"}, {"name": "b"}], "reply": "done"}])

    def conv(rounds: int) -> Conversation:
        return Conversation("agent-1", "", "p", rounds, "user", "m", False, ())

    assert [script.decide(conv(n)).tool_call.name for n in (0, 1)] == ["a", "b"]
    assert script.decide(conv(2)).text == "done"
