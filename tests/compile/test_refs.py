"""Template analysis: the fast path (Python's ast) must agree with Jinja's parser."""

from __future__ import annotations

import pytest

from orchestrator.compile.fastrefs import fast_analysis
from orchestrator.compile.refs import DYNAMIC, analyze, jinja_analysis
from orchestrator.compile.templates import compiled
from orchestrator.spec import limits

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
    "{{ )( }}",  # "(\n)(\n)," is one valid Python call: each expression must stand alone
    "{{ a)(b }}",
    "{{ a][b }}",
    "{{ (a] }}",
    "{{ ')' + ( }}",
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
        ("steps", (DYNAMIC, "output")),
        ("name", ()),
        ("steps", ("a", "b")),
    ]


def test_syntax_errors_are_reported_with_a_line():
    analysis = analyze("line one\n{{ x }")
    assert (analysis.syntax_error, analysis.syntax_line) == ("unexpected '}'", 2)


@pytest.mark.parametrize("source", ["{{ )( }}", "{{ a)(b }}", "{{ x[)] }}", "{{ f(a)) + (b }}"])
def test_unbalanced_brackets_are_syntax_errors(source):
    assert analyze(source).syntax_error
    assert jinja_analysis(source).syntax_error


def _sum(terms: int) -> str:
    return "{{ " + " + ".join(["x"] * terms) + " }}"


def _nested(depth: int) -> str:
    return "{{ " + "(" * depth + "x" + ")" * depth + " }}"


@pytest.mark.parametrize(
    "source, words",
    [
        (_sum(3_000), "nested deeper than"),
        (_sum(limits.MAX_TEMPLATE_DEPTH + 1), "nested deeper than"),
        (_nested(300), "brackets nested deeper than"),
        (_nested(limits.MAX_TEMPLATE_NESTING + 1), "brackets nested deeper than"),
        ("{{ " + "not " * 2_000 + "x }}", "nested deeper than"),
        ("{{ " + "- " * 2_000 + "x }}", "nested deeper than"),
        ("{{ x" + " | trim" * 500 + " }}", "nested deeper than"),
        ("{{ x" + ".a" * 500 + " }}", "nested deeper than"),
        ("{% if x %}" * 200 + "y" + "{% endif %}" * 200, "nested deeper than"),
        ("x" * (limits.MAX_TEMPLATE_CHARS + 1), "template too long"),
    ],
)
def test_templates_past_a_limit_are_reported_not_parsed(source, words):
    analysis = analyze(source)
    assert words in analysis.limit_error and not analysis.accesses


@pytest.mark.parametrize(
    "source",
    [
        _sum(limits.MAX_TEMPLATE_DEPTH // 2),
        _nested(limits.MAX_TEMPLATE_NESTING),
        "{{ x" + ".a" * (limits.MAX_TEMPLATE_DEPTH // 2) + " }}",
        "(" * 100 + " prose brackets do not count " + "{{ x }}",
        "x" * limits.MAX_TEMPLATE_CHARS,
    ],
)
def test_templates_within_the_limits_are_analysed_and_render(source):
    analysis = analyze(source)
    assert not analysis.limit_error and not analysis.syntax_error
    compiled(source)  # what passes validate must also compile at run time
