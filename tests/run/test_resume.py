"""Resume: what succeeded is reused, what changed or failed re-runs, in-flight messages are
reconciled with the agent's history, and runs that no longer fit are refused."""

from __future__ import annotations

import dataclasses

import pytest

from orchestrator.errors import BackendError, RunError
from orchestrator.run.records import UnitKey
from orchestrator.run.runner import recorded_options, resume_run

PIPE = """
agents: {a: {}, b: {}}
defaults: {retries: {max_attempts: 1}}
inputs: {topic: {type: string}}
steps:
  research: {agent: a, prompt: "research {{ inputs.topic }}"}
  write: {agent: b, prompt: "write from {{ steps.research.output }}"}
  polish: {agent: b, prompt: "polish {{ steps.write.output }}"}
outputs:
  text: "{{ steps.polish.output }}"
"""


def _fail_write(harness):
    return harness.backend.script(
        prompt_contains="write from",
        fail=BackendError("HTTP 500: down", transient=True, status=500),
    )


def test_resume_reruns_only_what_did_not_succeed(harness, compile_text):
    _fail_write(harness)
    first = harness.run(PIPE, {"topic": "owls"})
    assert first.status == "failed"
    assert len(harness.backend.prompts("a")) == 1
    out = resume_run(first.run_id, compile_text(PIPE), harness.backend, harness.records)
    assert out.status == "succeeded", out.error
    assert out.run_id == first.run_id
    assert len(harness.backend.prompts("a")) == 1  # research was not sent again
    assert harness.backend.prompts("b")[0].startswith("write from")
    assert out.results["research"].reused
    assert harness.records.run(first.run_id)["resumes"] == 1


def test_resume_continues_the_same_inline_agents(harness, compile_text):
    _fail_write(harness)
    first = harness.run(PIPE, {"topic": "owls"})
    ids = {m["agent"]: m["agent_id"] for m in harness.backend.sent}
    resume_run(first.run_id, compile_text(PIPE), harness.backend, harness.records)
    assert {m["agent_id"] for m in harness.backend.sent if m["agent"] == "a"} == {ids["a"]}
    assert len(harness.backend.sent) == 3  # research once, then write and polish


def test_changed_step_and_its_downstream_rerun_on_resume(harness, compile_text):
    harness.backend.script(prompt_contains="polish", fail=BackendError("x", status=400))
    first = harness.run(PIPE, {"topic": "owls"})
    changed = PIPE.replace("write from", "WRITE FROM")
    harness.backend.rules.clear()
    out = resume_run(first.run_id, compile_text(changed), harness.backend, harness.records)
    assert out.status == "succeeded"
    assert [p.split()[0] for p in harness.backend.prompts()] == [
        "research",
        "write",
        "WRITE",
        "polish",
    ]


def test_in_flight_message_is_reconciled_not_resent(harness, compile_text):
    # Simulate a crash after the message reached the agent but before the result was
    # recorded: the unit row stays `running` with the otid of the message.
    harness.backend.script(prompt_contains="write from", lose_reply=True, times=1)
    plan = compile_text(PIPE.replace("max_attempts: 1", "max_attempts: 1, backoff: 0"))
    harness.backend.history_errors = 10**6  # the lost reply cannot be settled in this run
    first = harness.run(plan, {"topic": "owls"})
    harness.backend.history_errors = 0
    # the unsettled message fails the unit: make it look like a crash in flight instead
    row = harness.records.units(first.run_id)[UnitKey("write")]
    harness.records.write_unit(first.run_id, UnitKey("write"), status="running")
    sent_before = len(harness.backend.sent)
    out = resume_run(first.run_id, plan, harness.backend, harness.records)
    assert out.status == "succeeded", out.error
    assert len(harness.backend.sent) == sent_before + 1  # only polish was sent
    assert harness.records.units(first.run_id)[UnitKey("write")]["otid"] == row["otid"]


def test_resume_refuses_a_succeeded_run(harness, compile_text):
    out = harness.run(PIPE, {"topic": "owls"})
    with pytest.raises(RunError, match="already succeeded: nothing to resume"):
        resume_run(out.run_id, compile_text(PIPE), harness.backend, harness.records)


def test_resume_refuses_another_pipeline(harness, compile_text):
    _fail_write(harness)
    first = harness.run(PIPE, {"topic": "owls"})
    renamed = dataclasses.replace(compile_text(PIPE), name="other")
    with pytest.raises(RunError, match="is of pipeline 't', not 'other'"):
        resume_run(first.run_id, renamed, harness.backend, harness.records)


def test_resume_refuses_when_inputs_no_longer_fit(harness, compile_text):
    _fail_write(harness)
    first = harness.run(PIPE, {"topic": "owls"})
    changed = PIPE.replace(
        "inputs: {topic: {type: string}}",
        "inputs: {topic: {type: string}, tone: {type: string, default: dry}}",
    )
    with pytest.raises(RunError, match="inputs no longer match"):
        resume_run(first.run_id, compile_text(changed), harness.backend, harness.records)


def test_resume_keeps_the_recorded_options(harness, compile_text):
    _fail_write(harness)
    first = harness.run(PIPE, {"topic": "owls"}, max_parallel=2, keep_agents=True)
    out = resume_run(first.run_id, compile_text(PIPE), harness.backend, harness.records)
    assert out.status == "succeeded"
    assert harness.backend.agents  # keep_agents came back from the record
    assert recorded_options(harness.records.run(first.run_id)).max_parallel == 2


LOOP = """
agents: {w: {}, r: {}}
defaults: {retries: {max_attempts: 1}}
steps:
  revise:
    loop:
      max_iterations: 3
      until: "{{ steps.check.output.ok }}"
      steps:
        rewrite: {agent: w, prompt: "rewrite {{ loop.index }}"}
        check:
          agent: r
          prompt: "check {{ steps.rewrite.output }}"
          output: {format: json}
outputs:
  rounds: "{{ steps.revise.iterations }}"
"""


def test_resume_inside_a_loop_reuses_finished_iterations(harness, compile_text):
    harness.backend.script(
        agent="r",
        prompt_contains="rewrite 2",
        fail=BackendError("HTTP 500: down", transient=True, status=500),
    )
    harness.backend.script(agent="r", json={"ok": False})
    first = harness.run(LOOP)
    assert first.status == "failed"
    harness.backend.rules.clear()
    harness.backend.script(agent="r", json={"ok": True})
    out = resume_run(first.run_id, compile_text(LOOP), harness.backend, harness.records)
    assert out.status == "succeeded", out.error
    assert out.outputs == {"rounds": 2}
    rewrites = [p for p in harness.backend.prompts("w")]
    assert rewrites == ["rewrite 1", "rewrite 2"]  # iteration 1 and 2's rewrite not resent


def test_records_of_a_newer_schema_are_refused(tmp_path):
    import sqlite3

    from orchestrator.run.records import Records

    Records(tmp_path / "runs.db").close()
    with sqlite3.connect(tmp_path / "runs.db") as db:
        db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(RunError, match="run records of a newer orchestrate"):
        Records(tmp_path / "runs.db")


def test_resume_reads_env_defaults_again(harness, compile_text, monkeypatch):
    monkeypatch.setenv("H3_DEFAULT_TOKEN", "tok-from-env")
    pipe = PIPE.replace(
        "inputs: {topic: {type: string}}",
        "inputs: {topic: {type: string}, key: {type: string, default: '${env:H3_DEFAULT_TOKEN}'}}",
    ).replace(
        'prompt: "research {{ inputs.topic }}"',
        'prompt: "research {{ inputs.topic }} {{ inputs.key }}"',
    )
    _fail_write(harness)
    first = harness.run(pipe, {"topic": "owls"})
    assert harness.records.run(first.run_id)["inputs"] == {"topic": "owls", "key": "***"}
    harness.backend.rules.clear()
    out = resume_run(first.run_id, compile_text(pipe), harness.backend, harness.records)
    assert out.status == "succeeded", out.error
    assert out.results["research"].reused  # same prompt: the env value, not "***"


def test_find_run_by_prefix_is_literal_and_names_an_ambiguous_prefix(tmp_path):
    from orchestrator.run.records import Records

    records = Records(tmp_path / "runs.db")
    for run_id in ("20261125-1_a", "20261125-2xa", "20261125-3xb", "20261126-000"):
        records.start_run(
            run_id,
            pipeline="p",
            file="f",
            file_hash="h",
            inputs={},
            secret_inputs=[],
            base_url="u",
            namespace="default",
            options={},
            pid=1,
        )
    assert records.find_run("20261126")["id"] == "20261126-000"
    assert records.find_run("20261125-1_")["id"] == "20261125-1_a"
    assert records.find_run("20261125-_x") is None  # `_` is not a wildcard
    assert records.find_run("2026%") is None  # nor is `%`
    assert records.find_run("nope") is None
    with pytest.raises(RunError) as err:
        records.find_run("20261125")
    assert str(err.value).startswith("run id prefix '20261125' matches 3 runs (")
    assert "20261125-2xa" in str(err.value) and str(err.value).endswith("give more of the id")
    records.close()
