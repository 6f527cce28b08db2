"""Helpers for run tests: compile pipeline text with the real compiler, run it on the
in-memory backend with a fresh records file."""

from __future__ import annotations

import textwrap

import pytest

from orchestrator.backends.memory import MemoryBackend
from orchestrator.compile import compile_pipeline
from orchestrator.run.records import Records
from orchestrator.run.runner import RunOptions, start_run
from orchestrator.spec import load_pipeline_text

HEADER = """\
apiVersion: orchestrate/v1
kind: Pipeline
metadata: {name: t}
"""


def plan_of(body: str, file: str = "t.yaml"):
    return compile_pipeline(load_pipeline_text(HEADER + textwrap.dedent(body), file))


class Harness:
    def __init__(self, tmp_path):
        self.backend = MemoryBackend()
        self.records = Records(tmp_path / "runs.db")
        self.events: list[tuple[str, dict]] = []

    def emit(self, kind, **data):
        self.events.append((kind, data))

    def run(self, body_or_plan, inputs=None, **options):
        plan = plan_of(body_or_plan) if isinstance(body_or_plan, str) else body_or_plan
        self.run_plan = plan  # the last plan run, for resume
        return start_run(
            plan,
            inputs or {},
            self.backend,
            self.records,
            options=RunOptions(**options),
            emit=self.emit,
        )


@pytest.fixture
def harness(tmp_path):
    h = Harness(tmp_path)
    yield h
    h.records.close()


@pytest.fixture
def compile_text():
    return plan_of
