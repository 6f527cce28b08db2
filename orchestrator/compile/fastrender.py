"""A fast path for rendering the common templates without compiling them with Jinja.

Most prompts are text plus `{{ expressions }}` such as `steps.draft.output[:200]` or
`inputs.topic | upper`. Compiling each with Jinja costs ~1 ms (lexer, code generator and
Python's `compile`), more than the whole rest of a step. In a strict subset, Jinja's
expression grammar reads like Python's, so such a template is parsed once with the
C-implemented `ast` parser and evaluated here with *Jinja's own runtime operations*, exactly
as the code Jinja would generate calls them: `environment.getattr` / `getitem` (the
sandbox's attribute checks), `environment.call` (its callable checks), filters and tests
from `environment.filters` / `tests`, `call_binop` for intercepted operators, `undefined`
for unknown names, `finalize` and `str` for output, `concat` to join.

Outside the subset (statements, comments, whitespace control, `~`, `**`, dict literals,
backslashes, number forms or operator mixes where Python and Jinja disagree, such as
`a + b | f`, which Jinja reads as `a + (b | f)`), `program()` returns None and the caller
uses Jinja. Tests render a corpus both ways and require identical output or errors.

Must not: accept anything it is not sure of (when in doubt, return None), or know pipeline
semantics.
"""

from __future__ import annotations

import ast
import functools
import keyword
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2.runtime import Context, new_context
from jinja2.utils import _PassArg

_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.S)
# Python accepts what Jinja rejects (comments, continuations, string prefixes, decorators...)
_UNSAFE = re.compile(r"[#\\{}@;`$]")
_STRING = re.compile(r"'[^'\\\n]*'|\"[^\"\\\n]*\"")
_NUMBER = re.compile(r"(?<![\w.])\.?\d[\w.]*")
_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_NAMES = {"true": True, "false": False, "none": None, "True": True, "False": False, "None": None}
_BINARY = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
}
_BINARY_FUNCS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_CONSTANT_TYPES = (str, int, float, bool, type(None))
# The most common expression, read without any parser: a name, then `.attr`, `[int]`,
# `['key']` or `[:int]`-style slices (e.g. `steps.draft.output[:200]`). Names that are
# keywords in either language (`x.not`, `true.x`) take the general path.
_CHAIN = re.compile(
    r"\s*([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*|\[(?:-?(?:0|[1-9]\d*)|'\w*'|"
    r"-?(?:0|[1-9]\d*)?:-?(?:0|[1-9]\d*)?)\])*)\s*"
)
_LINK = re.compile(r"\.([A-Za-z_]\w*)|\[(?:(-?\d+)|'(\w*)'|(-?\d*):(-?\d*))\]")
_RESERVED = frozenset({*keyword.kwlist, *_NAMES})


@dataclass(frozen=True)
class Program:
    """A parsed template: literal text and expressions, in order."""

    parts: tuple[str | ast.expr | Chain, ...]


@functools.lru_cache(maxsize=8192)
def program(source: str, env: jinja2.Environment) -> Program | None:
    """The template as a Program when it is text plus subset expressions, else None."""
    if "{%" in source or "{#" in source or "\r" in source or not source.isascii():
        return None
    parts: list[str | ast.expr | Chain | None] = []
    others: list[str] = []  # expressions that need Python's parser
    end = 0
    for match in _EXPRESSION.finditer(source):
        if match.start() > end:
            parts.append(source[end : match.start()])
        raw = match.group(1)
        if raw[:1] in "-+" or raw[-1:] in "-+":
            return None  # whitespace control
        chain = _chain(raw)
        if chain is None:
            if not _plain(raw):
                return None
            others.append(raw)
        parts.append(chain)
        end = match.end()
    if end < len(source):
        parts.append(source[end:])
    if any(type(p) is str and "{{" in p for p in parts):
        return None  # an unclosed `{{`: Jinja words the syntax error
    if others:
        trees = _parse(others, env)
        if trees is None:
            return None
        parsed = iter(trees)
        parts = [next(parsed) if p is None else p for p in parts]
    return Program(tuple(parts))


@functools.lru_cache(maxsize=8192)
def expression(expr: str, env: jinja2.Environment) -> ast.expr | Chain | None:
    """One subset expression (the inside of `{{ }}`), parsed, else None."""
    if not expr.isascii():
        return None
    chain = _chain(expr)
    if chain is not None:
        return chain
    if not _plain(expr):
        return None
    trees = _parse([expr], env)
    return trees[0] if trees else None


class Chain:
    """A parsed `name.attr[0]['key'][:9]` chain: what Python's parser would give as nested
    Attribute/Subscript nodes, kept flat (building ast nodes costs more than reading them)."""

    __slots__ = ("name", "links")

    def __init__(self, name: str, links: tuple[tuple[str, Any], ...]):
        self.name, self.links = name, links  # ("attr", name) | ("item", key) | ("slice", s)


def _chain(expr: str) -> Chain | None:
    """`expr` as a Chain, or None when it is not exactly one."""
    match = _CHAIN.fullmatch(expr)
    if match is None or match.group(1) in _RESERVED:
        return None
    links: list[tuple[str, Any]] = []
    for link in _LINK.finditer(match.group(2)):
        attr, index, key, lower, upper = link.groups()
        if attr is not None:
            if attr in _RESERVED:
                return None
            links.append(("attr", attr))
        elif index is not None:
            links.append(("item", int(index)))
        elif key is not None:
            links.append(("item", key))
        else:
            links.append(
                ("slice", slice(int(lower) if lower else None, int(upper) if upper else None))
            )
    return Chain(match.group(1), tuple(links))


def _plain(expr: str) -> bool:
    if not expr.strip() or _UNSAFE.search(expr):
        return False
    for string in _STRING.finditer(expr):  # r'x', f"y": a prefix in Python, an error in Jinja
        before = expr[string.start() - 1] if string.start() else " "
        if before.isalnum() or before == "_":
            return False
    bare = _STRING.sub("''", expr)
    if "'" in bare.replace("''", "") or '"' in bare:
        return False  # a string this reader does not understand
    return all(_PLAIN_NUMBER.fullmatch(n.group(0)) for n in _NUMBER.finditer(bare))


def _parse(exprs: list[str], env: jinja2.Environment) -> list[ast.expr] | None:
    # One parse for all expressions, each in its own parentheses, as a tuple: an expression
    # that is not one complete expression on its own either fails or changes the count.
    try:
        tree = ast.parse("".join(f"(\n{e}\n)," for e in exprs) or "()", mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    items = tree.body.elts if type(tree.body) is ast.Tuple else None
    if items is None or len(items) != len(exprs):
        return None
    checker = _Checker(env)
    return items if all(checker.ok(item) for item in items) else None


class _Checker:
    def __init__(self, env: jinja2.Environment):
        self.filters, self.tests = env.filters, env.tests

    def ok(self, node: ast.AST, depth: int = 0) -> bool:  # noqa: C901 - one branch per shape
        if depth > 50:
            return False
        kind = type(node)
        if kind is ast.Attribute:  # the most common shape first
            while type(node) is ast.Attribute:
                node = node.value
            return self.ok(node, depth + 1)
        ok = functools.partial(self.ok, depth=depth + 1)
        if kind is ast.Name:
            return True
        if kind is ast.Constant:
            return type(node.value) in _CONSTANT_TYPES
        if kind is ast.Attribute:
            return ok(node.value)
        if kind is ast.Subscript:
            index = node.slice
            if type(index) is ast.Slice:
                return ok(node.value) and all(
                    ok(p) for p in (index.lower, index.upper, index.step) if p is not None
                )
            return ok(node.value) and ok(index)
        if kind is ast.BinOp:
            if type(node.op) is ast.BitOr:  # a filter
                return (
                    _binds_tight(node.left)
                    and ok(node.left)
                    and self._named(node.right, self.filters, depth)
                )
            return type(node.op) in _BINARY and ok(node.left) and ok(node.right)
        if kind is ast.Compare:
            if len(node.ops) == 1 and type(node.ops[0]) in (ast.Is, ast.IsNot):  # a test
                return (
                    _binds_tight(node.left)
                    and ok(node.left)
                    and self._named(node.comparators[0], self.tests, depth)
                )
            return (
                all(type(op) in _COMPARE for op in node.ops)
                and ok(node.left)
                and all(ok(c) for c in node.comparators)
            )
        if kind is ast.Call:
            return ok(node.func) and self._arguments(node, depth)
        if kind is ast.BoolOp:
            return all(ok(v) for v in node.values)
        if kind is ast.UnaryOp:
            return type(node.op) in (ast.Not, ast.USub, ast.UAdd) and ok(node.operand)
        if kind is ast.IfExp:  # Jinja reads `x is t if c else d` as the test `t` given `if`
            return (
                ok(node.test)
                and ok(node.body)
                and not _ends_in_bare_test(node.body)
                and ok(node.orelse)
            )
        if kind is ast.List or kind is ast.Tuple:
            return all(ok(e) for e in node.elts)
        return False  # Slice outside a subscript, Starred, Dict, comprehensions...

    def _named(self, node: ast.AST, known: Mapping[str, Any], depth: int) -> bool:
        if type(node) is ast.Name:
            return node.id in known
        if type(node) is ast.Call and type(node.func) is ast.Name:
            return node.func.id in known and self._arguments(node, depth)
        return False

    def _arguments(self, node: ast.Call, depth: int) -> bool:
        return all(type(a) is not ast.Starred and self.ok(a, depth + 1) for a in node.args) and all(
            k.arg is not None and self.ok(k.value, depth + 1) for k in node.keywords
        )


def _binds_tight(left: ast.AST) -> bool:
    """Whether `left | f` / `left is t` groups as in Jinja, where filters and tests bind
    tighter than arithmetic: Python reads `a + b | f` as `(a + b) | f`."""
    return not (type(left) is ast.BinOp and type(left.op) is not ast.BitOr)


def _ends_in_bare_test(node: ast.AST) -> bool:
    """Whether the expression's last token is a test name without parentheses."""
    while True:
        kind = type(node)
        if kind is ast.Compare:
            if type(node.ops[-1]) in (ast.Is, ast.IsNot):
                return type(node.comparators[-1]) is ast.Name
            node = node.comparators[-1]
        elif kind is ast.BoolOp:
            node = node.values[-1]
        elif kind is ast.UnaryOp:
            node = node.operand
        elif kind is ast.BinOp and type(node.op) is not ast.BitOr:
            node = node.right
        elif kind is ast.IfExp:
            node = node.orelse
        else:
            return False


def render(prog: Program, env: jinja2.Environment, context: Mapping[str, Any]) -> str:
    run = _Evaluation(env, context)
    finalize = env.finalize
    pieces = []
    for part in prog.parts:
        if type(part) is str:
            pieces.append(part)
        else:
            value = run.eval(part)
            pieces.append(str(finalize(value) if finalize is not None else value))
    return env.concat(pieces)


def evaluate(expr: ast.expr | Chain, env: jinja2.Environment, context: Mapping[str, Any]) -> Any:
    return _Evaluation(env, context).eval(expr)


class _Evaluation:
    """One render: the variables, and the Jinja Context made only if a call needs it."""

    __slots__ = ("env", "vars", "_context")

    def __init__(self, env: jinja2.Environment, variables: Mapping[str, Any]):
        self.env, self.vars = env, variables
        self._context: Context | None = None

    def context(self) -> Context:
        if self._context is None:
            self._context = new_context(
                self.env, None, {}, dict(self.vars), False, self.env.globals, None
            )
        return self._context

    def name(self, name: str) -> Any:
        if name in _NAMES:
            return _NAMES[name]
        if name in self.vars:
            return self.vars[name]
        if name in self.env.globals:
            return self.env.globals[name]
        return self.env.undefined(name=name)

    def chain(self, chain: Chain) -> Any:
        value, env = self.name(chain.name), self.env
        for kind, arg in chain.links:
            if kind == "attr":
                value = env.getattr(value, arg)
            elif kind == "item":
                value = env.getitem(value, arg)
            else:  # as Jinja: slices bypass environment.getitem
                value = value[arg]
        return value

    def eval(self, node: ast.AST | Chain) -> Any:  # noqa: C901 - one branch per shape
        kind, env = type(node), self.env
        if kind is Chain:
            return self.chain(node)
        if kind is ast.Name:
            return self.name(node.id)
        if kind is ast.Constant:
            return node.value
        if kind is ast.Attribute:
            return env.getattr(self.eval(node.value), node.attr)
        if kind is ast.Subscript:
            obj, index = self.eval(node.value), node.slice
            if type(index) is ast.Slice:  # as Jinja: slices bypass environment.getitem
                return obj[
                    slice(
                        *(
                            None if p is None else self.eval(p)
                            for p in (index.lower, index.upper, index.step)
                        )
                    )
                ]
            return env.getitem(obj, self.eval(index))
        if kind is ast.BinOp:
            if type(node.op) is ast.BitOr:
                return self._apply(node.right, env.filters, self.eval(node.left))
            return self._binary(_BINARY[type(node.op)], self.eval(node.left), self.eval(node.right))
        if kind is ast.Compare:
            return self._compare(node)
        if kind is ast.Call:
            func = self.eval(node.func)
            args, kwargs = self._arguments(node)
            return env.call(self.context(), func, *args, **kwargs)
        if kind is ast.BoolOp:
            want = type(node.op) is ast.Or
            value = None
            for child in node.values:
                value = self.eval(child)
                if bool(value) is want:
                    return value
            return value
        if kind is ast.UnaryOp:
            value = self.eval(node.operand)
            op = type(node.op)
            return not value if op is ast.Not else -value if op is ast.USub else +value
        if kind is ast.IfExp:
            return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)
        if kind is ast.List:
            return [self.eval(e) for e in node.elts]
        return tuple(self.eval(e) for e in node.elts)  # ast.Tuple: the checker allows no other

    def _binary(self, op: str, left: Any, right: Any) -> Any:
        env = self.env
        if op in getattr(env, "intercepted_binops", ()):
            return env.call_binop(self.context(), op, left, right)
        return _BINARY_FUNCS[op](left, right)

    def _compare(self, node: ast.Compare) -> Any:
        left = self.eval(node.left)
        op = type(node.ops[0])
        if op is ast.Is or op is ast.IsNot:
            passed = self._apply(node.comparators[0], self.env.tests, left)
            return not passed if op is ast.IsNot else passed
        result: Any = True
        for op_node, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comparator)
            result = _COMPARE[type(op_node)](left, right)
            if not result:
                return result
            left = right
        return result

    def _apply(self, ref: ast.AST, table: Mapping[str, Callable[..., Any]], value: Any) -> Any:
        """A filter or test, called the way Jinja's generated code calls it."""
        args: list[Any]
        kwargs: dict[str, Any]
        if type(ref) is ast.Name:
            func, args, kwargs = table[ref.id], [], {}
        else:
            func = table[ref.func.id]
            args, kwargs = self._arguments(ref)
        passing = _PassArg.from_obj(func)
        if passing is _PassArg.context:
            return func(self.context(), value, *args, **kwargs)
        if passing is _PassArg.eval_context:
            return func(self.context().eval_ctx, value, *args, **kwargs)
        if passing is _PassArg.environment:
            return func(self.env, value, *args, **kwargs)
        return func(value, *args, **kwargs)

    def _arguments(self, node: ast.Call) -> tuple[list[Any], dict[str, Any]]:
        return (
            [self.eval(a) for a in node.args],
            {k.arg: self.eval(k.value) for k in node.keywords},  # type: ignore[misc]
        )
