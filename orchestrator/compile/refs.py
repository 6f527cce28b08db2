"""Static analysis of one Jinja template: which names it reads, and how.

Owns: parsing a template once (cached by source: generated pipelines repeat templates) and
walking its AST into `Access`es such as ('steps', ('draft', 'output')) for
`steps.draft.output` or `steps['draft'].output`, plus the names it defines itself and the
filters/tests it uses. Jinja's own `loop` inside `{% for %}` is told apart from ours.

Must not: decide what is allowed (check.py does, knowing the pipeline).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jinja2
from jinja2 import nodes

from orchestrator.compile.templates import environment

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


@functools.lru_cache(maxsize=8192)
def analyze(source: str) -> Analysis:
    """What `source` reads. Common templates take the fast path (fastrefs.py), the rest
    Jinja's own parser; both give the same Analysis."""
    from orchestrator.compile.fastrefs import fast_analysis  # it builds on this module

    return fast_analysis(source) or jinja_analysis(source)


def jinja_analysis(source: str) -> Analysis:
    """The reference analysis: Jinja's own parser (handles the whole language)."""
    try:
        tree = environment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return Analysis(syntax_error=exc.message or "invalid template", syntax_line=exc.lineno)
    walker = _Walker()
    walker.visit(tree, False)
    return Analysis(tuple(walker.accesses), frozenset(walker.defined),
                    frozenset(walker.filters), frozenset(walker.tests))


class _Walker:
    def __init__(self) -> None:
        self.accesses: list[Access] = []
        self.defined: set[str] = set()
        self.filters: set[str] = set()
        self.tests: set[str] = set()

    def visit(self, node: nodes.Node, in_for: bool) -> None:
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
