"""Small truths: `--json`'s outcome counts every attempt a step made (failed ones too, as
`runs show` does), and an integer input written as a float (`1e3`, `2.0`) is refused."""

from __future__ import annotations

import pytest

from orchestrator.errors import BackendError, RunError
from orchestrator.run.inputs import coerce
from orchestrator.run.progress import outcome_json
from orchestrator.run.records import UnitKey
from orchestrator.spec.model import InputSpec

PIPE = """
agents: {a: {}}
defaults: {retries: {max_attempts: 2, backoff: 0}}
steps:
  s: {agent: a, prompt: "hello"}
"""


def test_json_outcome_counts_failed_attempts_like_the_records(harness):
    harness.backend.script(
        prompt_contains="hello",
        times=2,
        fail=BackendError("HTTP 503: busy", transient=True, status=503),
    )
    out = harness.run(PIPE)
    assert out.status == "failed"
    (step,) = outcome_json(out)["steps"]
    assert step["attempts"] == 2
    assert harness.records.units(out.run_id)[UnitKey("s")]["attempts"] == 2


def test_json_outcome_counts_a_retried_success(harness):
    harness.backend.script(
        prompt_contains="hello",
        times=1,
        fail=BackendError("HTTP 503: busy", transient=True, status=503),
    )
    out = harness.run(PIPE)
    assert out.status == "succeeded", out.error
    assert outcome_json(out)["steps"][0]["attempts"] == 2


@pytest.mark.parametrize("raw,hint", [("1e3", ", e.g. 1000"), ("2.0", ", e.g. 2"), ("2.5", "")])
def test_an_integer_written_as_a_float_is_refused(raw, hint):
    with pytest.raises(RunError) as caught:
        coerce(InputSpec("count", type="integer"), raw)
    assert str(caught.value) == (
        f"input 'count': expected an integer, got '{raw}' (write it with digits only{hint})"
    )


def test_a_float_from_an_input_file_is_refused_too():
    with pytest.raises(RunError, match="expected an integer, got '1000.0'"):
        coerce(InputSpec("count", type="integer"), 1000.0)


def test_integers_and_numbers_still_parse():
    assert coerce(InputSpec("n", type="integer"), "-12") == -12
    assert coerce(InputSpec("n", type="number"), "1e3") == 1000.0
