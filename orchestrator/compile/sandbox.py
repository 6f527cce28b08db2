"""The Jinja sandbox with resource bounds: what one template may cost to render.

Owns `BoundedSandbox` (a `SandboxedEnvironment`), the limits (`MAX_CHARS`, `MAX_ITEMS`,
`MAX_INT_BITS`, `RENDER_SECONDS`), `render_budget()` (the per-render clock) and
`LimitExceeded`. Jinja's sandbox stops templates from reaching Python internals, not from
exhausting the machine (`'x'|center(10**9)`, `'a'*10**9`, nested `range(99999)` loops), so:
- every value a template makes is checked *before* it is made where Python would build it
  in one step (repetition, padding, `replace`, `join`, printf/format widths, lorem ipsum,
  stringifying a huge nested list), and after every filter, call and operator;
- the output of any template or block is joined by a bounded `concat`;
- every `{% for %}` loop, call and checked operator ticks a clock that stops the render
  after `RENDER_SECONDS` (loops are rewritten to iterate through a ticking filter).
Limits are read at call time, so tests may lower them.

Must not: know pipeline semantics or field paths (templates.py names the field).
"""

from __future__ import annotations

import re
import string
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import wraps
from typing import Any, cast

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment, modifies_known_mutable

MAX_CHARS = 4_000_000  # longest string any template value or output may be
MAX_ITEMS = 1_000_000  # most elements of any list, tuple, dict or set a template makes
MAX_INT_BITS = 1_000_000  # largest integer a template may compute (about 300,000 digits)
RENDER_SECONDS = 5.0  # longest one render may take
LOOP_FILTER, TEXT_FILTER = "_bounded_iter", "_bounded_text"  # inserted by the compiler hook

_SEQUENCES = (str, list, tuple)
_CONTAINERS = (list, tuple, set, frozenset, dict)
_PRINTF_WIDTH = re.compile(r"%[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
# Filters that turn their input into text first (a huge nested list becomes a huge string).
_STRINGIFYING = frozenset(
    {
        "capitalize",
        "center",
        "e",
        "escape",
        "forceescape",
        "format",
        "indent",
        "lower",
        "pprint",
        "replace",
        "safe",
        "string",
        "striptags",
        "title",
        "tojson",
        "trim",
        "truncate",
        "upper",
        "urlencode",
        "urlize",
        "wordcount",
        "wordwrap",
        "xmlattr",
    }
)


class LimitExceeded(Exception):
    """A template would exceed a resource limit; the message says which (no values)."""


class _Clock(threading.local):
    deadline: float | None = None
    seconds: float = 0.0
    ticks: int = 0


_clock = _Clock()


@contextmanager
def render_budget() -> Iterator[None]:
    """Time the renders inside: `tick()` raises once `RENDER_SECONDS` have passed."""
    saved = (_clock.deadline, _clock.seconds)
    _clock.seconds = RENDER_SECONDS
    _clock.deadline = time.monotonic() + RENDER_SECONDS
    try:
        yield
    finally:
        _clock.deadline, _clock.seconds = saved


def tick() -> None:
    if _clock.deadline is None:
        return
    _clock.ticks += 1
    if _clock.ticks & 0xFF == 0 and time.monotonic() > _clock.deadline:
        raise LimitExceeded(f"template rendering took longer than {_clock.seconds:g} s")


def text_size(value: Any, limit: int) -> int:
    """At least len(str(value)); stops counting once past `limit` (cheap for huge values)."""
    if type(value) is str:
        return len(value)
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, _CONTAINERS):
            total += 2 + 2 * len(item)
            stack.extend(item)
        else:
            total += 1
    return total


def check_text(value: Any, what: str) -> None:
    if not isinstance(value, str) and not isinstance(value, _CONTAINERS):
        return
    if text_size(value, MAX_CHARS) > MAX_CHARS:
        raise LimitExceeded(f"{what} would exceed {MAX_CHARS:,} characters")


def check_value(value: Any, what: str) -> Any:
    """`value` if it is within the limits, else LimitExceeded."""
    if isinstance(value, str):
        if len(value) > MAX_CHARS:
            raise LimitExceeded(f"{what} exceeds {MAX_CHARS:,} characters")
    elif isinstance(value, _CONTAINERS):
        if len(value) > MAX_ITEMS:
            raise LimitExceeded(f"{what} exceeds {MAX_ITEMS:,} items")
    elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise LimitExceeded(f"{what} exceeds {MAX_INT_BITS:,} bits")
    return value


def _count(n: Any, limit: int, what: str) -> None:
    if isinstance(n, int) and n > limit:
        raise LimitExceeded(f"{what} would exceed {limit:,}")


def _repeat(seq: Any, n: Any, what: str) -> None:
    if isinstance(seq, _SEQUENCES) and isinstance(n, int) and n > 0:
        limit = MAX_CHARS if isinstance(seq, str) else MAX_ITEMS
        _count(len(seq) * n, limit, f"{what}: the repeated value")


def _check_binop(op: str, left: Any, right: Any) -> None:
    if op == "*":
        _repeat(left, right, "*")
        _repeat(right, left, "*")
        if type(left) is int and type(right) is int:
            _count(left.bit_length() + right.bit_length(), MAX_INT_BITS, "*: the number's bits")
    elif op == "**":
        if type(left) is int and type(right) is int and right > 0 and abs(left) > 1:
            _count(left.bit_length() * right, MAX_INT_BITS, "**: the number's bits")
    elif op == "+" and isinstance(left, _SEQUENCES) and type(left) is type(right):
        limit = MAX_CHARS if isinstance(left, str) else MAX_ITEMS
        _count(len(left) + len(right), limit, "+: the result's length")
    elif op == "%" and isinstance(left, str):
        _check_printf(left, right)


def _check_printf(fmt: str, args: Any) -> None:
    for match in _PRINTF_WIDTH.finditer(fmt):
        for part in match.groups():
            if part and part.isdigit():
                _count(int(part), MAX_CHARS, "a % format width")
        if "*" in match.group(0):
            for arg in args if isinstance(args, tuple) else (args,):
                _count(arg, MAX_CHARS, "a % format width")
    for arg in args if isinstance(args, tuple) else (args,):
        check_text(arg, "a % format argument")


def _check_format(fmt: str, args: tuple, kwargs: dict) -> None:
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format itself will say what is wrong
    for _, _, spec, _ in fields:
        for digits in re.findall(r"\d+", spec or ""):
            _count(int(digits), MAX_CHARS, "a format width")
        if spec and "{" in spec:  # a nested width: any number argument may be it
            for arg in (*args, *kwargs.values()):
                _count(arg, MAX_CHARS, "a format width")
    for arg in (*args, *kwargs.values()):
        check_text(arg, "a format argument")


def _replaced_size(s: Any, old: Any, new: Any, count: Any = None) -> None:
    if not (isinstance(s, str) and isinstance(old, str) and isinstance(new, str)):
        return
    hits = s.count(old) if old else len(s) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    _count(len(s) + hits * (len(new) - len(old)), MAX_CHARS, "replace: the result's length")


def _joined_size(items: Any, sep: Any) -> None:
    if not isinstance(items, _CONTAINERS):
        return
    size = text_size(list(items), MAX_CHARS) + len(str(sep)) * max(0, len(items) - 1)
    _count(size, MAX_CHARS, "join: the result's length")


def _summed_size(items: Any, start: Any) -> None:
    if isinstance(start, _SEQUENCES) and isinstance(items, _CONTAINERS):
        total = len(start) + sum(len(i) for i in items if isinstance(i, _SEQUENCES))
        _count(total, MAX_CHARS if isinstance(start, str) else MAX_ITEMS, "sum: the result")


def _lines(s: Any) -> int:
    return str(s).count("\n") + 1 if isinstance(s, str) else 1


# Checks made before a filter runs: (positional args after the value, keyword args).
_FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "center": lambda v, width=80, **_: _count(width, MAX_CHARS, "center: the width"),
    "indent": lambda v, width=4, *a, **_: (
        _count(
            _lines(v) * (len(width) if isinstance(width, str) else width) + len(str(v)),
            MAX_CHARS,
            "indent: the result's length",
        )
        if isinstance(width, str | int)
        else None
    ),
    "replace": lambda v, old="", new="", count=None, **_: _replaced_size(v, old, new, count),
    "join": lambda v, d="", *a, **_: _joined_size(v, d),
    "format": lambda v, *args, **kwargs: (
        _check_printf(v, kwargs or args) if isinstance(v, str) else None
    ),
    "batch": lambda v, linecount=1, *a, **_: _count(linecount, MAX_ITEMS, "batch: the size"),
    "slice": lambda v, slices=1, *a, **_: _count(slices, MAX_ITEMS, "slice: the count"),
    "tojson": lambda v, indent=None, **_: _count(indent, 10_000, "tojson: the indent"),
    "sum": lambda v, attribute=None, start=0, **_: _summed_size(v, start),
}


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    check = _FILTER_CHECKS.get(name)
    stringifies = name in _STRINGIFYING
    pass_arg = getattr(func, "jinja_pass_arg", None)

    @wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        tick()
        rest = args[1:] if pass_arg is not None else args  # after context/environment
        if stringifies and rest:
            check_text(rest[0], f"{name}: its input")
        if name == "join" and rest and isinstance(rest[0], Iterator):
            # An iterator (e.g. from `map`) is read once anyway: read it first, to check it.
            args = (*args[: len(args) - len(rest)], list(rest[0]), *rest[1:])
            rest = args[len(args) - len(rest) :]
        if check is not None and rest:
            try:
                check(*rest, **kwargs)
            except TypeError:
                pass  # wrong arguments: the filter itself says so
        return check_value(func(*args, **kwargs), f"{name}: the result")

    return bounded


def _bounded_lipsum(func: Callable[..., str]) -> Callable[..., str]:
    @wraps(func)
    def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
        words = (n if isinstance(n, int) else 0) * max_int(min, max)
        _count(words * 12, MAX_CHARS, "lipsum: the text's length")
        return func(n, html, min, max)

    return lipsum


def max_int(*values: Any) -> int:
    return max((v for v in values if isinstance(v, int)), default=0)


def _bounded_iter(value: Iterable[Any]) -> Iterator[Any]:
    for item in value:
        tick()
        yield item


def _check_call(obj: Any, args: tuple, kwargs: dict) -> None:
    target = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
    owner = getattr(target, "__self__", None)
    if not isinstance(owner, str):
        return
    name = getattr(target, "__name__", "")
    first = args[0] if args else kwargs.get("width", kwargs.get("tabsize"))
    if name in ("center", "ljust", "rjust", "zfill"):
        _count(first, MAX_CHARS, f"{name}: the width")
    elif name == "expandtabs":
        _count(
            owner.count("\t") * (first if isinstance(first, int) else 8),
            MAX_CHARS,
            "expandtabs: the result's length",
        )
    elif name == "replace" and len(args) >= 2:
        _replaced_size(owner, args[0], args[1], args[2] if len(args) > 2 else None)
    elif name == "join" and args:
        _joined_size(args[0], owner)
    elif name in ("format", "format_map"):
        _check_format(
            owner,
            args,
            kwargs if name == "format" else (args[0] if args and isinstance(args[0], dict) else {}),
        )


class BoundedSandbox(SandboxedEnvironment):
    """A SandboxedEnvironment whose renders stay within the limits above."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any):
        super().__init__(finalize=_finalize, **options)
        for name, func in list(self.filters.items()):
            self.filters[name] = _bounded_filter(name, func)
        self.filters[LOOP_FILTER] = _bounded_iter
        self.filters[TEXT_FILTER] = _bounded_text
        self.globals["lipsum"] = _bounded_lipsum(cast(Callable[..., str], self.globals["lipsum"]))

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`x.name` on a mapping reads its key `name` when it has one: templates see the
        pipeline's names (an input, a step or a JSON key called `items`, `get`, `keys`),
        never a dict's methods. Everything else reads as Jinja's sandbox does."""
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def bound_filter(self, name: str, func: Callable[..., Any]) -> None:
        """Add a filter of our own, with the same checks as the built-in ones."""
        self.filters[name] = _bounded_filter(name, func)

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        tick()
        _check_binop(operator, left, right)
        return check_value(super().call_binop(context, operator, left, right), operator)

    def call(
        __self,
        __context: jinja2.runtime.Context,
        __obj: Any,
        *args: Any,  # noqa: N805
        **kwargs: Any,
    ) -> Any:
        tick()
        _check_call(__obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        owner = getattr(__obj, "__self__", None)
        if owner is not None and modifies_known_mutable(owner, getattr(__obj, "__name__", "")):
            check_value(owner, "a changed list, dict or set")
        return check_value(result, "a call's result")

    def concat(self, pieces: Iterable[str]) -> str:
        """Jinja joins every template's and block's output with this: stop at the limit."""
        out, size = [], 0
        for piece in pieces:
            size += len(piece)
            if size > MAX_CHARS:
                raise LimitExceeded(f"template output exceeds {MAX_CHARS:,} characters")
            out.append(piece)
        return "".join(out)

    def _generate(
        self,
        source: nodes.Template,
        name: str | None,
        filename: str | None,
        defer_init: bool = False,
    ) -> str:
        # Loops iterate through a ticking filter, and `~` operands are checked before they
        # are turned into text: neither would otherwise pass through any hook above.
        for loop in list(source.find_all(nodes.For)):
            loop.iter = nodes.Filter(loop.iter, LOOP_FILTER, [], [], None, None, lineno=loop.lineno)
        for joined in list(source.find_all(nodes.Concat)):
            joined.nodes = [
                nodes.Filter(n, TEXT_FILTER, [], [], None, None, lineno=n.lineno)
                for n in joined.nodes
            ]
        return super()._generate(source, name, filename, defer_init)


def _bounded_text(value: Any) -> Any:
    check_text(value, "a ~ operand")
    return value


def _finalize(value: Any) -> Any:
    """Every `{{ expression }}`'s value before it becomes text: no huge nested lists."""
    if not isinstance(value, str):
        check_text(value, "a value in the template")
    return value
