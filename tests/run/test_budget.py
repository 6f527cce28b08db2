"""Budgets: a run's and a step's limits stop what would start beyond them; what ran is kept,
what did not is `not_started` with the reason, and resume with a higher limit carries on
without sending anything twice. Loops and for_each count every unit."""

from __future__ import annotations

import dataclasses

import pytest

from orchestrator.run.runner import recorded_options, resume_run
from orchestrator.run.status import NOT_STARTED

CHAIN = """
agents: {a: {}}
steps:
  one: {agent: a, prompt: "one two three four five"}
  two: {agent: a, prompt: "six {{ steps.one.output }}"}
  three: {agent: a, prompt: "seven {{ steps.two.output }}"}
"""


@pytest.fixture(autouse=True)
def priced(tmp_path, monkeypatch):
    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  memory/echo: {input: 1000, output: 1000}\n")  # $0.001/token
    monkeypatch.setenv("ORCHESTRATE_PRICES", str(path))


def _tokens(harness, run_id):
    return sum(
        u["prompt_tokens"] + u["completion_tokens"]
        for u in harness.records.units(run_id).values()
        if u["prompt"] is not None
    )


def _resume(harness, run_id, **changes):
    options = dataclasses.replace(recorded_options(harness.records.run(run_id)), **changes)
    return resume_run(run_id, harness.run_plan, harness.backend, harness.records, options=options)


def test_a_run_budget_stops_before_the_next_step_and_resume_with_more_carries_on(harness):
    out = harness.run(CHAIN, max_tokens=1)  # the first unit spends more than that
    assert out.status == "failed"
    assert out.results["one"].status == "succeeded"
    for name in ("two", "three"):
        assert out.results[name].status == NOT_STARTED
        assert "the run's budget is spent" in out.results[name].error
    assert (
        "max_tokens 1" in out.error and f"orchestrate resume {out.run_id} --max-tokens" in out.error
    )
    assert len(harness.backend.sent) == 1
    assert set(k.step for k in harness.records.units(out.run_id)) == {"one"}  # no rows
    again = _resume(harness, out.run_id, max_tokens=1)  # the same limit stops it again
    assert again.status == "failed" and len(harness.backend.sent) == 1
    done = _resume(harness, out.run_id, max_tokens=10_000)
    assert done.status == "succeeded", done.error
    assert [m["prompt"].split()[0] for m in harness.backend.sent] == ["one", "six", "seven"]
    assert done.totals["prompt_tokens"] + done.totals["completion_tokens"] == _tokens(
        harness, out.run_id
    )


def test_max_cost_counts_dollars_and_is_recorded_for_resume(harness):
    out = harness.run(CHAIN, max_cost=0.001)  # one token's worth
    assert out.status == "failed" and "max_cost $0.0010" in out.error
    assert "--max-cost HIGHER" in out.error
    assert harness.records.run(out.run_id)["options"]["max_cost"] == 0.001
    done = _resume(harness, out.run_id, max_cost=100.0)
    assert done.status == "succeeded" and len(harness.backend.sent) == 3


def test_for_each_counts_every_item_and_resume_sends_only_the_rest(harness):
    body = """
        agents: {a: {}}
        steps:
          fan: {agent: a, for_each: "{{ range(6) | list }}", prompt: "item {{ item }}"}
    """
    # each item: "item N" = 2 prompt tokens + 5 completion tokens = 7
    out = harness.run(body, max_tokens=3 * 7)
    assert out.status == "failed"
    assert out.results["fan"].status == NOT_STARTED
    assert len(harness.backend.sent) == 3
    items = {
        k.item: u["status"] for k, u in harness.records.units(out.run_id).items() if k.item >= 0
    }
    assert items == {0: "succeeded", 1: "succeeded", 2: "succeeded"}
    done = _resume(harness, out.run_id, max_tokens=6 * 7)
    assert done.status == "succeeded", done.error
    assert [m["prompt"] for m in harness.backend.sent] == [f"item {i}" for i in range(6)]


def test_loop_iterations_count_and_a_step_budget_bounds_only_its_step(harness):
    body = """
        agents: {a: {}, b: {}}
        steps:
          side: {agent: b, prompt: "independent"}
          again:
            budget: {max_tokens: 14}
            loop:
              max_iterations: 5
              steps:
                body: {agent: a, prompt: "round {{ loop.index }}"}
          after: {agent: a, prompt: "after {{ steps.again.output }}"}
    """
    out = harness.run(body)
    assert out.results["side"].status == "succeeded"  # another branch carries on
    assert out.results["again"].status == NOT_STARTED
    assert "step 'again''s budget is spent: 14 tokens used" in out.results["again"].error
    assert out.results["after"].status == "blocked"
    rounds = [m["prompt"] for m in harness.backend.sent if m["prompt"].startswith("round")]
    assert rounds == ["round 1", "round 2"]


def test_a_step_budget_bounds_its_json_repairs(harness):
    harness.backend.script(agent="a", replies=["not json"])  # repairs too
    body = """
        agents: {a: {}}
        steps:
          judge:
            agent: a
            prompt: "verdict please"
            retries: 5
            budget: {max_tokens: 30}
            output: {format: json, schema: {type: object}}
    """
    out = harness.run(body)
    assert out.results["judge"].status == "failed"
    assert "budget is spent" in out.results["judge"].error
    sent = len(harness.backend.sent)
    assert 1 <= sent < 5  # it stopped before using every attempt
    assert _tokens(harness, out.run_id) >= 30


def test_max_cost_refuses_a_model_with_no_price_before_sending(harness, monkeypatch, tmp_path):
    monkeypatch.setenv("ORCHESTRATE_PRICES", str(tmp_path / "none.yaml"))
    (tmp_path / "none.yaml").write_text("models: {}\n")
    out = harness.run(CHAIN, max_cost=5.0)
    assert out.status == "failed"
    assert "model 'memory/echo' has no price" in out.error
    assert harness.backend.sent == []


def test_defaults_budget_is_the_run_budget_and_the_command_line_wins(harness):
    body = CHAIN.replace("agents: {a: {}}", "defaults: {budget: {max_tokens: 1}}\nagents: {a: {}}")
    out = harness.run(body)
    assert out.status == "failed" and len(harness.backend.sent) == 1
    more = harness.run(body, max_tokens=10_000)
    assert more.status == "succeeded"


def test_budget_fields_are_validated_with_their_location():
    from orchestrator.errors import SpecError
    from orchestrator.spec import load_pipeline_text

    HEADER = "apiVersion: orchestrate/v1\nkind: Pipeline\nmetadata: {name: t}\n"
    text = HEADER + (
        "defaults: {budget: {max_cost: -1}}\nagents: {a: {}}\nsteps:\n"
        "  one: {agent: a, prompt: hi, budget: {max_tokens: 10, max_dollars: 1}}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_pipeline_text(text, "p.yaml")
    found = {(i.path, i.line) for i in caught.value.issues}
    assert ("defaults.budget.max_cost", 4) in found
    assert any(path.startswith("steps.one.budget") and line == 7 for path, line in found)
    spec = load_pipeline_text(
        HEADER + "defaults: {budget: {max_tokens: 5}}\nagents: {a: {}}\n"
        "steps:\n  one: {agent: a, prompt: hi, budget: {max_cost: 0.5}}\n",
        "p.yaml",
    )
    assert spec.defaults.budget.max_tokens == 5
    assert spec.steps["one"].budget.max_cost == 0.5


def test_budget_options_on_the_command_line(tmp_path):
    from click.testing import CliRunner

    from orchestrator.cli import main

    runner = CliRunner()
    zero = runner.invoke(main, ["run", str(tmp_path / "p.yaml"), "--max-tokens", "0"])
    assert zero.exit_code == 2 and "--max-tokens" in zero.output
    negative = runner.invoke(main, ["resume", "20261202-000000-abcdef", "--max-cost", "-1"])
    assert negative.exit_code == 2 and "--max-cost" in negative.output
    batch = runner.invoke(main, ["resume", "batch-20261202-000000-abcdef", "--max-cost", "1"])
    assert (
        batch.exit_code == 2 and "--max-cost cannot be given when resuming a batch" in batch.output
    )
