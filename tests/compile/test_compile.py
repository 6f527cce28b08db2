"""compile_pipeline: dependencies, levels, loops, fingerprints, env refs, warnings."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from orchestrator.compile import load_plan
from orchestrator.errors import CompileError
from orchestrator.spec.model import RetrySpec

from .helpers import plan_of

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"

FAN = """\
agents: {w: {}}
steps:
  a: {agent: w, prompt: "start"}
  b: {agent: w, prompt: "{{ steps.a.output }}"}
  c: {agent: w, prompt: "{{ steps['a'].output }}", needs: [a]}
  d: {agent: w, prompt: "go", needs: [b]}
  e: {agent: w, prompt: "{{ steps.c.output }} {{ steps.d.ran }}"}
"""


def test_dependencies_are_needs_union_template_refs():
    plan = plan_of(FAN)
    assert {n: s.depends_on for n, s in plan.steps.items()} == {
        "a": (),
        "b": ("a",),
        "c": ("a",),
        "d": ("b",),
        "e": ("c", "d"),
    }
    assert sorted(plan.graph.edges) == [("a", "b"), ("a", "c"), ("b", "d"), ("c", "e"), ("d", "e")]


def test_levels_group_parallel_steps_and_order_is_topological():
    plan = plan_of(FAN)
    assert plan.levels == (("a",), ("b", "c"), ("d",), ("e",))
    assert list(plan.steps) == ["a", "b", "c", "d", "e"]
    assert nx.is_frozen(plan.graph)
    assert plan.graph.nodes["b"] == {"agent": "w", "kind": "agent"}


def test_templates_record_what_they_read():
    plan = plan_of("""\
        inputs: {topic: {}, n: {type: integer, default: 1}}
        agents: {w: {}}
        steps:
          a: {agent: w, prompt: "{{ inputs.topic }} {{ inputs['n'] }}"}
          b: {agent: w, prompt: "{{ steps.a.output }}", when: "{{ steps.a.ran }}"}
        outputs: {r: "{{ steps.b.output }}"}
        """)
    prompt = plan.steps["a"].prompt
    assert prompt.inputs == {"topic", "n"} and prompt.steps == frozenset()
    assert prompt.path == "steps.a.prompt" and prompt.mark.line == 7
    assert plan.steps["b"].when.steps == {"a"}
    assert plan.outputs["r"].steps == {"b"}


def test_loop_body_deps_stay_inside_and_outer_refs_lift_to_the_loop_step():
    plan = load_plan(REPO / "pipelines" / "research-report.yaml")
    revise = plan.steps["revise"]
    assert revise.agent is None and revise.prompt is None
    assert revise.depends_on == ("draft", "review")  # draft is read inside the body
    body = revise.loop.steps
    assert list(body) == ["rewrite", "recheck"]
    assert body["rewrite"].depends_on == () and body["recheck"].depends_on == ("rewrite",)
    assert revise.loop.max_iterations == 3
    assert revise.loop.until.steps == {"recheck"}
    assert sorted(revise.loop.graph.edges) == [("rewrite", "recheck")]
    assert plan.levels[-1] == ("revise",)


def test_defaults_apply_to_steps():
    plan = plan_of("""\
        defaults: {timeout: 50, retries: 7, model: m/default}
        agents: {w: {}, x: {model: m/agent}}
        steps:
          a: {agent: w, prompt: hi}
          b: {agent: w, prompt: hi, timeout: 5, retries: {max_attempts: 2, backoff: 3}, model: m/step}
        """)
    a, b = plan.steps["a"], plan.steps["b"]
    assert (a.timeout, a.retry, a.model) == (50.0, RetrySpec(max_attempts=7), None)
    assert (b.timeout, b.retry, b.model) == (5.0, RetrySpec(2, 3.0, 30.0), "m/step")


def test_for_each_item_variable_and_output_schema():
    plan = plan_of("""\
        inputs: {papers: {type: array, default: [x]}}
        agents: {w: {}}
        steps:
          each:
            agent: w
            for_each: "{{ inputs.papers }}"
            as: paper
            prompt: "Summarize {{ paper }}"
            output: {format: json, schema: {type: object}}
        """)
    step = plan.steps["each"]
    assert step.item_var == "paper" and step.for_each.inputs == {"papers"}
    assert (step.output_format, step.output_schema) == ("json", {"type": "object"})


def test_item_variable_is_not_visible_in_when():
    with pytest.raises(CompileError) as info:
        plan_of("""\
            inputs: {papers: {type: array, default: [x]}}
            agents: {w: {}}
            steps:
              each: {agent: w, for_each: "{{ inputs.papers }}", prompt: "{{ item }}", when: "{{ item }}"}
            """)
    assert [(i.path, i.message) for i in info.value.issues] == [
        ("steps.each.when", "unknown variable 'item'")
    ]


def test_env_refs_are_collected_from_agents_blocks_and_defaults():
    plan = load_plan(DATA / "valid" / "everything.yaml")
    assert plan.env_refs == {"API_TOKEN", "SEARCH_KEY"}
    assert load_plan(REPO / "pipelines" / "support-triage.yaml").env_refs == {"CRM_TOKEN"}


def test_warnings_ride_on_the_plan():
    plan = load_plan(DATA / "valid" / "warnings.yaml")
    assert [(w.path, w.message, w.severity) for w in plan.warnings] == [
        ("inputs.unused", "input 'unused' is never read", "warning"),
        ("agents.idle", "agent 'idle' is not used by any step", "warning"),
        ("steps.orphan", "the output of step 'orphan' is never read", "warning"),
    ]


def test_jinja_loop_variable_is_not_ours():
    plan = plan_of("""\
        inputs: {xs: {type: array, default: []}}
        agents: {w: {}}
        steps:
          a: {agent: w, prompt: "{% for x in inputs.xs %}{{ loop.index }} {{ x }}{% endfor %}"}
        """)
    assert plan.steps["a"].prompt.inputs == {"xs"}


def test_multiple_cycles_are_each_named():
    with pytest.raises(CompileError) as info:
        plan_of("""\
            agents: {w: {}}
            steps:
              a: {agent: w, prompt: "{{ steps.b.output }}"}
              b: {agent: w, prompt: "{{ steps.a.output }}"}
              x: {agent: w, prompt: hi, needs: [z]}
              y: {agent: w, prompt: hi, needs: [x]}
              z: {agent: w, prompt: hi, needs: [y]}
            """)
    assert [i.message for i in info.value.issues] == [
        "dependency cycle: a -> b -> a",
        "dependency cycle: x -> y -> z -> x",
    ]


def test_cycle_inside_a_loop_body():
    with pytest.raises(CompileError) as info:
        plan_of("""\
            agents: {w: {}}
            steps:
              l:
                loop:
                  max_iterations: 2
                  steps:
                    p: {agent: w, prompt: "{{ steps.q.output }}"}
                    q: {agent: w, prompt: "{{ steps.p.output }}"}
            """)
    assert [(i.path, i.message) for i in info.value.issues] == [
        ("steps.l.loop.steps.p", "dependency cycle: p -> q -> p")
    ]


def test_body_step_reading_outer_step_via_needs_lifts_dependency():
    plan = plan_of("""\
        agents: {w: {}}
        steps:
          a: {agent: w, prompt: hi}
          l:
            loop:
              max_iterations: 2
              steps:
                p: {agent: w, prompt: hi, needs: [a]}
        """)
    assert plan.steps["l"].depends_on == ("a",)
    assert plan.steps["l"].loop.steps["p"].depends_on == ()


@pytest.mark.parametrize(
    ("name", "levels"),
    [
        ("research-report", (("research",), ("draft",), ("review",), ("revise",))),
        ("parallel-analysis", (("costs", "market", "risks", "summaries"), ("synthesis",))),
        ("support-triage", (("triage",), ("escalate", "reply"))),
    ],
)
def test_example_pipelines_compile_clean(name, levels):
    plan = load_plan(REPO / "pipelines" / f"{name}.yaml")
    assert plan.levels == levels
    assert plan.warnings == ()
