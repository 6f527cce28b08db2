"""start/status/stop with real processes but without installing Letta.

The install and PostgreSQL steps are replaced by fakes; "letta" is a script in the fake venv
that runs the model endpoint on Letta's port (it answers GET /v1/health/ with 200), so the
real spawning, health waits, state file, stale-pid and port handling are exercised.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from orchestrator.errors import ServerError
from orchestrator.server import install, postgres, processes, stack, state
from orchestrator.server.paths import StackPaths

LETTA_OK = f"""#!/bin/sh
env > "$HOME/env.txt"
exec {sys.executable} -m orchestrator.server.model_endpoint --host 127.0.0.1 --port "$5"
"""
LETTA_DIES = "#!/bin/sh\necho 'letta: cannot connect to database' >&2\nexit 3\n"
LETTA_HANGS = "#!/bin/sh\nexec sleep 60\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fake_stack(tmp_path, monkeypatch):
    paths = StackPaths(tmp_path / "home")
    paths.venv_python.parent.mkdir(parents=True)
    paths.pgdata.mkdir(parents=True)
    paths.schema_marker.write_text("{}")
    monkeypatch.setattr(install, "ensure_installed", lambda _paths, _progress=None: False)
    monkeypatch.setattr(
        postgres,
        "start",
        lambda _paths: {"pid": os.getpid(), "uri": "postgresql://postgres@/postgres?host=/x"},
    )
    monkeypatch.setattr(postgres, "stop", lambda _paths: True)
    monkeypatch.setattr(state, "postgres_pid", lambda _paths: os.getpid())

    def with_letta(script: str = LETTA_OK, **overrides) -> stack.StartOptions:
        paths.letta_bin.write_text(script)
        paths.letta_bin.chmod(0o755)
        values = {
            "letta_port": free_port(),
            "model_port": free_port(),
            "timeout": 30.0,
            **overrides,
        }
        return stack.StartOptions(**values)

    yield paths, with_letta
    stack.stop(paths.home)


def test_start_status_start_again_stop(fake_stack):
    paths, with_letta = fake_stack
    options = with_letta()
    info = stack.start(paths.home, options)
    assert not info.already_running
    assert info.base_url == f"http://127.0.0.1:{options.letta_port}"
    assert info.model_url == f"http://127.0.0.1:{options.model_port}/v1"
    assert info.model_handle == "openai-proxy/orchestrate-local"
    assert info.embedding_handle == "openai/text-embedding-3-small"
    saved = json.loads(paths.state_file.read_text())
    assert (
        saved["letta"]["pid"] == info.pids["letta"] and saved["model"]["pid"] == info.pids["model"]
    )

    env = dict(
        line.split("=", 1)
        for line in (paths.letta_home / "env.txt").read_text().splitlines()
        if "=" in line
    )
    assert env["HOME"] == str(paths.letta_home)
    assert env["PGUSER"] == "postgres"
    assert env["LETTA_PG_URI"] == "postgresql://postgres@/postgres?host=/x"
    assert env["OPENAI_API_BASE"] == env["OPENAI_BASE_URL"] == info.model_url
    assert env["OPENAI_API_KEY"]

    status = stack.status(paths.home)
    assert status.running and status.base_url == info.base_url
    for name in ("letta", "model"):
        comp = status.component(name)
        assert comp.healthy and comp.pid == info.pids[name] and comp.rss_bytes > 1_000_000

    again = stack.start(paths.home, options)
    assert again.already_running and again.pids == info.pids
    assert stack.embedded_base_url(paths.home) == info.base_url

    assert stack.stop(paths.home) == ["letta", "model", "postgres"]
    assert not processes.alive(info.pids["letta"]) and not processes.alive(info.pids["model"])
    assert not paths.state_file.exists()
    assert stack.embedded_base_url(paths.home) is None


def test_stale_pid_file_is_cleaned(fake_stack):
    paths, _ = fake_stack
    dead = subprocess.Popen(["true"])
    dead.wait()
    state.write(paths, {"letta": {"pid": dead.pid, "port": 1, "url": "http://127.0.0.1:1"}})
    assert stack.embedded_base_url(paths.home) is None
    status = stack.status(paths.home)
    assert status.cleaned == ("letta",)
    assert not status.component("letta").running
    assert not paths.state_file.exists()


def test_reused_pid_is_not_mistaken_for_ours(fake_stack):
    paths, _ = fake_stack
    ticks = processes.start_ticks(os.getpid())
    if ticks is None:
        pytest.skip("no /proc: start times unavailable")
    state.write(
        paths, {"letta": {"pid": os.getpid(), "ticks": ticks + 1, "url": "http://127.0.0.1:1"}}
    )
    assert stack.status(paths.home).cleaned == ("letta",)


@pytest.mark.parametrize(
    ("busy", "env_var"),
    [("letta_port", "ORCHESTRATE_LETTA_PORT"), ("model_port", "ORCHESTRATE_MODEL_PORT")],
)
def test_port_in_use_is_named_and_nothing_starts(fake_stack, busy, env_var):
    paths, with_letta = fake_stack
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(ServerError) as err:
            stack.start(paths.home, with_letta(**{busy: port}))
    message = str(err.value)
    assert f"port {port}" in message and env_var in message
    assert "model" not in state.read(paths)


def test_letta_dying_at_start_points_at_its_log(fake_stack):
    paths, with_letta = fake_stack
    with pytest.raises(ServerError) as err:
        stack.start(paths.home, with_letta(LETTA_DIES))
    message = str(err.value)
    assert "the Letta server exited during start-up" in message
    assert str(paths.log("letta")) in message and "cannot connect to database" in message


def test_letta_never_healthy_times_out_and_is_killed(fake_stack):
    paths, with_letta = fake_stack
    with pytest.raises(ServerError, match=r"did not become healthy .* within 1s; see .*letta\.log"):
        stack.start(paths.home, with_letta(LETTA_HANGS, timeout=1.0))
    assert "letta" not in state.read(paths)


def test_external_model_endpoint_skips_the_local_one(fake_stack):
    paths, with_letta = fake_stack
    info = stack.start(
        paths.home, with_letta(model_base_url="http://127.0.0.1:9/v1", model_api_key="sk-real")
    )
    assert info.model_url is None and info.model_base_url == "http://127.0.0.1:9/v1"
    assert "model" not in info.pids
    env = (paths.letta_home / "env.txt").read_text()
    assert "OPENAI_API_BASE=http://127.0.0.1:9/v1" in env and "OPENAI_API_KEY=sk-real" in env
    assert "sk-real" not in paths.state_file.read_text()
    assert stack.status(paths.home).component("model").detail == "external endpoint"


def test_a_foreign_letta_on_the_port_is_recognised(fake_stack):
    import threading

    from orchestrator.server.model_endpoint import ModelEndpoint, make_server

    paths, with_letta = fake_stack
    foreign = make_server(ModelEndpoint(), "127.0.0.1", 0)  # answers /v1/health/ like Letta
    threading.Thread(
        target=foreign.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    port = foreign.server_port
    try:
        with pytest.raises(ServerError) as err:
            stack.start(paths.home, with_letta(letta_port=port))
    finally:
        foreign.shutdown()
        foreign.server_close()
    message = str(err.value)
    assert "a Letta server not started from this state directory already answers there" in message
    assert (
        f"LETTA_BASE_URL=http://127.0.0.1:{port}" in message
        and "ORCHESTRATE_LETTA_PORT=" in message
    )


def test_a_crashed_component_is_restarted_alone(fake_stack):
    import signal

    paths, with_letta = fake_stack
    options = with_letta()
    first = stack.start(paths.home, options)
    os.kill(first.pids["model"], signal.SIGKILL)
    deadline = time.monotonic() + 5
    while processes.alive(first.pids["model"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not stack.status(paths.home).running
    second = stack.start(paths.home, options)
    assert not second.already_running
    assert second.pids["letta"] == first.pids["letta"]
    assert second.pids["model"] != first.pids["model"]
    assert stack.status(paths.home).running
