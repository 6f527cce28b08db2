"""The shipped JSON Schemas: valid draft 2020-12, reachable from the package, and the
inlined validator used for speed judges documents exactly like the schema as written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from orchestrator.spec import schema
from orchestrator.spec.yaml_marks import load_documents

REPO = Path(__file__).resolve().parents[2]


def _parsable(path: Path) -> bool:
    """Some invalid test files are not even YAML, or are hostile (alias bombs, values that
    PyYAML cannot construct), on purpose: nothing to compare there."""
    docs, _ = load_documents(path.read_text(), str(path))
    if not docs:  # a syntax error or a limit (an alias bomb must not be expanded here)
        return False
    try:
        list(yaml.safe_load_all(path.read_text()))
    except (yaml.YAMLError, ValueError, KeyError, AttributeError, IndexError):  # empty !!float
        return False
    return True


DOCS = [
    p
    for p in sorted((REPO / "pipelines").glob("*.yaml"))
    + sorted((REPO / "tests" / "data").rglob("*.yaml"))
    if _parsable(p)
]


@pytest.mark.parametrize("name", schema.SCHEMA_NAMES)
def test_schemas_are_valid_draft_2020_12(name):
    document = schema.schema(name)
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schemas_ship_inside_the_package():
    # orchestrator/schemas is a symlink to the top-level schemas/ in a checkout and a real
    # directory in the wheel: both resolve to the same files.
    package_dir = Path(schema.__file__).resolve().parent.parent / "schemas"
    assert (package_dir / "pipeline.schema.json").read_text() == (
        REPO / "schemas" / "pipeline.schema.json"
    ).read_text()


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_inlined_validator_agrees_with_the_schema_as_written(path):
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    name = "pipeline" if "resources" not in str(path) else "resources"
    plain = Draft202012Validator(schema.schema(name))
    for document in documents:
        try:
            expected = sorted(
                (tuple(e.absolute_path), e.message) for e in plain.iter_errors(document)
            )
        except TypeError:
            pytest.skip("unhashable keys on purpose")
        got = sorted(
            (tuple(e.absolute_path), e.message)
            for e in schema.validator(name).iter_errors(document)
        )
        assert got == expected


def test_examples_satisfy_the_raw_schema():
    plain = Draft202012Validator(schema.schema("pipeline"))
    for path in (REPO / "pipelines").glob("*.yaml"):
        assert list(plain.iter_errors(yaml.safe_load(path.read_text()))) == []
