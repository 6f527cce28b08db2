"""A busy model port held by orchestrate's own stack of another state dir is named as such
(issue 15 item 5: in a second checkout `server start` said "in use by another program")."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli.server_cmds import server_group
from orchestrator.server import own_stack

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def other_stack_model(tmp_path):
    """orchestrate's real model endpoint, launched in a state dir as `server start` does."""
    other = tmp_path / "first-checkout" / ".orchestrate"
    other.mkdir(parents=True)
    (other / "server.json").write_text("{}")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.server.model_endpoint", "--port", str(port)],
        cwd=other,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield other, port
    finally:
        proc.terminate()
        proc.wait(10)


def test_health_reports_the_stack_it_belongs_to(other_stack_model):
    other, port = other_stack_model
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
        body = json.loads(resp.read())
    assert body["service"] == "orchestrate-model-endpoint" and body["home"] == str(other)
    assert own_stack.model_endpoint_home(port) == (True, str(other))
    assert own_stack.model_endpoint_home(_free_port()) == (False, None)


def test_start_elsewhere_names_the_other_stack(other_stack_model, tmp_path):
    other, port = other_stack_model
    mine = tmp_path / "second-checkout" / "state"
    result = CliRunner().invoke(
        server_group,
        ["start"],
        env={
            "ORCHESTRATE_HOME": str(mine),
            "ORCHESTRATE_MODEL_PORT": str(port),
            "ORCHESTRATE_LETTA_PORT": str(_free_port()),
            "ORCHESTRATE_OPENAI_API_BASE": None,
        },
    )
    assert result.exit_code == 1
    assert "another program" not in result.output
    assert f"used by orchestrate's own stack of the state directory {other}" in result.output
    assert f"ORCHESTRATE_HOME={other} orchestrate server stop" in result.output
    assert not (mine / "letta-venv").exists()  # failed before installing anything


def test_a_foreign_program_is_still_another_program(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = CliRunner().invoke(
            server_group,
            ["start"],
            env={
                "ORCHESTRATE_HOME": str(tmp_path),
                "ORCHESTRATE_MODEL_PORT": str(port),
                "ORCHESTRATE_LETTA_PORT": str(_free_port()),
                "ORCHESTRATE_OPENAI_API_BASE": None,
            },
        )
    assert result.exit_code == 1
    assert (
        f"port {port} (local model endpoint) is already in use by another program" in result.output
    )
