"""Secrets never reach records or errors; inputs are typed and checked with clear messages."""

from __future__ import annotations

import pytest

from orchestrator.errors import BackendError, RunError
from orchestrator.run.inputs import coerce, parse_assignments, resolve_inputs
from orchestrator.run.records import UnitKey
from orchestrator.run.secrets import Redactor, resolve_env
from orchestrator.spec.model import InputSpec

SECRET_PIPE = """
inputs:
  token: {type: string, secret: true}
  topic: {type: string}
agents:
  a:
    tool_env: {API: "${env:H3_TEST_SECRET}"}
steps:
  use: {agent: a, prompt: "topic {{ inputs.topic }} with key {{ inputs.token }}"}
outputs:
  echo: "{{ steps.use.output }}"
"""


def test_secrets_are_masked_in_records_but_reach_the_agent(harness, monkeypatch):
    monkeypatch.setenv("H3_TEST_SECRET", "env-secret-value")
    harness.backend.script(replies=["I saw sk-live-12345 and env-secret-value"])
    out = harness.run(SECRET_PIPE, {"token": "sk-live-12345", "topic": "owls"})
    assert out.status == "succeeded", out.error
    assert "sk-live-12345" in harness.backend.prompts()[0]
    agent = next(iter(harness.backend.sent))
    assert agent["prompt"].endswith("sk-live-12345")
    unit = harness.records.units(out.run_id)[UnitKey("use")]
    assert unit["prompt"] == "topic owls with key ***"
    assert unit["output"] == "I saw *** and ***"
    run = harness.records.run(out.run_id)
    assert run["inputs"] == {"topic": "owls"} and run["secret_inputs"] == ["token"]
    assert run["outputs"] == {"echo": "I saw *** and ***"}
    dump = (
        harness.records.path.read_bytes()
        + harness.records.path.with_name("runs.db-wal").read_bytes()
    )
    assert b"sk-live-12345" not in dump and b"env-secret-value" not in dump


def test_secrets_are_masked_in_errors(harness, monkeypatch):
    monkeypatch.setenv("H3_TEST_SECRET", "env-secret-value")
    harness.backend.script(fail=BackendError("HTTP 400: bad key sk-live-12345", status=400))
    out = harness.run(SECRET_PIPE, {"token": "sk-live-12345", "topic": "owls"})
    assert out.results["use"].error == "HTTP 400: bad key ***"
    assert "sk-live" not in harness.records.units(out.run_id)[UnitKey("use")]["error"]


def test_missing_env_var_is_named_before_anything_runs(harness, monkeypatch):
    monkeypatch.delenv("H3_TEST_SECRET", raising=False)
    with pytest.raises(
        RunError,
        match=r"environment variable H3_TEST_SECRET not set "
        r"\(the pipeline reads \$\{env:H3_TEST_SECRET\}\)",
    ):
        harness.run(SECRET_PIPE, {"token": "x", "topic": "owls"})
    assert not harness.backend.agents


def test_redactor_masks_longest_first_and_ignores_tiny_values():
    red = Redactor(["abc", "abcdef", "x"])
    assert red.text("abcdef abc x") == "*** *** x"
    assert red.data({"k": ["abcdef", 1]}) == {"k": ["***", 1]}


def test_resolve_env_registers_the_value_and_names_missing_ones():
    red = Redactor()
    assert (
        resolve_env("Bearer ${env:TOK}", red, "agents.a.system", {"TOK": "t0ken"}) == "Bearer t0ken"
    )
    assert red.text("t0ken") == "***"
    with pytest.raises(RunError, match="agents.a.system: environment variable NOPE is not set"):
        resolve_env("${env:NOPE}", red, "agents.a.system", {})


@pytest.mark.parametrize(
    "kind,raw,value",
    [
        ("integer", "3", 3),
        ("number", "2.5", 2.5),
        ("boolean", "true", True),
        ("array", '["a", "b"]', ["a", "b"]),
        ("object", '{"k": 1}', {"k": 1}),
        ("string", "42", "42"),
        ("array", ["x"], ["x"]),
    ],
)
def test_inputs_are_typed_by_their_declaration(kind, raw, value):
    assert coerce(InputSpec("n", type=kind), raw) == value


def test_bad_input_values_are_clear():
    with pytest.raises(RunError, match=r"input 'n': expected an integer, got 'three'"):
        coerce(InputSpec("n", type="integer"), "three")
    with pytest.raises(RunError, match=r"input 'n': expected an array, got '\{\}'"):
        coerce(InputSpec("n", type="array"), "{}")
    with pytest.raises(RunError, match=r"input 'n': 'c' is not one of \"a\", \"b\""):
        coerce(InputSpec("n", enum=("a", "b")), "c")
    with pytest.raises(RunError, match=r"expected an integer, got a value \(secret: not shown\)"):
        coerce(InputSpec("n", type="integer", secret=True), "hunter2")


def test_missing_and_unknown_inputs_are_reported_together():
    specs = {
        "topic": InputSpec("topic"),
        "audience": InputSpec("audience"),
        "tone": InputSpec("tone", default="dry", has_default=True),
    }
    with pytest.raises(RunError) as err:
        resolve_inputs(specs, {"topik": "x"}, Redactor())
    assert str(err.value) == (
        "unknown input 'topik' (did you mean 'topic'?); missing required "
        "inputs: topic, audience (pass --input NAME=VALUE or --input-file)"
    )


def test_parse_assignments():
    assert parse_assignments(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(RunError, match="--input takes NAME=VALUE"):
        parse_assignments(["novalue"])


SECRET_FAIL = """
inputs:
  token: {type: string, secret: true}
  key: {type: string, secret: true}
agents: {a: {}}
steps:
  use: {agent: a, prompt: "key {{ inputs.token }} {{ inputs.key }}"}
"""


def test_resume_names_missing_secret_inputs_in_good_grammar(harness, compile_text):
    from orchestrator.run.runner import resume_run

    harness.backend.script(fail=BackendError("HTTP 400: no", status=400))
    out = harness.run(SECRET_FAIL, {"token": "t0ken", "key": "k3y"})
    assert out.status == "failed"
    plan = compile_text(SECRET_FAIL)
    with pytest.raises(RunError) as one:
        resume_run(out.run_id, plan, harness.backend, harness.records, given_secrets={"key": "k3y"})
    assert str(one.value) == (
        "input 'token' is secret and was not recorded: pass it again with -i token=..."
    )
    with pytest.raises(RunError) as two:
        resume_run(out.run_id, plan, harness.backend, harness.records)
    assert str(two.value) == (
        "inputs 'key', 'token' are secret and were not recorded: pass "
        "them again with -i key=... -i token=..."
    )
