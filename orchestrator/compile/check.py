"""Compile-time checks of one template against what it can see at run time.

Owns: turning a template source into a `Template` (with the steps and inputs it reads) and
the issues for: Jinja syntax errors, templates past a size limit, unknown filters, unknown or unreachable steps ("did you
mean"), steps inside a loop read from outside it, a step reading itself, dynamic
`steps[expr]`, undeclared inputs, misuse of `loop` / item variables, `${env:...}` in a
template, unknown step attributes, and a `when` / `until` / `for_each` that is not exactly
one `{{ expression }}` (as text it would always be true, or never a list).

Must not: build the graph or decide dependencies (compiler.py does, from `Template.steps`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from orchestrator.compile.plan import Template
from orchestrator.compile.refs import DYNAMIC, Access, analyze
from orchestrator.compile.templates import environment, expression_source
from orchestrator.compile.unsafe import HINT as SANDBOX_HINT
from orchestrator.compile.unsafe import sandbox_problems
from orchestrator.errors import Issue
from orchestrator.spec.limits import LIMIT_HINT
from orchestrator.spec.model import Mark
from orchestrator.spec.suggest import IDENTIFIER, as_identifier, did_you_mean, one_of

STEP_ATTRS = ("output", "ran", "status", "approval")
LOOP_STEP_ATTRS = (*STEP_ATTRS, "iterations")
LOOP_VARS = ("index", "first", "previous")
_STR_METHODS = frozenset(name for name in dir(str) if not name.startswith("_"))
_CALLED = re.compile(r"\.\s*([A-Za-z_]\w*)\s*\(")
# Fields whose template is an expression (the field is the last part of the template's path)
EXPRESSION_FIELDS = ("when", "until", "for_each")
ENV_IN_TEMPLATE_HINT = (
    "templates are recorded in run records: declare an input with "
    "secret: true and read it as {{ inputs.<name> }}"
)


class Problem(Protocol):
    """Reports one problem found at the place being checked."""

    def __call__(self, message: str, hint: str = "") -> None: ...


@dataclass(frozen=True)
class Scope:
    """What one template can see. `body`: the step names of the enclosing loop body (empty
    outside loops); `loop_step`: that loop's name; `item_var`: the for_each variable."""

    inputs: Collection[str]
    top_steps: Collection[str]
    loops: Mapping[str, Collection[str]]  # loop step -> its body step names
    owner: str | None = None  # the step the template belongs to (None: pipeline outputs)
    body: Collection[str] = ()
    loop_step: str | None = None
    item_var: str | None = None
    loop_vars: bool = False
    # Left open by a file with schema errors (see `spec.model.Gaps`): steps whose shape is
    # unknown, whether any input name may exist, whether any step name may be in a loop body.
    opaque: Collection[str] = ()
    any_input: bool = False
    any_body_step: bool = False
    # Steps (of top_steps and body) whose output is text: one string, with no attributes.
    text_steps: Collection[str] = ()
    subs: Mapping[str, Collection[str]] = field(default_factory=dict)  # uses step -> outputs

    # Positional copies: dataclasses.replace is ~10x slower, and compile makes one per step.
    def with_owner(self, owner: str) -> Scope:
        return Scope(
            self.inputs,
            self.top_steps,
            self.loops,
            owner,
            self.body,
            self.loop_step,
            self.item_var,
            self.loop_vars,
            self.opaque,
            self.any_input,
            self.any_body_step,
            self.text_steps,
            self.subs,
        )

    def with_item(self, item_var: str) -> Scope:
        return Scope(
            self.inputs,
            self.top_steps,
            self.loops,
            self.owner,
            self.body,
            self.loop_step,
            item_var,
            self.loop_vars,
            self.opaque,
            self.any_input,
            self.any_body_step,
            self.text_steps,
            self.subs,
        )


@dataclass
class Checked:
    template: Template
    issues: list[Issue] = field(default_factory=list)
    reads_all_inputs: bool = False  # `inputs[expr]` or `inputs` as a whole


def check_template(
    source: str, path: str, mark: Mark, scope: Scope, block: Mark | None = None
) -> Checked:
    """`block`: where the first line of a literal block (`|`) template is, if it is one."""
    analysis = analyze(source)
    issues: list[Issue] = []

    def problem(message: str, hint: str = "") -> None:
        issues.append(Issue(mark.file, mark.line, mark.col, path, message, hint))

    if "${env:" in source:
        problem("${env:...} is not allowed in templates", ENV_IN_TEMPLATE_HINT)
    if analysis.limit_error:
        problem(analysis.limit_error, f"split it into smaller templates or steps; {LIMIT_HINT}")
        return Checked(Template(source, path, mark=mark), issues)
    if analysis.syntax_error:
        issues.append(
            _syntax_issue(analysis.syntax_error, analysis.syntax_line, source, path, mark, block)
        )
        return Checked(Template(source, path, mark=mark), issues)
    if path.rsplit(".", 1)[-1] in EXPRESSION_FIELDS:
        _check_expression(source, path.rsplit(".", 1)[-1], problem)
    _check_filters(analysis.filters, analysis.tests, problem)
    data = frozenset(analysis.defined) | ({scope.item_var} if scope.item_var else set())
    for message in sandbox_problems(source, data):
        problem(message, SANDBOX_HINT)
    steps: set[str] = set()
    inputs: set[str] = set()
    reported: set[tuple] = set()
    calls = frozenset(_CALLED.findall(source)) if scope.text_steps else frozenset()
    for access in analysis.accesses:
        key = (access.name, access.parts[:1])
        if key in reported:
            continue  # one message per name, even when a template reads it ten times
        before = len(issues)
        _check_access(access, scope, analysis.defined, steps, inputs, problem, calls)
        if len(issues) > before:
            reported.add(key)
    whole = any(
        a.name == "inputs" and (not a.parts or a.parts[0] is DYNAMIC) for a in analysis.accesses
    )
    return Checked(Template(source, path, frozenset(steps), frozenset(inputs), mark), issues, whole)


def _syntax_issue(
    message: str, line: int, source: str, path: str, mark: Mark, block: Mark | None
) -> Issue:
    if block is not None:  # a literal block: template line N is file line block.line + N - 1
        return Issue(
            mark.file, block.line + line - 1, block.col, path, f"template syntax error: {message}"
        )
    where = f" (line {line} of the template)" if "\n" in source.rstrip("\n") else ""
    return Issue(mark.file, mark.line, mark.col, path, f"template syntax error: {message}{where}")


def _check_expression(source: str, field: str, problem: Problem) -> None:
    """`when`, `until` and `for_each` are evaluated only when they are exactly one
    `{{ expression }}`; anything else is text (non-empty text is always true), so it is an
    error rather than a condition that silently always holds."""
    if expression_source(source) is not None:
        return
    text = " ".join(source.split())
    if "{{" in source or "{%" in source:
        problem(
            f"{field} must be one {{{{ expression }}}}: text around one is {_as_text(field)}",
            "put the whole condition inside one pair of braces, e.g. "
            '"{{ steps.review.output.approved and not steps.fix.ran }}"',
        )
        return
    problem(
        f"{text!r} is text, not an expression, so it is {_as_text(field)}",
        f'write it as {field}: "{{{{ {text or "false"} }}}}"',
    )


def _as_text(field: str) -> str:
    return "never a list" if field == "for_each" else "always true"


def _check_filters(filters: Collection[str], tests: Collection[str], problem: Problem) -> None:
    env = environment()
    for name in sorted(filters):
        if name not in env.filters:
            problem(f"unknown filter '{name}'", did_you_mean(name, env.filters))
    for name in sorted(tests):
        if name not in env.tests:
            problem(f"unknown test '{name}'", did_you_mean(name, env.tests))


def _check_access(
    access: Access,
    scope: Scope,
    defined: Collection[str],
    steps: set[str],
    inputs: set[str],
    problem: Problem,
    calls: Collection[str] = (),
) -> None:
    name, parts = access.name, access.parts
    if name == "steps":
        _check_step(parts, scope, steps, problem, calls)
    elif name == "inputs":
        if parts and isinstance(parts[0], str):
            if (
                parts[0] not in scope.inputs
                and not scope.any_input
                and not renamed(parts[0], scope.inputs)
            ):
                problem(
                    f"undeclared input '{parts[0]}'",
                    did_you_mean(parts[0], scope.inputs, fallback="declare it under inputs:"),
                )
            inputs.add(parts[0])
    elif name == "loop" and not access.in_for:
        _check_loop_var(parts, scope, problem)
    elif name == scope.item_var or name in defined or name in environment().globals:
        return
    elif not (name == "loop" and access.in_for):
        visible = (
            ["inputs", "steps"]
            + ([scope.item_var] if scope.item_var else [])
            + (["loop"] if scope.loop_vars else [])
        )
        problem(
            f"unknown variable '{name}'",
            did_you_mean(name, visible, fallback=f"templates here can read {one_of(visible)}"),
        )


def _check_step(
    parts: tuple, scope: Scope, steps: set[str], problem: Problem, calls: Collection[str] = ()
) -> None:
    if not parts or parts[0] is DYNAMIC or not isinstance(parts[0], str):
        problem(
            "steps must be read by name, e.g. steps.research.output",
            "a computed steps[...] hides the dependency: name each step, "
            "and list steps that must run first in needs",
        )
        return
    target = parts[0]
    if not step_visible(target, scope, problem):
        return
    steps.add(target)
    if target in scope.opaque:
        return  # its shape is unknown: any attribute may be right
    attrs = LOOP_STEP_ATTRS if target in scope.loops else STEP_ATTRS
    if len(parts) > 1 and isinstance(parts[1], str) and parts[1] not in attrs:
        problem(
            f"step '{target}' has no attribute '{parts[1]}'",
            did_you_mean(parts[1], attrs, fallback=f"a step has {one_of(attrs)}"),
        )
    elif target in scope.text_steps and parts[1:2] == ("output",) and len(parts) > 2:
        _check_text_output(target, parts[2], problem, calls)
    elif target in scope.subs and parts[1:2] == ("output",) and len(parts) > 2:
        outputs = scope.subs[target]
        if isinstance(parts[2], str) and parts[2] not in outputs:
            problem(
                f"sub-pipeline step '{target}' has no output '{parts[2]}'",
                did_you_mean(
                    parts[2],
                    outputs,
                    fallback=f"its pipeline's outputs: {one_of(outputs)}"
                    if outputs
                    else "its pipeline declares none: add them under its outputs:",
                ),
            )
    elif target in scope.loops and parts[1:2] == ("output",) and len(parts) > 2:
        body = scope.loops[target]
        if isinstance(parts[2], str) and parts[2] not in body:
            problem(
                f"loop '{target}' has no body step '{parts[2]}'",
                did_you_mean(parts[2], body, fallback=f"its body steps: {one_of(body)}"),
            )


def _check_text_output(
    step: str, attribute: object, problem: Problem, calls: Collection[str]
) -> None:
    """`steps.draft.output.title` when draft's output is text: found now rather than when
    the step runs, after the steps before it spent their tokens. `calls`: the names the
    template calls as methods (`output.split(",")` is what text allows)."""
    if not isinstance(attribute, str) or (attribute in _STR_METHODS and attribute in calls):
        return
    problem(
        f"step '{step}' has text output, which has no attribute '{attribute}'",
        f"read the whole text as steps.{step}.output, or give '{step}' "
        "output: {format: json} to read fields of a JSON reply",
    )


def renamed(target: str, names: Collection[str]) -> bool:
    """Whether `target` is the identifier a badly written name stands for ('draft' for a
    step named 'Draft'): the name itself is reported, with 'draft' as the fix, so reading
    it as 'draft' is what the user should do, not an unknown name "meaning 'Draft'"."""
    return any(as_identifier(n) == target for n in names if not IDENTIFIER.match(n))


def step_visible(target: str, scope: Scope, problem: Problem, *, via_needs: bool = False) -> bool:
    """Whether `target` may be read (or needed) here; reports why not."""
    if target == scope.owner:
        problem(
            f"step '{target}' needs itself"
            if via_needs
            else f"step '{target}' reads its own output",
            "a step can only depend on steps that run before it",
        )
        return False
    if target in scope.body:
        return True
    if target == scope.loop_step:
        problem(
            f"a loop body cannot read its own loop step '{target}'",
            "read the previous iteration with loop.previous.<step>",
        )
        return False
    if target in scope.top_steps:
        return True
    for loop, body in scope.loops.items():
        if target in body:
            problem(
                f"step '{target}' is inside loop '{loop}'",
                f"read its last iteration as steps.{loop}.output.{target}",
            )
            return False
    if scope.any_body_step:
        return False  # it may be in a loop body that could not be read
    visible = [*scope.top_steps, *scope.body]
    if renamed(target, visible):
        return False
    problem(
        f"unknown step '{target}'",
        did_you_mean(target, visible, fallback=f"steps: {one_of(visible)}"),
    )
    return False


def _check_loop_var(parts: tuple, scope: Scope, problem: Problem) -> None:
    if not scope.loop_vars:
        problem(
            "'loop' is only defined inside a loop body",
            "loop.index, loop.first and loop.previous exist in loop.steps and loop.until",
        )
        return
    if parts and isinstance(parts[0], str) and parts[0] not in LOOP_VARS:
        problem(
            f"'loop' has no attribute '{parts[0]}'",
            did_you_mean(parts[0], LOOP_VARS, fallback=f"it has {one_of(LOOP_VARS)}"),
        )
    elif parts[:1] == ("previous",) and len(parts) > 1 and isinstance(parts[1], str):
        if parts[1] not in scope.body:
            problem(
                f"loop '{scope.loop_step}' has no body step '{parts[1]}'",
                did_you_mean(
                    parts[1], scope.body, fallback=f"its body steps: {one_of(scope.body)}"
                ),
            )
