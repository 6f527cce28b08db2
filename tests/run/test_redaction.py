"""No secret reaches any event, log line, --json line or record, even when the agent
echoes one (in a reply that fails JSON validation, in streamed output, in an error)."""

from __future__ import annotations

import io
import json

from orchestrator.errors import BackendError
from orchestrator.run.progress import JsonReporter, PlainReporter, outcome_json
from orchestrator.run.render import outcome_text

SECRET, ENV_SECRET = "TOKS3CRET444", "envS3CRET555"

ECHO = """
inputs:
  token: {type: string, secret: true}
agents:
  a: {tool_env: {API: "${env:QA_ENV_SECRET}"}}
defaults: {retries: {max_attempts: 3, backoff: 0.0, max_backoff: 0.0}}
steps:
  s1: {agent: a, prompt: "say {{ inputs.token }}"}
  s2:
    agent: a
    prompt: "judge {{ steps.s1.output }}"
    output:
      format: json
      schema: {type: object, required: [ok], properties: {ok: {type: boolean}}}
  s3: {agent: a, prompt: "fail {{ inputs.token }}"}
"""


def _capture(harness):
    plain, lines = io.StringIO(), io.StringIO()
    reporters = [PlainReporter(stream=True, out=plain), JsonReporter(out=lines)]
    seen = harness.emit

    def emit(kind, **data):
        seen(kind, **data)
        for report in reporters:
            report(kind, **data)

    harness.emit = emit
    return plain, lines


def test_an_echoed_secret_appears_in_no_event_log_or_record(harness, monkeypatch):
    monkeypatch.setenv("QA_ENV_SECRET", ENV_SECRET)
    harness.backend.script(prompt_contains="say", replies=[f"it is {SECRET} and {ENV_SECRET}"])
    harness.backend.script(prompt_contains="judge", replies=[f'{{"ok": "{SECRET}"}}'])
    harness.backend.script(
        prompt_contains="Your previous answer", replies=[f'{{"ok": "{ENV_SECRET}"}}']
    )
    harness.backend.script(
        prompt_contains="fail",
        times=5,
        fail=BackendError(f"HTTP 400: bad token {SECRET}", status=400),
    )
    plain, lines = _capture(harness)
    out = harness.run(ECHO, {"token": SECRET}, stream=True)
    assert out.status == "failed"
    # (run_finished carries the RunOutcome itself: the caller's real values, masked when shown
    # by outcome_json / outcome_text, checked below)
    assert f"'{SECRET}' is not of type" in harness.backend.prompts()[2]  # the agent sees it
    retries = [d for k, d in harness.events if k == "step_retry"]
    assert retries and all("***" in r["error"] for r in retries)
    texts = [
        plain.getvalue(),
        lines.getvalue(),
        repr([e for e in harness.events if e[0] != "run_finished"]),
        json.dumps(outcome_json(out)),
        outcome_text(out),
        str(out.error),
        json.dumps(list(harness.records.units(out.run_id).values()), default=str),
        json.dumps(harness.records.run(out.run_id), default=str),
    ]
    dump = (
        harness.records.path.read_bytes()
        + harness.records.path.with_name("runs.db-wal").read_bytes()
    )
    for secret in (SECRET, ENV_SECRET):
        assert [i for i, text in enumerate(texts) if secret in text] == [], secret
        assert secret.encode() not in dump
    assert "s1 > it is *** and ***" in plain.getvalue()  # streamed output, masked
    assert "s2: FAILED" in plain.getvalue() and "s3: FAILED" in plain.getvalue()
