"""Step semantics on the in-memory backend: handoffs, skips, for_each, loops, concurrency."""

from __future__ import annotations

import time

import pytest

from orchestrator.errors import RunError
from orchestrator.run.records import UnitKey

CHAIN = """
agents:
  a: {}
  b: {}
steps:
  first: {agent: a, prompt: "one {{ inputs.x }}"}
  second: {agent: b, prompt: "two <{{ steps.first.output }}>"}
inputs: {x: {type: string}}
outputs:
  final: "{{ steps.second.output }}"
"""


def test_handoff_renders_upstream_output_into_prompt(harness):
    harness.backend.script(agent=None, prompt_contains="one hi", replies=["FIRST"])
    out = harness.run(CHAIN, {"x": "hi"})
    assert out.status == "succeeded", out.error
    assert harness.backend.prompts()[-1] == "two <FIRST>"
    assert out.outputs["final"].endswith("reply to: two <FIRST>")


def test_run_records_every_step(harness):
    out = harness.run(CHAIN, {"x": "hi"})
    units = harness.records.units(out.run_id)
    assert units[UnitKey("first")]["status"] == "succeeded"
    assert units[UnitKey("second")]["prompt"].startswith("two <")
    assert units[UnitKey("first")]["otid"].startswith("orch-")
    assert harness.records.run(out.run_id)["status"] == "succeeded"


def test_inline_agents_are_deleted_after_a_successful_run_unless_kept(harness):
    harness.run(CHAIN, {"x": "hi"})
    assert len(harness.backend.deleted) == 2 and not harness.backend.agents
    harness.run(CHAIN, {"x": "hi"}, keep_agents=True)
    assert len(harness.backend.agents) == 2


def test_inline_agents_carry_run_tags(harness):
    out = harness.run(CHAIN, {"x": "hi"}, keep_agents=True)
    tags = {t for a in harness.backend.agents.values() for t in a.ref.tags}
    assert {"orchestrate:run", f"orchestrate:run={out.run_id}"} <= tags


WHEN = """
agents: {a: {}}
steps:
  gate: {agent: a, prompt: "gate", output: {format: json}}
  maybe: {agent: a, prompt: "maybe", when: "{{ steps.gate.output.go }}"}
  after: {agent: a, prompt: "after {{ steps.maybe.output }}"}
  other: {agent: a, prompt: "other {{ steps.maybe.ran }}", needs: [gate]}
outputs:
  ran: "{{ steps.maybe.ran }}"
  status: "{{ steps.after.status }}"
"""


def test_when_false_skips_step_and_what_only_depends_on_it(harness):
    harness.backend.script(prompt_contains="gate", json={"go": False})
    out = harness.run(WHEN)
    assert out.status == "succeeded", out.error
    assert out.results["maybe"].status == "skipped"
    assert out.results["after"].status == "skipped"  # all its direct deps were skipped
    assert out.results["other"].status == "succeeded"  # it also depends on gate
    assert out.outputs == {"ran": False, "status": "skipped"}
    assert harness.backend.prompts() == ["gate" + harness.backend.prompts()[0][4:], "other False"]


def test_skipped_steps_finish_without_ever_starting(harness):
    harness.backend.script(prompt_contains="gate", json={"go": False})
    harness.run(WHEN)
    started = [d["step"] for kind, d in harness.events if kind == "step_started"]
    finished = {d["step"] for kind, d in harness.events if kind == "step_finished"}
    assert sorted(started) == ["gate", "other"]
    assert {"maybe", "after"} <= finished


def test_when_true_runs(harness):
    harness.backend.script(prompt_contains="gate", json={"go": True})
    out = harness.run(WHEN)
    assert out.results["maybe"].status == "succeeded"
    assert out.results["after"].status == "succeeded"


FOR_EACH = """
agents: {a: {}}
inputs: {xs: {type: array}}
steps:
  each: {agent: a, for_each: "{{ inputs.xs }}", as: x, prompt: "item {{ x }}"}
outputs:
  all: "{{ steps.each.output }}"
"""


def test_for_each_collects_results_in_item_order(harness):
    harness.backend.script(prompt_contains="item 1", replies=["one"], delay=0.05)
    harness.backend.script(prompt_contains="item 2", replies=["two"])
    harness.backend.script(prompt_contains="item 3", replies=["three"])
    out = harness.run(FOR_EACH, {"xs": [1, 2, 3]})
    assert out.outputs["all"] == ["one", "two", "three"]
    units = harness.records.units(out.run_id)
    assert [units[UnitKey("each", i)]["status"] for i in range(3)] == ["succeeded"] * 3
    assert units[UnitKey("each")]["output"] == ["one", "two", "three"]


def test_for_each_over_a_non_list_fails_clearly(harness):
    out = harness.run(FOR_EACH.replace("{{ inputs.xs }}", "{{ inputs.xs[0] }}"), {"xs": [5]})
    assert out.status == "failed"
    assert "for_each must give a list, got int" in out.results["each"].error


LOOP = """
agents: {w: {}, r: {}}
steps:
  draft: {agent: w, prompt: "draft"}
  revise:
    loop:
      max_iterations: 4
      until: "{{ steps.check.output.ok }}"
      steps:
        rewrite:
          agent: w
          prompt: "rewrite {{ loop.index }} {{ loop.previous.check.output.note if loop.previous else 'first' }}"
        check:
          agent: r
          prompt: "check {{ steps.rewrite.output }}"
          output: {format: json, schema: {type: object, required: [ok, note], properties: {ok: {type: boolean}, note: {type: string}}}}
outputs:
  final: "{{ steps.revise.output.rewrite }}"
  rounds: "{{ steps.revise.iterations }}"
"""


def test_loop_runs_until_approved(harness):
    harness.backend.script(
        agent="r", replies=['{"ok": false, "note": "more"}', '{"ok": true, "note": "fine"}']
    )
    harness.backend.script(agent="w", prompt_contains="rewrite 2", replies=["v2"])
    out = harness.run(LOOP)
    assert out.status == "succeeded", out.error
    assert out.outputs == {"final": "v2", "rounds": 2}
    assert "rewrite 2 more" in harness.backend.prompts("w")[-1]
    units = harness.records.units(out.run_id)
    assert units[UnitKey("revise.check", -1, 2)]["output"] == {"ok": True, "note": "fine"}
    assert units[UnitKey("revise")]["iterations"] == 2


def test_loop_stops_at_max_iterations_without_error(harness):
    harness.backend.script(agent="r", json={"ok": False, "note": "no"})
    out = harness.run(LOOP)
    assert out.status == "succeeded"
    assert out.outputs["rounds"] == 4
    assert len(harness.backend.prompts("r")) == 4


PARALLEL = """
agents: {a: {}, b: {}, c: {}, d: {}}
steps:
  p1: {agent: a, prompt: "p1"}
  p2: {agent: b, prompt: "p2"}
  p3: {agent: c, prompt: "p3"}
  join: {agent: d, prompt: "{{ steps.p1.output }} {{ steps.p2.output }} {{ steps.p3.output }}"}
"""


def test_independent_steps_run_concurrently(harness):
    harness.backend.script(prompt_contains="p", delay=0.2)
    began = time.monotonic()
    out = harness.run(PARALLEL, max_parallel=4)
    elapsed = time.monotonic() - began
    assert out.status == "succeeded"
    assert harness.backend.peak_total == 3
    assert elapsed < 0.55  # three 0.2 s steps in parallel, then the join


def test_max_parallel_bounds_concurrency(harness):
    harness.backend.script(prompt_contains="p", delay=0.05)
    harness.run(PARALLEL, max_parallel=1)
    assert harness.backend.peak_total == 1


SAME_AGENT = """
agents: {a: {}}
steps:
  s1: {agent: a, prompt: "s1"}
  s2: {agent: a, prompt: "s2"}
  s3: {agent: a, prompt: "s3"}
"""


def test_one_agent_never_gets_two_messages_at_once(harness):
    harness.backend.script(delay=0.05)
    out = harness.run(SAME_AGENT, max_parallel=3)
    assert out.status == "succeeded"
    assert max(harness.backend.peak_per_agent.values()) == 1


def test_failed_step_blocks_downstream_and_keeps_independent_work(harness):
    from orchestrator.errors import BackendError

    harness.backend.script(prompt_contains="p2", fail=BackendError("HTTP 400: bad", status=400))
    out = harness.run(PARALLEL)
    assert out.status == "failed"
    assert out.results["p2"].status == "failed"
    assert out.results["join"].status == "blocked"
    assert out.results["p1"].status == "succeeded"
    assert f"orchestrate resume {out.run_id}" in out.error
    assert harness.backend.agents  # a failed run keeps its agents for resume


def test_unprovisioned_ref_agents_are_found_before_any_step_runs(harness):
    body = """
agents: {a: {}, memo: {ref: memo-agent}, notes: {ref: notes-agent}}
steps:
  first: {agent: a, prompt: "first"}
  second: {agent: memo, prompt: "second {{ steps.first.output }}"}
  third: {agent: notes, prompt: "third {{ steps.second.output }}"}
"""
    with pytest.raises(RunError) as err:
        harness.run(body)
    assert str(err.value).startswith(
        "agents.memo: no provisioned agent 'memo-agent' in "
        "namespace 'default' on memory:// (run `orchestrate "
        "apply` first, or check --namespace); agents.notes: no "
        "provisioned agent 'notes-agent'"
    )
    assert not harness.backend.sent and not harness.backend.agents  # nothing spent
    assert harness.records.list_runs() == []
