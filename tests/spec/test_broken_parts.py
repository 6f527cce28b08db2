"""A file with YAML or schema errors is still checked everywhere else: the broken parts are
left out of the spec (see orchestrator/spec/damage.py) and nothing they could explain is
reported, while every problem of the intact parts is."""

from __future__ import annotations

import textwrap

import pytest

from orchestrator.compile import load_plan_text
from orchestrator.errors import SpecError

HEAD = "apiVersion: orchestrate/v1\nkind: Pipeline\nmetadata: {name: t}\n"


def problems(body: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_plan_text(HEAD + textwrap.dedent(body), "p.yaml")
    return [f"{i.path}: {i.message}" for i in info.value.issues]


def test_a_misspelt_key_is_not_also_a_missing_one_but_an_unrelated_key_is():
    assert problems("""\
        agents: {w: {}}
        steps:
          a: {agent: w, promt: hi}
          b: {agent: w, colour: red}
        """) == [
        "steps.a: unknown key 'promt'",
        "steps.b: missing required key 'prompt'",
        "steps.b: unknown key 'colour'",
    ]


def test_the_intact_fields_of_a_broken_step_are_still_checked():
    assert problems("""\
        agents: {w: {}}
        steps:
          a: {agent: wx, prompt: "{{ steps.nope.output }}", timeout: soon}
        """) == [
        "steps.a.agent: unknown agent 'wx'",
        "steps.a.prompt: unknown step 'nope'",
        "steps.a.timeout: expected a number, got a string",
    ]


@pytest.mark.parametrize(
    "fields",
    [
        "for_each: [1, 2], as: paper",  # a list, not a template
        'for_each: "{{ [1, 2] }}", as: Paper',  # not an identifier
        'for_each: "{{ [1, 2] }}", ass: paper',  # misspelt
        'fro_each: "{{ [1, 2] }}", as: paper',
    ],
)
def test_a_prompt_is_not_judged_when_its_item_variable_is_unknown(fields):
    lines = problems(f"""\
        agents: {{w: {{}}}}
        steps:
          a: {{agent: w, prompt: "{{{{ paper }}}}", {fields}}}
        """)
    assert len(lines) == 1 and not lines[0].startswith("steps.a.prompt"), lines
    assert "needs 'for_each'" not in lines[0]


def test_a_step_that_is_not_a_mapping_still_exists():
    assert problems("""\
        agents: {w: {}}
        steps:
          a: oops
          b: {agent: w, prompt: "{{ steps.a.output }} {{ steps.a.iterations }} {{ steps.c.output }}"}
        """) == [
        "steps.a: expected a mapping, got a string",
        "steps.b.prompt: unknown step 'c'",
    ]


def test_a_loop_whose_body_is_unreadable_hides_its_step_names_only():
    assert problems("""\
        agents: {w: {}}
        steps:
          l: {loop: {max_iterations: 2, steps: [rewrite]}}
          b: {agent: w, prompt: "{{ steps.l.output.rewrite }} {{ steps.rewrite.output }} {{ oops }"}
        outputs: {r: "{{ steps.l.iterations }}"}
        """) == [
        "steps.l.loop.steps: expected a mapping, got a list",
        "steps.b.prompt: template syntax error: unexpected '}'",
    ]


def test_a_damaged_loop_body_step_leaves_the_rest_of_the_loop_checked():
    assert problems("""\
        agents: {w: {}}
        steps:
          l:
            loop:
              max_iterations: 0
              until: "{{ steps.b.output and steps.zz.output }}"
              steps:
                a: {agent: w, prompt: [x]}
                b: {agent: w, prompt: "{{ steps.a.output }} {{ loop.previous.a.output }}"}
        """) == [
        "steps.l.loop.max_iterations: must be at least 1, got 0",
        "steps.l.loop.until: unknown step 'zz'",
        "steps.l.loop.steps.a.prompt: expected a string, got a list",
    ]


def test_unreadable_sections_hide_only_what_they_would_declare():
    assert problems("""\
        inputs: [topic]
        shared_blocks: [notes]
        agents:
          w: {shared_blocks: [notes], tols: []}
          x: 3
        steps:
          a: {agent: w, prompt: "{{ inputs.topic }} {{ inputs.other }}"}
          b: {agent: x, prompt: "{{ steps.a.output }}"}
          c: {agent: y, prompt: "{{ steps.d.output }}"}
        """) == [
        "inputs: expected a mapping, got a list",
        "shared_blocks: expected a mapping, got a list",
        "agents.w: unknown key 'tols'",
        "agents.x: expected a mapping, got an integer",
        "steps.c.agent: unknown agent 'y'",
        "steps.c.prompt: unknown step 'd'",
    ]


def test_a_misspelt_section_is_unreadable_not_empty():
    assert problems("""\
        input: {topic: {}}
        agents: {w: {}}
        steps:
          a: {agent: w, prompt: "{{ inputs.topic }} {{ steps.b.output }}"}
        """) == [
        ": unknown key 'input'",  # a top-level problem has no path
        "steps.a.prompt: unknown step 'b'",
    ]


def test_no_unused_warnings_when_parts_are_left_out():
    with pytest.raises(SpecError) as info:
        load_plan_text(
            HEAD
            + textwrap.dedent("""\
            inputs: {topic: {}}
            agents: {w: {}, v: {}}
            steps:
              a: {agent: w, promt: "{{ inputs.topic }}"}
              b: {agent: v, prompt: "x", needs: [a]}
            outputs: {r: "{{ steps.b.output }}"}
            """),
            "p.yaml",
        )
    assert [i.severity for i in info.value.issues] == ["error"]


def test_without_readable_steps_only_the_schema_speaks():
    assert problems("agents: {w: {}}\nsteps: [a, b]\noutputs: {r: '{{ steps.a.output }'}\n") == [
        "steps: expected a mapping, got a list"
    ]
