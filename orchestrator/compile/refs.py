"""Static analysis of one Jinja template: which names it reads, and how.

Owns: parsing a template once (cached by source: generated pipelines repeat templates) and
walking its AST into `Access`es such as ('steps', ('draft', 'output')) for
`steps.draft.output` or `steps['draft'].output`, plus the names it defines itself and the
filters/tests it uses. Jinja's own `loop` inside `{% for %}` is told apart from ours.

Also owns the template limits (`spec.limits`): a template longer than MAX_TEMPLATE_CHARS,
with brackets nested deeper than MAX_TEMPLATE_NESTING or an expression tree deeper than
MAX_TEMPLATE_DEPTH is not parsed further (Jinja's parser and compiler recurse per level):
its Analysis carries `limit_error` instead, for check.py to report.

Must not: decide what is allowed (check.py does, knowing the pipeline).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jinja2
from jinja2 import nodes

from orchestrator.compile.templates import environment
from orchestrator.spec.limits import MAX_TEMPLATE_CHARS, MAX_TEMPLATE_DEPTH, MAX_TEMPLATE_NESTING

DYNAMIC = None  # a part computed at run time, e.g. steps[name]


@dataclass(frozen=True)
class Access:
    name: str  # the variable read: steps, inputs, loop, an item variable...
    parts: tuple  # attribute / constant-subscript chain after it; DYNAMIC where computed
    in_for: bool  # inside a Jinja {% for %} body (where `loop` is Jinja's own)


@dataclass(frozen=True)
class Analysis:
    accesses: tuple[Access, ...] = ()
    defined: frozenset[str] = frozenset()  # names the template assigns ({% set %}, for targets)
    filters: frozenset[str] = frozenset()
    tests: frozenset[str] = frozenset()
    syntax_error: str = ""  # Jinja's message when the template does not parse
    syntax_line: int = 0  # 1-based line of the syntax error inside the template
    limit_error: str = ""  # the template breaks a size limit (and was not analysed)


@functools.lru_cache(maxsize=8192)
def analyze(source: str) -> Analysis:
    """What `source` reads. Common templates take the fast path (fastrefs.py), the rest
    Jinja's own parser; both give the same Analysis."""
    from orchestrator.compile.fastrefs import fast_analysis  # it builds on this module

    too_big = size_problem(source)
    if too_big:
        return Analysis(limit_error=too_big)
    return fast_analysis(source) or jinja_analysis(source)


def size_problem(source: str) -> str:
    """Why `source` is too large to parse safely, or ""."""
    if len(source) > MAX_TEMPLATE_CHARS:
        return (
            f"template too long: {len(source):,} characters (the limit is {MAX_TEMPLATE_CHARS:,})"
        )
    # Cheap first: a template with few brackets cannot nest them deeply.
    if sum(source.count(c) for c in "([{") - 2 * source.count("{{") <= MAX_TEMPLATE_NESTING:
        return ""
    if bracket_depth(source) > MAX_TEMPLATE_NESTING:
        return f"brackets nested deeper than {MAX_TEMPLATE_NESTING} levels in a template"
    return ""


def bracket_depth(source: str) -> int:
    """The deepest nesting of ( [ { inside the template's {{ }} and {% %} tags."""
    deepest = depth = 0
    i, inside, end = 0, False, len(source)
    while i < end:
        pair = source[i : i + 2]
        if not inside and pair in ("{{", "{%"):
            inside, depth, i = True, 0, i + 2
            continue
        if inside and depth == 0 and pair in ("}}", "%}"):
            inside, i = False, i + 2
            continue
        if inside:
            char = source[i]
            if char in "([{":
                depth += 1
                deepest = max(deepest, depth)
            elif char in ")]}":
                depth = max(depth - 1, 0)
        i += 1
    return deepest


def jinja_analysis(source: str) -> Analysis:
    """The reference analysis: Jinja's own parser (handles the whole language)."""
    try:
        tree = environment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return Analysis(syntax_error=exc.message or "invalid template", syntax_line=exc.lineno)
    except (RecursionError, MemoryError):  # e.g. `not not not ...`: one parser frame each
        return Analysis(limit_error=_TOO_DEEP)
    walker = _Walker()
    try:
        walker.visit(tree, False)
    except _TooDeep:
        return Analysis(limit_error=_TOO_DEEP)
    return Analysis(
        tuple(walker.accesses),
        frozenset(walker.defined),
        frozenset(walker.filters),
        frozenset(walker.tests),
    )


_TOO_DEEP = f"template expression nested deeper than {MAX_TEMPLATE_DEPTH} levels"


class _TooDeep(Exception):
    pass


class _Walker:
    def __init__(self) -> None:
        self.accesses: list[Access] = []
        self.defined: set[str] = set()
        self.filters: set[str] = set()
        self.tests: set[str] = set()
        self.depth = 0

    def visit(self, node: nodes.Node, in_for: bool) -> None:
        self.depth += 1
        if self.depth > MAX_TEMPLATE_DEPTH:
            raise _TooDeep
        try:
            self._visit(node, in_for)
        finally:
            self.depth -= 1

    def _visit(self, node: nodes.Node, in_for: bool) -> None:
        if isinstance(node, nodes.Getattr | nodes.Getitem):
            self._chain(node, in_for)
        elif isinstance(node, nodes.Name):
            if node.ctx == "load":
                self.accesses.append(Access(node.name, (), in_for))
            else:
                self.defined.add(node.name)
        elif isinstance(node, nodes.Macro):
            self.defined.update((node.name, "caller", "varargs", "kwargs"))
            for child in node.iter_child_nodes():
                self.visit(child, in_for)
        elif isinstance(node, nodes.For):
            self.visit(node.target, in_for)
            self.visit(node.iter, in_for)
            for child in [*node.body, *node.else_, *([node.test] if node.test else [])]:
                self.visit(child, True)
        else:
            if isinstance(node, nodes.Filter) and node.name:
                self.filters.add(node.name)
            elif isinstance(node, nodes.Test):
                self.tests.add(node.name)
            for child in node.iter_child_nodes():
                self.visit(child, in_for)

    def _chain(self, node: nodes.Node, in_for: bool) -> None:
        parts: list = []
        computed: list[nodes.Node] = []
        while isinstance(node, nodes.Getattr | nodes.Getitem):
            if len(parts) + self.depth > MAX_TEMPLATE_DEPTH:  # Jinja compiles a chain recursively
                raise _TooDeep
            if isinstance(node, nodes.Getattr):
                parts.append(node.attr)
            elif isinstance(node.arg, nodes.Const):
                parts.append(node.arg.value)
            else:
                parts.append(DYNAMIC)
                computed.append(node.arg)
            node = node.node
        if isinstance(node, nodes.Name) and node.ctx == "load":
            self.accesses.append(Access(node.name, tuple(reversed(parts)), in_for))
        else:
            self.visit(node, in_for)
        for arg in computed:
            self.visit(arg, in_for)
