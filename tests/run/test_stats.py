"""`orchestrate stats` over hundreds of runs made through the runner and the memory backend:
every figure is checked against what the test made happen (counted by hand), or against
the unit rows read one run at a time (durations, which are measured)."""

from __future__ import annotations

import json
import sys
import time
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.errors import BackendError
from orchestrator.run.records import Records
from orchestrator.run.stats import StatsFilter, collect, error_pattern, parse_since, percentile

IN, OUT = 2.0, 10.0  # USD per million tokens for memory/echo
CHAIN = """
defaults: {retries: {max_attempts: 25, backoff: 0.0001, max_backoff: 0.0001}}
agents: {a: {}, b: {}}
inputs: {n: {type: integer}}
steps:
  one: {agent: a, prompt: "alpha {{ inputs.n }}"}
  two: {agent: b, prompt: "beta gamma", needs: [one]}
"""
BOOM = """
agents: {c: {}}
steps:
  boom: {agent: c, prompt: "explode now"}
"""
FAN = """
metadata: {name: fan}
agents: {a: {}}
steps:
  each: {agent: a, for_each: "{{ ['x', 'y', 'z'] }}", prompt: "item {{ item }}"}
"""


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """150 chain runs (the first retries `two` 20 times), 50 runs that fail alike, 30
    fan-outs, 1 run with a JSON repair."""
    import os

    from tests.run.conftest import Harness, plan_of

    tmp = tmp_path_factory.mktemp("stats")
    prices = tmp / "prices.yaml"
    prices.write_text(f"models:\n  memory/echo: {{input: {IN}, output: {OUT}}}\n")
    old = os.environ.get("ORCHESTRATE_PRICES")
    os.environ["ORCHESTRATE_PRICES"] = str(prices)
    h = Harness(tmp)
    h.backend.script(
        prompt_contains="beta",
        times=20,
        fail=BackendError("HTTP 503: busy", transient=True, status=503),
    )
    h.backend.script(
        prompt_contains="explode",
        times=10**6,
        fail=BackendError("HTTP 400: agent-7f3a refused message 42", status=400),
    )
    chain = plan_of(CHAIN)
    fan = plan_of(FAN.replace("metadata: {name: fan}\n", ""), "fan.yaml")
    boom = plan_of(BOOM, "boom.yaml")
    outcomes = [h.run(chain, {"n": i}) for i in range(150)]
    outcomes += [h.run(boom) for _ in range(50)]
    outcomes += [h.run(fan) for _ in range(30)]
    h.backend.script(prompt_contains="verdict", replies=["not json", "{}"])
    outcomes.append(
        h.run("""
        agents: {a: {}}
        steps:
          judge: {agent: a, prompt: verdict, output: {format: json, schema: {type: object}}}
    """)
    )
    yield h, tmp, outcomes
    h.records.close()
    if old is None:
        os.environ.pop("ORCHESTRATE_PRICES", None)
    else:
        os.environ["ORCHESTRATE_PRICES"] = old


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0 and percentile(values, 95) == 95.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0 and percentile([], 50) is None


def test_since_and_error_patterns():
    assert parse_since("7d", now=1_000_000.0) == 1_000_000.0 - 7 * 86400
    assert parse_since("2026-12-01") == 1796083200.0
    assert error_pattern("HTTP 400: agent-7f3a-11 refused 'x'") == error_pattern(
        "HTTP 400: agent-99bc-2 refused 'yy'"
    )


def test_stats_over_hundreds_of_runs_match_what_was_made(made):
    h, _, outcomes = made
    doc = collect(h.records)
    assert [o.status for o in outcomes].count("failed") == 50
    assert doc["runs"]["total"] == 231
    assert doc["runs"]["by_status"] == {"succeeded": 181, "failed": 50}
    assert doc["runs"]["success_rate"] == round(181 / 231, 4)
    steps = doc["steps"]
    assert steps["total"] == 150 * 2 + 50 + 30 + 1
    assert steps["by_status"] == {"succeeded": 331, "failed": 50}
    assert steps["units"] == 300 + 50 + 90 + 1
    assert steps["retries"] == 20 and steps["repairs"] == 1
    # tokens: "alpha N" and "beta gamma" are 2 words each, the echo answers 5 tokens;
    # each fan item "item x" likewise; the failing step is refused before any token
    judge = [u for o in outcomes[-1:] for u in h.records.units(o.run_id).values()][0]
    prompt = 150 * 4 + 90 * 2 + judge["prompt_tokens"]
    completion = 150 * 10 + 90 * 5 + judge["completion_tokens"]
    total = doc["usage"]["total"]
    assert (total["prompt_tokens"], total["completion_tokens"]) == (prompt, completion)
    assert total["cost_usd"] == pytest.approx((prompt * IN + completion * OUT) / 1e6, abs=1e-6)
    agents = {r["agent"]: r for r in doc["usage"]["by_agent"]}
    assert agents["b"]["units"] == 150 and agents["b"]["tokens"] == 150 * 7
    assert agents["c"]["units"] == 50 and agents["c"]["tokens"] == 0
    pipelines = {r["pipeline"]: r["units"] for r in doc["usage"]["by_pipeline"]}
    assert pipelines["t"] == 300 + 50 + 90 + 1  # every test pipeline is named t
    assert [r["model"] for r in doc["usage"]["by_model"]] == ["memory/echo"]
    assert doc["errors"][0]["count"] == 50 and "HTTP 400" in doc["errors"][0]["example"]
    assert sum(d["units"] for d in doc["per_day"]) == steps["units"]
    assert sum(b["count"] for b in doc["duration_histogram"]) == 331 + 50


def test_durations_match_the_unit_rows_read_run_by_run(made):
    h, _, outcomes = made
    step_times, trips = [], []
    for o in outcomes:
        for key, u in h.records.units(o.run_id).items():
            if u["prompt"] is not None and u["duration"] is not None:
                trips.append(u["duration"])
            if key.item == -1 and "." not in key.step and u["duration"] is not None:
                step_times.append(u["duration"])
    doc = collect(h.records)
    assert doc["steps"]["duration_p50"] == percentile(step_times, 50)
    assert doc["steps"]["duration_p95"] == percentile(step_times, 95)
    assert doc["steps"]["round_trip_p95"] == percentile(trips, 95)


def test_filters_select_runs_agents_and_time(made):
    h, _, _ = made
    only_b = collect(h.records, StatsFilter(agent="b"))
    assert only_b["runs"]["total"] == 150 and only_b["steps"]["units"] == 150
    assert only_b["steps"]["retries"] == 20
    future = collect(h.records, StatsFilter(since=time.time() + 3600))
    assert future["runs"]["total"] == 0 and future["steps"]["duration_p50"] is None
    assert collect(h.records, StatsFilter(model="other/model"))["runs"]["total"] == 0


def test_the_command_prints_a_table_json_and_a_valid_svg(made, monkeypatch):
    h, tmp, _ = made
    monkeypatch.setenv("ORCHESTRATE_RECORDS_URL", str(tmp / "runs.db"))
    runner = CliRunner()
    text = runner.invoke(main, ["stats", "--since", "7d"])
    assert text.exit_code == 0, text.output
    assert "runs        231 (50 failed, 181 succeeded)" in text.output
    assert "tokens per day (UTC):" in text.output and "#" in text.output
    plot = tmp / "stats.svg"
    as_json = runner.invoke(main, ["stats", "--json", "--agent", "a", "--plot", str(plot)])
    assert as_json.exit_code == 0, as_json.output
    doc = json.loads(as_json.output)
    assert doc["filters"]["agent"] == "a" and doc["runs"]["total"] == 150 + 30 + 1
    root = ET.parse(plot).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(root.findall(".//{http://www.w3.org/2000/svg}rect")) > 2
    bad = runner.invoke(main, ["stats", "--plot", str(tmp / "x.jpg")])
    assert bad.exit_code == 2 and "SVG or PNG" in bad.output


def test_the_plot_as_png_is_a_valid_image_with_the_bars(made, monkeypatch):
    Image = pytest.importorskip("PIL.Image")
    _, tmp, _ = made
    monkeypatch.setenv("ORCHESTRATE_RECORDS_URL", str(tmp / "runs.db"))
    plot = tmp / "stats.png"
    out = CliRunner().invoke(main, ["stats", "--plot", str(plot)])
    assert out.exit_code == 0, out.output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(plot) as image:
        image.verify()
    with Image.open(plot) as image:
        assert image.size == (760, 560)
        colours = {c for _, c in image.convert("RGB").getcolors(1 << 16)}
    assert (0x4C, 0x78, 0xA8) in colours and (0xF5, 0x85, 0x18) in colours  # both panels


def test_png_without_pillow_says_how_to_get_it(made, monkeypatch):
    _, tmp, _ = made
    monkeypatch.setenv("ORCHESTRATE_RECORDS_URL", str(tmp / "runs.db"))
    monkeypatch.setitem(sys.modules, "PIL", None)  # as if not installed
    out = CliRunner().invoke(main, ["stats", "--plot", str(tmp / "none.png")])
    assert out.exit_code == 1 and "orchestrate[plot]" in out.output
    assert not (tmp / "none.png").exists()


def test_no_records_yet_is_an_empty_answer_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path))
    monkeypatch.delenv("ORCHESTRATE_RECORDS_URL", raising=False)
    out = CliRunner().invoke(main, ["stats"])
    assert out.exit_code == 0 and "no runs match" in out.output
    assert not (tmp_path / "runs.db").exists()
    Records(tmp_path / "runs.db").close()
