"""`runs list` and `runs show` agree on a run's status (one said `interrupted`, the other
`running`), through run.liveness; a run whose process is on another host cannot be
checked and stays `running`. And a closed output stops a run as cancelled, saying why."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.cli.output_guard import CLOSED_REASON, Cancel, OutputGuard
from orchestrator.run import liveness
from orchestrator.run.records import Records

DEAD_PID = 2**22 + 12345  # above Linux's pid_max default: never a live process


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path))
    return tmp_path


def _record(home, run_id: str, *, host: str | None = None) -> None:
    records = Records(home / "runs.db")
    records.start_run(
        run_id,
        pipeline="p",
        file="p.yaml",
        file_hash="h",
        inputs={},
        secret_inputs=[],
        base_url="http://x",
        namespace="default",
        options={},
        pid=DEAD_PID,
    )
    if host is not None:
        records._db.execute("UPDATE runs SET host=? WHERE id=?", (host, run_id))
    records.close()


def _statuses(run_id: str) -> tuple[str, str]:
    runner = CliRunner()
    listed = json.loads(runner.invoke(main, ["runs", "list", "--json"]).stdout)
    shown = json.loads(runner.invoke(main, ["runs", "show", run_id, "--json"]).stdout)
    return next(r["status"] for r in listed if r["id"] == run_id), shown["run"]["status"]


def test_a_killed_run_reads_interrupted_in_list_and_show(home):
    _record(home, "20990101-000000-aaaaaa")
    assert _statuses("20990101-000000-aaaaaa") == ("interrupted", "interrupted")


def test_a_run_on_another_host_cannot_be_checked_and_stays_running(home):
    _record(home, "20990101-000000-bbbbbb", host="elsewhere.example")
    assert _statuses("20990101-000000-bbbbbb") == ("running", "running")


def test_the_host_is_recorded(home):
    _record(home, "20990101-000000-cccccc")
    records = Records(home / "runs.db")
    assert records.run("20990101-000000-cccccc")["host"] == liveness.this_host()
    records.close()


def test_a_closed_pipe_cancels_once_and_silences_the_reporter(monkeypatch):
    calls = []

    def reporter(kind, **data):
        calls.append(kind)
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("orchestrator.cli.output_guard.silence_stdout", lambda: None)
    cancel, reasons = Cancel(), []
    cancel.on_stop = reasons.append
    guard = OutputGuard(reporter, cancel)
    guard("run_started", run_id="x")
    guard("step_started", step="s")
    assert calls == ["run_started"] and cancel.is_set() and reasons == [CLOSED_REASON]
