"""The provisioning package's public names mean one thing each (issue 18)."""

from __future__ import annotations

import importlib.util

import orchestrator.provision as provision
from orchestrator.provision import diff_engine, service


def test_apply_and_diff_are_the_functions_and_no_module_hides_behind_them():
    assert provision.apply is service.apply
    assert provision.diff is diff_engine.diff
    for name in ("apply", "diff"):
        assert importlib.util.find_spec(f"orchestrator.provision.{name}") is None
