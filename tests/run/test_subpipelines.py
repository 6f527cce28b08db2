"""Sub-pipelines at run time (in memory; the LLM is the only simulated part): the used
pipeline's steps run as ordinary units named `review.draft`, see their own inputs and steps,
get their own agents per use, skip together, are budgeted by the step, and resume reuses
them like any other unit (nothing sent twice)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from orchestrator.compile import load_plan
from orchestrator.errors import BackendError
from orchestrator.run.records import UnitKey
from orchestrator.run.runner import resume_run

HEAD = "apiVersion: orchestrate/v1\nkind: Pipeline\nmetadata: {name: NAME}\n"
CHECK = """\
inputs:
  text: {type: string}
  tone: {type: string, default: plain}
  count: {type: integer, default: 1}
agents:
  editor: {}
steps:
  critique: {agent: editor, prompt: "critique {{ inputs.tone }} x{{ inputs.count }}: {{ inputs.text }}"}
  improve: {agent: editor, prompt: "improve {{ inputs.text }} with {{ steps.critique.output }}"}
outputs:
  text: "{{ steps.improve.output }}"
  count: "{{ inputs.count }}"
"""
MAIN = """\
inputs:
  topic: {type: string}
  n: {type: string, default: "2"}
  skip: {type: boolean, default: false}
agents:
  writer: {}
steps:
  draft: {agent: writer, prompt: "draft {{ inputs.topic }}"}
  first:
    uses: ./check.yaml
    with: {text: "{{ steps.draft.output }}", tone: "{{ inputs.topic }}!", count: "{{ inputs.n }}"}
  second:
    uses: ./check.yaml
    when: "{{ not inputs.skip }}"
    with: {text: "{{ steps.first.output.text }}"}
  publish: {agent: writer, prompt: "publish {{ steps.first.output.text }} ran={{ steps.second.ran }}"}
outputs:
  final: "{{ steps.publish.output }}"
  count: "{{ steps.first.output.count }}"
"""


def plan(tmp_path: Path, main: str = MAIN):
    for name, body in (("check", CHECK), ("main", main)):
        (tmp_path / f"{name}.yaml").write_text(HEAD.replace("NAME", name) + textwrap.dedent(body))
    return load_plan(tmp_path / "main.yaml")


def test_a_sub_pipeline_runs_as_units_of_the_run(harness, tmp_path):
    out = harness.run(plan(tmp_path), {"topic": "owls"})
    assert out.status == "succeeded", out.error
    prompts = harness.backend.prompts()
    assert "critique owls! x2: [memory] writer: reply to: draft owls" in prompts
    assert out.outputs["count"] == 2  # typed as the used pipeline declares it
    assert out.outputs["final"].startswith(
        "[memory] writer: reply to: publish [memory] first.editor: reply to: improve"
    )
    units = harness.records.units(out.run_id)
    assert {k.step for k in units} >= {
        "first.inputs",
        "first.critique",
        "first.improve",
        "first",
        "second.critique",
    }
    assert units[UnitKey("first.critique")]["agent"] == "first.editor"
    assert units[UnitKey("first")]["output"]["count"] == 2
    # two uses, two agents: each its own Letta agent
    agents = {m["agent"]: m["agent_id"] for m in harness.backend.sent}
    assert agents["first.editor"] != agents["second.editor"]
    finished = [d["step"] for k, d in harness.events if k == "step_finished"]
    assert "second.improve" in finished and "second" in finished


def test_when_on_the_uses_step_skips_the_whole_sub_pipeline(harness, tmp_path):
    out = harness.run(plan(tmp_path), {"topic": "owls", "skip": True})
    assert out.status == "succeeded", out.error
    for name in ("second.inputs", "second.critique", "second.improve", "second"):
        assert out.results[name].status == "skipped", name
    assert "ran=False" in harness.backend.prompts("writer")[-1]
    assert not any(m["agent"] == "second.editor" for m in harness.backend.sent)


def test_a_with_value_of_the_wrong_type_fails_the_step_at_run_time(harness, tmp_path):
    out = harness.run(plan(tmp_path), {"topic": "owls", "n": "many"})
    assert out.status == "failed"
    assert out.results["first.inputs"].status == "failed"
    assert "steps.first.with" in out.results["first.inputs"].error
    assert "input 'count': expected an integer" in out.results["first.inputs"].error
    assert out.results["first.critique"].status == "blocked"


def test_resume_reuses_the_sub_pipelines_units(harness, tmp_path):
    harness.backend.script(
        prompt_contains="improve [memory] first.editor",
        fail=BackendError("HTTP 400: no", status=400),
    )
    compiled = plan(tmp_path)
    first = harness.run(compiled, {"topic": "owls"})
    assert first.status == "failed"
    assert first.results["second.improve"].status == "failed"
    sent = len(harness.backend.sent)
    harness.backend.rules.clear()
    out = resume_run(first.run_id, compiled, harness.backend, harness.records)
    assert out.status == "succeeded", out.error
    assert len(harness.backend.sent) == sent + 2  # second.improve, then publish: no more
    assert out.results["first.critique"].reused and out.results["second.critique"].reused


def test_a_budget_on_the_uses_step_bounds_its_units(harness, tmp_path):
    main = MAIN.replace("  second:\n", "  second:\n    budget: {max_tokens: 1}\n")
    out = harness.run(plan(tmp_path, main), {"topic": "owls"})
    assert out.status == "failed"
    assert out.results["second.critique"].status == "succeeded"  # spent its budget
    assert out.results["second.improve"].status == "not_started"
    assert "step 'second''s budget is spent" in out.results["second.improve"].error


def test_a_used_pipeline_may_fan_out_itself(harness, tmp_path):
    (tmp_path / "fan.yaml").write_text(
        HEAD.replace("NAME", "fan")
        + textwrap.dedent("""\
        inputs: {topics: {type: array}}
        agents: {w: {replicas: 2}}
        steps:
          each: {agent: w, for_each: "{{ inputs.topics }}", as: t, prompt: "about {{ t }}"}
        outputs: {all: "{{ steps.each.output }}"}
        """)
    )
    (tmp_path / "main.yaml").write_text(
        HEAD.replace("NAME", "main")
        + textwrap.dedent("""\
        steps:
          fan: {uses: ./fan.yaml, with: {topics: [owls, bats]}}
        outputs: {all: "{{ steps.fan.output.all }}"}
        """)
    )
    out = harness.run(load_plan(tmp_path / "main.yaml"))
    assert out.status == "succeeded", out.error
    assert out.outputs["all"] == [
        "[memory] fan.w: reply to: about owls",
        "[memory] fan.w: reply to: about bats",
    ]
    assert UnitKey("fan.each", 1) in harness.records.units(out.run_id)


def test_dry_run_renders_each_step_in_its_own_scope(tmp_path):
    from orchestrator.run.dryrun import dry_run

    steps = {s.name: s for s in dry_run(plan(tmp_path), {"topic": "owls"})}
    assert steps["first.inputs"].prompt.startswith("text: <steps.draft.output>\ntone: owls!")
    assert steps["first.improve"].prompt == (
        "improve <steps.draft.output> with <steps.first.critique.output>"
    )
    assert steps["first"].uses.startswith("the outputs of sub-pipeline")
