"""`validate` reports the templates the sandbox would refuse at run time, located, and each
one it reports is refused when it renders; pipeline data read by key stays allowed."""

from __future__ import annotations

import pytest

from orchestrator.compile.plan import Template
from orchestrator.compile.templates import TemplateRenderError, render
from orchestrator.errors import CompileError
from tests.compile.helpers import plan_of

CONTEXT = {"inputs": {"topic": "owls"}, "steps": {"a": {"output": {"_id": 7, "mro": "m"}}}}

ESCAPES = [  # the escapes tests/compile/test_templates.py shows the sandbox blocking, and more
    ("{{ ''.__class__.__mro__ }}", "attribute '__class__' is refused by the sandbox"),
    ("{{ inputs.topic.__class__ }}", "attribute '__class__' is refused by the sandbox"),
    ("{{ cycler.__init__.__globals__ }}", "attribute '__init__' is refused by the sandbox"),
    (
        "{{ inputs.topic | attr('__class__') }}",
        "attribute '__class__' is refused by the sandbox (through |attr)",
    ),
    (
        "{{ '{0.__class__}'.format(inputs.topic) }}",
        "format field '{0.__class__}' reaches '__class__', which the sandbox refuses",
    ),
    (
        "{{ '{0.__globals__}'.format_map(inputs) }}",
        "format field '{0.__globals__}' reaches '__globals__', which the sandbox refuses",
    ),
    ("{{ joiner()._last }}", "attribute '_last' is refused by the sandbox"),
    ("{{ namespace().__dict__ }}", "attribute '__dict__' is refused by the sandbox"),
    (
        "{{ (range(1)|list).__class__.__base__.__subclasses__() }}",
        "attribute '__class__' is refused by the sandbox",
    ),
    (
        "{% set f = inputs.topic.upper %}{{ f.__self__ }}",
        "attribute '__self__' is refused by the sandbox",
    ),
]


def pipeline(prompt: str) -> str:
    quoted = prompt.replace('"', '\\"')
    return f"""\
inputs: {{topic: {{type: string}}}}
agents: {{w: {{}}}}
steps:
  a: {{agent: w, prompt: "{{{{ inputs.topic }}}}", output: {{format: json}}}}
  b: {{agent: w, prompt: "{quoted} {{{{ steps.a.output }}}}"}}
"""


@pytest.mark.parametrize("source,message", ESCAPES)
def test_validate_reports_what_the_sandbox_refuses(source, message):
    with pytest.raises(CompileError) as info:
        plan_of(pipeline(source))
    located = [
        (i.line, i.col, i.path, i.message) for i in info.value.issues if i.severity == "error"
    ]
    assert (8, 25, "steps.b.prompt", message) in located


@pytest.mark.parametrize("source,message", ESCAPES)
def test_what_validate_reports_is_refused_at_run_time(source, message):
    with pytest.raises(TemplateRenderError):
        render(Template(source, "steps.b.prompt"), CONTEXT)


@pytest.mark.parametrize(
    "source",
    [
        "{{ steps.a.output._id }} {{ steps.a.output['_id'] }} {{ steps.a.output.mro }}",
        "{{ '{0} and {1}'.format(inputs.topic, 2) }} {{ '%s!'|format(inputs.topic) }}",
        "{{ inputs.topic | attr('upper') }} {% for k in steps.a.output %}{{ k }}{% endfor %}",
        "{{ inputs.topic.format_map }} {{ 'a_b'.split('_') }} {{ 'x' ~ '_' }}",
    ],
)
def test_pipeline_data_and_plain_string_methods_are_not_flagged(source):
    plan = plan_of(pipeline(source))
    render(plan.steps["b"].prompt, CONTEXT)  # and they render
