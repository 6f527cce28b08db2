"""Template analysis: the fast path (Python's ast) must agree with Jinja's parser."""

from __future__ import annotations

import pytest

from orchestrator.compile.fastrefs import fast_analysis
from orchestrator.compile.refs import DYNAMIC, analyze, jinja_analysis

FAST = [
    "plain text, no expressions",
    "{{ steps.a.output }}",
    "Use {{ steps.a.output }} and {{ inputs.topic }} for {{ inputs['audience'] }}",
    "{{ steps['a'].output.x[0] }}",
    "{{ not steps.review.output.approved }}",
    "{{ steps.a.ran and inputs.depth > 3 or false }}",
    "{{ steps.a.output if steps.a.ran else steps.b.output }}",
    "{{- steps.a.output -}}",
    "{{ steps[inputs.which].output }}",
    "{{ [steps.a.output, 1, 'x'] }}",
    "{{ loop.previous.x.output if loop.previous else none }}",
    "{{ (inputs.n + 1) * 2 % 3 }}",
    "{{ steps.a.output[1:2] }}",
    "{{ steps.a.output | trim }}",
    "{{ steps.a.output['items'] | join(', ') | upper }}",
    "{{ x | default(inputs.fallback, true) }}",
    "{{ x | indent(width=inputs.n) }}",
    "{{ a + b | length }}",
    "{{ steps.a.output is defined and inputs.x is not none }}",
    "{{ x is sameas(y) }}",
    "{{ range(inputs.n) }}",
    "{{ steps.a.output.split(inputs.sep) }}",
    "{{ lipsum() }}",
    "{{ a, b }}",
    "{{ x }}{{ y }}\n{{ z\n + 1 }}",
]
SLOW = [
    "{% if x %}{{ y }}{% endif %}",
    "{{ x | upper + y }}",
    "{{ x | a.b }}",
    "{{ x is divisibleby 3 }}",
    "{{ f(*x) }}",
    "{{ f(**x) }}",
    "{{ x is y is z }}",
    "{{ a), (b }}",
    "{{ a) }} {{ (b }}",
    "{{ x for x in y }}",
    "{{ (y := 1) }}",
    "{{ lambda: 1 }}",
    "{{ r'x' }}",
    "{{ x # comment }}",
    "{{ {'a': 1} }}",
    "{{ a ~ b }}",
    "{# note #}{{ a }}",
    "{{ x }",
    "{{ }}",
]


@pytest.mark.parametrize("source", FAST)
def test_fast_path_agrees_with_jinja(source):
    fast, jinja = fast_analysis(source), jinja_analysis(source)
    assert fast is not None
    assert (fast.accesses, fast.filters, fast.tests) == (jinja.accesses, jinja.filters, jinja.tests)


@pytest.mark.parametrize("source", SLOW)
def test_everything_else_goes_through_jinja(source):
    assert fast_analysis(source) is None


def test_analysis_of_chains_and_dynamic_parts():
    accesses = analyze("{{ steps[name].output }} {{ steps.a['b'] }}").accesses
    assert [(a.name, a.parts) for a in accesses] == [
        ("steps", (DYNAMIC, "output")), ("name", ()), ("steps", ("a", "b"))]


def test_syntax_errors_are_reported_with_a_line():
    analysis = analyze("line one\n{{ x }")
    assert (analysis.syntax_error, analysis.syntax_line) == ("unexpected '}'", 2)
