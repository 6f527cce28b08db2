"""Hostile YAML is refused with one located issue, quickly, at any size: nesting past
MAX_YAML_DEPTH, self-containing aliases, alias bombs, values PyYAML cannot construct, and
files past MAX_YAML_BYTES. Just inside the limits, documents still load and compile."""

from __future__ import annotations

import time

import pytest

from orchestrator.compile import load_plan_text
from orchestrator.errors import SpecError
from orchestrator.spec import limits
from orchestrator.spec.yaml_marks import load_documents

HEAD = "apiVersion: orchestrate/v1\nkind: Pipeline\nmetadata: {name: t}\nagents: {w: {}}\n"


def pipeline(step_fields: str = "", extra: str = "") -> str:
    return HEAD + extra + f"steps:\n  a: {{agent: w, prompt: hi{step_fields}}}\n"


def issues_of(text: str) -> list:
    with pytest.raises(SpecError) as info:
        load_plan_text(text, "h.yaml")
    return list(info.value.issues)


def flow_list(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [limits.MAX_YAML_DEPTH + 1, 1_000, 100_000])
def test_nesting_past_the_limit_is_refused_fast_at_any_depth(depth):
    started = time.perf_counter()
    found = issues_of(pipeline(extra=f"x-deep: {flow_list(depth)}\n"))
    assert time.perf_counter() - started < 2
    assert [(i.line, i.message) for i in found] == [
        (5, f"nested deeper than {limits.MAX_YAML_DEPTH} levels")
    ]
    assert found[0].path.startswith("x-deep[0][0]") and found[0].col > 1


def test_block_style_nesting_counts_too():
    lines = [" " * i + f"k{i}:" for i in range(limits.MAX_YAML_DEPTH + 5)]
    docs, found = load_documents("\n".join(lines) + " 1\n", "b.yaml")
    assert docs == [] and found[0].message.startswith("nested deeper than")
    assert found[0].path.startswith("k0.k1.k2")


def test_a_deep_but_legal_output_schema_still_compiles():
    schema = "{type: object}"
    for _ in range((limits.MAX_YAML_DEPTH - 8) // 2):  # properties: {x: ...} is two levels
        schema = f"{{type: object, properties: {{x: {schema}}}}}"
    text = pipeline(f", output: {{format: json, schema: {schema}}}")
    assert load_plan_text(text, "ok.yaml").steps["a"]


def test_an_alias_inside_its_own_anchor_is_refused():
    found = issues_of(pipeline(extra="x-loop: &a [1, *a]\n"))
    assert [(i.line, i.col, i.path) for i in found] == [(5, 16, "x-loop[1]")]
    assert "used inside its own anchor" in found[0].message


def billion_laughs(levels: int, width: int) -> str:
    lines = ["x-lol:", "  l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"  l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_is_built():
    started = time.perf_counter()
    found = issues_of(pipeline(extra=billion_laughs(9, 10)))  # 10**9 values when expanded
    assert time.perf_counter() - started < 2
    assert len(found) == 1 and found[0].message == (
        f"aliases expand to more than {limits.MAX_ALIAS_VALUES:,} values"
    )
    assert found[0].line > 4


def test_a_file_with_too_many_values_is_refused(monkeypatch):
    monkeypatch.setattr("orchestrator.spec.yaml_limits.MAX_YAML_NODES", 100)
    docs, found = load_documents("x: [" + ", ".join(["1"] * 200) + "]\n", "n.yaml")
    assert docs == [] and [(i.path, i.message) for i in found] == [
        ("x[97]", "more than 100 values in one file")
    ]


def test_aliases_below_the_limit_still_work():
    docs, found = load_documents(billion_laughs(3, 10), "ok.yaml")  # 1,000 values
    assert found == [] and len(docs[0].data["x-lol"]["l2"][9][9]) == 10


def test_values_pyyaml_cannot_construct_are_located_issues():
    text = pipeline(
        extra=(
            "x-values:\n  a: !!int zz\n  b: !!bool maybe\n  c: !!timestamp x\n"
            f"  d: !!binary aGVsbG8=\n  e: {'9' * (limits.MAX_INT_DIGITS + 1)}\n"
        )
    )
    found = issues_of(text)
    assert [(i.path, i.line) for i in found if i.path] == [
        ("x-values.a", 6),
        ("x-values.b", 7),
        ("x-values.c", 8),
        ("x-values.d", 9),
        ("x-values.e", 10),
    ]
    assert all(i.hint for i in found)


def test_a_long_integer_within_python_limits_is_a_number():
    docs, found = load_documents(f"n: {'9' * limits.MAX_INT_DIGITS}\n", "n.yaml")
    assert found == [] and docs[0].data["n"] == int("9" * limits.MAX_INT_DIGITS)


def test_timestamps_stay_the_text_written():
    docs, found = load_documents("d: 2024-01-02\nt: !!timestamp 2024-01-02 10:00:00\n", "t.yaml")
    assert found == [] and docs[0].data == {"d": "2024-01-02", "t": "2024-01-02 10:00:00"}


def test_a_file_past_the_size_limit_is_refused(monkeypatch):
    monkeypatch.setattr("orchestrator.spec.yaml_marks.MAX_YAML_BYTES", 1000)
    found = issues_of(pipeline(extra="x-pad: '" + "p" * 1000 + "'\n"))
    assert len(found) == 1 and found[0].message.startswith("file too large: ")
    assert "the limit is 1000 bytes" in found[0].message
