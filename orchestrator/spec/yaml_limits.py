"""A first pass over a YAML event stream that refuses what would be unsafe to build.

Owns: `check_events`, which reads the parser's events (libyaml keeps its own stack, so this
is safe at any depth) and stops at the first of: nesting deeper than `MAX_YAML_DEPTH`
(composing such a document recurses in C and can crash the interpreter), an alias used
inside its own anchor (`&a [*a]`: a document that contains itself), aliases that expand to
more than `MAX_ALIAS_VALUES` values (billion laughs), or more than `MAX_YAML_NODES` values
in all. It stops *at* the
problem: a 100,000-deep document costs no more to refuse than a 65-deep one.

Must not: build data or report syntax errors (the parser raises those; yaml_marks.py words
them).
"""

from __future__ import annotations

from typing import Any

import yaml

from orchestrator.errors import Issue
from orchestrator.spec.limits import LIMIT_HINT, MAX_ALIAS_VALUES, MAX_YAML_DEPTH, MAX_YAML_NODES
from orchestrator.spec.suggest import dotted

_OPEN = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
_SHOWN = 8  # path parts named in an issue (a 64-deep path is no help to read)


class _Open:
    """One collection being read: where its next value goes (for the issue's path)."""

    __slots__ = ("anchor", "size", "mapping", "want_key", "key")

    def __init__(self, anchor: str | None, mapping: bool):
        self.anchor = anchor
        self.size = 1
        self.mapping = mapping
        self.want_key = mapping
        self.key: Any = -1 if not mapping else None

    def begin(self, event: Any) -> None:
        """A value starts here; in a mapping, a scalar read where a key goes is that key."""
        if not self.mapping:
            self.key += 1
        elif self.want_key:
            self.key = event.value if isinstance(event, yaml.ScalarEvent) else "?"
            self.want_key = False
        else:
            self.want_key = True


def check_events(loader: Any, file: str) -> Issue | None:
    """The first limit the document stream breaks, located; None when it is safe to compose.
    `loader` is a fresh libyaml (or pure Python) loader; its events are consumed."""
    sizes: dict[str, int] = {}  # anchor -> values it stands for, once complete
    open_anchors: set[str] = set()
    stack: list[_Open] = []
    count = 0  # values so far, aliases expanded (nothing is ever taken back)
    expanded = 0  # values added by aliases beyond the alias itself
    while loader.check_event():
        event = loader.get_event()
        kind = type(event)
        if stack and kind not in _CLOSE:
            stack[-1].begin(event)
        if kind in _OPEN:
            if len(stack) >= MAX_YAML_DEPTH:
                return _issue(
                    event,
                    stack,
                    file,
                    f"nested deeper than {MAX_YAML_DEPTH} levels",
                    f"flatten the structure; {LIMIT_HINT}",
                )
            stack.append(_Open(event.anchor, kind is yaml.MappingStartEvent))
            count += 1
            if event.anchor:
                open_anchors.add(event.anchor)
            continue
        if kind in _CLOSE:
            done = stack.pop()
            if done.anchor:
                sizes[done.anchor] = done.size
                open_anchors.discard(done.anchor)
            if stack:
                stack[-1].size += done.size
            continue
        if kind is yaml.AliasEvent:
            if event.anchor in open_anchors:
                return _issue(
                    event,
                    stack,
                    file,
                    f"alias '*{event.anchor}' is used inside its own anchor",
                    "a value cannot contain itself: copy the part instead",
                )
            size = sizes.get(event.anchor, 1)  # unknown: the composer reports it
            expanded += size - 1
            if expanded > MAX_ALIAS_VALUES:
                return _issue(
                    event,
                    stack,
                    file,
                    f"aliases expand to more than {MAX_ALIAS_VALUES:,} values",
                    "an alias (*name) repeats "
                    "everything its anchor holds: repeat less, or write the parts "
                    f"out; {LIMIT_HINT}",
                )
        elif kind is yaml.ScalarEvent:
            size = 1
            if event.anchor:
                sizes[event.anchor] = 1
        else:
            continue  # stream and document boundaries
        if stack:
            stack[-1].size += size
        count += size
        if count > MAX_YAML_NODES:
            return _issue(
                event,
                stack,
                file,
                f"more than {MAX_YAML_NODES:,} values in one file",
                f"split the file; {LIMIT_HINT}",
            )
    return None


def _issue(event: Any, stack: list[_Open], file: str, message: str, hint: str) -> Issue:
    mark = event.start_mark
    path = tuple(
        entry.key
        for entry in stack
        if entry.key is not None and entry.key != -1 and entry.key != "?"
    )
    where = dotted(path[:_SHOWN]) + ("..." if len(path) > _SHOWN else "")
    return Issue(file, mark.line + 1, mark.column + 1, where, message, hint)
