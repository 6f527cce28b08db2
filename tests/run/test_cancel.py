"""Ctrl-C and the run timeout: prompt, recorded consistently, resumable."""

from __future__ import annotations

import os
import signal
import threading
import time

from orchestrator.run.records import UnitKey
from orchestrator.run.runner import resume_run

SLOW = """
agents: {a: {}, b: {}}
steps:
  quick: {agent: a, prompt: "quick"}
  slow: {agent: b, prompt: "slow after {{ steps.quick.output }}"}
  last: {agent: a, prompt: "last {{ steps.slow.output }}"}
"""


def test_ctrl_c_cancels_promptly_and_records_stay_consistent(harness, compile_text):
    harness.backend.script(prompt_contains="slow", delay=2.0, times=1)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    began = time.monotonic()
    out = harness.run(SLOW)
    assert time.monotonic() - began < 1.5
    assert out.status == "cancelled"
    assert out.results["quick"].status == "succeeded"
    assert out.results["slow"].status == "cancelled"
    assert out.results["last"].status == "cancelled"
    run = harness.records.run(out.run_id)
    assert run["status"] == "cancelled"
    assert "orchestrate resume" in run["error"]
    assert harness.records.units(out.run_id)[UnitKey("slow")]["status"] == "cancelled"
    harness.backend.rules.clear()
    time.sleep(1.8)  # let the abandoned worker finish its (fake) call
    again = resume_run(out.run_id, compile_text(SLOW), harness.backend, harness.records)
    assert again.status == "succeeded", again.error
    assert again.results["quick"].reused


def test_run_timeout_fails_the_run_and_names_it(harness):
    harness.backend.script(prompt_contains="slow", delay=1.0, times=1)
    began = time.monotonic()
    out = harness.run(SLOW, timeout=0.2)
    assert time.monotonic() - began < 0.8
    assert out.status == "failed"
    assert out.error.startswith("the run timed out; continue with `orchestrate resume ")
