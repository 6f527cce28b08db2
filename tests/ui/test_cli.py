"""`orchestrate ui` as a user starts it: it serves the records of ORCHESTRATE_HOME on
127.0.0.1 by default, and the CLI imports the web stack only when `ui` runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytest.importorskip("starlette")

PROBE = """
import sys
from orchestrator.cli import main
try:
    main({args!r}, prog_name="orchestrate")
except SystemExit:
    pass
print("LOADED", sorted(m for m in ("starlette", "uvicorn", "orchestrator.ui.app")
                       if m in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("ui", "--help")])
def test_the_web_stack_is_imported_only_when_ui_runs(args):
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=list(args))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stderr.rsplit("LOADED", 1)[1].strip() == "[]", done.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ui_serves_on_localhost_by_default(tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "ui", "--port", str(port)],
        env={**os.environ, "ORCHESTRATE_HOME": str(tmp_path)},
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert f"http://127.0.0.1:{port}/" in line and "read-only" in line
        deadline, body = time.monotonic() + 20, ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
                    body = reply.read().decode()
                    break
            except OSError:
                time.sleep(0.1)
        assert "No runs recorded yet" in body
        with socket.socket() as s:  # bound to the loopback address only
            other = socket.gethostbyname(socket.gethostname())
            if not other.startswith("127."):
                assert s.connect_ex((other, port)) != 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert not (tmp_path / "runs.db").exists()  # read-only: it created no records
