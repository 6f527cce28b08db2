"""Step fingerprints: stable for the same definition, changed by what defines the result."""

from __future__ import annotations

from .helpers import plan_of

BASE = """\
shared_blocks: {notes: {value: "v1"}}
agents:
  w: {memory_blocks: [{label: persona, value: "writer"}], shared_blocks: [notes]}
  r: {}
steps:
  a: {agent: w, prompt: "start"}
  b: {agent: r, prompt: "{{ steps.a.output }}", retries: 2, timeout: 10}
  l:
    loop:
      max_iterations: 2
      steps:
        x: {agent: r, prompt: "go {{ loop.index }}"}
"""


def fingerprints(body: str) -> dict[str, str]:
    plan = plan_of(body)
    return {name: step.fingerprint for name, step in plan.steps.items()}


def test_fingerprints_are_stable_and_distinct():
    one, two = fingerprints(BASE), fingerprints(BASE)
    assert one == two
    assert len(set(one.values())) == 3 and all(len(f) == 64 for f in one.values())


def test_moving_a_step_in_the_file_keeps_fingerprints():
    moved = (
        BASE.replace('  a: {agent: w, prompt: "start"}\n', "")
        + '  a: {agent: w, prompt: "start"}\n'
    )
    assert fingerprints(moved) == fingerprints(BASE)


def test_template_change_changes_only_that_step():
    before, after = fingerprints(BASE), fingerprints(BASE.replace('"start"', '"begin"'))
    assert after["a"] != before["a"]
    assert after["b"] == before["b"] and after["l"] == before["l"]


def test_agent_or_shared_block_change_changes_steps_using_it():
    after = fingerprints(BASE.replace('value: "writer"', 'value: "editor"'))
    assert after["a"] != fingerprints(BASE)["a"]
    after = fingerprints(BASE.replace('value: "v1"', 'value: "v2"'))
    assert after["a"] != fingerprints(BASE)["a"] and after["b"] == fingerprints(BASE)["b"]


def test_loop_body_change_changes_the_loop_step():
    after = fingerprints(BASE.replace("go {{ loop.index }}", "go again {{ loop.index }}"))
    assert after["l"] != fingerprints(BASE)["l"]


def test_retries_and_timeouts_do_not_change_fingerprints():
    after = fingerprints(BASE.replace("retries: 2, timeout: 10", "retries: 5, timeout: 99"))
    assert after == fingerprints(BASE)


def test_replicas_do_not_change_fingerprints():
    after = fingerprints(BASE.replace("  r: {}", "  r: {replicas: 4}"))
    assert after == fingerprints(BASE)


def test_model_and_output_schema_change_fingerprints():
    before = fingerprints(BASE)
    assert (
        fingerprints(BASE.replace('prompt: "start"}', 'prompt: "start", model: m/x}'))["a"]
        != before["a"]
    )
    schema = 'prompt: "start", output: {format: json, schema: {type: object}}}'
    assert fingerprints(BASE.replace('prompt: "start"}', schema))["a"] != before["a"]
