"""export -> load_resources -> plan is a no-op; exporting an unmanaged agent then applying
with --adopt manages it instead of creating a duplicate."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from orchestrator.backends import identity
from orchestrator.backends.admin import NewAgent, NewBlock
from orchestrator.errors import ProvisionError
from orchestrator.provision.export import Selection, export_resources
from orchestrator.spec.resources import load_resources

from .helpers import EMBEDDING, MODEL, agent, block, folder, resources, tool


def _full_set(tmp_path):
    docs = tmp_path / "src"
    docs.mkdir()
    (docs / "guide.md").write_text("# Guide\nhello\n")
    digest = hashlib.sha256((docs / "guide.md").read_bytes()).hexdigest()
    return resources(
        agent(
            "researcher",
            system="You research.\nCarefully.\n",
            memory_blocks=[
                block("persona", "curious\nand kind"),
                block("notes", "seed", agent_owned=True, limit=4000),
            ],
            shared_blocks=["team"],
            tools=["shout"],
            folders=["docs"],
            tags=["team-a"],
            description="finds facts",
        ),
        agent("writer", shared_blocks=["team"]),
        blocks=[block("team", "shared state")],
        tools=[tool(pip_requirements=("requests",))],
        folders=[folder("docs", str(tmp_path), {"src/guide.md": digest}, embedding=EMBEDDING)],
        root=str(tmp_path),
    )


def test_export_then_plan_is_a_noop(h, tmp_path):
    h.apply(_full_set(tmp_path))
    out = tmp_path / "exported"
    report = export_resources(h.backend, Selection(all=True), out)
    assert report.agents == ["researcher", "writer"]
    assert "tools/shout.py" in report.files and "blocks/team.yaml" in report.files
    exported = load_resources(out)
    assert set(exported.agents) == {"researcher", "writer"}
    assert exported.agents["researcher"].memory_blocks[1].agent_owned
    assert h.plan(exported).empty


def test_export_writes_readable_yaml(h, tmp_path):
    h.apply(_full_set(tmp_path))
    out = tmp_path / "exported"
    export_resources(h.backend, Selection(names=("researcher",)), out)
    doc = yaml.safe_load((out / "agents/researcher.yaml").read_text())
    assert doc["kind"] == "Agent" and doc["tags"] == ["team-a"]
    assert doc["shared_blocks"] == ["team"] and doc["tools"] == ["shout"]
    assert "persona: |" not in (out / "agents/researcher.yaml").read_text()
    assert "value: |-\n" in (out / "agents/researcher.yaml").read_text()


def test_unmanaged_agent_export_then_adopt(h, tmp_path):
    shared = h.server.create_block(NewBlock("team", "by hand"))
    ids = []
    for name in ("alpha", "beta"):
        made = h.server.create_agent(
            NewAgent(name, MODEL, EMBEDDING, memory_blocks=(NewBlock("persona", name),))
        )
        h.server.attach_block(made.id, shared.id)
        ids.append(made.id)
    out = tmp_path / "adopted"
    export_resources(h.backend, Selection(match=("a*", "b*")), out)
    res = load_resources(out)
    assert "adopt" in [c.action for c in h.plan(res, adopt=True).changes]
    plain = h.plan(res)
    assert (
        plain.warnings and [c.action for c in plain.changes if c.kind == "agent"] == ["create"] * 2
    )
    h.apply(res, adopt=True)
    assert sorted(a.id for a in h.server.list_agents()) == sorted(ids)  # no duplicates
    assert h.plan(res).empty
    assert [b.id for b in h.agent("alpha").blocks if b.label == "team"] == [shared.id]


def test_export_selection_errors(h, tmp_path):
    with pytest.raises(ProvisionError, match="nothing selected"):
        export_resources(h.backend, Selection(), tmp_path)
    with pytest.raises(ProvisionError, match="no agent named ghost"):
        export_resources(h.backend, Selection(names=("ghost",)), tmp_path)


def test_export_refuses_file_names_outside_the_directory(h, tmp_path):
    h.apply(resources(agent("a")))
    folder_obj = h.server.create_folder("f", None, EMBEDDING, {})
    h.server.upload_file(folder_obj.id, "../../escape.txt", b"x")
    h.server.attach_folder(h.agent("a").id, folder_obj.id)
    with pytest.raises(ProvisionError, match="outside"):
        export_resources(h.backend, Selection(all=True), tmp_path / "out")
    assert not (tmp_path.parent / "escape.txt").exists()


def test_export_all_leaves_out_pipeline_run_agents_unless_named(h, tmp_path):
    h.apply(resources(agent("keeper")))
    run_tags = (identity.RUN_TAG, identity.run_tag("20261125-000000-abcdef"))
    h.server.create_agent(NewAgent("report-writer-run", MODEL, EMBEDDING, tags=run_tags))
    assert export_resources(h.backend, Selection(all=True), tmp_path / "a").agents == ["keeper"]
    assert export_resources(h.backend, Selection(match=("*",)), tmp_path / "b").agents == ["keeper"]
    named = export_resources(h.backend, Selection(names=("report-writer-run",)), tmp_path / "c")
    assert named.agents == ["report-writer-run"]
