"""Default model/embedding on another Letta: the server's own when it has exactly one, else
an error that lists what it offers; `diff` reports drift rather than failing (issue 15)."""

from __future__ import annotations

import pytest

from orchestrator.errors import SpecError

from .helpers import agent, folder, resources

UNSET = agent("a", model=None, embedding=None)


def test_the_servers_only_model_and_embedding_are_used(h):
    h.server.llm_handles, h.server.embedding_handles = ["only/model"], ["only/emb"]
    shown = h.plan(resources(UNSET))
    fields = {f.field: f.new for f in shown.changes[0].fields}
    assert fields["model"] == "only/model" and fields["embedding"] == "only/emb"
    assert any("the server's only model 'only/model'" in w for w in shown.warnings)
    h.apply(resources(UNSET))
    assert h.agent("a").model == "only/model"
    assert h.plan(resources(UNSET)).empty and not h.plan(resources(UNSET)).warnings


def test_several_models_are_listed_in_the_error(h):
    h.server.llm_handles = ["letta/letta-free", "openai-proxy/local"]
    h.server.embedding_handles = ["openai/small"]
    with pytest.raises(SpecError) as err:
        h.plan(resources(UNSET))
    (issue,) = err.value.issues
    assert issue.path == "agents.a.model"
    assert "the server offers: letta/letta-free, openai-proxy/local" in issue.hint
    assert "--default-model" in issue.hint


def test_a_server_without_models_says_so(h):
    with pytest.raises(SpecError) as err:
        h.plan(resources(UNSET))
    assert all("the server lists none" in i.hint for i in err.value.issues)


def test_an_explicit_default_wins_and_the_server_is_not_asked(h):
    h.server.llm_handles = ["x/y"]
    shown = h.plan(resources(UNSET), default_model="m", default_embedding="e")
    assert {f.field: f.new for f in shown.changes[0].fields}["model"] == "m"
    assert not shown.warnings


def test_diff_reports_drift_when_no_model_is_known(h, tmp_path):
    res = resources(UNSET, folders=[folder("docs", str(tmp_path), {})])
    drift = h.plan(res, report_only=True)
    assert [(c.action, c.address) for c in drift.changes] == [
        ("create", "folder docs"),
        ("create", "agent a"),
    ]
    assert any("apply needs a model" in w for w in drift.warnings)
    assert any("apply needs an embedding" in w for w in drift.warnings)
