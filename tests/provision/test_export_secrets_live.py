"""On the embedded Letta: apply resolves `${env:...}` into a system prompt, a private block
and a shared block; export writes the references back, no value in any file, and apply of
the export is a no-op (issue 20)."""

from __future__ import annotations

import uuid

import pytest

from orchestrator.backends.letta_admin import LettaAdmin
from orchestrator.provision import DiffOptions, apply, plan
from orchestrator.provision.export import Selection, export_resources
from orchestrator.spec.resources import load_resources

from .helpers import agent, block, resources

pytestmark = pytest.mark.integration
ENV = {"EXPL_KEY": "sk-" + uuid.uuid4().hex + "Zq9", "EXPL_TOKEN": "tok-" + uuid.uuid4().hex}


def test_export_of_resolved_secrets_on_letta(letta_stack, tmp_path):
    backend = LettaAdmin(letta_stack.base_url)
    options = DiffOptions(namespace=f"exps-{uuid.uuid4().hex[:8]}")
    res = resources(
        agent(
            "keeper",
            model=letta_stack.model_handle,
            embedding=letta_stack.embedding_handle,
            system="Use ${env:EXPL_KEY} for the API.",
            memory_blocks=[block("creds", "token ${env:EXPL_TOKEN}")],
            shared_blocks=["team"],
        ),
        blocks=[block("team", "team key ${env:EXPL_KEY}")],
    )
    try:
        apply(
            plan(res, backend, options, env=ENV),
            res,
            backend,
            options,
            lock_dir=tmp_path / "locks",
            env=ENV,
        )
        out = tmp_path / "out"
        export_resources(backend, Selection(all=True), out, options.namespace)
        raw = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
        assert [n for n, v in ENV.items() if v.encode() in raw] == []
        assert b"${env:EXPL_KEY}" in (out / "blocks" / "team.yaml").read_bytes()
        assert b"token ${env:EXPL_TOKEN}" in (out / "agents" / "keeper.yaml").read_bytes()
        assert plan(load_resources(out), backend, options, env=ENV).empty
    finally:
        apply(
            plan(resources(), backend, DiffOptions(options.namespace, prune=True), env={}),
            resources(),
            backend,
            DiffOptions(options.namespace, prune=True),
            lock_dir=tmp_path / "locks",
            allow_memory_loss=True,
            env={},
        )


PIPELINE = """\
apiVersion: orchestrate/v1
kind: Pipeline
metadata: {name: keepsecret}
agents:
  holder:
    keep: true
    system: "You hold ${env:EXPL_KEY}."
    memory_blocks: [{label: creds, value: "token ${env:EXPL_TOKEN}"}]
steps:
  hello: {agent: holder, prompt: "say hi"}
"""


def test_a_kept_run_agent_is_exported_without_its_resolved_secrets(
    letta_stack, tmp_path, monkeypatch
):
    from click.testing import CliRunner

    from orchestrator.cli import main

    (tmp_path / "p.yaml").write_text(PIPELINE)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    ran = CliRunner().invoke(
        main, ["run", str(tmp_path / "p.yaml"), "--json", "--base-url", letta_stack.base_url]
    )
    assert ran.exit_code == 0, ran.output
    backend = LettaAdmin(letta_stack.base_url)
    made = [a for a in backend.list_agents() if a.name.startswith("keepsecret-holder-")]
    try:
        assert made and ENV["EXPL_KEY"] in made[-1].system  # the run resolved it
        out = tmp_path / "out"
        export_resources(backend, Selection(names=(made[-1].name,)), out)
        raw = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
        assert [n for n, v in ENV.items() if v.encode() in raw] == []
        assert b"You hold ${env:EXPL_KEY}." in raw and b"token ${env:EXPL_TOKEN}" in raw
    finally:
        for agent in made:
            backend.delete_agent(agent.id)
