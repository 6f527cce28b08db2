"""Every run has a deadline: --timeout, else the pipeline's defaults.run_timeout, else the
documented default (a run against a server that never answers must end)."""

from __future__ import annotations

from orchestrator.compile import load_plan_text
from orchestrator.run.runner import DEFAULT_RUN_TIMEOUT, RunOptions, run_timeout

PIPELINE = """apiVersion: orchestrate/v1
kind: Pipeline
metadata: {name: t}
agents: {a: {}}
steps:
  s: {agent: a, prompt: hi}
"""


def test_the_default_applies_when_nothing_is_set():
    plan = load_plan_text(PIPELINE, "t.yaml")
    assert run_timeout(RunOptions(), plan) == DEFAULT_RUN_TIMEOUT == 6 * 3600


def test_the_pipeline_and_the_option_override_it():
    plan = load_plan_text(
        PIPELINE.replace("agents:", "defaults: {run_timeout: 60}\nagents:"), "t.yaml"
    )
    assert run_timeout(RunOptions(), plan) == 60
    assert run_timeout(RunOptions(timeout=5), plan) == 5
