"""Crashes against the embedded Letta stack: the orchestrator killed with SIGKILL mid-run,
and the Letta server stopped mid-run. Both end with `resume` finishing the run without
sending completed steps again (checked in the model endpoint's request log)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from orchestrator.backends.letta import LettaBackend
from orchestrator.compile import load_plan
from orchestrator.run.records import Records, UnitKey
from orchestrator.run.runner import RunOptions, resume_run, start_run
from orchestrator.server import components
from orchestrator.server.paths import StackPaths

pytestmark = pytest.mark.integration
PIPELINE = Path(__file__).resolve().parents[2] / "pipelines" / "research-report.yaml"
APPROVE = {"approved": True, "feedback": "good"}
RESEARCH, DRAFT = "Research owls for", "Write a short report on"


def _cli(*args, home: Path, **kw) -> subprocess.Popen:
    env = {**os.environ, "ORCHESTRATE_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-c", "from orchestrator.cli import main; main()", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _wait_for(predicate, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _unit_status(db: Path, step: str) -> str | None:
    if not db.exists():
        return None
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT status FROM steps WHERE step=? AND item=-1 AND iteration=0", (step,)
        ).fetchone()
    return row[0] if row else None


def _count(model_script, needle: str) -> int:
    return sum((r.get("prompt") or "").startswith(needle) for r in model_script.requests())


def test_sigkill_mid_run_then_resume_sends_each_step_once(letta_stack, model_script, tmp_path):
    model_script(
        [
            {"prompt_contains": DRAFT, "delay": 4},
            {"prompt_contains": "Review this report", "json": APPROVE},
        ]
    )
    proc = _cli(
        "run", str(PIPELINE), "-i", "topic=owls", "--base-url", letta_stack.base_url, home=tmp_path
    )
    db = tmp_path / "runs.db"
    try:
        _wait_for(lambda: _unit_status(db, "draft") == "running", 60, "draft in flight")
        # the message is with Letta once the model has it (it then "thinks" for 4 s): a
        # fixed sleep here could kill the CLI before the message left it on a busy machine
        _wait_for(lambda: _count(model_script, DRAFT) >= 1, 30, "draft at the model")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert _unit_status(db, "research") == "succeeded"
    run_id = Records(db).list_runs(1)[0]["id"]
    listed = _cli("runs", "list", "--json", home=tmp_path)
    assert json.loads(listed.communicate(timeout=60)[0])[0]["status"] == "interrupted"
    resumed = _cli("resume", run_id, home=tmp_path)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert "reply recovered from the agent's history" in err
    assert _count(model_script, RESEARCH) == 1
    assert _count(model_script, DRAFT) == 1  # the in-flight message was not sent again
    assert Records(db).run(run_id)["status"] == "succeeded"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SecondLetta:
    """Another Letta server on the session stack's database and model endpoint, so that
    stopping it cannot disturb the other tests."""

    def __init__(self, stack, tmp_path: Path):
        self.paths = StackPaths.resolve(stack.home)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        from orchestrator.server import state

        pg_uri = state.read(self.paths)["postgres"]["uri"]
        self.env = components.letta_env(
            self.paths, pg_uri, stack.model_url, components.LOCAL_API_KEY
        )
        self.env["HOME"] = str(tmp_path / "letta-home")
        Path(self.env["HOME"]).mkdir(exist_ok=True)
        self.log = tmp_path / "letta2.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(self.paths.letta_bin),
                    "server",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                env=self.env,
                cwd=self.env["HOME"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        backend = LettaBackend(self.url)

        def up() -> bool:
            try:
                backend.check()
                return True
            except Exception:  # noqa: BLE001 - not up yet
                assert self.proc.poll() is None, self.log.read_text()[-2000:]
                return False

        _wait_for(up, 120, "the second Letta server")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def test_letta_server_stopped_mid_run_then_resumed(letta_stack, model_script, tmp_path):
    server = SecondLetta(letta_stack, tmp_path)
    server.start()
    records = Records(tmp_path / "runs.db")
    plan = load_plan(PIPELINE)
    model_script(
        [
            {"prompt_contains": DRAFT, "delay": 3},
            {"prompt_contains": "Review this report", "json": APPROVE},
        ]
    )
    try:
        holder = {}
        worker = threading.Thread(
            target=lambda: holder.update(
                out=start_run(
                    plan,
                    {"topic": "owls"},
                    LettaBackend(server.url),
                    records,
                    options=RunOptions(keep_agents=False),
                )
            )
        )
        worker.start()
        _wait_for(
            lambda: _unit_status(tmp_path / "runs.db", "draft") == "running", 60, "draft in flight"
        )
        server.stop()
        worker.join(60)
        first = holder["out"]
        assert first.status == "failed"
        assert "no Letta server answers at " + server.url in first.results["draft"].error
        assert f"orchestrate resume {first.run_id}" in first.error
        assert first.results["research"].status == "succeeded"

        server.start()
        again = resume_run(first.run_id, plan, LettaBackend(server.url), records)
        assert again.status == "succeeded", again.error
        assert again.results["research"].reused
        assert _count(model_script, RESEARCH) == 1
        assert records.units(first.run_id)[UnitKey("draft")]["status"] == "succeeded"
    finally:
        server.stop()
        records.close()
