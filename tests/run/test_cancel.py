"""Ctrl-C and the run timeout: prompt, recorded consistently, resumable."""

from __future__ import annotations

import io
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
    assert out.results["last"].status == "not_started"  # never started (was: cancelled)
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
    assert out.error == (f"the run timed out after 0.2 s; continue with `orchestrate resume "
                         f"{out.run_id} --timeout SECONDS` (a longer limit for the rest of "
                         "the run)")


def test_ctrl_c_shows_real_durations_and_steps_never_started(harness):
    from orchestrator.run.progress import PlainReporter

    out_text = io.StringIO()
    harness.emit = PlainReporter(out=out_text)
    harness.backend.script(prompt_contains="slow", delay=2.0, times=1)
    timer = threading.Timer(0.6, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    out = harness.run(SLOW)
    assert out.status == "cancelled"
    slow, last = out.results["slow"], out.results["last"]
    assert slow.status == "cancelled" and 0.3 < slow.duration < 1.5  # the time it ran
    assert last.status == "not_started" and last.duration == 0.0
    text = out_text.getvalue()
    assert "slow: cancelled in 0.00s" not in text and "slow: cancelled in 0." in text
    assert "last: not started (cancelled (Ctrl-C))" in text
    assert UnitKey("last") not in harness.records.units(out.run_id)  # never started: no row
    time.sleep(1.6)  # let the abandoned worker finish its (fake) call
