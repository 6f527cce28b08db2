"""`approval:` and `cache:` on steps: typed, defaulted, and every mistake a located error
(the JSON Schema's, or the shape rules'); the approval prompt is a checked template."""

from __future__ import annotations

import textwrap

import pytest

from orchestrator.compile import compile_pipeline
from orchestrator.errors import SpecError
from orchestrator.spec import load_pipeline_text

HEAD = """\
apiVersion: orchestrate/v1
kind: Pipeline
metadata: {name: t}
agents: {a: {}}
"""


def load(body: str):
    return load_pipeline_text(HEAD + textwrap.dedent(body), "p.yaml")


def problems(body: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        compile_pipeline(load(body))
    return [issue.format() for issue in info.value.issues]


def test_approval_forms_are_read():
    spec = load("""
        steps:
          one: {agent: a, prompt: x, approval: true, cache: true}
          two:
            agent: a
            prompt: x
            approval: {after: true, prompt: "ok? {{ output }}", timeout: 60,
                       on_timeout: approve, on_reject: continue}
          three: {agent: a, prompt: x}
        """)
    one, two, three = (spec.steps[n] for n in ("one", "two", "three"))
    assert (one.approval.before, one.approval.after, one.cache) == (True, False, True)
    assert (
        two.approval.after,
        two.approval.timeout,
        two.approval.on_timeout,
        two.approval.on_reject,
    ) == (True, 60.0, "approve", "continue")
    assert three.approval is None and not three.cache
    plan = compile_pipeline(spec)
    assert plan.steps["two"].approval.prompt.source == "ok? {{ output }}"
    assert plan.steps["one"].cache


def test_approval_mistakes_are_located():
    assert problems("""
        steps:
          one:
            agent: a
            prompt: x
            approval: {prompt: "ask"}
        """) == [
        "p.yaml:10:15: steps.one.approval: an approval gate asks before or after "
        "the step (add before: true (before it runs) or after: true (before its "
        "output is used))"
    ]
    found = problems("""
        steps:
          one: {agent: a, prompt: x, approval: {before: true, on_timeout: later}}
        """)
    assert found == [
        "p.yaml:7:67: steps.one.approval.on_timeout: 'later' is not one of: reject, approve"
    ]


def test_the_approval_prompt_is_a_checked_template_and_a_dependency():
    found = problems("""
        steps:
          one: {agent: a, prompt: x}
          two: {agent: a, prompt: y, approval: {before: true, prompt: "{{ steps.onee.output }}"}}
        """)
    assert len(found) == 1 and "steps.two.approval.prompt" in found[0]
    assert "unknown step 'onee'" in found[0]
    plan = compile_pipeline(
        load("""
        steps:
          one: {agent: a, prompt: x}
          two: {agent: a, prompt: y, approval: {before: true, prompt: "{{ steps.one.output }}"}}
        """)
    )
    assert plan.steps["two"].depends_on == ("one",)


def test_a_loop_step_takes_no_approval():
    found = problems("""
        steps:
          l:
            approval: true
            loop:
              max_iterations: 2
              steps: {b: {agent: a, prompt: x, approval: true}}
        """)
    assert found == [
        "p.yaml:8:5: steps.l: a loop step takes no 'approval' (put agent steps under loop.steps)"
    ]
