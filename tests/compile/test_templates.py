"""The run-time template API: sandbox, strictness, native evaluation, speed."""

from __future__ import annotations

import time

import pytest

from orchestrator.compile.plan import Template
from orchestrator.compile.templates import (
    TemplateRenderError,
    environment,
    evaluate,
    expression_source,
    render,
)
from orchestrator.errors import OrchestrateError

CTX = {
    "inputs": {"topic": "bees", "secret": "hunter2"},
    "steps": {"a": {"output": {"ok": False, "items": [1, 2]}, "ran": True}},
}


def t(source: str, path: str = "steps.x.prompt") -> Template:
    return Template(source, path)


def test_render_reads_inputs_and_steps():
    assert (
        render(t("About {{ inputs.topic }}: {{ steps.a.output.ok }}\n"), CTX)
        == "About bees: False\n"
    )


def test_evaluate_returns_native_values_for_single_expressions():
    assert evaluate(t("{{ steps.a.output.ok }}"), CTX) is False
    assert evaluate(t("  {{- steps.a.output['items'] -}}  "), CTX) == [1, 2]
    assert evaluate(t("n={{ steps.a.output['items'] | length }}"), CTX) == "n=2"


def test_expression_source_only_matches_one_expression():
    assert expression_source("{{ a }}") == "a"
    assert expression_source("{{ a }} {{ b }}") is None
    assert expression_source("{% if a %}{{ b }}{% endif %}") is None


def test_strict_undefined_fails_with_the_template_path():
    with pytest.raises(TemplateRenderError) as info:
        render(t("{{ steps.a.output.missing }}", "steps.b.prompt"), CTX)
    assert str(info.value) == (
        "steps.b.prompt: cannot render template: undefined: "
        "'dict object' has no attribute 'missing'"
    )
    assert isinstance(info.value, OrchestrateError)


def test_evaluate_of_a_missing_attribute_fails_too():
    with pytest.raises(TemplateRenderError, match="has no attribute 'nope'"):
        evaluate(t("{{ steps.a.output.nope }}", "steps.b.when"), CTX)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ inputs.topic.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
    ],
)
def test_sandbox_blocks_attribute_escapes(source):
    with pytest.raises(TemplateRenderError, match="blocked by the sandbox"):
        render(t(source), CTX)


def test_errors_do_not_contain_values():
    with pytest.raises(TemplateRenderError) as info:
        render(t("{{ inputs.secret + 1 }}"), CTX)
    assert "hunter2" not in str(info.value)


def test_tojson_does_not_html_escape_and_autoescape_is_off():
    ctx = {"x": {"a": "<b> & 'c'"}}
    assert render(t("{{ x | tojson }}"), ctx) == '{"a": "<b> & \'c\'"}'
    assert render(t("{{ x.a }}"), ctx) == "<b> & 'c'"


def test_environment_is_shared():
    assert environment() is environment()


def test_rendering_is_fast_per_step():
    template = t("Write about {{ inputs.topic }} using {{ steps.a.output['items'] | join(', ') }}")
    render(template, CTX)
    start = time.perf_counter()
    for _ in range(1000):
        render(template, CTX)
    assert (time.perf_counter() - start) / 1000 < 0.001
