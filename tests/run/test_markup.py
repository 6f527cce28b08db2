"""Text from models and users is data, never terminal markup: `[red]` stays `[red]`, `[/i]`
cannot fail a step, `:smile:` is not an emoji (issue 15, item 1)."""

from __future__ import annotations

import io
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from orchestrator.backends.memory import MemoryBackend
from orchestrator.cli import main, run_cmds
from orchestrator.run.progress import LiveReporter, make_reporter

HOSTILE = "[red]red[/red] and [/i] and [bold]unclosed :smile:"
BODY = """\
inputs: {text: {type: string}}
agents: {a: {}}
steps:
  s: {agent: a, prompt: "echo {{ inputs.text }}"}
outputs: {said: "{{ steps.s.output }}"}
"""
PIPELINE = "apiVersion: orchestrate/v1\nkind: Pipeline\nmetadata: {name: t}\n" + BODY


def _terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=200, color_system=None), out


def test_the_live_view_prints_agent_text_as_it_is(harness):
    console, out = _terminal()
    reporter = make_reporter(as_json=False, stream=True, console=console)
    assert isinstance(reporter, LiveReporter)
    harness.emit = reporter
    harness.backend.script(prompt_contains="echo", replies=[HOSTILE])
    result = harness.run(BODY, {"text": HOSTILE}, stream=True)
    assert result.status == "succeeded", result.error
    assert f"s > {HOSTILE}" in out.getvalue()


def test_retries_and_warnings_with_brackets_are_printed_as_they_are():
    console, out = _terminal()
    reporter = LiveReporter(console, stream=True)
    reporter("run_started", run_id="r", pipeline="t", steps=["s"], resumed=False)
    reporter(
        "step_retry", step="s", error="invalid JSON reply: [/i] is not valid", attempt=1, delay=0.0
    )
    reporter("warning", message="agent said [/bold] :smile:")
    reporter._live.stop()
    assert "s: retry after: invalid JSON reply: [/i] is not valid" in out.getvalue()
    assert "warning: agent said [/bold] :smile:" in out.getvalue()


def test_run_prints_outputs_as_they_are(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path / "state"))
    fake = MemoryBackend("http://fake")
    fake.script(prompt_contains="echo", replies=[HOSTILE])
    monkeypatch.setattr(run_cmds, "run_backend", lambda url, key=None, **options: fake)
    pipeline = Path(tmp_path / "p.yaml")
    pipeline.write_text(PIPELINE)
    result = CliRunner().invoke(
        main,
        ["run", str(pipeline), "-i", f"text={HOSTILE}", "--stream", "--base-url", "http://fake"],
    )
    assert result.exit_code == 0, result.output
    assert HOSTILE in result.stdout
