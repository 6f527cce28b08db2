"""The immutable execution plan: what `compile_pipeline(spec)` returns and executors consume.

Owns: the plan dataclasses. A plan is built once, frozen (the networkx graph is frozen too)
and never mutated; executors (the local one in `orchestrator.run`, a Temporal one later)
only decide *when* a step runs, never *what* it means.

Must not: do I/O or know about Letta.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from orchestrator.errors import Issue
from orchestrator.spec.model import (
    NO_MARK,
    AgentSpec,
    BlockSpec,
    BudgetSpec,
    DefaultsSpec,
    InputSpec,
    Mark,
    RetrySpec,
)


@dataclass(frozen=True)
class Template:
    """A Jinja template from the spec, checked at compile time.

    `source` is the user's text; `path` the dotted field it came from (for errors);
    `steps` / `inputs` the names it reads (the handoff dependencies). Render it with
    `orchestrator.compile.templates.render(template, context)` or evaluate an expression
    template (when/for_each/until) with `templates.evaluate(template, context)`.
    """

    source: str
    path: str
    steps: frozenset[str] = frozenset()
    inputs: frozenset[str] = frozenset()
    mark: Mark = NO_MARK


@dataclass(frozen=True)
class LoopPlan:
    max_iterations: int
    until: Template | None
    steps: Mapping[str, StepPlan]  # the body, in topological order
    graph: nx.DiGraph  # body dependencies only (frozen)


@dataclass(frozen=True)
class ApprovalPlan:
    """A person's gate on each unit of a step: asked `before` it sends, and/or `after` it
    answered (before its output is used); `prompt` is what the approver is shown."""

    before: bool
    after: bool
    prompt: Template | None = None
    timeout: float | None = None  # seconds; then `on_timeout` decides
    on_timeout: str = "reject"  # "reject" | "approve"
    on_reject: str = "stop"  # "stop": the run ends rejected; "continue": the step is skipped


@dataclass(frozen=True)
class UsesPlan:
    """One end of a sub-pipeline expanded into the plan (compile/subpipelines.py). The
    `inputs` end (step `<uses step>.inputs`) evaluates `values` (the `with:` templates, in the
    caller's scope) plus `literals` into the used pipeline's inputs, typed by `inputs`; the
    `outputs` end (the uses step itself) evaluates the used pipeline's outputs (`values`, in
    its own scope) into the step's output."""

    role: str  # "inputs" | "outputs"
    file: str  # the used pipeline file
    values: Mapping[str, Template] = field(default_factory=dict)
    literals: Mapping[str, Any] = field(default_factory=dict)  # non-string `with:` values
    inputs: Mapping[str, InputSpec] = field(default_factory=dict)  # the used pipeline's


@dataclass(frozen=True)
class StepPlan:
    name: str
    agent: str | None  # key into Plan.agents; None for loop steps
    prompt: Template | None
    depends_on: tuple[str, ...]  # direct upstream steps: needs ∪ template refs (sorted)
    when: Template | None = None
    output_format: str = "text"  # "text" | "json"
    output_schema: Mapping[str, Any] | None = None
    retry: RetrySpec = RetrySpec()
    timeout: float | None = None  # seconds per attempt, defaults already applied
    for_each: Template | None = None
    item_var: str = "item"
    model: str | None = None  # effective per-step override (None: the agent's model)
    loop: LoopPlan | None = None
    budget: BudgetSpec | None = None  # the step's own limits (not in the fingerprint)
    scope: str = ""  # the sub-pipeline step it belongs to ("review" for review.draft)
    uses: UsesPlan | None = None  # an end of a sub-pipeline (no agent)
    fingerprint: str = (
        ""  # sha256 over what defines the step; resume re-runs a step whose fingerprint changed
    )
    approval: ApprovalPlan | None = None  # not in the fingerprint: it decides *whether*, not what
    cache: bool = False  # reuse an earlier run's output for the same cache key (run.cache)
    mark: Mark = NO_MARK


@dataclass(frozen=True)
class Plan:
    name: str
    description: str
    source: str  # the pipeline file path as given
    source_hash: str
    inputs: Mapping[str, InputSpec]
    defaults: DefaultsSpec
    agents: Mapping[str, AgentSpec]
    shared_blocks: Mapping[str, BlockSpec]
    steps: Mapping[str, StepPlan]  # top level, in topological order
    graph: nx.DiGraph  # nodes: step names (attrs: agent); edges: upstream -> downstream (frozen)
    levels: tuple[tuple[str, ...], ...]  # steps that may run in parallel, level by level
    outputs: Mapping[str, Template]
    env_refs: frozenset[str] = field(default_factory=frozenset)  # ${env:VAR} names used
    warnings: tuple[Issue, ...] = ()  # severity "warning" issues (unused agents, inputs...)
    used_files: Mapping[str, str] = field(
        default_factory=dict
    )  # sub-pipelines: resolved -> as read
