"""Build pipelines from short YAML snippets in tests."""

from __future__ import annotations

import textwrap

from orchestrator.compile import compile_pipeline
from orchestrator.spec import load_pipeline_text

HEAD = """\
apiVersion: orchestrate/v1
kind: Pipeline
metadata: {name: t}
"""


def plan_of(body: str, file: str = "p.yaml"):
    return compile_pipeline(load_pipeline_text(HEAD + textwrap.dedent(body), file))
