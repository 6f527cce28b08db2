"""Interrupted batches, resumed: nothing finished is redone, in-flight items resume through
the run's own resume (otid reconciliation), never-started items start; refusals."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from collections import Counter

import pytest

from orchestrator.errors import BackendError, RunError
from orchestrator.run.records import UnitKey
from tests.run.test_batch import Batch

DELAY = 0.2  # long enough that Ctrl-C finds items in flight


@pytest.fixture
def batch(harness, compile_text, tmp_path):
    b = Batch(harness, compile_text, tmp_path)
    yield b
    b.records.close()


def _interrupt_after(batch, finished: int):
    """Ctrl-C (a real SIGINT to this process, as a terminal sends it) once `finished` items
    succeeded: the batch's cancel path."""
    count = {"n": 0}
    emit = batch.emit

    def on_event(kind, **data):
        emit(kind, **data)
        if kind == "item_finished" and data["status"] == "succeeded":
            count["n"] += 1
            if count["n"] == finished:
                os.kill(os.getpid(), signal.SIGINT)

    batch.emit = on_event


def _sent_per_line(batch) -> Counter:
    return Counter(p.split()[1] for p in batch.harness.backend.prompts() if p.startswith("first"))


def test_batch_of_50_cancelled_then_resumed_redoes_nothing(batch):
    batch.harness.backend.script(prompt_contains="first t9 ", delay=1.5, times=10**6)
    batch.harness.backend.script(prompt_contains="", delay=DELAY, times=10**6)
    path = batch.write([json.dumps({"topic": f"t{i}"}) for i in range(1, 51)])
    _interrupt_after(batch, 10)
    first = batch.start(path, concurrency=5)
    assert first.status == "cancelled"
    assert f"orchestrate resume {first.batch_id}" in first.error
    counts = first.counts
    assert counts["succeeded"] >= 10 and counts.get("cancelled", 0) >= 1
    assert counts["pending"] >= 30  # never started: no run
    done_before = {
        i["line"]: i["run_id"]
        for i in batch.records.items(first.batch_id)
        if i["status"] == "succeeded"
    }
    cancelled = [i for i in batch.records.items(first.batch_id) if i["status"] == "cancelled"]
    for item in cancelled:  # cancelled as Ctrl-C cancels a run: recorded, resumable
        assert batch.harness.records.run(item["run_id"])["status"] == "cancelled"
    slow = next(i for i in cancelled if i["line"] == 9)  # its message was in flight
    assert batch.harness.records.units(slow["run_id"])[UnitKey("one")]["status"] == "cancelled"
    end = time.monotonic() + 5  # abandoned calls land in the agents' histories, as on Letta
    while "first t9 1" not in batch.harness.backend.prompts() and time.monotonic() < end:
        time.sleep(0.05)
    time.sleep(2 * DELAY)
    sent_before = len(batch.harness.backend.sent)

    again = batch.resume(first.batch_id, path)
    assert again.status == "succeeded", again.failures
    assert again.resumed
    rows = [json.loads(line) for line in open(again.results)]
    assert [r["line"] for r in rows] == list(range(1, 51))  # one line each, input order
    assert all(r["status"] == "succeeded" for r in rows)
    for line, run_id in done_before.items():  # finished items: same run, not touched
        assert rows[line - 1]["run_id"] == run_id
        assert batch.harness.records.run(run_id)["resumes"] == 0
    for item in cancelled:  # in-flight items: their own run, resumed
        assert rows[item["line"] - 1]["run_id"] == item["run_id"]
        assert batch.harness.records.run(item["run_id"])["resumes"] == 1
    per_line = _sent_per_line(batch)
    assert set(per_line) == {f"t{i}" for i in range(1, 51)}
    assert set(per_line.values()) == {1}, per_line  # every first step reached its agent once
    seconds = [p for p in batch.harness.backend.prompts() if p.startswith("second")]
    assert len(seconds) == 50 == len(set(seconds))
    assert len(batch.harness.backend.sent) - sent_before < 100  # the rest only
    assert batch.records.batch(first.batch_id)["resumes"] == 1


def test_resume_after_a_crash_settles_starts_and_resumes_by_recorded_state(batch):
    """What kill -9 leaves: an item marked running whose run had finished (its result line
    written or not), one whose run id was written but the run never recorded, one never
    started. Nothing finished is sent again."""
    path = batch.write([json.dumps({"topic": f"t{i}"}) for i in range(1, 5)])
    done = batch.start(path)
    rows = [json.loads(line) for line in open(done.results)]
    db = sqlite3.connect(batch.harness.records.path)
    with db:
        db.execute("UPDATE batches SET status='running', pid=999999999")
        db.execute("UPDATE batch_items SET status='running' WHERE line IN (1, 2)")
        db.execute(
            "UPDATE batch_items SET status='running', run_id='20990101-000000-abcdef' WHERE line=3"
        )
        db.execute("UPDATE batch_items SET status='pending', run_id=NULL WHERE line=4")
    db.close()
    with open(done.results, "w") as f:  # line 1's result was written, line 2's was not
        f.write(json.dumps(rows[0]) + "\n" + '{"line": 2, "run_id": "cut sho')
    sent = len(batch.harness.backend.sent)

    again = batch.resume(done.batch_id, path)
    assert again.status == "succeeded"
    after = [json.loads(line) for line in open(again.results)]
    assert [r["line"] for r in after] == [1, 2, 3, 4]
    assert after[:2] == rows[:2]  # settled from the run records: nothing ran
    assert after[2]["run_id"] == "20990101-000000-abcdef"  # started under its recorded id
    assert len(batch.harness.backend.sent) - sent == 4  # lines 3 and 4: two steps each


def test_retry_failed_resumes_the_failed_items_runs(batch):
    rule = batch.harness.backend.script(
        prompt_contains="second [memory] a: reply to: first bad",
        fail=BackendError("HTTP 400: no", status=400),
    )
    path = batch.write(['{"topic": "good"}', '{"topic": "bad"}'])
    first = batch.start(path)
    assert first.status == "failed"
    with pytest.raises(
        RunError,
        match="nothing to resume: all 2 items finished "
        r"\(1 succeeded, 1 failed\); --retry-failed",
    ):
        batch.resume(first.batch_id, path)
    batch.harness.backend.rules.remove(rule)
    again = batch.resume(first.batch_id, path, retry_failed=True)
    assert again.status == "succeeded"
    rows = [json.loads(line) for line in open(again.results)]
    assert [(r["line"], r["status"]) for r in rows] == [(1, "succeeded"), (2, "succeeded")]
    assert _sent_per_line(batch) == {"good": 1, "bad": 1}  # its first step was reused


def test_resume_refuses_a_changed_file_and_a_live_batch(batch):
    path = batch.write(['{"topic": "a"}'])
    out = batch.start(path)
    path.write_text('{"topic": "b"}\n')
    with pytest.raises(RunError, match="changed since batch .* started .*sha256"):
        batch.resume(out.batch_id, path)
    path.write_text('{"topic": "a"}\n')
    db = sqlite3.connect(batch.harness.records.path)
    with db:
        db.execute("UPDATE batches SET status='running', pid=?", (os.getppid(),))
    db.close()
    with pytest.raises(RunError, match=f"batch {out.batch_id} is still running"):
        batch.resume(out.batch_id, path)
