"""A deterministic, minimal valid instance of a JSON Schema.

Owns `minimal_instance(schema, text)`: what the local model answers when a step asks for JSON.
Objects get every property (required and optional; only the required ones below depth 4,
so recursive schemas end), booleans are true, numbers take their
minimum (or 0), arrays hold one item (or `minItems`), enums their first value, `const` its
value, strings are derived from `text` (the prompt) so a reply shows what it answers.

It covers the schema keywords pipelines use (type, properties, required, items, prefixItems,
enum, const, minimum/maximum and their exclusive forms, multipleOf, minLength/maxLength,
format, anyOf/oneOf/allOf, local `$ref`); `pattern` is not solved. Pure: no I/O.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

_MAX_DEPTH = 12
_OPTIONAL_DEPTH = 4  # deeper than this, objects get required properties only (recursion ends)
_FORMATS = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "email": "local-model@example.com",
    "uri": "https://example.com/local-model",
    "url": "https://example.com/local-model",
    "hostname": "example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
}
_TYPE_ORDER = ("object", "array", "string", "integer", "number", "boolean", "null")


def minimal_instance(schema: Any, text: str = "") -> Any:
    """Return a value valid against `schema` (best effort for keywords listed above)."""
    return _Builder(schema if isinstance(schema, dict) else {}, " ".join(text.split())).build(
        schema, key="", depth=0
    )


class _Builder:
    def __init__(self, root: dict, text: str):
        self.root = root
        self.text = text

    def build(self, schema: Any, key: str, depth: int) -> Any:
        if schema is True or not isinstance(schema, dict):
            return self.string({}, key)
        if depth > _MAX_DEPTH:
            return None
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        if "default" in schema and not _has_structure(schema):
            return schema["default"]
        if isinstance(schema.get("allOf"), list):
            schema = _merge_all_of(schema, [self.resolve(s) for s in schema["allOf"]])
        for combinator in ("anyOf", "oneOf"):
            options = schema.get(combinator)
            if isinstance(options, list) and options:
                rest = {k: v for k, v in schema.items() if k != combinator}
                return self.build(_merge_all_of(rest, [self.resolve(options[0])]), key, depth + 1)
        kind = _pick_type(schema)
        if kind == "object":
            return self.object(schema, depth)
        if kind == "array":
            return self.array(schema, key, depth)
        if kind in ("integer", "number"):
            return _number(schema, integer=kind == "integer")
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self.string(schema, key)

    def resolve(self, schema: dict) -> dict:
        seen = 0
        while (
            isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < _MAX_DEPTH
        ):
            target = _follow_pointer(self.root, schema["$ref"])
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **siblings} if isinstance(target, dict) else siblings
            seen += 1
        return schema if isinstance(schema, dict) else {}

    def object(self, schema: dict, depth: int) -> dict:
        declared = schema.get("properties")
        properties: dict = declared if isinstance(declared, dict) else {}
        required = [n for n in schema.get("required", []) if isinstance(n, str)]
        names = (
            list(properties)
            if depth < _OPTIONAL_DEPTH
            else [n for n in properties if n in required]
        )
        names += [
            n for n in schema.get("required", []) if isinstance(n, str) and n not in properties
        ]
        return {name: self.build(properties.get(name, {}), name, depth + 1) for name in names}

    def array(self, schema: dict, key: str, depth: int) -> list:
        prefix = schema.get("prefixItems")
        items = schema.get("items")
        if isinstance(items, list):  # draft-04..07 tuple form
            prefix, items = items, schema.get("additionalItems", {})
        out = [self.build(s, key, depth + 1) for s in prefix] if isinstance(prefix, list) else []
        wanted = max(int(schema.get("minItems", 1)), len(out))
        if "maxItems" in schema:
            wanted = min(wanted, int(schema["maxItems"]))
        out = out[:wanted]
        while len(out) < wanted and items is not False:
            out.append(self.build(items if isinstance(items, dict) else {}, key, depth + 1))
        return out

    def string(self, schema: dict, key: str) -> str:
        fmt = schema.get("format")
        if fmt == "uuid":
            value = str(uuid.uuid5(uuid.NAMESPACE_URL, self.text))
        elif fmt in _FORMATS:
            value = _FORMATS[fmt]
        else:
            value = (
                f"[local-model] {key}: {self.text[:80]}"
                if key
                else f"[local-model] {self.text[:80]}"
            )
            value = value.rstrip()
        min_len = int(schema.get("minLength", 0))
        if "maxLength" in schema:
            value = value[: int(schema["maxLength"])]
        return value + "x" * max(0, min_len - len(value))


def _has_structure(schema: dict) -> bool:
    return any(k in schema for k in ("properties", "items", "required", "anyOf", "oneOf", "allOf"))


def _pick_type(schema: dict) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"] or kind
        return sorted(kinds, key=lambda k: _TYPE_ORDER.index(k) if k in _TYPE_ORDER else 99)[0]
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
        return "number"
    return "string"


def _number(schema: dict, integer: bool) -> int | float:
    low, high = schema.get("minimum"), schema.get("maximum")
    ex_low, ex_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(ex_low, bool):  # draft-04 boolean form
        ex_low, low = (low, None) if ex_low else (None, low)
    if isinstance(ex_high, bool):
        ex_high, high = (high, None) if ex_high else (None, high)
    step = schema.get("multipleOf")
    if low is not None:
        value = low
    elif ex_low is not None:
        value = ex_low + (1 if integer or not step else step)
    elif high is not None and high < 0:
        value = high
    elif ex_high is not None and ex_high <= 0:
        value = ex_high - 1
    else:
        value = 0
    if step:
        value = math.ceil(value / step) * step
        if ex_low is not None and value <= ex_low:
            value += step
    if integer:
        return int(math.ceil(value))
    return value


def _merge_all_of(base: dict, parts: list[dict]) -> dict:
    merged = {k: v for k, v in base.items() if k != "allOf"}
    for part in parts:
        for k, v in part.items():
            if k == "properties" and isinstance(v, dict):
                merged["properties"] = {**merged.get("properties", {}), **v}
            elif k == "required" and isinstance(v, list):
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *v]))
            else:
                merged.setdefault(k, v)
    return merged


def _follow_pointer(root: dict, ref: str) -> Any:
    if not ref.startswith("#"):
        return {}  # remote refs are not fetched
    node: Any = root
    for raw in ref[1:].split("/")[1:] if ref != "#" else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return {}
    return node
