"""The one Jinja environment: sandboxed, strict, bounded, shared by compile-time checks and
run time.

Owns `environment()`, `render()` / `evaluate()` (what the runner calls for every step) and
`TemplateRenderError` / `TemplateLimitError`. A template that is exactly one `{{ expr }}`
*evaluates* to the native value (a bool for `when`, a list for `for_each`); anything else
renders to a string. Common templates (text plus simple expressions) are evaluated by
fastrender.py with Jinja's own runtime operations instead of being compiled (compiling
costs ~1 ms each); the rest are compiled once per source and cached. Every render runs
under sandbox.py's limits (output size, values made, render time).

Must not: know pipeline semantics (what `steps` or `inputs` mean: see `check.py`).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import jinja2

from orchestrator.compile import fastrender
from orchestrator.compile.plan import Template
from orchestrator.compile.sandbox import BoundedSandbox, LimitExceeded, render_budget
from orchestrator.errors import RunError

# `{{ expr }}` alone (whitespace and `-` trim markers allowed), with no other tag inside.
_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{-?(?P<expr>(?:(?!\{\{|\}\}|\{%|\{#).)*?)-?\}\}\s*$", re.S)


class TemplateRenderError(RunError):
    """A template failed at run time (undefined attribute, type error, sandbox violation).
    The message names the template's field path; it never contains context values."""

    def __init__(
        self, template: Template, problem: str, *, prefix: str = "cannot render template: "
    ):
        self.template = template
        self.problem = problem
        super().__init__(f"{template.path}: {prefix}{problem}")


class TemplateLimitError(TemplateRenderError):
    """A template went past a resource limit (output size, a value's size, render time),
    e.g. `steps.draft.prompt: template output exceeds 4,000,000 characters`."""

    def __init__(self, template: Template, problem: str):
        super().__init__(template, problem, prefix="")


def _tojson(value: Any, indent: int | None = None) -> str:
    # Jinja's own tojson HTML-escapes '<' and '&', which corrupts prompts sent to a model.
    return json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=False, default=str)


@functools.cache
def environment() -> BoundedSandbox:
    env = BoundedSandbox(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    env.bound_filter("tojson", _tojson)
    return env


def expression_source(source: str) -> str | None:
    """The inner expression if `source` is exactly one `{{ ... }}`, else None."""
    match = _SINGLE_EXPRESSION.match(source)
    return match.group("expr").strip() if match else None


@functools.lru_cache(maxsize=8192)
def compiled(source: str) -> jinja2.Template:
    return environment().from_string(source)


@functools.lru_cache(maxsize=8192)
def _compiled_expression(expr: str) -> Callable[..., Any]:
    return environment().compile_expression(expr, undefined_to_none=False)


def render(t: Template, context: Mapping[str, Any]) -> str:
    """Render `t` to text with `context` (inputs, steps, item/loop variables)."""
    env = environment()
    try:
        with render_budget():
            program = fastrender.program(t.source, env)
            if program is not None:
                return fastrender.render(program, env, context)
            return compiled(t.source).render(context)
    except LimitExceeded as exc:
        raise TemplateLimitError(t, str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - any Jinja/sandbox/type failure is the user's
        raise TemplateRenderError(t, _describe(exc)) from None


def evaluate(t: Template, context: Mapping[str, Any]) -> Any:
    """The native value of a single-expression template, else the rendered string."""
    expr = expression_source(t.source)
    if expr is None:
        return render(t, context)
    env = environment()
    try:
        with render_budget():
            node = fastrender.expression(expr, env)
            if node is not None:
                value = fastrender.evaluate(node, env, context)
            else:
                value = _compiled_expression(expr)(**context)
    except LimitExceeded as exc:
        raise TemplateLimitError(t, str(exc)) from None
    except Exception as exc:  # noqa: BLE001
        raise TemplateRenderError(t, _describe(exc)) from None
    if isinstance(value, jinja2.Undefined):
        # StrictUndefined only raises when *used*; a bare missing attribute must fail too.
        raise TemplateRenderError(t, _describe(jinja2.UndefinedError(_undefined_hint(value))))
    return value


def _undefined_hint(value: jinja2.Undefined) -> str:
    try:
        str(value)
    except jinja2.UndefinedError as exc:
        return str(exc)
    return "undefined value"


def _describe(exc: Exception) -> str:
    if isinstance(exc, jinja2.UndefinedError):
        return f"undefined: {exc}"
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"syntax error: {exc.message} (line {exc.lineno})"
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return f"blocked by the sandbox: {exc}"
    return f"{type(exc).__name__}: {exc}"
