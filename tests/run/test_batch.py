"""Batch runs on the in-memory backend: one run per line, bad lines by number, results file,
records, concurrency, secrets kept out of results, and the ItemRunner seam."""

from __future__ import annotations

import json
import threading
import time

import pytest

from orchestrator.errors import BackendError, OrchestrateError, RunError
from orchestrator.run.batch import BatchDriver, ItemResult, Work
from orchestrator.run.batch_input import read_batch
from orchestrator.run.batch_items import RunnerItems
from orchestrator.run.batch_records import BatchRecords
from orchestrator.run.batch_results import ResultsFile
from orchestrator.run.batch_session import resume_batch, start_batch

PIPE = """
agents: {a: {replicas: 8}}
inputs:
  topic: {type: string}
  n: {type: integer, default: 1}
  token: {type: string, secret: true, default: "none-given"}
steps:
  one: {agent: a, prompt: "first {{ inputs.topic }} {{ inputs.n }}"}
  two: {agent: a, prompt: "second {{ steps.one.output }} {{ inputs.token }}"}
outputs:
  answer: "{{ steps.two.output }}"
"""


class Batch:
    """A batch on the harness's backend and records."""

    def __init__(self, harness, compile_text, tmp_path):
        self.harness, self.tmp = harness, tmp_path
        self.plan = compile_text(PIPE)
        self.records = BatchRecords(harness.records.path)
        self.events: list[tuple[str, dict]] = []

    def emit(self, kind, **data):
        self.events.append((kind, data))

    def items(self):
        return RunnerItems(
            self.plan, self.harness.records, lambda: self.harness.backend, emit=self.emit
        )

    def write(self, lines: list[str], name: str = "in.jsonl"):
        path = self.tmp / name
        path.write_text("".join(line + "\n" for line in lines))
        return path

    def start(self, path, **kw):
        return start_batch(
            self.plan,
            read_batch(path, self.plan.inputs),
            self.items(),
            self.records,
            options={},
            emit=self.emit,
            **kw,
        )

    def resume(self, batch_id, path, **kw):
        return resume_batch(
            batch_id,
            read_batch(path, self.plan.inputs),
            self.items(),
            self.records,
            emit=self.emit,
            **kw,
        )


@pytest.fixture
def batch(harness, compile_text, tmp_path):
    b = Batch(harness, compile_text, tmp_path)
    yield b
    b.records.close()


def _results(summary) -> list[dict]:
    with open(summary.results) as f:
        return [json.loads(line) for line in f]


def test_one_run_per_line_results_in_input_order(batch):
    path = batch.write([json.dumps({"topic": f"t{i}", "n": i}) for i in range(1, 8)])
    out = batch.start(path, concurrency=3)
    assert out.status == "succeeded", out.failures
    rows = _results(out)
    assert [r["line"] for r in rows] == list(range(1, 8))
    assert all(r["status"] == "succeeded" for r in rows)
    assert rows[2]["outputs"]["answer"].endswith("first t3 3 ***")  # a secret default, masked
    run_ids = {r["run_id"] for r in rows}
    assert len(run_ids) == 7  # each item its own run, recorded as runs are
    for row in rows:
        run = batch.harness.records.run(row["run_id"])
        assert run["status"] == "succeeded" and run["inputs"]["n"] == row["line"]
    items = batch.records.items(out.batch_id)
    assert [(i["line"], i["status"], i["run_id"]) for i in items] == [
        (r["line"], "succeeded", r["run_id"]) for r in rows
    ]
    assert len(batch.harness.backend.sent) == 14


def test_bad_lines_are_reported_by_number_and_do_not_stop_the_rest(batch):
    path = batch.write(
        [
            '{"topic": "ok1"}',
            "",
            "not json",
            "[1, 2]",
            '{"topic": "x", "n": "seven"}',
            '{"n": 2}',
            '{"topic": "t", "nn": 1}',
            '{"topic": "ok2"}',
        ]
    )
    out = batch.start(path)
    assert out.status == "failed"
    rows = {r["line"]: r for r in _results(out)}
    assert sorted(rows) == [1, 3, 4, 5, 6, 7, 8]  # line 2 is blank: ignored, still counted
    assert rows[1]["status"] == rows[8]["status"] == "succeeded"
    where = str(path)
    assert rows[3]["error"].startswith(f"{where}:3: not JSON: Expecting value (column 1)")
    assert rows[4]["error"].startswith(
        f"{where}:4: a line is a JSON object of inputs, got an array"
    )
    assert rows[5]["error"] == f"{where}:5: input 'n': expected an integer, got 'seven'"
    assert rows[6]["error"] == (
        f"{where}:6: missing required input: topic (add to the line's JSON object)"
    )
    assert rows[7]["error"].startswith(f"{where}:7: unknown input 'nn'")
    assert all(rows[n]["status"] == "failed" and rows[n]["run_id"] is None for n in (3, 4, 5, 6, 7))
    doc = out.to_json()
    assert (doc["succeeded"], doc["failed"], doc["invalid"]) == (2, 5, 5)
    assert [f["line"] for f in doc["failures"]] == [3, 4, 5, 6, 7]
    assert len(batch.harness.backend.sent) == 4  # only the good lines ran


def test_a_failed_item_fails_the_batch_not_the_other_items(batch):
    batch.harness.backend.script(
        prompt_contains="first bad", fail=BackendError("HTTP 400: refused", status=400)
    )
    path = batch.write(['{"topic": "good"}', '{"topic": "bad"}', '{"topic": "fine"}'])
    out = batch.start(path)
    assert out.status == "failed"
    rows = _results(out)
    assert [r["status"] for r in rows] == ["succeeded", "failed", "succeeded"]
    assert "HTTP 400: refused" in rows[1]["error"] and rows[1]["run_id"]
    assert f"orchestrate resume {rows[1]['run_id']}" in rows[1]["error"]
    assert batch.harness.records.run(rows[1]["run_id"])["status"] == "failed"


def test_at_most_concurrency_runs_at_once(batch):
    batch.harness.backend.script(prompt_contains="first", delay=0.15, times=100)
    path = batch.write([json.dumps({"topic": f"t{i}"}) for i in range(8)])
    out = batch.start(path, concurrency=3)
    assert out.status == "succeeded"
    assert batch.harness.backend.peak_total == 3
    running, peak = 0, 0
    for kind, _ in batch.events:
        running += {"item_started": 1, "item_finished": -1}.get(kind, 0)
        peak = max(peak, running)
    assert peak == 3


def test_secret_inputs_never_reach_results_records_or_events(batch):
    batch.harness.backend.script(prompt_contains="second", replies=["echo s3cr3t-value!"], times=10)
    path = batch.write(
        [
            '{"topic": "a", "token": "s3cr3t-value!"}',
            '{"topic": "b", "token": "s3cr3t-value!", "n": "x"}',
        ]
    )
    out = batch.start(path)
    text = open(out.results).read()
    assert "s3cr3t" not in text and "***" in text
    assert "s3cr3t" not in json.dumps([d for _, d in batch.events], default=str)
    db = batch.harness.records.path.read_bytes()
    assert b"s3cr3t" not in db
    assert "s3cr3t" not in json.dumps(out.to_json())


def test_results_path_option_and_batch_record(batch, tmp_path):
    path = batch.write(['{"topic": "a"}'])
    out = batch.start(path, results_path=tmp_path / "out" / "r.jsonl")
    assert out.results == str(tmp_path / "out" / "r.jsonl")
    rec = batch.records.find(out.batch_id[:14])
    assert rec["id"] == out.batch_id and rec["status"] == "succeeded"
    assert rec["file"] == str(path) and len(rec["file_hash"]) == 64
    assert rec["total"] == 1 and rec["options"]["concurrency"] == 4


def test_an_empty_batch_file_is_an_error(batch):
    path = batch.write(["", "  "])
    with pytest.raises(RunError, match="the batch file has no lines"):
        batch.start(path)


def test_a_server_that_is_down_fails_the_batch_before_any_item(batch):
    batch.harness.backend.up = False
    path = batch.write(['{"topic": "a"}'])
    with pytest.raises(OrchestrateError, match="no Letta server answers"):
        batch.start(path)
    assert batch.records.recent() == []


class FakeItems:
    """An executor of its own, to pin the seam: the driver only calls these four."""

    def __init__(self):
        self.calls: list[tuple[str, str, dict]] = []
        self.lock = threading.Lock()

    def check(self) -> None:
        pass

    def start(self, run_id, given, cancel):
        with self.lock:
            self.calls.append(("start", run_id, dict(given)))
        if given.get("topic") == "slow":
            cancel.wait(5)
            return ItemResult("cancelled", run_id, error="cancelled (Ctrl-C)")
        return ItemResult("succeeded", run_id, {"echo": given["topic"]})

    def resume(self, run_id, given, cancel):
        with self.lock:
            self.calls.append(("resume", run_id, dict(given)))
        return ItemResult("succeeded", run_id, {"echo": given["topic"], "resumed": True})

    def recorded(self, run_id):
        return None


def test_the_driver_runs_any_item_runner_and_cancel_stops_it(batch, tmp_path):
    fake = FakeItems()
    ids = iter(["r-1", "r-1", "r-2", "r-3"])  # a clash is drawn again, never reused
    path = batch.write(['{"topic": "a"}', '{"topic": "slow"}', '{"topic": "c"}'])
    file = read_batch(path, batch.plan.inputs)
    batch.records.create(
        "batch-x",
        pipeline="t",
        pipeline_file="t.yaml",
        file=file.path,
        file_hash=file.sha256,
        results=str(tmp_path / "r.jsonl"),
        options={},
        items=[(b.line, "pending", None) for b in file.lines],
        pid=0,
    )
    driver = BatchDriver(
        "batch-x",
        batch.records,
        ResultsFile(tmp_path / "r.jsonl"),
        fake,
        concurrency=1,
        emit=batch.emit,
        new_run_id=ids.__next__,
    )
    threading.Timer(0.3, driver.cancel).start()
    began = time.monotonic()
    driver.drive([Work(b.line, b.given) for b in file.lines])
    assert time.monotonic() - began < 2
    assert [c[0] for c in fake.calls] == ["start", "start"]  # "c" never started
    status = {i["line"]: i["status"] for i in batch.records.items("batch-x")}
    assert status == {1: "succeeded", 2: "cancelled", 3: "pending"}
    assert [c[1] for c in fake.calls] == ["r-1", "r-2"]
    rows = [json.loads(line) for line in open(tmp_path / "r.jsonl")]
    assert rows == [
        {"line": 1, "run_id": "r-1", "status": "succeeded", "outputs": {"echo": "a"}, "error": None}
    ]  # a cancelled item has none
