"""The web view over both record stores and both executors: a run on the embedded Letta
with its records on PostgreSQL (ORCHESTRATE_RECORDS_URL), executed by Temporal workers,
reads as a local run on SQLite does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("temporalio")

from starlette.testclient import TestClient  # noqa: E402

from orchestrator.backends.letta import LettaBackend  # noqa: E402
from orchestrator.compile import load_plan  # noqa: E402
from orchestrator.run.records import Records  # noqa: E402
from orchestrator.run.runner import RunOptions, start_run  # noqa: E402
from orchestrator.ui.app import create_app  # noqa: E402

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
APPROVE = {"approved": True, "feedback": "good"}
LOCAL = "http://127.0.0.1:8290"  # the Host the app accepts (it refuses any other)


def _statuses(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-step="([^"]+)" data-status="([^"]+)"', html))


def _worker(address: str, queue: str, env: dict[str, str]) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "worker",
            "--temporal-address",
            address,
            "--task-queue",
            queue,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert "worker ready" in line, line
    threading.Thread(target=proc.stderr.read, daemon=True).start()  # never a full pipe
    return proc


def test_temporal_run_with_records_on_postgres(
    letta_stack, model_script, temporal_address, pg_url, tmp_path
):
    model_script([{"prompt_contains": "Review this report", "json": APPROVE}])
    queue = f"ui-{uuid.uuid4().hex[:8]}"
    worker = _worker(temporal_address, queue, {"ORCHESTRATE_RECORDS_URL": pg_url})
    records = Records(pg_url)
    try:
        local = Records(tmp_path / "runs.db")
        plan = load_plan(ROOT / "pipelines" / "research-report.yaml")
        backend = LettaBackend(letta_stack.base_url)
        sqlite_run = start_run(plan, {"topic": "owls"}, backend, local, options=RunOptions())
        local.close()
        pg_run = start_run(
            plan,
            {"topic": "owls"},
            backend,
            records,
            options=RunOptions(
                executor="temporal", temporal_address=temporal_address, task_queue=queue
            ),
        )
    finally:
        records.close()
        worker.kill()
        worker.wait(timeout=10)
    assert sqlite_run.status == pg_run.status == "succeeded", (sqlite_run.error, pg_run.error)
    password = re.search(r"://[^:]+:([^@]+)@", pg_url)
    pages = {}
    for location, run in ((str(tmp_path / "runs.db"), sqlite_run), (pg_url, pg_run)):
        with TestClient(create_app(location), base_url=LOCAL) as client:
            listing = client.get("/").text
            assert f'data-run="{run.run_id}"' in listing
            pages[location] = client.get(f"/runs/{run.run_id}").text
            if password:
                assert password.group(1) not in listing + pages[location]
    sqlite_page, pg_page = pages.values()
    assert _statuses(pg_page) == _statuses(sqlite_page)
    assert _statuses(pg_page)["review"] == "succeeded"
    assert pg_page.count('class="bar st-succeeded"') == 3  # research, draft, review
