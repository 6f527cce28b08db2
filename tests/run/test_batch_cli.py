"""`orchestrate run --batch`, `resume BATCH_ID`, `batches list|show` through click, on the
in-memory backend: output, --json events, exit codes (0, 1, 2, 130)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.backends.memory import MemoryBackend
from orchestrator.cli import batch_cmds, main

PIPELINE = """\
apiVersion: orchestrate/v1
kind: Pipeline
metadata: {name: greet}
inputs: {name: {type: string}}
agents: {a: {replicas: 4}}
steps:
  hello: {agent: a, prompt: "hello {{ inputs.name }}"}
outputs: {text: "{{ steps.hello.output }}"}
"""


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("LETTA_BASE_URL", "http://fake")
    fake = MemoryBackend("http://fake")
    monkeypatch.setattr(batch_cmds, "run_backend", lambda url, key=None, **options: fake)
    (tmp_path / "p.yaml").write_text(PIPELINE)
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    invoke.backend, invoke.tmp = fake, tmp_path
    invoke.pipeline = str(tmp_path / "p.yaml")
    return invoke


def _lines(cli, *lines: str) -> str:
    path = cli.tmp / "in.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def test_batch_succeeds_exit_0_results_in_state_dir(cli):
    batch = _lines(cli, '{"name": "ann"}', '{"name": "bob"}')
    result = cli("run", cli.pipeline, "--batch", batch)
    assert result.exit_code == 0, result.stderr
    assert "succeeded: 2 succeeded, 0 failed of 2" in result.stdout
    results = sorted((cli.tmp / "state" / "batches").glob("batch-*.jsonl"))
    assert len(results) == 1 and f"results: {results[0]}" in result.stdout
    rows = [json.loads(line) for line in results[0].read_text().splitlines()]
    assert [r["outputs"]["text"] for r in rows] == [
        "[memory] a: reply to: hello ann",
        "[memory] a: reply to: hello bob",
    ]
    listed = cli("batches", "list")
    assert results[0].stem in listed.stdout and "2/2" in listed.stdout
    shown = cli("batches", "show", results[0].stem[:16], "--json")
    doc = json.loads(shown.stdout)
    assert [i["status"] for i in doc["items"]] == ["succeeded", "succeeded"]
    run_id = doc["items"][0]["run_id"]
    assert cli("runs", "show", run_id).exit_code == 0  # each item is a normal run


def test_a_bad_line_is_reported_by_number_and_exits_1(cli, tmp_path):
    batch = _lines(cli, '{"name": "ann"}', '{"name": ', '{"nme": "x"}')
    out = tmp_path / "res.jsonl"
    result = cli("run", cli.pipeline, "--batch", batch, "--results", str(out))
    assert result.exit_code == 1
    assert f"{batch}:2: not JSON: Expecting value (column 10)" in result.stderr
    assert f"{batch}:3: unknown input 'nme' (did you mean 'name'?)" in result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["line"], r["status"]) for r in rows] == [
        (1, "succeeded"),
        (2, "failed"),
        (3, "failed"),
    ]
    assert len(cli.backend.sent) == 1


def test_json_emits_one_event_per_item_state_change_then_a_summary(cli):
    batch = _lines(cli, '{"name": "ann"}', "[]", '{"name": "cy"}')
    result = cli("run", cli.pipeline, "--batch", batch, "--json", "--concurrency", "1")
    assert result.exit_code == 1
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    events = [(d["event"], d.get("line"), d.get("status")) for d in docs[:-1]]
    assert events == [
        ("batch_started", None, None),
        ("item_finished", 2, "failed"),
        ("item_started", 1, None),
        ("item_finished", 1, "succeeded"),
        ("item_started", 3, None),
        ("item_finished", 3, "succeeded"),
    ]
    summary = docs[-1]
    assert summary["status"] == "failed" and summary["batch_id"].startswith("batch-")
    assert (summary["total"], summary["succeeded"], summary["failed"]) == (3, 2, 1)
    assert summary["failures"][0]["line"] == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["--concurrency", "2"], "--concurrency and --results go with --batch"),
        (["--batch", "B", "-i", "name=x"], "--input cannot be combined with --batch"),
        (["--batch", "B", "--dry-run"], "--dry-run cannot be combined with --batch"),
    ],
)
def test_usage_errors_exit_2(cli, args, message):
    batch = _lines(cli, '{"name": "ann"}')
    result = cli("run", cli.pipeline, *[batch if a == "B" else a for a in args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert not cli.backend.sent


def test_ctrl_c_exits_130_and_resume_batch_id_finishes_it(cli):
    cli.backend.script(prompt_contains="hello", delay=0.3, times=100)
    batch = _lines(cli, *[json.dumps({"name": f"n{i}"}) for i in range(8)])
    threading.Timer(0.45, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    first = cli("run", cli.pipeline, "--batch", batch, "--concurrency", "2")
    assert first.exit_code == 130
    batch_id = next(w for w in first.stdout.split() if w.startswith("batch-"))
    assert f"continue with `orchestrate resume {batch_id}`" in first.stderr
    listed = json.loads(cli("batches", "list", "--json").stdout)
    assert listed[0]["status"] == "cancelled"
    time.sleep(0.4)  # the abandoned calls land
    again = cli("resume", batch_id, "--concurrency", "4")
    assert again.exit_code == 0, again.stderr
    assert f"resuming batch {batch_id}" in again.stderr
    assert sorted(cli.backend.prompts()) == sorted(f"hello n{i}" for i in range(8))
    assert cli("resume", batch_id).exit_code == 1  # nothing left: says so
    assert cli("resume", "batch-nope").exit_code == 1


def test_resume_of_a_batch_refuses_single_run_options(cli):
    result = cli("resume", "batch-x", "--max-parallel", "2")
    assert (
        result.exit_code == 2
        and "--max-parallel cannot be given when resuming a batch" in result.stderr
    )
    assert cli("resume", "2026-x", "--retry-failed").exit_code == 2


def test_batches_list_with_no_records(cli):
    assert cli("batches", "list").stdout.strip() == "no batches recorded yet"
    assert not Path(cli.tmp / "state" / "runs.db").exists()
