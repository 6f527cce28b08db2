"""Templates see the pipeline's names, never Python's: an input, a step or a JSON key named
like a dict method (`items`, `get`, `keys`, ...) reads as that name, in prompts, `when`,
`for_each` and outputs."""

from __future__ import annotations

import pytest

from orchestrator.compile.templates import environment

PIPE = """
agents: {a: {}}
inputs:
  items: {type: array, default: [1, 2]}
  get: {type: string, default: g}
  values: {type: object, default: {keys: k}}
steps:
  keys:
    agent: a
    prompt: "x {{ inputs.items }} {{ inputs.get }} {{ inputs['get'] }} {{ inputs.values.keys }}"
    output: {format: json, schema: {type: object, required: [items],
             properties: {items: {type: array, items: {type: string}}}}}
  each:
    agent: a
    for_each: "{{ inputs.items }}"
    when: "{{ steps.keys.ran and inputs.get == 'g' }}"
    prompt: "i {{ item }} {{ steps.keys.output.items | length }}"
outputs:
  first: "{{ steps.keys.output.items }}"
  each: "{{ steps.each.output | length }}"
"""


def test_dict_method_names_read_as_the_pipelines_names(harness):
    harness.backend.script(prompt_contains="x ", json={"items": ["p", "q", "r"]})
    out = harness.run(PIPE)
    assert out.status == "succeeded", out.error
    prompts = harness.backend.prompts()
    assert prompts[0].startswith("x [1, 2] g g k")
    assert prompts[1:] == ["i 1 3", "i 2 3"]
    assert out.outputs == {"first": ["p", "q", "r"], "each": 2}
    assert "built-in" not in " ".join(prompts)


@pytest.mark.parametrize(
    "name", ["items", "get", "keys", "values", "pop", "update", "copy", "__class__", "mro", "_x"]
)
def test_any_name_a_mapping_has_is_read_as_its_key(name):
    source = "{{ inputs.NAME }}|{{ steps.NAME.output }}".replace("NAME", name)
    template = environment().from_string(source)
    assert template.render(inputs={name: "V"}, steps={name: {"output": "O"}}) == "V|O"


def test_dict_methods_still_work_on_data_without_such_a_key():
    template = environment().from_string("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}")
    assert template.render(d={"a": 1}) == "a=1;"
