"""Archival memory seeded from inline passages or files (issue 14): each passage is added
once however many applies; a passage no longer declared is kept (a warning says so) and only
`--prune` with `--allow-memory-loss` deletes it; passages the agent wrote are never touched."""

from __future__ import annotations

import pytest

from orchestrator.errors import ProvisionError, SpecError
from orchestrator.spec.model import PassageSpec
from orchestrator.spec.resources import load_resources

from .helpers import agent, resources

SLA = PassageSpec(text="Our SLA is 4 hours.", tags=("faq",))
REFUNDS = PassageSpec(text="Refunds take 5 days.")


def seeded(*passages):
    return resources(agent("a", archival=tuple(passages)))


def texts(h):
    return sorted(p.text for p in h.server.list_passages(h.agent("a").id))


def test_passages_are_added_once(h):
    shown = h.apply(seeded(SLA, REFUNDS))
    assert [c.address for c in shown.changes if c.kind == "agent_passage"] == [
        'agent a: passage "Our SLA is 4 hours."',
        'agent a: passage "Refunds take 5 days."',
    ]
    assert texts(h) == ["Our SLA is 4 hours.", "Refunds take 5 days."]
    assert h.plan(seeded(SLA, REFUNDS)).empty
    h.apply(seeded(SLA, REFUNDS))
    assert len(texts(h)) == 2
    (sla,) = [p for p in h.server.list_passages(h.agent("a").id) if p.text == SLA.text]
    assert "faq" in sla.tags


def test_a_passage_added_to_an_existing_agent(h):
    h.apply(seeded(SLA))
    (change,) = h.plan(seeded(SLA, REFUNDS)).changes
    assert (change.action, change.kind) == ("create", "agent_passage")


def test_a_passage_no_longer_declared_is_kept_unless_pruned_with_opt_in(h):
    h.apply(seeded(SLA, REFUNDS))
    agent_id = h.agent("a").id
    h.server.create_passage(agent_id, "the agent wrote this", ())
    shown = h.plan(seeded(SLA))
    assert shown.empty
    assert any(
        "1 archival passage(s) seeded before" in w and "--prune" in w for w in shown.warnings
    )
    pruned = h.plan(seeded(SLA), prune=True)
    (change,) = pruned.changes
    assert (change.action, change.blocked) == ("delete", True)
    with pytest.raises(ProvisionError, match="can destroy memory"):
        h.apply(seeded(SLA), prune=True)
    h.apply(seeded(SLA), prune=True, allow_memory_loss=True)
    assert texts(h) == ["Our SLA is 4 hours.", "the agent wrote this"]


def test_an_edited_passage_is_a_new_one(h):
    h.apply(seeded(SLA))
    edited = PassageSpec(text="Our SLA is 2 hours.")
    shown = h.plan(seeded(edited))
    assert [c.action for c in shown.changes] == ["create"]
    assert shown.warnings


RESOURCE = """apiVersion: orchestrate/v1
kind: Agent
name: a
model: m
embedding: e
archival:
  - text: inline fact
    tags: [faq]
  - file: faq/refunds.md
"""


def test_yaml_text_and_file_passages(h, tmp_path):
    (tmp_path / "faq").mkdir()
    (tmp_path / "faq" / "refunds.md").write_text("Refunds take 5 days.\n")
    (tmp_path / "a.yaml").write_text(RESOURCE)
    res = load_resources(tmp_path)
    assert [p.text for p in res.agents["a"].archival] == ["inline fact", "Refunds take 5 days.\n"]
    assert res.agents["a"].archival[1].source == "faq/refunds.md"
    h.apply(res)
    assert h.plan(load_resources(tmp_path)).empty


@pytest.mark.parametrize(
    "entry, message",
    [
        ("{text: a, file: b.md}", "either 'text' or 'file'"),
        ("{tags: [x]}", "either 'text' or 'file'"),
        ("{file: ../outside.md}", "outside"),
    ],
)
def test_bad_passages_are_located(tmp_path, entry, message):
    (tmp_path / "a.yaml").write_text(RESOURCE.split("archival:")[0] + f"archival:\n  - {entry}\n")
    with pytest.raises(SpecError) as err:
        load_resources(tmp_path)
    assert any(i.line == 7 and message in i.message + i.hint for i in err.value.issues), [
        i.format() for i in err.value.issues
    ]


def test_destroying_an_agent_counts_only_passages_not_seeded_from_git(h):
    from orchestrator.provision import DiffOptions, destroy_plan

    h.apply(seeded(SLA, REFUNDS))
    (change,) = destroy_plan(seeded(SLA, REFUNDS), h.backend, DiffOptions()).changes
    assert not change.blocked and change.note == "with its 2 seeded archival passage(s)"
    h.server.create_passage(h.agent("a").id, "the agent wrote this", ())
    (change,) = destroy_plan(seeded(SLA, REFUNDS), h.backend, DiffOptions()).changes
    assert change.blocked and change.memory_loss == "1 archival passage(s) would be lost"
