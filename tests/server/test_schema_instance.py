"""The minimal-instance generator: every instance must validate against its schema."""

from __future__ import annotations

import jsonschema
import pytest

from orchestrator.server.model_endpoint.schema_instance import minimal_instance

SCHEMAS = {
    "review": {
        "type": "object",
        "required": ["approved", "feedback"],
        "properties": {"approved": {"type": "boolean"}, "feedback": {"type": "string"}},
    },
    "nested": {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "minItems": 2,
                "items": {
                    "type": "object",
                    "properties": {"n": {"type": "integer"}, "ok": {"type": "boolean"}},
                },
            },
            "meta": {"type": "object", "properties": {"source": {"type": ["null", "string"]}}},
        },
    },
    "numbers": {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "minimum": 3},
            "b": {"type": "number", "exclusiveMinimum": 0},
            "c": {"type": "integer", "maximum": -5},
            "d": {"type": "integer", "multipleOf": 7, "minimum": 10},
            "e": {"type": "number", "exclusiveMinimum": 2, "multipleOf": 0.5},
        },
        "required": ["a", "b", "c", "d", "e"],
    },
    "strings": {
        "type": "object",
        "properties": {
            "short": {"type": "string", "maxLength": 5},
            "long": {"type": "string", "minLength": 300},
            "when": {"type": "string", "format": "date-time"},
            "id": {"type": "string", "format": "uuid"},
            "mail": {"type": "string", "format": "email"},
        },
    },
    "enum_const": {
        "type": "object",
        "properties": {"kind": {"enum": ["draft", "final"]}, "v": {"const": 2}},
        "required": ["kind", "v"],
    },
    "refs": {
        "$defs": {
            "point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
        },
        "type": "object",
        "properties": {
            "p": {"$ref": "#/$defs/point"},
            "ps": {"type": "array", "items": {"$ref": "#/$defs/point"}},
        },
        "required": ["p"],
    },
    "combinators": {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {
                "properties": {
                    "b": {"anyOf": [{"type": "integer", "minimum": 4}, {"type": "string"}]}
                },
                "required": ["b"],
            },
        ]
    },
    "tuple": {
        "type": "array",
        "prefixItems": [{"type": "string"}, {"type": "boolean"}],
        "items": False,
    },
    "empty_array": {"type": "array", "maxItems": 0},
    "top_level_string": {"type": "string"},
    "top_level_bool": {"type": "boolean"},
    "anything": {},
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_instance_is_valid(name):
    schema = SCHEMAS[name]
    value = minimal_instance(schema, "Write the report on topic X")
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(
        value
    )


def test_objects_get_every_property_and_values_are_minimal():
    value = minimal_instance(SCHEMAS["nested"], "q")
    assert value == {
        "items": [{"n": 0, "ok": True}, {"n": 0, "ok": True}],
        "meta": {"source": "[local-model] source: q"},
    }
    numbers = minimal_instance(SCHEMAS["numbers"])
    assert numbers == {"a": 3, "b": 1, "c": -5, "d": 14, "e": 2.5}


def test_strings_come_from_the_prompt_and_are_deterministic():
    schema = {"type": "object", "properties": {"summary": {"type": "string"}}}
    first = minimal_instance(schema, "Summarise   the\nquarterly report")
    assert first == {"summary": "[local-model] summary: Summarise the quarterly report"}
    assert minimal_instance(schema, "Summarise   the\nquarterly report") == first
    assert minimal_instance(SCHEMAS["enum_const"]) == {"kind": "draft", "v": 2}


def test_recursive_schema_terminates_with_a_valid_instance():
    schema = {
        "$defs": {"node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/node"}}}},
        "$ref": "#/$defs/node",
    }
    value = minimal_instance(schema)
    jsonschema.validate(value, schema)
    depth = 0
    while "child" in value:
        value, depth = value["child"], depth + 1
    assert depth == 4
