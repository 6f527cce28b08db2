"""Loading pipelines: the typed spec a valid file becomes, and how problems are collected."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestrator.errors import SpecError
from orchestrator.spec import load_pipeline, load_pipeline_text
from orchestrator.spec.model import Mark, RetrySpec

DATA = Path(__file__).resolve().parent.parent / "data"
REPO = Path(__file__).resolve().parents[2]


def load(text: str, file: str = "p.yaml"):
    return load_pipeline_text(textwrap.dedent(text), file)


def problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load(text)
    return [issue.format() for issue in info.value.issues]


def test_everything_file_becomes_the_typed_spec():
    spec = load_pipeline(DATA / "valid" / "everything.yaml")
    assert spec.name == "everything" and spec.description == "every feature"
    assert spec.inputs["depth"].default == 2 and spec.inputs["depth"].enum == (1, 2, 3)
    assert spec.inputs["topic"].has_default is False
    assert spec.inputs["api_token"].secret is True
    assert spec.defaults.retries == RetrySpec(max_attempts=4, backoff=0.5, max_backoff=8.0)
    assert spec.defaults.timeout == 120.0 and spec.defaults.run_timeout == 3600.0
    researcher = spec.agents["researcher"]
    assert researcher.memory_blocks[0].read_only is True
    assert researcher.tool_env == {"SEARCH_KEY": "${env:SEARCH_KEY}"}
    assert (researcher.context_window, researcher.keep) == (8000, True)
    assert spec.agents["editor"].ref == "agents/editor.yaml"
    assert spec.shared_blocks["team_notes"].agent_owned is True
    research = spec.steps["research"]
    assert research.retries == RetrySpec(max_attempts=5)  # int shorthand
    assert (research.timeout, research.model) == (30.0, "openai-proxy/other")
    each = spec.steps["summarize_each"]
    assert (each.for_each, each.item_var) == ("{{ inputs.papers }}", "paper")
    revise = spec.steps["revise"]
    assert revise.agent is None and revise.loop.max_iterations == 3
    assert list(revise.loop.steps) == ["rewrite", "recheck"]
    assert spec.steps["review"].output.format == "json"


def test_marks_point_at_fields():
    spec = load("""\
        apiVersion: orchestrate/v1
        kind: Pipeline
        metadata: {name: m}
        agents: {w: {}}
        steps:
          a:
            agent: w
            prompt: hi
            needs: []
          b: {agent: w, prompt: "x", needs: [a]}
        outputs: {r: "{{ steps.b.output }}"}
        """)
    a, b = spec.steps["a"], spec.steps["b"]
    assert a.mark == Mark("p.yaml", 7, 5)
    assert a.field_marks["prompt"] == Mark("p.yaml", 8, 13)
    assert b.field_marks["needs[0]"] == Mark("p.yaml", 10, 38)
    assert spec.output_marks["r"] == Mark("p.yaml", 11, 14)  # the opening quote


def test_all_schema_problems_are_reported_at_once():
    lines = problems("""\
        apiVersion: orchestrate/v1
        kind: Pipeline
        metadata: {name: m, labels: x}
        agents: {w: {tols: [a]}}
        steps:
          a: {agent: w, prompt: 3, timeout: -1}
        """)
    assert lines == [
        "p.yaml:3:21: metadata: unknown key 'labels' (allowed keys: description, name)",
        "p.yaml:4:14: agents.w: unknown key 'tols' (did you mean 'tools'?)",
        "p.yaml:6:25: steps.a.prompt: expected a string, got an integer (quote the value to make it a string)",
        "p.yaml:6:37: steps.a.timeout: must be greater than 0, got -1",
    ]


def test_source_hash_and_file_are_recorded():
    text = "apiVersion: orchestrate/v1\nkind: Pipeline\nmetadata: {name: h}\nagents: {w: {}}\nsteps: {a: {agent: w, prompt: hi}}\n"
    one, two = load_pipeline_text(text, "x.yaml"), load_pipeline_text(text + "\n", "x.yaml")
    assert one.file == "x.yaml" and len(one.source_hash) == 64
    assert one.source_hash != two.source_hash


def test_yaml_11_booleans_do_not_turn_keys_into_true():
    spec = load("""\
        apiVersion: orchestrate/v1
        kind: Pipeline
        metadata: {name: m}
        agents: {w: {}}
        steps:
          on: {agent: w, prompt: hi}
        """)
    assert list(spec.steps) == ["on"]


def test_missing_file_is_a_clean_error(tmp_path):
    with pytest.raises(SpecError) as info:
        load_pipeline(tmp_path / "nope.yaml")
    assert info.value.issues[0].message == "cannot read file: No such file or directory"


def test_non_utf8_file_is_a_clean_error(tmp_path):
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SpecError) as info:
        load_pipeline(path)
    assert info.value.issues[0].message == "not UTF-8 text (byte 0)"


def test_two_documents_are_refused():
    assert problems("a: 1\n---\nb: 2\n") == [
        "p.yaml: expected one YAML document, found 2 documents "
        "(a pipeline starts with 'apiVersion: orchestrate/v1' and 'kind: Pipeline')"
    ]


def test_top_level_list_is_a_type_error():
    assert problems("- a\n- b\n") == ["p.yaml:1:1: expected a mapping, got a list"]


@pytest.mark.parametrize("name", ["research-report", "parallel-analysis", "support-triage"])
def test_example_pipelines_load(name):
    spec = load_pipeline(REPO / "pipelines" / f"{name}.yaml")
    assert spec.name == name
    assert spec.defaults.model is None  # examples run on the embedded default model
