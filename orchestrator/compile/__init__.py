"""The compile layer: a validated spec -> an immutable `Plan` (networkx DAG, checked
templates, levels, fingerprints). Pure: no I/O (`load_plan` lets the spec layer read the
file).

Public API: `compile_pipeline`, `load_plan`, `load_plan_text`, `render_graph`, and
`templates` (the Jinja environment the runner renders with).
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.compile.compiler import compile_pipeline
from orchestrator.compile.graph import render_graph
from orchestrator.compile.plan import LoopPlan, Plan, StepPlan, Template
from orchestrator.compile.templates import TemplateRenderError
from orchestrator.errors import CompileError, Issue, SpecError
from orchestrator.spec.model import PipelineSpec
from orchestrator.spec.pipeline import read_pipeline, read_pipeline_text

__all__ = ["LoopPlan", "Plan", "StepPlan", "Template", "TemplateRenderError",
           "compile_pipeline", "load_plan", "load_plan_text", "render_graph"]


def load_plan(path: str | Path) -> Plan:
    """Load, validate and compile one pipeline file. Raises `SpecError` (or its subclass
    `CompileError`) with the problems of both phases at once where possible."""
    return _plan(*read_pipeline(path))


def load_plan_text(text: str, file: str) -> Plan:
    return _plan(*read_pipeline_text(text, file))


def _plan(spec: PipelineSpec | None, issues: list[Issue]) -> Plan:
    if spec is None:
        raise SpecError(issues)
    if not any(i.severity == "error" for i in issues):
        return compile_pipeline(spec)
    # The spec is well-formed but broke shape rules: compile anyway for the rest of the
    # problems, leaving out those inside a part the spec phase already reported on.
    try:
        compile_pipeline(spec)
        more: tuple[Issue, ...] = ()
    except CompileError as exc:
        more = exc.issues
    broken = [i.path for i in issues if i.severity == "error"]
    raise SpecError(issues + [i for i in more if not _inside(i.path, broken)])


def _inside(path: str, parts: list[str]) -> bool:
    return any(path == p or path.startswith((p + ".", p + "[")) for p in parts)
