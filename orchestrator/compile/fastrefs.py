"""A fast path for `refs.analyze`: most templates are text plus `{{ expressions }}`, and
Jinja's pure-Python lexer costs ~0.3 ms per short template, too much for a 2,000-step
pipeline. Jinja expressions in the common subset are also valid Python expressions with
the same names, attribute chains, filters and tests, so they can be read with the
C-implemented `ast` parser: `x | f(a)` parses as `x BitOr f(a)`, `x is defined` as a
comparison. Operator precedence differs in places (`a + b | f`), which changes neither
the names read nor validity.

Only a strict whitelist of node shapes takes this path; anything else (statements,
comments, string prefixes, `~`, dict literals...) returns None and goes through Jinja.
Tests check that both paths agree.

Each expression must be one complete expression on its own (balanced brackets): `)(` would
otherwise pass as part of the joined tuple below. Deep or huge expressions, which Python's
parser refuses (RecursionError, MemoryError), and trees deeper than MAX_TEMPLATE_DEPTH go
to Jinja too (refs.py words the limit).

Must not: be the only check: when in doubt, return None.
"""

from __future__ import annotations

import ast
import re

from orchestrator.compile.refs import DYNAMIC, Access, Analysis
from orchestrator.spec.limits import MAX_TEMPLATE_DEPTH

_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.S)
# Python accepts what Jinja rejects: comments, line continuations, string prefixes (r"", f"").
_UNSAFE = re.compile(r"[#\\{}@]")
_STRING = re.compile(r"'[^'\\]*'|\"[^\"\\]*\"")
_BRACKET = re.compile(r"[()\[\]'\"]")
_UNARY = (ast.Not, ast.USub, ast.UAdd)
_BINARY = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod)
_COMPARE = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
_CONSTANTS = (str, int, float, bool, type(None))
_JINJA_CONSTANT_NAMES = ("true", "false", "none", "True", "False", "None")
_JINJA_CONSTANTS = {"true": True, "false": False, "none": None}
# `x is divisibleby 3`: a Jinja test takes one argument without parentheses, so a name or
# literal after a test's name (other than and/or/else) is read differently by Python.
_TEST_ARGUMENT = re.compile(
    r"\bis\s+(?:not\s+)?(?!not\b)[A-Za-z_]\w*\s+(?!(?:and|or|else)\b)[\w'\"\[]"
)


def fast_analysis(source: str) -> Analysis | None:
    """The template's Analysis when it only uses the simple subset, else None."""
    if "{%" in source or "{#" in source:
        return None
    expressions = [_strip_markers(m.group(1)) for m in _EXPRESSION.finditer(source)]
    for expr in expressions:
        if (
            not expr.strip()
            or _UNSAFE.search(expr)
            or _prefixed_string(expr)
            or not _balanced(expr)
            or _TEST_ARGUMENT.search(expr)
        ):
            return None
    if "{{" in _EXPRESSION.sub("", source):
        return None  # an unclosed `{{`: let Jinja word the syntax error
    # One parse for all expressions (the per-call cost dominates for short ones): each in
    # its own parentheses, as a tuple. An expression that is not one complete expression
    # on its own ("a), (b") either fails to parse or changes the element count.
    joined = "".join(f"(\n{expr}\n)," for expr in expressions)
    try:
        tree = ast.parse(joined or "()", mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    items = tree.body.elts if type(tree.body) is ast.Tuple else None
    if items is None or len(items) != len(expressions):
        return None
    reader = _Reader()
    try:
        if not all(reader.expr(item) for item in items):
            return None
    except _TooDeep:
        return None
    return Analysis(
        tuple(reader.accesses), filters=frozenset(reader.filters), tests=frozenset(reader.tests)
    )


def _balanced(expr: str) -> bool:
    """Whether every bracket outside string literals closes in order (and no quote is left
    open): the expression stands alone."""
    depth = []
    for char in _BRACKET.findall(_STRING.sub("", expr)):
        if char in "([":
            depth.append(char)
        elif char in "'\"" or not depth or depth.pop() != ("(" if char == ")" else "["):
            return False
    return not depth


def _prefixed_string(expr: str) -> bool:
    """A string literal glued to a name (r'x', f"y"): a prefix in Python, an error in Jinja."""
    return any(
        m.start() and (expr[m.start() - 1].isalnum() or expr[m.start() - 1] == "_")
        for m in _STRING.finditer(expr)
    )


def _strip_markers(expr: str) -> str:
    # `{{- x -}}` / `{{+ x +}}` are whitespace control, not part of the expression.
    if expr[:1] in ("-", "+"):
        expr = expr[1:]
    if expr[-1:] in ("-", "+"):
        expr = expr[:-1]
    return expr


class _TooDeep(Exception):
    pass


class _Reader:
    """One hand-written pass per expression (`ast.walk` costs more than the parse)."""

    def __init__(self) -> None:
        self.accesses: list[Access] = []
        self.filters: set[str] = set()
        self.tests: set[str] = set()
        self.depth = 0

    def expr(self, node: ast.AST) -> bool:
        """Record what `node` reads; False as soon as it leaves the subset."""
        self.depth += 1
        if self.depth > MAX_TEMPLATE_DEPTH:
            raise _TooDeep
        try:
            return self._expr(node)
        finally:
            self.depth -= 1

    def _expr(self, node: ast.AST) -> bool:
        kind = type(node)
        if kind is ast.Name:
            if node.id not in _JINJA_CONSTANT_NAMES:
                self.accesses.append(Access(node.id, (), False))
            return True
        if kind is ast.Constant:
            return isinstance(node.value, _CONSTANTS)
        if kind is ast.Attribute or kind is ast.Subscript:
            return self._chain(node)
        if kind is ast.BinOp:
            if type(node.op) is ast.BitOr:
                return self.expr(node.left) and self._named_call(node.right, self.filters)
            return isinstance(node.op, _BINARY) and self.expr(node.left) and self.expr(node.right)
        if kind is ast.Compare:
            return self._compare(node)
        if kind is ast.Call:
            return self._call(node)
        return self._compound(node)

    def _compound(self, node: ast.AST) -> bool:
        kind = type(node)
        if kind is ast.BoolOp:
            return all(self.expr(value) for value in node.values)
        if kind is ast.UnaryOp:
            return isinstance(node.op, _UNARY) and self.expr(node.operand)
        if kind is ast.IfExp:
            return self.expr(node.test) and self.expr(node.body) and self.expr(node.orelse)
        if kind is ast.List or kind is ast.Tuple:
            return all(self.expr(item) for item in node.elts)
        if kind is ast.Slice:
            return all(self.expr(part) for part in (node.lower, node.upper, node.step) if part)
        return False

    def _compare(self, node: ast.Compare) -> bool:
        if len(node.ops) == 1 and type(node.ops[0]) in (ast.Is, ast.IsNot):
            # `x is defined`, `x is not none`, `x is sameas(y)`: a Jinja test.
            return self.expr(node.left) and self._named_call(node.comparators[0], self.tests)
        return (
            all(isinstance(op, _COMPARE) for op in node.ops)
            and self.expr(node.left)
            and all(self.expr(c) for c in node.comparators)
        )

    def _named_call(self, node: ast.AST, names: set[str]) -> bool:
        """The right side of `|` or `is`: a filter/test name, optionally called."""
        if type(node) is ast.Name:
            names.add(node.id)
            return True
        if type(node) is ast.Call and type(node.func) is ast.Name:
            names.add(node.func.id)
            return self._arguments(node)
        return False

    def _call(self, node: ast.Call) -> bool:
        return self.expr(node.func) and self._arguments(node)

    def _arguments(self, node: ast.Call) -> bool:
        if any(type(arg) is ast.Starred for arg in node.args):
            return False
        if any(keyword.arg is None for keyword in node.keywords):
            return False  # **kwargs
        return all(self.expr(arg) for arg in node.args) and all(
            self.expr(keyword.value) for keyword in node.keywords
        )

    def _chain(self, node: ast.AST) -> bool:
        parts: list = []
        computed: list[ast.AST] = []
        while isinstance(node, ast.Attribute | ast.Subscript):
            if len(parts) + self.depth > MAX_TEMPLATE_DEPTH:
                raise _TooDeep
            if isinstance(node, ast.Attribute):
                parts.append(node.attr)
            elif type(node.slice) is ast.Constant:  # any literal, as Jinja's Const: 0.5, None
                parts.append(node.slice.value)
            elif type(node.slice) is ast.Name and node.slice.id in _JINJA_CONSTANT_NAMES:
                parts.append(_JINJA_CONSTANTS[node.slice.id.lower()])  # steps[true]
            else:
                parts.append(DYNAMIC)
                computed.append(node.slice)
            node = node.value
        if type(node) is ast.Name:
            if node.id in _JINJA_CONSTANT_NAMES:
                return False  # `none.x`: a constant's attribute, which Jinja reads as no name
            self.accesses.append(Access(node.id, tuple(reversed(parts)), False))
        elif not self.expr(node):
            return False
        return all(self.expr(child) for child in computed)
