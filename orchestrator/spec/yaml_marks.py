"""YAML text -> plain Python data plus the line/column of every node.

Owns: parsing (libyaml's C parser when available: large pipelines must load fast), duplicate
key detection, and the `MarkedDoc` that maps a path such as ('steps', 'draft', 'prompt') to
where it was written, so that schema and compile errors can point at `FILE:LINE:COL`.
Keys are always kept as the strings the user typed (YAML 1.1 would read `on:` as True).

Refuses what would be unsafe to build (see yaml_limits.py and `spec.limits`): a file past
MAX_YAML_BYTES, deep nesting, self-containing aliases, alias bombs; values PyYAML cannot
construct (`!!int zz`, `!!binary`, integers past MAX_INT_DIGITS) are located issues.

Must not: validate meaning (that is schema.py and the loaders) or read other files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import yaml

from orchestrator.errors import Issue
from orchestrator.spec.limits import LIMIT_HINT, MAX_INT_DIGITS, MAX_YAML_BYTES, size_words
from orchestrator.spec.model import Mark
from orchestrator.spec.suggest import PathKey, dotted
from orchestrator.spec.yaml_limits import check_events

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
QUOTE_HINT = (
    'an unquoted template? quote values that start with "{{", e.g. prompt: "{{ inputs.topic }}"'
)


@dataclass
class MarkedDoc:
    """One YAML document: `data` plus marks of value nodes and of mapping keys, by path."""

    file: str
    data: Any
    marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    # Literal block scalars (`|`): where their first content line starts, so that a line
    # inside a multi-line template maps to a line of the file.
    block_marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    # Values the loader reported on (a duplicated key, a mapping used as a key...): not to
    # be trusted, nor reported on again by the schema.
    broken: list[PathKey] = field(default_factory=list)

    def mark(self, path: PathKey) -> Mark:
        """Where the value at `path` starts; the nearest known ancestor if it is not there."""
        path = tuple(path)
        while path and path not in self.marks:
            path = path[:-1]
        line, col = self.marks.get(path, (0, 0))
        return Mark(self.file, line, col)

    def key_mark(self, path: PathKey) -> Mark:
        """Where the key naming `path` was written (for unknown/duplicate keys)."""
        found = self.key_marks.get(tuple(path))
        return Mark(self.file, *found) if found else self.mark(path)


def issue_at(
    mark: Mark, path: PathKey, message: str, hint: str = "", severity: str = "error"
) -> Issue:
    return Issue(mark.file, mark.line, mark.col, dotted(path), message, hint, severity)


def load_documents(text: str, file: str) -> tuple[list[MarkedDoc], list[Issue]]:
    """Parse every document in `text`. Returns the documents and the problems found; a YAML
    syntax error yields one issue and no documents (nothing after it can be trusted)."""
    if len(text) > MAX_YAML_BYTES:
        return [], [
            Issue(
                file,
                0,
                0,
                "",
                f"file too large: {size_words(len(text))} (the limit "
                f"is {size_words(MAX_YAML_BYTES)})",
                f"split it; {LIMIT_HINT}",
            )
        ]
    try:
        limit = _checked_events(text, file)
    except yaml.MarkedYAMLError as exc:
        return [], [_syntax_issue(exc, file, text)]
    except yaml.YAMLError as exc:
        return [], [Issue(file, 0, 0, "", f"invalid YAML: {exc}")]
    if limit is not None:
        return [], [limit]
    loader = _Loader(text)
    try:
        nodes: list[yaml.Node] = []
        while loader.check_node():
            nodes.append(cast(yaml.Node, loader.get_node()))  # check_node(): one follows
    except yaml.MarkedYAMLError as exc:
        return [], [_syntax_issue(exc, file, text)]
    except yaml.YAMLError as exc:
        return [], [Issue(file, 0, 0, "", f"invalid YAML: {exc}")]
    finally:
        loader.dispose()
    docs, issues = [], []
    lines = text.splitlines()
    for node in nodes:
        builder = _Builder(file, loader, lines)
        data = builder.build(node, ())
        issues.extend(builder.issues)
        docs.append(
            MarkedDoc(
                file, data, builder.marks, builder.key_marks, builder.block_marks, builder.broken
            )
        )
    return docs, issues


def _checked_events(text: str, file: str) -> Issue | None:
    loader = _Loader(text)
    try:
        return check_events(loader, file)
    except yaml.MarkedYAMLError as exc:
        # libyaml from PyYAML 6.0.4 on refuses deep nesting itself, unlocated and in its own
        # words, before our walk reaches our limit: walk with the pure-Python parser then,
        # which says where and why, as with older builds.
        if "maximum nesting depth" not in str(exc.problem) or _Loader is yaml.SafeLoader:
            raise
        slow = yaml.SafeLoader(text)
        try:
            found = check_events(slow, file)
        finally:
            slow.dispose()
        if found is None:
            raise
        return found
    finally:
        loader.dispose()


def _syntax_issue(exc: yaml.MarkedYAMLError, file: str, text: str) -> Issue:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    hint = exc.context or ""
    if hint and exc.context_mark and exc.context_mark.line + 1 != line:
        hint += f" at line {exc.context_mark.line + 1}"
    if mark and text[mark.index : mark.index + 1] == "\t":
        hint = "indent with spaces, not tabs"
    return Issue(file, line, col, "", f"invalid YAML: {exc.problem}", hint)


def _short(text: str, size: int = 40) -> str:
    return text if len(text) <= size else text[:size] + "..."


class _Builder:
    """Turns a composed node tree into plain data while recording marks. Aliases are simply
    walked again (they are the same node object), so anchors work as in plain YAML."""

    def __init__(self, file: str, loader: Any, lines: list[str]):
        self.file = file
        self.loader = loader
        self.lines = lines
        self.marks: dict[PathKey, tuple[int, int]] = {}
        self.key_marks: dict[PathKey, tuple[int, int]] = {}
        self.block_marks: dict[PathKey, tuple[int, int]] = {}
        self.issues: list[Issue] = []
        self.broken: list[PathKey] = []

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)  # the only other kind of node
        if node.tag == _STR:
            if node.style == "|":
                self._block_mark(node, path)
            return node.value
        return self._scalar(node, path)

    def _scalar(self, node: yaml.Node, path: PathKey) -> Any:
        """A plain value. Only what JSON has comes out: a timestamp stays the text written
        (a date is a string to every field), binary data and unreadable values are issues."""
        tag = node.tag.rsplit(":", 1)[-1]
        if tag == "int" and len(node.value) > MAX_INT_DIGITS:
            self._issue(
                node,
                path,
                f"integer with more than {MAX_INT_DIGITS} digits",
                "quote it to make it a string",
            )
            return None
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self._issue(node, path, f"invalid value: {getattr(exc, 'problem', exc)}")
            return None
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError):
            # PyYAML's constructors fail like this on `!!int zz`, `!!bool maybe`, `!!timestamp x`
            # (and IndexError on an empty `!!float`).
            self._issue(
                node,
                path,
                f"invalid !!{tag} value '{_short(node.value)}'",
                "remove the tag, or write a value of that type",
            )
            return None
        if isinstance(value, str | int | float | bool) or value is None:
            return value
        if tag == "timestamp":
            return node.value
        self._issue(
            node,
            path,
            f"unsupported !!{tag} value",
            "write text (a string), a number, a boolean, a list or a mapping",
        )
        return None

    def _block_mark(self, node: yaml.ScalarNode, path: PathKey) -> None:
        # The content starts on the line after the `|` indicator (0-based index = line + 1).
        index = node.start_mark.line + 1
        if index < len(self.lines):
            content = self.lines[index]
            self.block_marks[path] = (index + 1, len(content) - len(content.lstrip(" ")) + 1)

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict:
        result: dict[str, Any] = {}
        merged: set[str] = set()  # keys from `<<: *anchor`: explicit keys may override them
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged |= self._merge(result, value_node, path)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._issue(
                    key_node,
                    path,
                    "a mapping key must be a plain value, not a mapping or list",
                    QUOTE_HINT,
                )
                continue
            key = key_node.value
            sub = path + (key,)
            if key in result and key not in merged:
                first = self.key_marks.get(sub, (0, 0))[0]
                self._issue(
                    key_node,
                    path,
                    f"duplicate key '{key}'",
                    f"it is already set at line {first}; YAML would silently keep the last one",
                    broken=sub,
                )  # which of the two values was meant is unknown
                continue
            merged.discard(key)
            self.key_marks[sub] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, sub)
        return result

    def _merge(self, result: dict, value_node: yaml.Node, path: PathKey) -> set[str]:
        """`<<: *base` adds the keys the mapping has not set (YAML merge-key semantics);
        their marks point at the anchor, where they are written."""
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        own_mark = self.marks[path]
        added = set()
        for source in sources:
            merged = self.build(source, path) if isinstance(source, yaml.MappingNode) else None
            if not isinstance(merged, dict):
                self._issue(value_node, path, "'<<' must merge a mapping")
                continue
            for key, value in merged.items():
                if key not in result:
                    result[key] = value
                    added.add(key)
        self.marks[path] = own_mark
        return added

    def _issue(
        self,
        node: yaml.Node,
        path: PathKey,
        message: str,
        hint: str = "",
        broken: PathKey | None = None,
    ) -> None:
        mark = Mark(self.file, node.start_mark.line + 1, node.start_mark.column + 1)
        self.issues.append(issue_at(mark, path, message, hint))
        self.broken.append(path if broken is None else broken)
