"""Prices and cost: the shipped table, a user's file over it, cost per unit, for_each item,
loop iteration and run, in the records, the summary, `--json` and `runs show`."""

from __future__ import annotations

import json

import pytest

from orchestrator.errors import RunError
from orchestrator.run import render
from orchestrator.run.cost import Cost, Price, PriceTable, load_prices
from orchestrator.run.progress import outcome_json

PRICED = {"input": 3.0, "output": 15.0}  # USD per million tokens, for memory/echo


@pytest.fixture
def priced(tmp_path, monkeypatch):
    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  memory/echo: {input: 3.0, output: 15.0, checked: 2026-12-01}\n")
    monkeypatch.setenv("ORCHESTRATE_PRICES", str(path))
    return path


def _expected(unit: dict) -> float:
    return (
        unit["prompt_tokens"] * PRICED["input"] + unit["completion_tokens"] * PRICED["output"]
    ) / 1e6


def test_exact_handles_win_over_patterns_and_the_longest_pattern_wins():
    table = PriceTable({"a/m": Price(1, 1), "a/m*": Price(2, 2), "a/m-big*": Price(3, 3)})
    assert table.price("a/m").input == 1
    assert table.price("a/m-2025").input == 2
    assert table.price("a/m-big-2025").input == 3
    assert table.price("b/m") is None and table.price(None) is None


def test_unknown_model_is_cost_unknown_never_zero_and_no_tokens_cost_nothing():
    table = PriceTable({})
    assert table.cost("x/y", 10, 5) == Cost(0.0, 15)
    assert table.cost("x/y", 10, 5).text() == "cost unknown"
    assert table.cost("x/y", 10, 5).usd_or_none() is None
    assert table.cost("x/y", 0, 0).known


def test_the_shipped_table_prices_the_local_model_at_zero_and_dates_every_entry(
    monkeypatch, tmp_path
):
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path))  # no user file
    monkeypatch.delenv("ORCHESTRATE_PRICES", raising=False)
    table = load_prices()
    local = table.price("openai-proxy/orchestrate-local")
    assert local is not None and (local.input, local.output) == (0, 0)
    assert table.cost("openai-proxy/orchestrate-local", 1000, 1000).text() == "$0"
    for handle in table.handles():
        assert (
            len(table.price(handle.rstrip("*") + "x" if handle.endswith("*") else handle).checked)
            == 10
        ), handle
    gpt = table.price("openai/gpt-4.1")
    assert gpt.of(1_000_000, 0) == gpt.input


def test_a_user_file_overrides_and_extends_the_shipped_table(tmp_path, monkeypatch):
    path = tmp_path / "p.yaml"
    path.write_text(
        "models:\n  openai/gpt-4.1: {input: 1, output: 2}\n  my/model: {input: 0.5, output: 0.5}\n"
    )
    monkeypatch.setenv("ORCHESTRATE_PRICES", str(path))
    table = load_prices()
    assert table.price("openai/gpt-4.1").input == 1
    assert table.price("my/model").output == 0.5
    assert table.price("openai/gpt-4o") is not None  # the rest of the shipped table stays


def test_a_bad_user_file_is_a_located_error(tmp_path, monkeypatch):
    path = tmp_path / "p.yaml"
    path.write_text("models:\n  my/model:\n    input: free\n    output: 1\n")
    monkeypatch.setenv("ORCHESTRATE_PRICES", str(path))
    with pytest.raises(
        RunError,
        match=r"p\.yaml:3:5: models\.my/model\.input: expected a "
        r"number >= 0",
    ):
        load_prices()
    monkeypatch.setenv("ORCHESTRATE_PRICES", str(tmp_path / "missing.yaml"))
    with pytest.raises(RunError, match="price file not found"):
        load_prices()


def test_cost_of_each_unit_for_each_item_and_loop_iteration_sums_to_the_run(harness, priced):
    out = harness.run("""
        agents: {a: {}}
        steps:
          one: {agent: a, prompt: "first step with a few words"}
          fan: {agent: a, for_each: "{{ ['x', 'yy y', 'z z z'] }}", prompt: "item {{ item }}"}
          again:
            loop:
              max_iterations: 3
              steps:
                body: {agent: a, prompt: "round {{ loop.index }} of {{ steps.one.output }}"}
    """)
    assert out.status == "succeeded", out.error
    units = harness.records.units(out.run_id)
    leaves = [u for u in units.values() if u["prompt"] is not None]
    assert len(leaves) == 1 + 3 + 3
    for unit in leaves:
        assert unit["cost"] == pytest.approx(_expected(unit)) and unit["unpriced_tokens"] == 0
    fan = [u for k, u in units.items() if k.step == "fan" and k.item >= 0]
    assert out.results["fan"].usage.usd == pytest.approx(sum(_expected(u) for u in fan))
    body = [u for k, u in units.items() if k.step == "again.body"]
    assert len(body) == 3
    assert out.results["again"].usage.usd == pytest.approx(sum(_expected(u) for u in body))
    total = sum(_expected(u) for u in leaves)
    doc = outcome_json(out)
    assert doc["usage"]["cost_usd"] == pytest.approx(total, abs=1e-6)
    assert doc["usage"]["tokens"] == sum(
        u["prompt_tokens"] + u["completion_tokens"] for u in leaves
    )
    by_step = {s["step"]: s for s in doc["steps"]}
    assert by_step["fan"]["cost_usd"] == pytest.approx(sum(_expected(u) for u in fan), abs=1e-6)
    text = render.outcome_text(out)
    assert f"${total:.4f}" in text.splitlines()[-1] or f"${total:.4f}" in text
    detail = render.run_detail(harness.records.run(out.run_id), list(units.values()))
    assert f"cost ${_expected(leaves[0]):.4f}" in detail
    json.dumps(doc)


def test_a_model_without_a_price_reads_cost_unknown_everywhere(harness, tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path))
    monkeypatch.delenv("ORCHESTRATE_PRICES", raising=False)
    out = harness.run("""
        agents: {a: {}}
        steps:
          one: {agent: a, prompt: "hello there"}
    """)
    unit = harness.records.units(out.run_id)
    row = next(iter(unit.values()))
    assert row["cost"] == 0 and row["unpriced_tokens"] == row["prompt_tokens"] + 5
    doc = outcome_json(out)
    assert doc["usage"]["cost_usd"] is None
    assert doc["usage"]["unpriced_tokens"] == doc["usage"]["tokens"] > 0
    assert doc["steps"][0]["cost_usd"] is None
    assert "cost unknown" in render.outcome_text(out)
    runs = harness.records.list_runs()
    assert "unknown" in render.runs_table(runs).splitlines()[1]


def test_runs_show_json_has_the_runs_usage(harness, priced, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from orchestrator.cli import main

    out = harness.run("""
        agents: {a: {}}
        steps:
          one: {agent: a, prompt: "a b c"}
    """)
    monkeypatch.setenv("ORCHESTRATE_RECORDS_URL", str(harness.records.location))
    shown = CliRunner().invoke(main, ["runs", "show", out.run_id, "--json"])
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.output)
    unit = doc["steps"][0]
    assert doc["usage"]["tokens"] == unit["prompt_tokens"] + unit["completion_tokens"] == 3 + 5
    assert doc["usage"]["cost_usd"] == pytest.approx(_expected(unit), abs=1e-6)
    assert unit["cost"] == pytest.approx(_expected(unit))
