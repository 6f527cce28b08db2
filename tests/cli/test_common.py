"""cli.common: stable exit codes and clean messages for every command."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from orchestrator.cli.common import handle_errors, resolve_base_url
from orchestrator.errors import ExitCode, Issue, RunError, ServerUnavailable, SpecError


def _command(exc: BaseException):
    @click.command()
    @handle_errors
    def cmd() -> int:
        raise exc

    return cmd


@pytest.mark.parametrize(
    ("exc", "code", "text"),
    [
        (KeyboardInterrupt(), ExitCode.CANCELLED, "error: interrupted"),
        (RunError("step draft failed"), ExitCode.USER_ERROR, "error: step draft failed"),
        (
            SpecError([Issue("p.yaml", 3, 5, "steps.a", "unknown agent 'x'", "did you mean 'y'?")]),
            ExitCode.USER_ERROR,
            "p.yaml:3:5: steps.a: unknown agent 'x' (did you mean 'y'?)",
        ),
        (ZeroDivisionError("boom"), ExitCode.UNEXPECTED, "unexpected ZeroDivisionError: boom"),
    ],
)
def test_errors_become_messages_and_stable_exit_codes(exc, code, text):
    result = CliRunner().invoke(_command(exc))
    assert result.exit_code == code
    assert text in result.output
    assert "Traceback" not in result.output


def test_base_url_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path))
    monkeypatch.setenv("LETTA_BASE_URL", "http://env:8283/")
    assert resolve_base_url("http://flag:1/") == "http://flag:1"
    assert resolve_base_url(None) == "http://env:8283"
    monkeypatch.delenv("LETTA_BASE_URL")
    with pytest.raises(ServerUnavailable, match="orchestrate server start"):
        resolve_base_url(None)  # no embedded stack in an empty state dir
