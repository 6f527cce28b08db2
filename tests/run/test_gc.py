"""`orchestrate runs gc` deletes what runs that are over left (their tagged agents and
blocks), from the records and the run tags, and nothing else: not a provisioned or
hand-made agent, not a run still running (or recorded by another host), not kept agents,
not a run the records do not know."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from orchestrator.backends import identity
from orchestrator.backends.base import NewAgent, NewBlock
from orchestrator.backends.memory import MemoryBackend
from orchestrator.cli import main
from orchestrator.errors import BackendError
from orchestrator.run.gc import collect
from orchestrator.run.runner import resume_run

PIPE = """
agents:
  a: {memory_blocks: [{label: persona, value: "I research."}]}
  b: {memory_blocks: [{label: persona, value: "I write."}], shared_blocks: [board]}
  k: {keep: true, memory_blocks: [{label: persona, value: "I stay."}]}
shared_blocks:
  board: {value: "shared"}
defaults: {retries: {max_attempts: 1}}
steps:
  one: {agent: a, prompt: "hello"}
  two: {agent: b, prompt: "write {{ steps.one.output }}"}
  three: {agent: k, prompt: "stay"}
"""


def _failed_run(harness):
    harness.backend.script(prompt_contains="write", fail=BackendError("no", status=400))
    out = harness.run(PIPE)
    assert out.status == "failed"
    harness.backend.rules.clear()
    return out.run_id


def _bystanders(backend: MemoryBackend) -> set[str]:
    hand_made = backend.create_agent(
        NewAgent("mine", "memory/echo", "memory/embed", memory_blocks=(NewBlock("persona", "me"),))
    )
    provisioned = backend.create_agent(
        NewAgent(
            "prov",
            "memory/echo",
            "memory/embed",
            tags=(identity.MANAGED_TAG, identity.agent_tag("default", "prov")),
        )
    )
    return {hand_made.id, provisioned.id}


def test_a_failed_run_loses_its_agents_and_blocks_but_not_kept_ones(harness, compile_text):
    run_id = _failed_run(harness)
    others = _bystanders(harness.backend)
    blocks_of_others = {i for i, b in harness.backend.blocks.items() if not b.tags}
    sweep = collect(harness.records, harness.backend)
    kinds = sorted((x.kind, x.name) for x in sweep.deleted)
    assert [k for k, _ in kinds] == ["agent", "block", "block"], kinds
    assert {b.label for b in harness.backend.blocks.values() if b.tags} == {"persona"}
    kept = [a for a in harness.backend.agents.values() if identity.KEEP_TAG in a.ref.tags]
    assert set(harness.backend.agents) == others | {kept[0].ref.id}
    assert blocks_of_others <= set(harness.backend.blocks)
    # the records know the agents are gone: resume makes new ones and succeeds
    assert {r["name"] for r in harness.records.resources(run_id) if r["deleted"]} >= {"b", "board"}
    out = resume_run(run_id, compile_text(PIPE), harness.backend, harness.records)
    assert out.status == "succeeded", out.error


def test_dry_run_deletes_nothing_and_says_the_same(harness):
    _failed_run(harness)
    before = (set(harness.backend.agents), set(harness.backend.blocks))
    dry = collect(harness.records, harness.backend, dry_run=True)
    assert (set(harness.backend.agents), set(harness.backend.blocks)) == before
    done = collect(harness.records, harness.backend)
    assert sorted(vars(x).items() for x in dry.deleted) == sorted(
        vars(x).items() for x in done.deleted
    )


def test_a_running_run_and_an_unknown_run_are_left_alone(harness):
    run_id = _failed_run(harness)
    harness.records._db.execute(
        "UPDATE runs SET status='running', pid=? WHERE id=?", (os.getppid(), run_id)
    )  # a live process of this host
    stranger = harness.backend.create_agent(
        NewAgent(
            "x",
            "memory/echo",
            "memory/embed",
            tags=(identity.RUN_TAG, identity.run_tag("20990101-000000-ffffff")),
        )
    )
    before = set(harness.backend.agents)
    sweep = collect(harness.records, harness.backend)
    assert sweep.deleted == [] and set(harness.backend.agents) == before
    assert dict(sweep.skipped) == {
        run_id: f"still running (pid {os.getppid()})",
        "20990101-000000-ffffff": "not in these run records (another machine's, or "
        "deleted): left alone",
    }
    assert stranger.id in harness.backend.agents


def test_a_run_recorded_by_another_host_is_left_alone(harness):
    run_id = _failed_run(harness)
    harness.records._db.execute(
        "UPDATE runs SET status='running', host='far' WHERE id=?", (run_id,)
    )
    sweep = collect(harness.records, harness.backend)
    assert sweep.deleted == []
    assert sweep.skipped == [
        (run_id, "recorded by host far: its process cannot be checked from here")
    ]


def test_a_run_with_keep_agents_keeps_them(harness):
    harness.backend.script(prompt_contains="write", fail=BackendError("no", status=400))
    assert harness.run(PIPE, keep_agents=True).status == "failed"
    before = set(harness.backend.agents)
    collect(harness.records, harness.backend)
    assert set(harness.backend.agents) == before


@pytest.fixture
def gc_cli(harness, tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path))  # the harness's records
    monkeypatch.setenv("LETTA_BASE_URL", "http://fake")
    monkeypatch.setattr(
        "orchestrator.backends.letta.LettaBackend", lambda url, key=None, **kw: harness.backend
    )
    return lambda *args: CliRunner().invoke(main, ["runs", "gc", *args])


def test_the_command_text_and_json(harness, gc_cli):
    run_id = _failed_run(harness)
    dry = gc_cli("--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.startswith(
        "would delete 1 agent and 2 blocks of 1 run:\n"
        f"  run {run_id} (failed):\n    agent t-b-{run_id}"
    )
    done = json.loads(gc_cli("--json").stdout)
    assert done["dry_run"] is False and len(done["deleted"]) == 3
    again = gc_cli()
    assert again.stdout.startswith("nothing to delete")


def test_the_command_takes_run_ids(harness, gc_cli):
    run_id = _failed_run(harness)
    assert gc_cli("20990101").exit_code == 1
    assert "no run '20990101'" in gc_cli("20990101").stderr
    assert len(json.loads(gc_cli(run_id[:15], "--json").stdout)["deleted"]) == 3
