"""The optional trace viewer of the embedded stack (`server start --traces`, Arize Phoenix in its
own venv): `server status` reports it, a second start is a no-op, logs name it, it answers
OTLP on 127.0.0.1 only, a busy port is a clear error before anything is installed, and the
project's environment never gets Phoenix's packages."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import sys
import urllib.request

import pytest
from click.testing import CliRunner

from orchestrator.cli.server_cmds import server_group
from orchestrator.errors import ServerError
from orchestrator.server import logs, phoenix, processes, stack, state
from orchestrator.server.paths import StackPaths


@pytest.fixture
def running_phoenix(letta_stack):
    entry = state.read(StackPaths.resolve(letta_stack.home)).get("phoenix")
    if not (
        isinstance(entry, dict)
        and phoenix.status(StackPaths.resolve(letta_stack.home), entry).running
    ):
        reason = "Phoenix is not running: start it with `orchestrate server start --traces`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " (CI=true: .ci/run starts it)")
        pytest.skip(reason)
    return entry


@pytest.mark.integration
def test_status_stop_logs_know_the_running_viewer(letta_stack, running_phoenix):
    st = stack.status(letta_stack.home)
    viewer = st.component("phoenix")
    assert viewer is not None and viewer.running and viewer.healthy
    assert viewer.url == running_phoenix["url"] and viewer.url.startswith("http://127.0.0.1:")
    assert viewer.rss_bytes and viewer.rss_bytes > 50e6
    assert st.running  # optional: it does not make the stack "down"
    again = phoenix.start(letta_stack.home, port=running_phoenix["port"])
    assert again["already_running"] and again["pid"] == running_phoenix["pid"]
    assert "phoenix" in [name for name, _ in logs.log_files(letta_stack.home)]
    # what runs exported (prompts too, with --otel-content) is the owner's only
    assert (letta_stack.home / "phoenix").stat().st_mode & 0o777 == 0o700
    assert phoenix.running_endpoint(letta_stack.home) == running_phoenix["traces_endpoint"]
    result = CliRunner().invoke(server_group, ["status", "--json", "--home", str(letta_stack.home)])
    names = [c["name"] for c in json.loads(result.output)["components"]]
    assert "phoenix" in names
    # its REST API answers (what the trace tests read), and OTLP/HTTP accepts a POST
    with urllib.request.urlopen(f"{running_phoenix['url']}/v1/projects", timeout=10) as r:
        assert any(p["name"] == "default" for p in json.load(r)["data"])
    # Phoenix lives in its own venv, never in the project's
    assert importlib.util.find_spec("phoenix") is None


def test_a_busy_port_is_named_before_anything_is_installed(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        with pytest.raises(
            ServerError,
            match=rf"port {port} \(Phoenix UI and OTLP/HTTP\) is "
            "already in use.*ORCHESTRATE_PHOENIX_PORT",
        ):
            phoenix.start(tmp_path / "state", port=port)
    finally:
        busy.close()
    assert not (tmp_path / "state" / "phoenix-venv").exists()  # nothing installed
    assert stack.status(tmp_path / "state").component("phoenix") is None  # nothing recorded


def test_the_lock_pins_phoenix_and_its_port_follows_the_variable(monkeypatch):
    pins = phoenix.PHOENIX_LOCK.read_text().splitlines()
    assert "arize-phoenix==20.26.1" in pins
    assert all("==" in line for line in pins if line and not line.startswith("#"))
    monkeypatch.setenv(phoenix.ENV_PHOENIX_PORT, "7106")
    assert phoenix.default_port() == 7106
    assert phoenix.traces_endpoint(7106) == "http://127.0.0.1:7106/v1/traces"
    monkeypatch.setenv(phoenix.ENV_PHOENIX_PORT, "no")
    with pytest.raises(ServerError, match="ORCHESTRATE_PHOENIX_PORT"):
        phoenix.default_port()


def test_server_stop_stops_the_recorded_viewer(tmp_path):
    # a stand-in process recorded as `phoenix` (a real start takes ~25-50 s): `server stop`
    # ends it and forgets it, like the other components
    paths = StackPaths.resolve(tmp_path / "state")
    paths.home.mkdir(parents=True)
    pid, ticks = processes.spawn(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        env=dict(os.environ),
        log=paths.log("phoenix"),
        cwd=paths.home,
    )
    state.write(paths, {"phoenix": {"pid": pid, "ticks": ticks, "port": 1, "url": "http://x"}})
    assert stack.status(paths.home).component("phoenix").running
    assert stack.stop(paths.home) == ["phoenix"]
    assert not processes.alive(pid, ticks)
    assert stack.status(paths.home).component("phoenix") is None
