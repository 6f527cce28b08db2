"""SOURCE for plan/apply: the shipped example directory, and a pipeline's `ref:` agents."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orchestrator.errors import SpecError
from orchestrator.provision.sources import load_source

EXAMPLE = Path(__file__).resolve().parents[2] / "pipelines" / "agents"

PIPELINE = """apiVersion: orchestrate/v1
kind: Pipeline
metadata: {name: triage}
agents:
  triager: {ref: agents/triager.yaml}
  helper: {memory_blocks: [{label: persona, value: inline}]}
steps:
  sort:
    agent: triager
    prompt: "Sort this ticket."
"""


def test_example_directory_applies_and_converges(h):
    res = load_source(EXAMPLE)
    assert set(res.agents) == {"triager", "responder"}
    shown = h.apply(res, default_model="m", default_embedding="e")
    assert sum(c.action == "create" for c in shown.changes) == 6
    assert h.plan(res, default_model="m", default_embedding="e").empty


def test_pipeline_source_provisions_only_referenced_agents(tmp_path):
    shutil.copytree(EXAMPLE, tmp_path / "agents")
    (tmp_path / "triage.yaml").write_text(PIPELINE)
    res = load_source(tmp_path / "triage.yaml")
    assert set(res.agents) == {"triager"}
    assert set(res.shared_blocks) == {"team_notes"}
    assert set(res.tools) == {"ticket_priority"} and set(res.folders) == {"support-handbook"}


def test_pipeline_with_missing_ref_file_is_located(tmp_path):
    (tmp_path / "triage.yaml").write_text(PIPELINE)
    with pytest.raises(SpecError, match="no such file 'agents/triager.yaml'"):
        load_source(tmp_path / "triage.yaml")


TOOL_YAML = """apiVersion: orchestrate/v1
kind: Tool
name: broken
source_file: tools/broken.py
"""


def test_tool_with_a_syntax_error_is_reported_at_its_line_in_the_py_file(tmp_path):
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "broken.py").write_text(
        'def broken(x: str) -> str:\n    """Doc."""\n    return x +\n'
    )
    (tmp_path / "tool.yaml").write_text(TOOL_YAML)
    with pytest.raises(SpecError) as err:
        load_source(tmp_path)
    (issue,) = err.value.issues
    assert issue.file.endswith("tools/broken.py") and issue.line == 3 and issue.col > 0
    assert "syntax error" in issue.message and "defines no function" not in issue.message
    assert issue.format().startswith(f"{tmp_path / 'tools' / 'broken.py'}:3:")
