"""The optional Temporal dev server of the embedded stack: `server status` reports it, a second
start is a no-op, logs name it, and a busy port is a clear error before anything starts."""

from __future__ import annotations

import socket

import pytest

from orchestrator.errors import ServerError
from orchestrator.server import logs, stack, temporal_dev

pytestmark = pytest.mark.integration


def test_status_reports_the_running_dev_server(letta_stack, temporal_address):
    st = stack.status(letta_stack.home)
    temporal = st.component("temporal")
    assert temporal is not None and temporal.running and temporal.healthy
    assert temporal.url == temporal_address
    assert st.running  # an optional component that runs does not make the stack "down"
    again = temporal_dev.start(letta_stack.home)
    assert again["already_running"] and again["address"] == temporal_address
    assert "temporal" in [name for name, _ in logs.log_files(letta_stack.home)]


def test_a_busy_port_is_named_before_anything_starts(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        with pytest.raises(ServerError, match=rf"port {port} \(Temporal gRPC\) is already in use"):
            temporal_dev.start(tmp_path / "state", port=port)
    finally:
        busy.close()
    assert stack.status(tmp_path / "state").component("temporal") is None  # nothing recorded
