"""Servers that answer wrongly: an HTML page, another API's JSON, a Letta whose other
endpoints are not Letta's, a listener that never answers. Each is a clear orchestrate error
(exit 1) naming the URL and what it answered, and none can hang a command.

Fault servers are real sockets on 127.0.0.1 (tests/backends/conftest.py)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.backends import letta_limits
from orchestrator.backends.letta import LettaBackend
from orchestrator.backends.letta_admin import LettaAdmin
from orchestrator.backends.letta_errors import NotLetta
from orchestrator.cli import main
from orchestrator.errors import BackendError

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = str(ROOT / "pipelines" / "research-report.yaml")
AGENTS = str(ROOT / "pipelines" / "agents")
DEFAULTS = ["--default-model", "openai/x", "--default-embedding", "openai/e"]
HEALTHY = (200, "application/json", b'{"version":"0.16.8","status":"ok"}')


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("LETTA_BASE_URL", raising=False)
    monkeypatch.delenv("LETTA_API_KEY", raising=False)

    def invoke(*args: str):
        return CliRunner().invoke(main, list(args))

    invoke.out = tmp_path / "export"
    return invoke


def test_an_html_page_is_not_a_letta_server(foreign_server):
    url = foreign_server()
    with pytest.raises(NotLetta) as err:
        LettaBackend(url, "sk-key").check()
    assert str(err.value) == (
        f"{url}: this is not a Letta server (it answered HTTP 200, text/html: "
        "'<html><head><title>Welcome</title></head><body>It works!</body></html>'); "
        "check --base-url / LETTA_BASE_URL"
    )
    assert err.value.transient is False


@pytest.mark.parametrize(
    "answer",
    [
        (200, "application/json", b'{"status": "healthy"}'),  # another API's health check
        (200, "application/json", b"[1, 2]"),
        (200, "application/json", b"not json at all"),
        (404, "text/html", b"<h1>Not Found</h1>"),
        (200, "text/plain", b""),
    ],
)
def test_answers_that_letta_does_not_give_fail_the_health_check(foreign_server, answer):
    url = foreign_server({"/v1/health/": answer})
    with pytest.raises(
        NotLetta,
        match=rf"^{url}: this is not a Letta server \(it answered "
        rf"HTTP {answer[0]}",
    ):
        LettaBackend(url).check()


def test_a_foreign_server_echoing_the_api_key_does_not_show_it(foreign_server):
    url = foreign_server({"/v1/health/": (200, "text/plain", b"you sent sk-very-secret-key")})
    with pytest.raises(NotLetta) as err:
        LettaBackend(url, "sk-very-secret-key").check()
    assert "sk-very-secret-key" not in str(err.value) and "you sent ***" in str(err.value)


def test_a_long_page_is_quoted_short(foreign_server):
    url = foreign_server({"/v1/health/": (200, "text/html", b"<p>" + b"x" * 100_000)})
    with pytest.raises(NotLetta) as err:
        LettaBackend(url).check()
    assert len(str(err.value)) < 300 and "xxx...'" in str(err.value)


def test_later_answers_of_the_wrong_shape_are_clear_errors(foreign_server):
    """The health check passes; every other endpoint answers HTML or foreign JSON."""
    url = foreign_server(
        {"/v1/health/": HEALTHY, "/v1/models/embedding": (200, "application/json", b'{"a": 1}')}
    )
    backend = LettaBackend(url)
    backend.check()
    with pytest.raises(
        NotLetta,
        match=r"^list models: the server at .* answered something "
        r"that is not a list of models",
    ):
        backend.models()
    for call in (
        lambda: backend.find_agents(("t",)),
        lambda: backend.create_block(_block()),
        lambda: backend.send("agent-1", "hi", otid="o"),
    ):
        with pytest.raises(
            NotLetta,
            match=rf"the server at {url} answered something that "
            r"is not a Letta answer",
        ):
            call()
    admin = LettaAdmin(url)
    with pytest.raises(NotLetta, match=r"^list agents: the server at .* not a Letta answer"):
        admin.list_agents()


def test_admin_checks_the_server_before_its_first_call(foreign_server):
    url = foreign_server()
    with pytest.raises(NotLetta, match="this is not a Letta server"):
        LettaAdmin(url).list_tools()


def test_a_server_that_never_answers_is_bounded_by_the_run_timeout(silent_server):
    began = time.monotonic()
    # the health check gets what is left of the run's 0.5 s when it starts: 0.4-0.5 s
    with pytest.raises(
        BackendError,
        match=r"accepted the connection but did not answer "
        r"within 0\.[45]s",
    ) as err:
        LettaBackend(silent_server, run_timeout=0.5).check()
    assert time.monotonic() - began < 2
    assert err.value.transient


def test_every_call_is_bounded_by_what_is_left_of_the_run(silent_server):
    backend = LettaBackend(silent_server, run_timeout=0.6)
    began = time.monotonic()
    for call in (
        backend.models,
        lambda: backend.find_agents(("t",)),
        lambda: backend.send("agent-1", "hi", otid="o", timeout=30),
    ):
        with pytest.raises(BackendError, match="did not answer in time"):
            call()
    assert time.monotonic() - began < 2.5  # all three together within the run's 0.6 s


def test_a_message_is_bounded_by_the_step_timeout(silent_server):
    began = time.monotonic()
    with pytest.raises(BackendError, match="did not answer in time"):
        LettaBackend(silent_server).send("agent-1", "hi", otid="o", timeout=0.3)
    assert time.monotonic() - began < 2


def test_the_real_letta_passes_the_health_check(letta_stack):
    backend = LettaBackend(letta_stack.base_url)
    backend.check()
    assert backend.version and backend.version[0].isdigit()


# ----- through the CLI: exit 1 and the message, never exit 3 -----
@pytest.mark.parametrize(
    "args",
    [
        ["run", PIPELINE, "-i", "topic=owls"],
        ["plan", AGENTS, *DEFAULTS],
        ["diff", AGENTS, *DEFAULTS],
        ["apply", AGENTS, "--yes", *DEFAULTS],
        ["destroy", AGENTS, "--yes"],
        ["export", "--all", "--out", "OUT"],
    ],
)
def test_every_command_says_this_is_not_a_letta_server(cli, foreign_server, args):
    url = foreign_server()
    args = [str(cli.out) if a == "OUT" else a for a in args]
    result = cli(*args, "--base-url", url)
    assert result.exit_code == 1, result.output
    assert (
        f"error: {url}: this is not a Letta server (it answered HTTP 200, text/html"
        in result.output
    )
    assert "unexpected" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["run", PIPELINE, "-i", "topic=owls"],
        ["plan", AGENTS, *DEFAULTS],
        ["diff", AGENTS, *DEFAULTS],
        ["apply", AGENTS, "--yes", *DEFAULTS],
        ["destroy", AGENTS, "--yes"],
        ["export", "--all", "--out", "OUT"],
    ],
)
@pytest.mark.parametrize(
    "answer", [(200, "text/html", b"<p>hi</p>"), (200, "application/json", b'{"weird": true}')]
)
def test_a_server_that_passes_the_health_check_but_answers_foreign_things(
    cli, foreign_server, args, answer
):
    """Not "6 to create" from a JSON object read as an empty list: an error, exit 1."""
    url = foreign_server({"/v1/health/": HEALTHY}, default=answer)
    args = [str(cli.out) if a == "OUT" else a for a in args]
    result = cli(*args, "--base-url", url)
    assert result.exit_code == 1, result.output
    assert re.search(
        rf"the server at {url} answered something that is not a (Letta answer|"
        r"list of models)",
        result.output,
    ), result.output
    assert "unexpected" not in result.output


def test_run_json_against_an_html_page_prints_its_document(cli, foreign_server):
    url = foreign_server()
    result = cli("run", PIPELINE, "-i", "topic=owls", "--json", "--base-url", url)
    assert result.exit_code == 1
    doc = json.loads(result.stdout.splitlines()[-1])
    assert doc["status"] == "error" and "this is not a Letta server" in doc["error"]


def test_run_with_a_timeout_does_not_hang_on_a_silent_server(cli, silent_server):
    began = time.monotonic()
    result = cli("run", PIPELINE, "-i", "topic=owls", "--timeout", "1", "--base-url", silent_server)
    assert result.exit_code == 1, result.output
    assert re.search(r"did not answer within (0\.\d|1)s", result.output)  # what was left
    assert time.monotonic() - began < 5


def test_plan_does_not_hang_on_a_silent_server(cli, silent_server, monkeypatch):
    monkeypatch.setattr(letta_limits, "HEALTH_TIMEOUT", 0.5)
    began = time.monotonic()
    result = cli("plan", AGENTS, *DEFAULTS, "--base-url", silent_server)
    assert result.exit_code == 1, result.output
    assert "did not answer within 0.5s" in result.output
    assert time.monotonic() - began < 5


def _block():
    from orchestrator.backends.base import NewBlock

    return NewBlock(label="persona", value="v")


def test_deleting_what_the_run_made_gets_a_grace_past_the_deadline():
    limits = letta_limits.Limits(call=120, run_timeout=0.01)
    time.sleep(0.02)
    assert limits.call() == letta_limits.SHORTEST  # the run's time is up
    assert limits.cleanup() == letta_limits.CLEANUP_GRACE
    assert letta_limits.Limits(call=120).cleanup() == 120
