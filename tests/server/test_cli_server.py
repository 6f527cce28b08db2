"""`orchestrate server ...` commands: exit codes and messages (no Letta install needed)."""

from __future__ import annotations

import json
import socket

from click.testing import CliRunner

from orchestrator.cli.server_cmds import server_group


def run(args, home, **env):
    return CliRunner().invoke(server_group, args, env={"ORCHESTRATE_HOME": str(home), **env})


def test_status_when_nothing_runs_exits_1(tmp_path):
    result = run(["status"], tmp_path)
    assert result.exit_code == 1
    assert "not running" in result.output and "orchestrate server start" in result.output
    result = run(["status", "--json"], tmp_path)
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["running"] is False and [c["name"] for c in data["components"]] == [
        "letta",
        "model",
        "postgres",
    ]


def test_stop_when_nothing_runs_is_harmless(tmp_path):
    result = run(["stop"], tmp_path)
    assert result.exit_code == 0 and "nothing was running" in result.output


def test_start_on_a_busy_port_is_a_user_error_naming_the_port(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with socket.socket() as spare:  # a free model port: a real stack may hold the default one
            spare.bind(("127.0.0.1", 0))
            model_port = spare.getsockname()[1]
        result = run(
            ["start"],
            tmp_path,
            ORCHESTRATE_LETTA_PORT=str(port),
            ORCHESTRATE_MODEL_PORT=str(model_port),
        )
    assert result.exit_code == 1
    assert f"port {port} (Letta server) is already in use" in result.output
    assert "ORCHESTRATE_LETTA_PORT=" in result.output
    assert not (tmp_path / "letta-venv").exists()  # failed before installing anything


def test_bad_port_variable_is_a_user_error(tmp_path):
    result = run(["start"], tmp_path, ORCHESTRATE_MODEL_PORT="eighty")
    assert (
        result.exit_code == 1
        and "ORCHESTRATE_MODEL_PORT='eighty' is not a TCP port" in result.output
    )


def test_logs_of_one_component_and_missing_logs(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "model.log").write_text("a\nb\nc\n")
    result = run(["logs", "-n", "2", "model"], tmp_path)
    assert result.exit_code == 0 and result.output.splitlines() == ["b", "c"]
    result = run(["logs"], tmp_path)
    assert result.exit_code == 0 and "(no log yet at" in result.output
    assert run(["logs", "nosuch"], tmp_path).exit_code == 2
