"""`compile_pipeline(spec) -> Plan`: check every template and reference, derive the
dependencies (needs ∪ steps read by templates), reject cycles, level the DAG, fingerprint
each step, and freeze the result. Every problem is collected into one `CompileError`;
warnings (unused agents/inputs, outputs nobody reads) ride along on `Plan.warnings`.

Must not: do I/O, render templates with data, or know about Letta.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import networkx as nx

from orchestrator.compile import dag
from orchestrator.compile.check import Scope, check_template, renamed, step_visible
from orchestrator.compile.fingerprint import agent_payload, env_refs, step_fingerprint
from orchestrator.compile.lint import unused_warnings
from orchestrator.compile.plan import ApprovalPlan, LoopPlan, Plan, StepPlan, Template
from orchestrator.compile.subpipelines import (
    INPUTS,
    Expanded,
    check_with,
    expand,
    inner_summary,
)
from orchestrator.errors import CompileError, Issue
from orchestrator.spec.model import Mark, PipelineSpec, StepSpec
from orchestrator.spec.suggest import did_you_mean
from orchestrator.spec.uses import Use

STEP_FIELDS = ("prompt", "when", "for_each")


def compile_pipeline(spec: PipelineSpec, uses: Mapping[str, Use] | None = None) -> Plan:
    """The immutable plan of a validated spec; `CompileError` carries every problem.
    `uses`: what its `uses:` steps name, as `spec.uses.read_uses` read it."""
    return _Compiler(spec, uses).compile()


def _text_output(step: StepSpec) -> bool:
    """Whether the step's output is one string (a for_each step's is a list of them)."""
    return not step.loop and not step.for_each and not step.uses and step.output.format == "text"


def _compiled_use(
    use: Use | None, written: str
) -> tuple[Plan | None, list[Issue], tuple[str, str]]:
    """(its plan, or None with the problems inside the used file and the call site's)."""
    if use is None:
        return (
            None,
            [],
            (
                f"'{written}' was not read",
                "compile it with load_plan, which reads the files a pipeline uses",
            ),
        )
    if use.problem is not None:  # a path refused, a cycle
        return None, [], use.problem
    inner = [i for i in use.issues if i.severity == "error"]
    if use.spec is not None and not inner:
        try:
            return compile_pipeline(use.spec, use.uses), [], ("", "")
        except CompileError as exc:
            inner = [i for i in exc.issues if i.severity == "error"]
    if use.spec is None and all(i.line == 0 for i in inner):
        # not read at all (no such file, not one document): said where it is named
        return (
            None,
            [],
            (
                f"'{written}': " + "; ".join(i.message for i in inner),
                inner[0].hint if inner else "",
            ),
        )
    return None, inner, inner_summary(inner, written)


class _Compiler:
    """One compilation: walks every step once, collecting issues and what is read."""

    def __init__(self, spec: PipelineSpec, uses: Mapping[str, Use] | None = None):
        self.spec = spec
        self.issues: list[Issue] = []
        self.used = self._used(uses or {})  # uses step -> the used pipeline's plan
        self.loops = {n: tuple(s.loop.steps) for n, s in spec.steps.items() if s.loop}
        self.read: set[str] = set()  # steps read by any template or needs
        self.inputs_read: set[str] = set()
        self.agents_used: set[str] = set()
        self.agent_payloads = {
            name: agent_payload(a, spec.shared_blocks) for name, a in spec.agents.items()
        }

    def compile(self) -> Plan:
        spec = self.spec
        top = self._scope()
        plans, deps = {}, {}
        agents, blocks = dict(spec.agents), dict(spec.shared_blocks)
        for name, step in spec.steps.items():
            if step.uses is not None:
                expanded = self._uses_step(step, f"steps.{name}", top)
                plans.update(expanded.steps)
                deps.update(expanded.deps)
                agents.update(expanded.agents)
                blocks.update(expanded.shared_blocks)
                continue
            compile_one = self._loop_step if step.loop else self._agent_step
            plans[name], deps[name] = compile_one(step, f"steps.{name}", top)
        outputs = {
            name: self._template(
                source, f"outputs.{name}", spec.output_marks.get(name, Mark(spec.file, 0, 0)), top
            )
            for name, source in spec.outputs.items()
        }
        graph, order, levels = self._dag(deps, plans, "steps", spec.steps)
        errors = any(i.severity == "error" for i in self.issues)
        # With parts left out (spec.gaps), "never used / never read" cannot be told.
        warnings = (
            []
            if spec.gaps.partial
            else unused_warnings(spec, self.read, self.inputs_read, self.agents_used, errors)
        )
        if errors:
            raise CompileError(self.issues + warnings)
        return Plan(
            name=spec.name,
            description=spec.description,
            source=spec.file,
            source_hash=spec.source_hash,
            inputs=spec.inputs,
            defaults=spec.defaults,
            agents=agents,
            shared_blocks=blocks,
            steps={name: plans[name] for name in order},
            graph=graph,
            levels=levels,
            outputs=outputs,
            env_refs=env_refs(spec).union(*(p.env_refs for p in self.used.values())),
            warnings=tuple(sorted(warnings)),
        )

    def _scope(self, body: Mapping[str, StepSpec] | None = None, **kwargs: Any) -> Scope:
        gaps = self.spec.gaps
        body = body or {}
        text = {n for n, s in self.spec.steps.items() if n not in body and _text_output(s)}
        text |= {n for n, s in body.items() if _text_output(s)}
        # A sub-pipeline that could not be compiled: its outputs are unknown.
        failed = {n for n, s in self.spec.steps.items() if s.uses and n not in self.used}
        return Scope(
            inputs=self.spec.inputs,
            top_steps=self.spec.steps,
            loops=self.loops,
            opaque=gaps.steps | failed,
            any_input=gaps.inputs,
            any_body_step=gaps.loop_bodies,
            body=tuple(body),
            text_steps=frozenset(text),
            subs={n: tuple(p.outputs) for n, p in self.used.items()},
            **kwargs,
        )

    def _used(self, uses: Mapping[str, Use]) -> dict[str, Plan]:
        """Each `uses:` step's pipeline, compiled on its own; what is wrong with it (or with
        the path) is reported inside the used file and at the call site."""
        plans = {}
        for name, step in self.spec.steps.items():
            if step.uses is None:
                continue
            plan, inner, problem = _compiled_use(uses.get(name), step.uses)
            if plan is not None:
                plans[name] = plan
                self.issues.extend(check_with(step, plan, f"steps.{name}"))
                continue
            mark = step.field_marks.get("uses", step.mark)
            self.issues.extend(i for i in inner if i not in self.issues)
            self.issues.append(
                Issue(mark.file, mark.line, mark.col, f"steps.{name}.uses", *problem)
            )
        return plans

    def _uses_step(self, step: StepSpec, prefix: str, top: Scope) -> Expanded:
        own = top.with_owner(step.name)
        values = {}
        for key, value in step.with_.items():
            if isinstance(value, str):
                values[key] = self._template(
                    value,
                    f"{prefix}.with.{key}",
                    step.field_marks.get(f"with.{key}", step.mark),
                    own,
                    step.field_marks.get(f"with.{key}#block"),
                )
        templates = self._fields(step, prefix, own)  # `when`
        deps = self._needs(step, prefix, own) | {s for t in templates.values() for s in t.steps}
        deps |= {s for t in values.values() for s in t.steps}
        used = self.used.get(step.name)
        if used is None or INPUTS in used.steps:  # reported: a step of unknown shape
            plan = StepPlan(
                name=step.name,
                agent=None,
                prompt=None,
                depends_on=tuple(sorted(deps)),
                mark=step.mark,
            )
            return Expanded({step.name: plan}, {step.name: deps}, {}, {})
        return expand(step, used, values, templates.get("when"), deps)

    def _template(
        self, source: str, path: str, mark: Mark, scope: Scope, block: Mark | None = None
    ) -> Template:
        checked = check_template(source, path, mark, scope, block)
        self.issues.extend(checked.issues)
        self.read |= checked.template.steps
        self.inputs_read |= checked.template.inputs
        if checked.reads_all_inputs:  # `inputs[name]` or `inputs` as a whole
            self.inputs_read |= set(self.spec.inputs)
        return checked.template

    def _fields(self, step: StepSpec, prefix: str, scope: Scope) -> dict[str, Template]:
        result = {}
        # The item variable exists only while rendering each item's prompt.
        item_scope = scope.with_item(step.item_var) if step.for_each else scope
        for field in STEP_FIELDS:
            source = getattr(step, field)
            if source is None:
                continue
            here = item_scope if field == "prompt" else scope
            result[field] = self._template(
                source,
                f"{prefix}.{field}",
                step.field_marks.get(field, step.mark),
                here,
                step.field_marks.get(f"{field}#block"),
            )
        return result

    def _needs(self, step: StepSpec, prefix: str, scope: Scope) -> set[str]:
        found = set()
        for i, need in enumerate(step.needs):
            mark = step.field_marks.get(f"needs[{i}]", step.mark)
            path = f"{prefix}.needs[{i}]"

            def problem(message: str, hint: str = "", mark: Mark = mark, path: str = path) -> None:
                self.issues.append(Issue(mark.file, mark.line, mark.col, path, message, hint))

            if step_visible(need, scope, problem, via_needs=True):
                found.add(need)
        self.read |= found
        return found

    def _agent_step(self, step: StepSpec, prefix: str, scope: Scope) -> tuple[StepPlan, set[str]]:
        scope = scope.with_owner(step.name)
        if (
            step.agent is not None
            and step.agent not in self.spec.agents  # None: spec said
            and not self.spec.gaps.agents
            and not renamed(step.agent, self.spec.agents)
        ):
            mark = step.field_marks.get("agent", step.mark)
            self.issues.append(
                Issue(
                    mark.file,
                    mark.line,
                    mark.col,
                    f"{prefix}.agent",
                    f"unknown agent '{step.agent}'",
                    did_you_mean(step.agent, self.spec.agents, fallback="declare it under agents:"),
                )
            )
        if step.agent is not None:
            self.agents_used.add(step.agent)
        templates = self._fields(step, prefix, scope)
        deps = self._needs(step, prefix, scope)
        for t in templates.values():
            deps |= t.steps
        agent = self.spec.agents.get(step.agent) if step.agent is not None else None
        payload = self.agent_payloads.get(step.agent) if step.agent is not None else None
        model = step.model or (agent.model if agent else None) or self.spec.defaults.model
        approval = self._approval(step, prefix, scope)
        if approval is not None and approval.prompt is not None:
            deps |= approval.prompt.steps
        plan = StepPlan(
            name=step.name,
            agent=step.agent,
            prompt=templates.get("prompt"),
            depends_on=tuple(sorted(deps)),
            when=templates.get("when"),
            output_format=step.output.format,
            output_schema=step.output.schema,
            retry=step.retries or self.spec.defaults.retries,
            timeout=step.timeout if step.timeout is not None else self.spec.defaults.timeout,
            for_each=templates.get("for_each"),
            item_var=step.item_var,
            model=step.model,
            budget=step.budget,
            fingerprint=step_fingerprint(step, payload, model),
            approval=approval,
            cache=step.cache,
            mark=step.mark,
        )
        return plan, deps

    def _approval(self, step: StepSpec, prefix: str, scope: Scope) -> ApprovalPlan | None:
        gate = step.approval
        if gate is None:
            return None
        prompt = None
        if gate.prompt is not None:  # it sees the item, or (after a plain step) `output`
            here = (
                scope.with_item(step.item_var)
                if step.for_each
                else (scope.with_item("output") if gate.after else scope)
            )
            prompt = self._template(
                gate.prompt,
                f"{prefix}.approval.prompt",
                step.field_marks.get("approval.prompt", step.mark),
                here,
                step.field_marks.get("approval.prompt#block"),
            )
        return ApprovalPlan(
            before=gate.before,
            after=gate.after,
            prompt=prompt,
            timeout=gate.timeout,
            on_timeout=gate.on_timeout,
            on_reject=gate.on_reject,
        )

    def _loop_step(self, step: StepSpec, prefix: str, top: Scope) -> tuple[StepPlan, set[str]]:
        loop = step.loop
        assert loop is not None  # compile() sends only loop steps here
        inner = self._scope(body=loop.steps, loop_step=step.name, loop_vars=True)
        plans, body_deps, outer = {}, {}, set()
        for name, body_step in loop.steps.items():
            plan, deps = self._agent_step(body_step, f"{prefix}.loop.steps.{name}", inner)
            body_deps[name] = {d for d in deps if d in loop.steps}
            outer |= deps - body_deps[name]
            plans[name] = dataclasses.replace(plan, depends_on=tuple(sorted(body_deps[name])))
        until = None
        if loop.until is not None:
            scope = inner.with_owner(step.name)
            until = self._template(
                loop.until,
                f"{prefix}.loop.until",
                step.field_marks.get("loop.until", step.mark),
                scope,
                step.field_marks.get("loop.until#block"),
            )
            outer |= {s for s in until.steps if s not in loop.steps}
        graph, order, _ = self._dag(body_deps, plans, f"{prefix}.loop.steps", loop.steps)
        own = top.with_owner(step.name)
        templates = self._fields(step, prefix, own)
        deps = (
            outer
            | self._needs(step, prefix, own)
            | {s for t in templates.values() for s in t.steps}
        )
        body_fps = {name: plans[name].fingerprint for name in order}
        plan = StepPlan(
            name=step.name,
            agent=None,
            prompt=None,
            depends_on=tuple(sorted(deps)),
            when=templates.get("when"),
            loop=LoopPlan(
                max_iterations=loop.max_iterations,
                until=until,
                steps={name: plans[name] for name in order},
                graph=graph,
            ),
            budget=step.budget,
            fingerprint=step_fingerprint(step, None, None, body_fps),
            mark=step.mark,
        )
        return plan, deps

    def _dag(
        self,
        deps: dict[str, set[str]],
        plans: Mapping[str, StepPlan],
        prefix: str,
        steps: Mapping[str, StepSpec],
    ) -> tuple[nx.DiGraph, list[str], tuple[tuple[str, ...], ...]]:
        attrs = {
            name: {"agent": plans[name].agent, "kind": "loop" if plans[name].loop else "agent"}
            for name in deps
        }
        graph = dag.build_graph(deps, attrs)
        cycles = dag.cycle_issues(graph, prefix, {n: s.mark for n, s in steps.items()})
        self.issues.extend(cycles)
        if cycles:
            return nx.freeze(graph), list(deps), ()
        order, levels = dag.order_and_levels(graph)
        return nx.freeze(graph), order, levels
