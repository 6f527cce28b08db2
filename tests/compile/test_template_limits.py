"""Templates cannot exhaust the machine: output size, the size of any value a template makes,
and render time are bounded, and going past a limit is a clear error naming the field."""

from __future__ import annotations

import time

import pytest

from orchestrator.compile import sandbox
from orchestrator.compile.plan import Template
from orchestrator.compile.templates import TemplateLimitError, evaluate, render

CONTEXT = {"inputs": {"topic": "owls", "big": "y" * 3_000_000}, "steps": {}}

BOMBS = [
    "{{ 'x' | center(10**9) }}",
    "{{ 'x' | center(1000000000) }}",
    "{{ 'a\nb' | indent(10**9) }}",
    "{{ 'a' * 10**9 }}",
    "{{ 'a' * 1000000000 }}",
    "{{ [1] * 1000000000 }}",
    "{{ lipsum(n=10**7) }}",
    "{{ 2 ** 100000000 }}",
    "{{ 'x'.center(10**9) }}",
    "{{ 'x'.ljust(1000000000) }}",
    "{{ '%999999999s' % 'x' }}",
    "{{ '{:>999999999}'.format('x') }}",
    "{{ 'ab' | replace('', 'x' * 1000) | replace('x', 'y' * 10000) }}",
    "{{ inputs.big ~ inputs.big }}",
    "{{ inputs.big + inputs.big }}",
    "{{ [inputs.big] * 2 }}",
    "{{ ([inputs.big] * 100) | join }}",
    "{{ ([inputs.big] * 100) | map('upper') | join }}",
    "{{ [[inputs.big] * 1000] * 1000 }}",
    "{% set a = inputs.big %}{% set b = a ~ a %}{{ b }}",
    "{% for i in range(10) %}{{ inputs.big }}{% endfor %}",
    "{% set s %}{% for i in range(10) %}{{ inputs.big }}{% endfor %}{% endset %}{{ s|length }}",
    "{{ 'x' | batch(10**9) | list }}",
]


@pytest.mark.parametrize("source", BOMBS)
def test_bombs_stop_quickly_with_a_limit_error(source):
    t = Template(source, "steps.draft.prompt")
    began = time.monotonic()
    with pytest.raises(TemplateLimitError) as info:
        render(t, CONTEXT)
    assert time.monotonic() - began < 3
    message = str(info.value)
    assert message.startswith("steps.draft.prompt: ")
    assert "exceed" in message
    assert "y" * 20 not in message  # no values in errors


def test_the_output_limit_is_worded_for_the_field():
    t = Template("{% for i in range(2) %}{{ inputs.big }}{% endfor %}", "steps.draft.prompt")
    with pytest.raises(TemplateLimitError) as info:
        render(t, CONTEXT)
    assert str(info.value) == (
        f"steps.draft.prompt: template output exceeds {sandbox.MAX_CHARS:,} characters"
    )


def test_nested_loops_stop_at_the_render_time_limit(monkeypatch):
    monkeypatch.setattr(sandbox, "RENDER_SECONDS", 0.3)
    t = Template(
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
        "steps.draft.prompt",
    )
    began = time.monotonic()
    with pytest.raises(TemplateLimitError) as info:
        render(t, CONTEXT)
    assert time.monotonic() - began < 2
    assert str(info.value) == "steps.draft.prompt: template rendering took longer than 0.3 s"


def test_recursive_macros_stop_at_the_time_limit(monkeypatch):
    monkeypatch.setattr(sandbox, "RENDER_SECONDS", 0.3)
    t = Template(
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(40) }}",
        "outputs.report",
    )
    with pytest.raises(TemplateLimitError, match="^outputs.report: template rendering took"):
        render(t, CONTEXT)


def test_expressions_are_bounded_too():
    with pytest.raises(TemplateLimitError, match=r"^steps.fan.for_each: \*"):
        evaluate(Template("{{ [1] * 10**9 }}", "steps.fan.for_each"), CONTEXT)


def test_lower_limits_apply_at_once(monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_CHARS", 10)
    t = Template("{{ inputs.topic }} and {{ inputs.topic }} again", "steps.a.prompt")
    with pytest.raises(TemplateLimitError, match="exceeds 10 characters"):
        render(t, CONTEXT)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("{{ 'x' | center(9) }}", "    x    "),
        ("{{ 'ab' * 3 }}", "ababab"),
        ("{% for i in range(3) %}{{ i }}{% endfor %}", "012"),
        ("{{ [1, 2] + [3] }}", "[1, 2, 3]"),
        ("{{ '%5s|' % 'x' }}", "    x|"),
        ("{{ '{:>4}'.format('x') }}", "   x"),
        ("{{ 2 ** 10 }}", "1024"),
        ("{{ (lipsum(2, False, 3, 5).split() | length) >= 6 }}", "True"),
        ("{% set a = ['p'] %}{{ a.append('q') }}{{ a }}", "None['p', 'q']"),
        ("{{ inputs.big | length }}", "3000000"),
    ],
)
def test_ordinary_templates_are_unaffected(source, expected):
    assert render(Template(source, "steps.a.prompt"), CONTEXT) == expected
