"""`ref: path/to/agent.yaml` in a pipeline reads that file and what its agent uses, nothing
else: a missing file is a clear error at once (not a walk of its directory), and an unrelated
broken file beside it does not matter."""

from __future__ import annotations

import time

import pytest

from orchestrator.errors import RunError
from orchestrator.run.provisioned import ref_agent_name

AGENT = """\
apiVersion: orchestrate/v1
kind: Agent
name: researcher
model: m/m
"""


def test_a_missing_ref_file_is_a_clear_error_without_walking_the_tree(tmp_path):
    began = time.monotonic()
    with pytest.raises(RunError, match=r"agent ref '/no/such/agent.yaml': no such file"):
        ref_agent_name("/no/such/agent.yaml", str(tmp_path / "p.yaml"))
    assert time.monotonic() - began < 1.0


def test_only_the_referenced_file_is_read(tmp_path):
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "researcher.yaml").write_text(AGENT)
    (tmp_path / "agents" / "broken.yaml").write_text("kind: Agent\nname: [unclosed\n")
    assert ref_agent_name("agents/researcher.yaml", str(tmp_path / "p.yaml")) == "researcher"


def test_a_nul_byte_in_a_ref_is_refused(tmp_path):
    with pytest.raises(RunError, match="not a file name"):
        ref_agent_name("agents/x\0.yaml", str(tmp_path / "p.yaml"))
