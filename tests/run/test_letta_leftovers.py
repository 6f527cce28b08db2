"""Against the embedded Letta: a run leaves nothing on the server (Letta deletes an agent,
not its memory blocks: research-report used to leave one `persona` block per agent); a run
whose output is closed (`orchestrate run ... | head`) stops as cancelled, `runs list` and
`runs show` agree, and the resume that completes it leaves nothing either. Blocks are
counted through letta_client itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from letta_client import Letta

from orchestrator.backends.letta import LettaBackend
from orchestrator.compile import load_plan
from orchestrator.run.records import Records
from orchestrator.run.runner import start_run

pytestmark = pytest.mark.integration
REPORT = Path(__file__).resolve().parents[2] / "pipelines" / "research-report.yaml"


def _unattached(client: Letta) -> set[str]:
    """research-report's agents' blocks that no agent uses (other tests may share the
    server: what this run left would be among these, and new)."""
    plan = load_plan(REPORT)
    ours = {b.value for a in plan.agents.values() for b in a.memory_blocks}
    return {b.id for b in client.blocks.list(connected_to_agents_count_eq=[0]) if b.value in ours}


def _tagged(client: Letta, run_id: str) -> tuple[int, int]:
    tag = [f"orchestrate:run={run_id}"]
    return (
        sum(1 for _ in client.agents.list(tags=tag)),
        sum(1 for _ in client.blocks.list(tags=tag)),
    )


def test_research_report_leaves_the_block_count_unchanged(letta_stack, tmp_path):
    client = Letta(base_url=letta_stack.base_url)
    before, idle_before = sum(1 for _ in client.blocks.list()), _unattached(client)
    records = Records(tmp_path / "runs.db")
    out = start_run(
        load_plan(REPORT), {"topic": "owls"}, LettaBackend(letta_stack.base_url), records
    )
    records.close()
    assert out.status == "succeeded", out.error
    assert _tagged(client, out.run_id) == (0, 0)
    assert _unattached(client) - idle_before == set()
    after = sum(1 for _ in client.blocks.list())
    print(f"blocks on the server: {before} before, {after} after")


def _cli(home: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "ORCHESTRATE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        **kw,
    )


def test_a_closed_output_cancels_the_run_and_resume_cleans_up(letta_stack, tmp_path):
    client = Letta(base_url=letta_stack.base_url)
    idle_before = _unattached(client)
    env = {**os.environ, "ORCHESTRATE_HOME": str(tmp_path), "LETTA_BASE_URL": letta_stack.base_url}
    # `orchestrate run ... --json | head -1`: the reader leaves after the first line
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "run", str(REPORT), "-i", "topic=owls", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = json.loads(proc.stdout.readline())
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=300) == 130, stderr
    assert "BrokenPipe" not in stderr and "unexpected" not in stderr
    run_id = first["run_id"]
    listed = json.loads(_cli(tmp_path, "runs", "list", "--json").stdout)
    shown = json.loads(_cli(tmp_path, "runs", "show", run_id, "--json").stdout)
    assert listed[0]["status"] == shown["run"]["status"] == "cancelled"
    assert "its output was closed" in shown["run"]["error"]
    resumed = subprocess.run(
        [sys.executable, "-m", "orchestrator", "resume", run_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert _tagged(client, run_id) == (0, 0)
    assert _unattached(client) - idle_before == set()


def test_runs_gc_deletes_what_a_killed_run_left(letta_stack, tmp_path):
    client = Letta(base_url=letta_stack.base_url)
    idle_before = _unattached(client)
    env = {**os.environ, "ORCHESTRATE_HOME": str(tmp_path), "LETTA_BASE_URL": letta_stack.base_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "run", str(REPORT), "-i", "topic=owls", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    run_id = json.loads(proc.stdout.readline())["run_id"]
    for line in proc.stdout:  # killed once its first agent is made and has answered
        if json.loads(line).get("event") == "step_finished":
            break
    proc.kill()
    proc.wait(timeout=60)
    assert _tagged(client, run_id)[0] >= 1
    listed = json.loads(_cli(tmp_path, "runs", "list", "--json").stdout)
    shown = json.loads(_cli(tmp_path, "runs", "show", run_id, "--json").stdout)
    assert listed[0]["status"] == shown["run"]["status"] == "interrupted"
    gc_env = {**env}
    plan = subprocess.run(
        [sys.executable, "-m", "orchestrator", "runs", "gc", "--dry-run", "--json", run_id],
        env=gc_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert plan.returncode == 0, plan.stderr
    would = {x["id"] for x in json.loads(plan.stdout)["deleted"]}
    assert _tagged(client, run_id)[0] >= 1  # a dry run deletes nothing
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "runs", "gc", "--json", run_id],
        env=gc_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert {x["id"] for x in json.loads(done.stdout)["deleted"]} == would
    assert _tagged(client, run_id) == (0, 0)
    assert _unattached(client) - idle_before == set()
