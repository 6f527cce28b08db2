"""A folder file's name on the server does not depend on the SOURCE given to plan/apply
(bug found for issue 14's starters: the same project applied as `.`, as `agents/` or as its
pipeline uploaded `agents/faq/a.md` in one case and `faq/a.md` in the others, so each way
of applying deleted and re-uploaded every file the other had made). Names are relative to
the YAML file that declares the Folder, like every other path in it."""

from __future__ import annotations

import textwrap

from orchestrator.provision.export import Selection, export_resources
from orchestrator.provision.sources import load_source
from orchestrator.spec.resources import load_resources

from .helpers import EMBEDDING, MODEL


def project(root):
    (root / "agents" / "faq").mkdir(parents=True)
    (root / "agents" / "faq" / "a.md").write_text("# A\nanswer\n")
    (root / "agents" / "support.yaml").write_text(
        textwrap.dedent(f"""\
        apiVersion: orchestrate/v1
        kind: Agent
        name: support
        model: {MODEL}
        embedding: {EMBEDDING}
        folders: [faq]
        ---
        apiVersion: orchestrate/v1
        kind: Folder
        name: faq
        embedding: {EMBEDDING}
        files: [faq/*.md]
        """)
    )
    (root / "pipeline.yaml").write_text(
        textwrap.dedent("""\
        apiVersion: orchestrate/v1
        kind: Pipeline
        metadata: {name: p}
        agents:
          support: {ref: agents/support.yaml}
        steps:
          answer: {agent: support, prompt: "Answer."}
        """)
    )
    return root


def test_the_same_folder_has_the_same_file_names_whatever_the_source(h, tmp_path):
    root = project(tmp_path)
    names = {
        str(source): [name for name, _ in load_source(source).folders["faq"].files]
        for source in (root, root / "agents", root / "pipeline.yaml")
    }
    assert set(map(tuple, names.values())) == {("faq/a.md",)}, names
    h.apply(load_source(root))
    assert h.plan(load_source(root / "pipeline.yaml")).empty
    assert h.plan(load_source(root / "agents")).empty


def test_export_of_such_a_folder_plans_clean(h, tmp_path):
    root = project(tmp_path / "src")
    h.apply(load_source(root))
    export_resources(h.backend, Selection(all=True), tmp_path / "out")
    assert h.plan(load_resources(tmp_path / "out")).empty
