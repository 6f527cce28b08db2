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
    assert out.error == (
        f"the run timed out after 0.2 s; continue with `orchestrate resume "
        f"{out.run_id} --timeout SECONDS` (a longer limit for the rest of "
        "the run)"
    )


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


def _stopped_by(harness, compile_text, reason):
    """A run stopped from outside (a batch's Ctrl-C, a closed output) with `reason`."""
    from orchestrator.cli.output_guard import Cancel
    from orchestrator.run.runner import start_run

    harness.backend.script(prompt_contains="slow", delay=1.0, times=1)
    cancel = Cancel()
    timer = threading.Timer(0.2, lambda: cancel.stop(reason))
    timer.start()
    out = start_run(compile_text(SLOW), {}, harness.backend, harness.records, cancel=cancel)
    time.sleep(0.9)  # let the abandoned worker finish its (fake) call
    return out


def test_a_stop_is_cancelled_whatever_its_reason_says(harness, compile_text):
    # the status comes from how the run was stopped, not from the words of the reason
    out = _stopped_by(harness, compile_text, "stopped: the batch was interrupted")
    assert out.status == "cancelled"
    assert harness.records.run(out.run_id)["status"] == "cancelled"
    assert out.error == (
        f"stopped: the batch was interrupted; continue with `orchestrate resume {out.run_id}`"
    )


def test_a_stop_worded_as_a_timeout_is_still_a_cancel(harness, compile_text):
    out = _stopped_by(harness, compile_text, "the run timed out")
    assert out.status == "cancelled"
    assert out.error == f"the run timed out; continue with `orchestrate resume {out.run_id}`"


def test_a_timeout_fails_the_run_whatever_its_reason_says(harness, monkeypatch):
    # a timeout's reason worded like a Ctrl-C still fails the run (the same limit would end
    # it again), and names the limit
    monkeypatch.setattr("orchestrator.run.executor.TIMED_OUT", "cancelled (Ctrl-C)")
    harness.backend.script(prompt_contains="slow", delay=1.0, times=1)
    out = harness.run(SLOW, timeout=0.2)
    assert out.status == "failed"
    assert out.error.startswith(
        "the run timed out after 0.2 s; continue with `orchestrate "
        f"resume {out.run_id} --timeout SECONDS`"
    )
    time.sleep(0.9)
