"""render_graph: Mermaid (pinned: it is pasted into READMEs), DOT and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.compile import load_plan, render_graph

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"

RESEARCH_MERMAID = """\
flowchart TD
  s_research["research<br/>agent: researcher"]
  s_draft["draft<br/>agent: writer"]
  s_review["review<br/>agent: reviewer"]
  subgraph s_revise["revise (loop, max 3, conditional)"]
    s_revise__rewrite["rewrite<br/>agent: writer"]
    s_revise__recheck["recheck<br/>agent: reviewer"]
    s_revise__rewrite --> s_revise__recheck
    s_revise__recheck -. "until steps.recheck.output.approved" .-> s_revise__rewrite
  end
  s_draft --> s_review
  s_draft --> s_revise
  s_research --> s_draft
  s_review --> s_revise
"""

TRIAGE_MERMAID = """\
flowchart TD
  s_triage["triage<br/>agent: triager"]
  s_escalate["escalate<br/>agent: escalation<br/>conditional"]
  s_reply["reply<br/>agent: responder"]
  s_triage --> s_escalate
  s_triage --> s_reply
  b_case_notes[("case_notes")]
  b_case_notes -.- s_triage
  b_case_notes -.- s_escalate
  b_case_notes -.- s_reply
"""


def plan(name: str):
    return load_plan(PIPELINES / f"{name}.yaml")


def test_mermaid_with_a_loop_subgraph():
    assert render_graph(plan("research-report"), "mermaid") == RESEARCH_MERMAID


def test_mermaid_shows_shared_blocks_attached_to_steps():
    assert render_graph(plan("support-triage"), "mermaid") == TRIAGE_MERMAID


def test_mermaid_marks_for_each_steps():
    text = render_graph(plan("parallel-analysis"), "mermaid")
    assert 's_summaries["summaries<br/>agent: analyst<br/>for each source"]' in text


def test_dot_has_clusters_for_loops_and_ranks_for_levels():
    text = render_graph(plan("research-report"), "dot")
    assert text.startswith('digraph "research-report" {\n')
    assert 'subgraph "cluster_revise" {' in text
    assert '"revise" -> "revise.rewrite";' in text
    assert '"revise.rewrite" -> "revise.recheck";' in text
    assert (
        '"revise.recheck" -> "revise.rewrite" [style=dashed, constraint=false, '
        'label="until steps.recheck.output.approved"];'
    ) in text  # the next iteration
    parallel = render_graph(plan("parallel-analysis"), "dot")
    assert '{ rank=same; "costs"; "market"; "risks"; "summaries"; }' in parallel


def test_json_nodes_edges_levels_and_nested_loop():
    data = json.loads(render_graph(plan("research-report"), "json"))
    assert data["levels"] == [["research"], ["draft"], ["review"], ["revise"]]
    assert ["research", "draft"] in data["edges"]
    revise = data["nodes"][-1]
    assert (revise["name"], revise["kind"], revise["agent"]) == ("revise", "loop", None)
    assert revise["loop"]["max_iterations"] == 3
    assert [n["name"] for n in revise["loop"]["nodes"]] == ["rewrite", "recheck"]
    assert revise["loop"]["levels"] == [["rewrite"], ["recheck"]]
    triage = json.loads(render_graph(plan("support-triage"), "json"))
    assert triage["shared_blocks"] == {"case_notes": ["escalate", "reply", "triage"]}


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown graph format 'svg'"):
        render_graph(plan("research-report"), "svg")
