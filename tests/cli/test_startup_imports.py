"""Commands import what they need when they need it (issue 15: every command, `--version`
included, imported letta_client and took seconds to start; bench/bench_startup.py times it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPORT = Path(__file__).resolve().parents[2] / "pipelines" / "research-report.yaml"
PROBE = """
import sys
from orchestrator.cli import main
try:
    main({args!r}, prog_name="orchestrate")
except SystemExit:
    pass
print("LOADED", sorted(m for m in ("letta_client", "networkx", "rich")
                       if m in sys.modules), file=sys.stderr)
"""


def _loaded(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=list(args))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stderr.rsplit("LOADED", 1)[1].strip()


def test_version_imports_nothing_heavy():
    assert _loaded("--version") == "[]"


@pytest.mark.parametrize(
    "args",
    [
        ("validate", str(REPORT)),
        ("graph", str(REPORT)),
        ("runs", "list", "--limit", "1"),
        ("server", "status"),
    ],
)
def test_commands_that_need_no_server_do_not_import_letta_client(args, tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path))
    assert "letta_client" not in _loaded(*args)


def test_letta_client_is_imported_with_eager_pydantic_models():
    probe = (
        "import os; from orchestrator.backends.connect import run_backend; "
        "run_backend('http://127.0.0.1:9'); print(os.environ['DEFER_PYDANTIC_BUILD'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.stdout.strip() == "false", done.stderr
