"""The slow tier: the full fuzz run of 10,000 seeded files (pipelines and resource
directories) through the loaders, with zero tracebacks and zero hangs, peak RSS printed.

Deselected by default (pyproject's `-m "not slow"`); run it with `python3 -m pytest -m slow`
(about 2-3 minutes on 2 cores). The fast tier (tests/spec/test_fuzz.py, 300 cases) runs with
every test run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_ten_thousand_fuzzed_files_no_traceback_no_hang():
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "fuzz_validate.py"),
            "--cases",
            "10000",
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1800,
    )
    print(done.stdout[-2000:])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "10000 cases" in done.stdout
