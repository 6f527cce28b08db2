"""`replicas: N` on inline agents: typed, defaulted, range-checked, and refused on `ref`
agents with a located error (a provisioned agent is one identity)."""

from __future__ import annotations

import textwrap

import pytest

from orchestrator.errors import SpecError
from orchestrator.spec import load_pipeline_text

HEAD = """\
apiVersion: orchestrate/v1
kind: Pipeline
metadata: {name: t}
"""


def load(body: str):
    return load_pipeline_text(HEAD + textwrap.dedent(body), "p.yaml")


def problems(body: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load(body)
    return [issue.format() for issue in info.value.issues]


def test_replicas_default_to_one_and_are_read():
    spec = load("""
        agents:
          solo: {}
          many: {replicas: 4}
        steps:
          a: {agent: solo, prompt: hi}
          b: {agent: many, prompt: hi}
        """)
    assert spec.agents["solo"].replicas == 1
    assert spec.agents["many"].replicas == 4


def test_replicas_on_a_ref_agent_is_a_located_error():
    assert problems("""
        agents:
          editor:
            ref: editor
            replicas: 3
        steps:
          a: {agent: editor, prompt: hi}
        """) == [
        "p.yaml:8:5: agents.editor.replicas: a provisioned agent (ref) is one Letta agent: "
        "it cannot have replicas (remove 'replicas' (its steps then run one at a time), or "
        "define the agent inline to let a run create copies of it)",
    ]


def test_replicas_on_a_ref_agent_is_reported_next_to_other_extra_keys():
    found = problems("""
        agents:
          editor: {ref: editor, replicas: 2, tools: [x]}
        steps:
          a: {agent: editor, prompt: hi}
        """)
    assert len(found) == 2
    assert found[0].startswith("p.yaml:6:25: agents.editor.replicas: a provisioned agent (ref)")
    assert found[1].startswith(
        "p.yaml:6:38: agents.editor: an agent with 'ref' cannot also set 'tools' ("
    )


@pytest.mark.parametrize(
    "value, message",
    [
        ("0", "agents.w.replicas: must be at least 1, got 0"),
        ("two", "agents.w.replicas: expected an integer, got a string"),
    ],
)
def test_replicas_must_be_a_positive_integer(value, message):
    found = problems(f"""
        agents:
          w: {{replicas: {value}}}
        steps:
          a: {{agent: w, prompt: hi}}
        """)
    assert any(message in line for line in found), found
