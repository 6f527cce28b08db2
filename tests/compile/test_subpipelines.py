"""Sub-pipelines (`uses:` + `with:`): loading, located validation at both places, cycles,
the trust boundary, the expanded plan (names, dependencies, agents per use) and the graph."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from orchestrator.compile import load_plan, render_graph
from orchestrator.errors import SpecError

HEAD = "apiVersion: orchestrate/v1\nkind: Pipeline\nmetadata: {name: NAME}\n"
REPO = Path(__file__).resolve().parents[2]

REVIEW = """\
inputs:
  text: {type: string}
  rounds: {type: integer, default: 2}
agents:
  editor: {model: sub/model, memory_blocks: [{label: persona, value: "Editor"}]}
shared_blocks:
  notes: {value: "none"}
steps:
  critique:
    agent: editor
    prompt: "Critique ({{ inputs.rounds }}): {{ inputs.text }}"
  improve:
    agent: editor
    prompt: "Improve {{ inputs.text }} using {{ steps.critique.output }}"
outputs:
  text: "{{ steps.improve.output }}"
  notes: "{{ steps.critique.output }}"
"""

MAIN = """\
inputs:
  topic: {type: string}
agents:
  writer: {}
steps:
  draft: {agent: writer, prompt: "Write about {{ inputs.topic }}"}
  review:
    uses: ./review.yaml
    with: {text: "{{ steps.draft.output }}"}
  again:
    uses: ./review.yaml
    with: {text: "{{ steps.review.output.text }}", rounds: 1}
outputs:
  final: "{{ steps.again.output.text }}"
"""


def write(directory: Path, name: str, body: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEAD.replace("NAME", path.stem) + textwrap.dedent(body))
    return path


def problems(path: Path, allowed: tuple = ()) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_plan(path, allowed)
    return [
        f"{Path(i.file).name}:{i.line}:{i.col}: {i.path}: {i.message}"
        for i in info.value.issues
        if i.severity == "error"
    ]


def test_a_used_pipeline_is_expanded_with_a_prefix(tmp_path):
    write(tmp_path, "review.yaml", REVIEW)
    plan = load_plan(write(tmp_path, "main.yaml", MAIN))
    assert list(plan.steps) == [
        "draft",
        "review.inputs",
        "review.critique",
        "review.improve",
        "review",
        "again.inputs",
        "again.critique",
        "again.improve",
        "again",
    ]
    assert plan.steps["review.inputs"].depends_on == ("draft",)
    assert plan.steps["review.improve"].depends_on == ("review.critique", "review.inputs")
    assert plan.steps["review.improve"].scope == "review"
    assert plan.steps["review.improve"].prompt.steps == {"critique"}  # its own names
    assert set(plan.steps["review"].depends_on) == {
        "review.inputs",
        "review.critique",
        "review.improve",
    }
    assert plan.steps["again.inputs"].depends_on == ("review",)
    # every use has its own agents and shared blocks; the used file's defaults stay its own
    assert {"writer", "review.editor", "again.editor"} == set(plan.agents)
    assert plan.steps["again.critique"].agent == "again.editor"
    assert plan.agents["again.editor"].model == "sub/model"
    assert set(plan.shared_blocks) == {"review.notes", "again.notes"}
    assert plan.used_files == {
        str((tmp_path / "review.yaml").resolve()): str(tmp_path / "review.yaml")
    }


def test_nested_sub_pipelines_nest_their_names(tmp_path):
    write(tmp_path, "review.yaml", REVIEW)
    write(
        tmp_path,
        "sub/mid.yaml",
        """\
        inputs: {t: {type: string}}
        steps:
          inner: {uses: ../review.yaml, with: {text: "{{ inputs.t }}"}}
        outputs: {out: "{{ steps.inner.output.text }}"}
        """,
    )
    plan = load_plan(
        write(
            tmp_path,
            "top.yaml",
            """\
        steps:
          mid: {uses: ./sub/mid.yaml, with: {t: "x"}}
        outputs: {o: "{{ steps.mid.output.out }}"}
        """,
        )
    )
    assert "mid.inner.critique" in plan.steps
    assert plan.steps["mid.inner.critique"].scope == "mid.inner"
    assert plan.steps["mid.inner.inputs"].scope == "mid"  # evaluated in mid's scope
    assert "mid.inputs" in plan.steps["mid.inner.inputs"].depends_on
    assert "mid.inner.editor" in plan.agents


def test_errors_inside_a_used_file_are_reported_there_and_at_the_call_site(tmp_path):
    write(
        tmp_path,
        "review.yaml",
        REVIEW.replace('steps.critique.output }}"\noutputs', 'steps.critque.output }}"\noutputs'),
    )
    found = problems(write(tmp_path, "main.yaml", MAIN))
    assert "review.yaml:17:13: steps.improve.prompt: unknown step 'critque'" in found
    assert (
        "main.yaml:11:11: steps.review.uses: the used pipeline './review.yaml' has 1 error"
    ) in found
    assert (
        "main.yaml:14:11: steps.again.uses: the used pipeline './review.yaml' has 1 error"
    ) in found
    assert len(found) == 3  # the inner problem once, however often the file is used


def test_with_inputs_are_checked_against_the_used_pipeline(tmp_path):
    write(tmp_path, "review.yaml", REVIEW.replace("enum: []", ""))
    found = problems(
        write(
            tmp_path,
            "main.yaml",
            """\
        agents: {writer: {}}
        steps:
          draft: {agent: writer, prompt: "hi"}
          review:
            uses: ./review.yaml
            with: {txt: "{{ steps.draft.output }}", rounds: many}
          again:
            uses: ./review.yaml
            with: {text: "x", rounds: [1]}
          after: {agent: writer, prompt: "{{ steps.review.output.txet }}"}
        """,
        )
    )
    assert found == [
        "main.yaml:8:11: steps.review.with: missing input 'text' of './review.yaml'",
        "main.yaml:9:12: steps.review.with.txt: './review.yaml' has no input 'txt'",
        "main.yaml:9:53: steps.review.with.rounds: expected an integer, got text 'many'",
        "main.yaml:12:31: steps.again.with.rounds: expected an integer, got a list",
        "main.yaml:13:34: steps.after.prompt: sub-pipeline step 'review' has no output 'txet'",
    ]


def test_the_declaration_is_named_in_the_hint(tmp_path):
    write(tmp_path, "review.yaml", REVIEW)
    main = write(tmp_path, "main.yaml", "steps:\n  r: {uses: ./review.yaml}\n")
    with pytest.raises(SpecError) as info:
        load_plan(main)
    (issue,) = info.value.issues
    assert issue.message == "missing input 'text' of './review.yaml'"
    assert f"{tmp_path / 'review.yaml'}:5:9" in issue.hint


def test_cycles_between_files_are_named(tmp_path):
    write(tmp_path, "a.yaml", "steps:\n  b: {uses: ./b.yaml}\n")
    write(tmp_path, "b.yaml", "steps:\n  a: {uses: ./a.yaml}\n")
    found = problems(tmp_path / "a.yaml")
    assert "b.yaml:5:13: steps.a.uses: sub-pipeline cycle: a.yaml -> b.yaml -> a.yaml" in found
    assert found[0].startswith("a.yaml:5:13: steps.b.uses: the used pipeline './b.yaml'")
    write(tmp_path, "self.yaml", "steps:\n  me: {uses: ./self.yaml}\n")
    assert problems(tmp_path / "self.yaml") == [
        "self.yaml:5:14: steps.me.uses: sub-pipeline cycle: self.yaml -> self.yaml"
    ]


def test_a_path_outside_the_pipelines_directory_needs_allow_path(tmp_path):
    outside = tmp_path / "shared"
    write(outside, "review.yaml", REVIEW)
    main = write(
        tmp_path / "project",
        "main.yaml",
        "steps:\n  r: {uses: ../shared/review.yaml, with: {text: x}}\n",
    )
    found = problems(main)
    assert found == [
        "main.yaml:5:13: steps.r.uses: '../shared/review.yaml' is outside the "
        f"pipeline's directory {(tmp_path / 'project').resolve()}"
    ]
    assert "r.critique" in load_plan(main, (str(outside),)).steps
    # a link that leads outside is judged by where it leads
    (tmp_path / "project" / "link.yaml").symlink_to(outside / "review.yaml")
    main.write_text(main.read_text().replace("../shared/review.yaml", "./link.yaml"))
    assert "is outside the pipeline's directory" in problems(main)[0]


def test_a_missing_used_file_is_located_at_the_call_site(tmp_path):
    found = problems(write(tmp_path, "main.yaml", "steps:\n  r: {uses: ./nope.yaml}\n"))
    assert found == [
        "main.yaml:5:13: steps.r.uses: './nope.yaml': cannot read file: No such file or directory"
    ]


@pytest.mark.parametrize(
    "extra,message",
    [
        ("agent: w", "a step with 'uses' takes no 'agent'"),
        ("for_each: '{{ [1] }}'", "a step with 'uses' takes no 'for_each'"),
    ],
)
def test_a_uses_step_takes_no_agent_fields(tmp_path, extra, message):
    write(tmp_path, "review.yaml", REVIEW)
    found = problems(
        write(
            tmp_path,
            "main.yaml",
            f"""\
        agents: {{w: {{}}}}
        steps:
          r: {{uses: ./review.yaml, with: {{text: x}}, {extra}}}
        """,
        )
    )
    assert [f.split(": ", 2)[2] for f in found] == [message]


def test_with_needs_uses_and_loops_cannot_use(tmp_path):
    write(tmp_path, "review.yaml", REVIEW)
    found = problems(
        write(
            tmp_path,
            "main.yaml",
            """\
        agents: {w: {}}
        steps:
          a: {agent: w, prompt: hi, with: {text: x}}
          l:
            loop:
              max_iterations: 2
              steps:
                r: {uses: ./review.yaml, with: {text: x}}
        """,
        )
    )
    assert "main.yaml:6:29: steps.a: 'with' needs 'uses'" in found
    assert "main.yaml:11:13: steps.l.loop.steps.r: a loop body cannot use a sub-pipeline" in found


def test_templates_in_with_are_checked_in_the_callers_scope(tmp_path):
    write(tmp_path, "review.yaml", REVIEW)
    found = problems(
        write(
            tmp_path,
            "main.yaml",
            """\
        steps:
          r: {uses: ./review.yaml, with: {text: "{{ steps.nope.output }} {{ inputs.x }}"}}
        """,
        )
    )
    assert sorted(found) == [
        "main.yaml:5:41: steps.r.with.text: undeclared input 'x'",
        "main.yaml:5:41: steps.r.with.text: unknown step 'nope'",
    ]


def test_graph_shows_the_sub_pipeline_as_a_group(tmp_path):
    write(tmp_path, "review.yaml", REVIEW)
    plan = load_plan(write(tmp_path, "main.yaml", MAIN))
    mermaid = render_graph(plan, "mermaid")
    assert '  subgraph g_review["review (uses review.yaml)"]' in mermaid
    assert '    s_review__critique["critique<br/>agent: editor"]' in mermaid
    assert "  s_draft --> s_review__inputs" in mermaid
    assert "  s_review --> s_again__inputs" in mermaid
    assert "s_review__inputs --> s_review__improve" not in mermaid  # implied: not drawn
    dot = render_graph(plan, "dot")
    assert 'subgraph "cluster_uses_review" {' in dot
    assert '"review.critique" [label="critique\\nagent: editor"];' in dot
    nodes = {n["name"]: n for n in json.loads(render_graph(plan, "json"))["nodes"]}
    assert nodes["review"]["kind"] == "uses-outputs"
    assert nodes["review.critique"]["scope"] == "review"


def test_the_example_pipeline_uses_a_sub_pipeline():
    plan = load_plan(REPO / "pipelines" / "release-notes.yaml")
    assert {"notes_review.revise", "announcement_review.revise"} <= set(plan.steps)
    assert plan.warnings == ()


def test_a_used_pipeline_cannot_have_a_step_named_inputs(tmp_path):
    write(tmp_path, "sub.yaml", "agents: {w: {}}\nsteps:\n  inputs: {agent: w, prompt: hi}\n")
    found = problems(write(tmp_path, "main.yaml", "steps:\n  r: {uses: ./sub.yaml}\n"))
    assert found == [
        f"main.yaml:5:13: steps.r.uses: './sub.yaml' has a step named 'inputs' "
        f"({tmp_path / 'sub.yaml'}:6:11), a name a sub-pipeline keeps for its "
        "inputs"
    ]
