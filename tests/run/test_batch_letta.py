"""Batch runs on the embedded Letta through the CLI: a small batch with a bad line, and a
batch of 50 whose CLI is killed with SIGKILL mid-batch, then `resume BATCH_ID`: every
item's message reaches its agent once (counted in the local model's request log)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PIPELINE = """\
apiVersion: orchestrate/v1
kind: Pipeline
metadata: {name: batch-letta}
inputs: {topic: {type: string}}
agents: {writer: {}}
steps:
  note: {agent: writer, prompt: "Batch note on {{ inputs.topic }}."}
outputs: {note: "{{ steps.note.output }}"}
"""


def _cli(*args: str, home: Path) -> subprocess.Popen:
    env = {**os.environ, "ORCHESTRATE_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _files(tmp_path: Path, lines: list[str]) -> tuple[str, str]:
    (tmp_path / "p.yaml").write_text(PIPELINE)
    (tmp_path / "in.jsonl").write_text("".join(line + "\n" for line in lines))
    return str(tmp_path / "p.yaml"), str(tmp_path / "in.jsonl")


def _sent(model_script, tag: str) -> Counter:
    prefix = f"Batch note on {tag} "
    return Counter(
        (r.get("prompt") or "").removeprefix(prefix).rstrip(".")
        for r in model_script.requests()
        if (r.get("prompt") or "").startswith(prefix)
    )


def test_small_batch_via_the_cli(letta_stack, model_script, tmp_path):
    tag = uuid.uuid4().hex[:8]
    model_script([{"prompt_contains": f"on {tag} b.", "reply": "note about b"}])
    pipeline, batch = _files(
        tmp_path,
        [json.dumps({"topic": f"{tag} a"}), '{"topic": 3}', json.dumps({"topic": f"{tag} b"})],
    )
    proc = _cli(
        "run",
        pipeline,
        "--batch",
        batch,
        "--json",
        "--base-url",
        letta_stack.base_url,
        "--results",
        str(tmp_path / "r.jsonl"),
        home=tmp_path,
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err  # the bad line fails the batch, not the other lines
    summary = json.loads(out.splitlines()[-1])
    assert (summary["succeeded"], summary["failed"], summary["invalid"]) == (2, 1, 1)
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [(r["line"], r["status"]) for r in rows] == [
        (1, "succeeded"),
        (2, "failed"),
        (3, "succeeded"),
    ]
    assert rows[1]["error"] == f"{batch}:2: input 'topic': expected a string, got '3'"
    assert rows[2]["outputs"] == {"note": "note about b"}
    assert _sent(model_script, tag) == {"a": 1, "b": 1}


def _results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass
    return rows


def test_sigkill_mid_batch_of_50_then_resume_sends_each_message_once(
    letta_stack, model_script, tmp_path
):
    tag = uuid.uuid4().hex[:8]
    model_script([{"prompt_contains": f"Batch note on {tag} ", "delay": 0.5}])
    pipeline, batch = _files(tmp_path, [json.dumps({"topic": f"{tag} {i}"}) for i in range(1, 51)])
    results = tmp_path / "r.jsonl"
    proc = _cli(
        "run",
        pipeline,
        "--batch",
        batch,
        "--concurrency",
        "6",
        "--base-url",
        letta_stack.base_url,
        "--results",
        str(results),
        home=tmp_path,
    )
    try:
        end = time.monotonic() + 90
        while len(_results(results)) < 12 and time.monotonic() < end:
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = {r["line"]: r["run_id"] for r in _results(results)}
    assert 12 <= len(before) < 50
    with sqlite3.connect(tmp_path / "runs.db") as db:
        (batch_id,) = db.execute("SELECT id FROM batches").fetchone()
        in_flight = db.execute(
            "SELECT COUNT(*) FROM batch_items WHERE status='running'"
        ).fetchone()[0]
    assert in_flight >= 1  # killed with items in flight
    listed = _cli("batches", "list", "--json", home=tmp_path)
    assert json.loads(listed.communicate(timeout=30)[0])[0]["status"] == "interrupted"

    resumed = _cli("resume", batch_id, home=tmp_path)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    rows = _results(results)
    assert [r["line"] for r in rows] == list(range(1, 51))
    assert all(r["status"] == "succeeded" for r in rows), [r for r in rows if r["error"]]
    assert all(rows[line - 1]["run_id"] == run_id for line, run_id in before.items())
    sent = _sent(model_script, tag)
    assert set(sent) == {str(i) for i in range(1, 51)}
    assert set(sent.values()) == {1}, {k: v for k, v in sent.items() if v != 1}
