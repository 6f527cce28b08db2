"""Cost, budgets and stats on the embedded Letta (the local model reports real usage).

- a run budget is reached in the middle of a run; resume with a higher one completes it
  and the model endpoint never sees a prompt of the part that ran again;
- cost is summed correctly over a for_each and a loop (the local model priced for the test);
- stats over those records agree with the unit rows, and the plot is a valid SVG.
"""

from __future__ import annotations

import dataclasses
import secrets
import textwrap
import xml.etree.ElementTree as ET

import pytest

from orchestrator.backends.letta import LettaBackend
from orchestrator.compile import load_plan
from orchestrator.run.records import Records
from orchestrator.run.runner import RunOptions, recorded_options, resume_run, start_run
from orchestrator.run.stats import collect
from orchestrator.run.stats_plot import plot_svg
from orchestrator.run.status import NOT_STARTED

pytestmark = pytest.mark.integration
IN, OUT = 1.5, 6.0  # USD per million tokens, for the local model in these tests


@pytest.fixture
def env(letta_stack, tmp_path, monkeypatch):
    prices = tmp_path / "prices.yaml"
    prices.write_text(f"models:\n  {letta_stack.model_handle}: {{input: {IN}, output: {OUT}}}\n")
    monkeypatch.setenv("ORCHESTRATE_PRICES", str(prices))
    records = Records(tmp_path / "runs.db")
    yield LettaBackend(letta_stack.base_url), records, tmp_path
    records.close()


def _plan(tmp_path, body: str):
    path = tmp_path / f"p-{secrets.token_hex(3)}.yaml"
    path.write_text(
        "apiVersion: orchestrate/v1\nkind: Pipeline\nmetadata: {name: cost-e2e}\n"
        + textwrap.dedent(body)
    )
    return load_plan(path)


def _seen(model_script, marker: str) -> int:
    """Requests whose latest message is that step's prompt (a later prompt quotes an
    earlier step's reply, which may quote its prompt: the first marker is the step's)."""

    def last_marker(prompt: str) -> str:
        found = [(prompt.find(m), m) for m in ("FIRST-", "SECOND-", "THIRD-") if m in prompt]
        return min(found)[1] if found else ""

    return sum(
        last_marker(r.get("prompt") or "") == marker.split("-")[0] + "-"
        and marker in (r.get("prompt") or "")
        for r in model_script.requests()
    )


def test_budget_stops_mid_run_and_resume_with_more_sends_nothing_twice(env, model_script):
    backend, records, tmp = env
    model_script([])
    tag = secrets.token_hex(3)
    plan = _plan(
        tmp,
        f"""
        agents: {{a: {{}}}}
        steps:
          first: {{agent: a, prompt: "FIRST-{tag}: say one word."}}
          second: {{agent: a, prompt: "SECOND-{tag}: say one word after {{{{ steps.first.output }}}}"}}
          third: {{agent: a, prompt: "THIRD-{tag}: say one word after {{{{ steps.second.output }}}}"}}
    """,
    )
    out = start_run(plan, {}, backend, records, options=RunOptions(max_tokens=1))
    assert out.status == "failed"
    assert out.results["first"].status == "succeeded"
    assert out.results["second"].status == out.results["third"].status == NOT_STARTED
    assert "the run's budget is spent" in out.results["second"].error
    assert f"orchestrate resume {out.run_id} --max-tokens" in out.error
    first_seen = _seen(model_script, f"FIRST-{tag}")
    assert first_seen >= 1 and _seen(model_script, f"SECOND-{tag}") == 0
    options = dataclasses.replace(recorded_options(records.run(out.run_id)), max_tokens=10**7)
    done = resume_run(out.run_id, plan, backend, records, options=options)
    assert done.status == "succeeded", done.error
    assert _seen(model_script, f"FIRST-{tag}") == first_seen  # not sent again
    assert _seen(model_script, f"SECOND-{tag}") >= 1 and _seen(model_script, f"THIRD-{tag}") >= 1
    units = records.units(out.run_id)
    assert {k.step: u["attempts"] for k, u in units.items()} == {
        "first": 1,
        "second": 1,
        "third": 1,
    }


def test_cost_is_summed_over_a_fan_out_and_a_loop_and_stats_agree(env, model_script):
    backend, records, tmp = env
    model_script([])
    plan = _plan(
        tmp,
        """
        agents: {a: {replicas: 2}, b: {}}
        steps:
          fan: {agent: a, for_each: "{{ ['red', 'green', 'blue'] }}", prompt: "Name a {{ item }} fruit."}
          again:
            loop:
              max_iterations: 2
              steps:
                body: {agent: b, prompt: "Round {{ loop.index }}: one word about {{ steps.fan.output | length }} fruits."}
    """,
    )
    out = start_run(plan, {}, backend, records, options=RunOptions())
    assert out.status == "succeeded", out.error
    units = records.units(out.run_id)
    leaves = {k: u for k, u in units.items() if u["prompt"] is not None}
    assert len(leaves) == 3 + 2

    def price(u):
        return (u["prompt_tokens"] * IN + u["completion_tokens"] * OUT) / 1e6

    for unit in leaves.values():
        assert unit["prompt_tokens"] > 0 and unit["model"]
        assert unit["cost"] == pytest.approx(price(unit), rel=1e-6)
    fan = [u for k, u in leaves.items() if k.step == "fan"]
    body = [u for k, u in leaves.items() if k.step == "again.body"]
    assert out.results["fan"].usage.usd == pytest.approx(sum(map(price, fan)), rel=1e-6)
    assert out.results["again"].usage.usd == pytest.approx(sum(map(price, body)), rel=1e-6)
    assert units[next(k for k in units if k.step == "fan" and k.item == -1)][
        "cost"
    ] == pytest.approx(sum(map(price, fan)), rel=1e-6)
    total = sum(map(price, leaves.values()))
    assert out.totals["cost"] == pytest.approx(total, rel=1e-6)
    doc = collect(records)
    assert doc["usage"]["total"]["cost_usd"] == pytest.approx(total, abs=1e-6)
    assert doc["usage"]["total"]["tokens"] == sum(
        u["prompt_tokens"] + u["completion_tokens"] for u in leaves.values()
    )
    assert {r["agent"]: r["units"] for r in doc["usage"]["by_agent"]} == {"a": 3, "b": 2}
    svg = tmp / "stats.svg"
    svg.write_text(plot_svg(doc))
    assert ET.parse(svg).getroot().tag.endswith("svg")


def test_cost_and_stats_on_postgresql_records(pg_url, tmp_path, monkeypatch):
    from orchestrator.backends.memory import MemoryBackend
    from tests.run.conftest import plan_of

    monkeypatch.setenv("ORCHESTRATE_PRICES", str(tmp_path / "p.yaml"))
    (tmp_path / "p.yaml").write_text("models:\n  memory/echo: {input: 1, output: 1}\n")
    records = Records(pg_url)
    try:
        plan = plan_of("""
            agents: {a: {}}
            steps:
              fan: {agent: a, for_each: "{{ [1, 2] }}", prompt: "item {{ item }}"}
        """)
        out = start_run(plan, {}, MemoryBackend(), records, options=RunOptions(max_tokens=7))
        assert out.status == "failed" and out.results["fan"].status == NOT_STARTED
        doc = collect(records)
        assert doc["runs"]["total"] == 1 and doc["steps"]["units"] == 1
        assert doc["usage"]["total"]["cost_usd"] == pytest.approx(7 / 1e6)
        assert records.list_runs()[0]["cost"] == pytest.approx(7 / 1e6)
    finally:
        records.close()
