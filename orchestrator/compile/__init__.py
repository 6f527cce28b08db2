"""The compile layer: a validated spec -> an immutable `Plan` (networkx DAG, checked
templates, levels, fingerprints). Pure: no I/O (`load_plan` lets the spec layer read the
file).

Public API: `compile_pipeline`, `load_plan`, `load_plan_text`, `render_graph`, and
`templates` (the Jinja environment the runner renders with).
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.compile.compiler import compile_pipeline
from orchestrator.compile.graph import render_graph
from orchestrator.compile.plan import LoopPlan, Plan, StepPlan, Template
from orchestrator.compile.templates import TemplateRenderError
from orchestrator.errors import CompileError, Issue, SpecError
from orchestrator.spec.model import Gaps, PipelineSpec
from orchestrator.spec.pipeline import read_pipeline, read_pipeline_text
from orchestrator.spec.uses import read_uses, used_files

__all__ = [
    "LoopPlan",
    "Plan",
    "StepPlan",
    "Template",
    "TemplateRenderError",
    "compile_pipeline",
    "load_plan",
    "load_plan_text",
    "render_graph",
]


def load_plan(path: str | Path, allowed: tuple[str | Path, ...] = ()) -> Plan:
    """Load, validate and compile one pipeline file, and the pipeline files its `uses:` steps
    name (inside its directory or one of `allowed`). Raises `SpecError` (or its subclass
    `CompileError`) with the problems of both phases at once where possible."""
    with collector_paused():
        return _plan(*read_pipeline(path), allowed=allowed)


def load_plan_text(
    text: str, file: str, allowed: tuple[str | Path, ...] = (), used: dict[str, str] | None = None
) -> Plan:
    """`used`: the text of used files by resolved path (else they are read from disk)."""
    with collector_paused():
        return _plan(*read_pipeline_text(text, file), allowed=allowed, texts=used)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Building a plan allocates many long-lived objects and next to no garbage cycles, and
    the cyclic collector's full passes over them made validate + compile superlinear (about
    40% of the time at 20,000 steps). Paused while a plan is built; what the build did leave
    is collected as usual afterwards. (If another thread paused it first, it stays paused
    until that thread is done.)"""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _plan(
    spec: PipelineSpec | None,
    issues: list[Issue],
    allowed: tuple[str | Path, ...] = (),
    texts: dict[str, str] | None = None,
) -> Plan:
    if spec is None:
        raise SpecError(issues)
    uses = read_uses(spec, allowed, texts) if any(s.uses for s in spec.steps.values()) else {}
    if not any(i.severity == "error" for i in issues):
        plan = compile_pipeline(spec, uses)
        return dataclasses.replace(plan, used_files=used_files(uses)) if uses else plan
    # The spec has errors, but whatever could be read was built (YAML- or schema-broken parts
    # are left out, see spec.model.Gaps): compile anyway for the rest of the problems, and
    # drop those that the spec phase's own problems may explain.
    try:
        compile_pipeline(spec, uses)
        more: tuple[Issue, ...] = ()
    except CompileError as exc:
        more = exc.issues
    raise SpecError(issues + [i for i in more if not _explained(i, spec.gaps)])


def _explained(issue: Issue, gaps: Gaps) -> bool:
    """Whether a compile problem lies in a part whose shape the spec phase already reported.
    (What a left-out part might hold is handled by compile itself, through `spec.gaps`.)"""
    return _inside(issue.path, gaps.judged)


def _inside(path: str, parts: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith((p + ".", p + "[")) for p in parts)
