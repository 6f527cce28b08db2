"""What the Jinja sandbox would refuse at run time, found in a template's text at compile time.

Owns `sandbox_problems(source)`: attribute access to names starting with `__` (anywhere) or
with `_`, to `mro` and to the frame/code attributes of generators and coroutines (on what is
not pipeline data: a literal, a global such as `cycler`, a call's result); the same names
through `|attr('...')` or a constant subscript; and format-string fields that reach such an
attribute (`'{0.__class__}'.format(x)`). Each would fail the step when it renders, after
the steps before it spent their tokens; `validate` reports it instead.

Pipeline data is read by key first (`steps.x.output._id` reads the key `_id` of a JSON
reply, see sandbox.BoundedSandbox.getattr), so a single `_` or `mro` under `inputs`,
`steps`, `loop` or a template variable is not flagged: only `__` names are, as no JSON
reply of a step is expected to carry them.

Must not: know the pipeline (check.py does); it sees one template's text.
"""

from __future__ import annotations

import functools
import re
import string

import jinja2
from jinja2 import nodes
from jinja2.sandbox import (
    UNSAFE_ASYNC_GENERATOR_ATTRIBUTES,
    UNSAFE_COROUTINE_ATTRIBUTES,
    UNSAFE_FUNCTION_ATTRIBUTES,
    UNSAFE_GENERATOR_ATTRIBUTES,
    UNSAFE_METHOD_ATTRIBUTES,
)

from orchestrator.compile.templates import environment

_INTERNAL = frozenset(
    {
        "mro",
        *UNSAFE_FUNCTION_ATTRIBUTES,
        *UNSAFE_METHOD_ATTRIBUTES,
        *UNSAFE_GENERATOR_ATTRIBUTES,
        *UNSAFE_COROUTINE_ATTRIBUTES,
        *UNSAFE_ASYNC_GENERATOR_ATTRIBUTES,
    }
)
# Only templates with one of these can hold such an access: the rest is not parsed again.
_SUSPECT = re.compile(r"__|[.'\"]\s*_|\b(?:mro|format|format_map|attr|self)\b|_frame|_code")
HINT = (
    "templates read the pipeline's data (inputs, steps, loop), never Python's "
    "internals: the step would fail when it renders"
)


def sandbox_problems(source: str, data: frozenset[str] = frozenset()) -> list[str]:
    """Messages for what the sandbox would refuse in `source` (which parses). `data`:
    variable names that hold pipeline data (besides inputs, steps, loop)."""
    if not _SUSPECT.search(source):
        return []
    return list(_problems(source, data))


@functools.lru_cache(maxsize=4096)
def _problems(source: str, data: frozenset[str]) -> tuple[str, ...]:
    try:
        tree = environment().parse(source)
    except (jinja2.TemplateSyntaxError, RecursionError, MemoryError):
        return ()  # reported by check.py already
    found: dict[str, None] = {}
    roots = {"inputs", "steps", "loop", *data}
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Call)):
        if isinstance(node, nodes.Filter):
            if (
                node.name == "attr"
                and node.node is not None
                and node.args
                and isinstance(node.args[0], nodes.Const)
            ):
                _judge(str(node.args[0].value), _on_data(node.node, roots), "|attr", found)
        elif isinstance(node, nodes.Call):
            _format_fields(node, found)
        elif isinstance(node, nodes.Getattr):
            _judge(node.attr, _on_data(node.node, roots), "", found)
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
        ):
            _judge(node.arg.value, _on_data(node.node, roots), "", found)
    return tuple(found)


def _judge(name: str, on_data: bool, how: str, found: dict[str, None]) -> None:
    refused = name.startswith("__") or (not on_data and (name.startswith("_") or name in _INTERNAL))
    if refused:
        via = f" (through {how})" if how else ""
        found[f"attribute '{name}' is refused by the sandbox{via}"] = None


def _on_data(node: nodes.Node, roots: set[str]) -> bool:
    """Whether `node` is a chain of attributes and subscripts under a data variable."""
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        node = node.node
    return isinstance(node, nodes.Name) and node.name in roots


def _format_fields(call: nodes.Call, found: dict[str, None]) -> None:
    """`'{0.__class__}'.format(x)`: a constant format string whose fields reach internals."""
    target = call.node
    if not (
        isinstance(target, nodes.Getattr)
        and target.attr in ("format", "format_map")
        and isinstance(target.node, nodes.Const)
        and isinstance(target.node.value, str)
    ):
        return
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(target.node.value) if f]
    except ValueError:
        return  # str.format itself will say what is wrong
    for field in fields:
        for part in re.split(r"[.\[\]]", field)[1:]:
            if part.startswith("_") or part in _INTERNAL:
                found[f"format field '{{{field}}}' reaches '{part}', which the sandbox refuses"] = (
                    None
                )
