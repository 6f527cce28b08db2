"""Traces cost nothing unless asked for: without OTEL_EXPORTER_OTLP_ENDPOINT (or --otel) a run
imports nothing of OpenTelemetry; with it, a receiver that is down loses spans, not the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from orchestrator.run import tracing

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys, time
sys.path.insert(0, {tests!r})
from conftest import plan_of
from orchestrator.backends.memory import MemoryBackend
from orchestrator.run.records import Records
from orchestrator.run.runner import RunOptions, start_run
from orchestrator.run.tracing import settings

plan = plan_of('''
agents: {{a: {{}}}}
steps:
  one: {{agent: a, prompt: "hello"}}
  many: {{agent: a, for_each: "{{{{ [1, 2] }}}}", prompt: "item {{{{ item }}}}"}}
''')
began = time.monotonic()
out = start_run(plan, {{}}, MemoryBackend(), Records({db!r}),
                options=RunOptions(trace=settings()))
print(json.dumps({{"status": out.status, "seconds": time.monotonic() - began,
                  "otel": sorted(m for m in sys.modules if m.startswith("opentelemetry"))}}))
"""


def _run(tmp_path: Path, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    code = PROBE.format(tests=str(ROOT / "tests" / "run"), db=str(tmp_path / "runs.db"))
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**clean, **env},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_run_without_the_variable_imports_no_opentelemetry(tmp_path):
    out = _run(tmp_path)
    assert out["status"] == "succeeded"
    assert out["otel"] == []


def test_with_the_variable_spans_go_out_and_a_dead_receiver_does_not_fail_the_run(tmp_path):
    # port 9 (discard) on loopback: nothing listens (the exporter's default timeout made the
    # run's end wait ~9 s: ours is 2 s)
    out = _run(tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    assert out["status"] == "succeeded"
    assert "opentelemetry.sdk.trace" in out["otel"]
    assert out["seconds"] < 6, out  # the flush at the end is bounded


def test_settings_follow_the_standard_variables():
    assert not tracing.settings(environ={}).on
    assert tracing.settings(True, environ={}).on
    on = tracing.settings(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4318"})
    assert on.on and not on.content
    assert tracing.settings(
        environ={
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://h/v1/traces",
            tracing.CONTENT_VAR: "true",
        }
    ).content
    assert tracing.settings(True, True, environ={}).content
    assert not tracing.settings(True, environ={"OTEL_SDK_DISABLED": "true"}).on
    assert (
        tracing.env_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4318/"})
        == "http://h:4318/v1/traces"
    )
    assert tracing.env_endpoint({}) is None


def test_a_batch_does_not_record_the_trace_switch():
    from orchestrator.cli.batch_cmds import _recorded
    from orchestrator.run.runner import RunOptions

    recorded = _recorded(RunOptions(trace=tracing.TraceSettings(True, True, "http://h")), "u")
    assert "trace" not in recorded and recorded["base_url"] == "u"
    assert RunOptions(**{k: v for k, v in recorded.items() if k != "base_url"}).trace.on is False
