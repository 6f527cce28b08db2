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


def test_out_of_range_port_option_is_a_user_error_not_a_crash(tmp_path):
    result = run(["start", "--letta-port", "99999"], tmp_path)
    assert result.exit_code == 1, result.output
    assert "--letta-port 99999 is not a TCP port (1-65535)" in result.output
    assert "unexpected" not in result.output


def test_same_port_for_letta_and_model_is_refused_before_installing(tmp_path):
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    result = run(["start", "--letta-port", str(port), "--model-port", str(port)], tmp_path)
    assert result.exit_code == 1, result.output
    assert f"cannot share port {port}" in result.output
    assert not (tmp_path / "letta-venv").exists()  # failed before installing anything


def test_stop_does_not_create_a_missing_state_dir(tmp_path):
    home = tmp_path / "typo"
    result = run(["stop"], home)
    assert result.exit_code == 0 and "nothing was running" in result.output
    assert not home.exists()


def test_logs_follow_stops_quietly_on_ctrl_c(tmp_path, monkeypatch):
    from orchestrator.server import logs as server_logs

    def interrupted(_files, **_kw):
        yield "model", "one line"
        raise KeyboardInterrupt

    monkeypatch.setattr(server_logs, "follow", interrupted)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "model.log").write_text("old\n")
    result = run(["logs", "-f", "model"], tmp_path)
    assert result.exit_code == 130
    assert result.output.splitlines() == ["old", "one line"]
    assert "error" not in result.output


def test_embedded_model_handle_follows_the_model_mode(tmp_path, monkeypatch):
    from orchestrator.server import stack, state
    from orchestrator.server.paths import StackPaths

    monkeypatch.delenv("ORCHESTRATE_MODEL_HANDLE", raising=False)
    monkeypatch.delenv("ORCHESTRATE_MODEL", raising=False)
    paths = StackPaths(tmp_path)
    state.write(paths, {"model": {"pid": 1, "url": "http://127.0.0.1:1/v1", "port": 1}})
    assert stack.embedded_model_handle(tmp_path) == stack.default_model_handle()
    state.write(paths, {"model": {"external": True, "url": "https://api.example.com/v1"}})
    assert stack.embedded_model_handle(tmp_path) is None
    monkeypatch.setenv("ORCHESTRATE_MODEL_HANDLE", "openai-proxy/gpt-4o-mini")
    assert stack.embedded_model_handle(tmp_path) == "openai-proxy/gpt-4o-mini"
