"""`${env:VAR}` in provisioned agents: a missing variable is located (FILE:LINE:COL and the
key), and export writes back the variable the YAML named, not the tool_env key (issue 14)."""

from __future__ import annotations

import pytest

from orchestrator.errors import SpecError
from orchestrator.provision.export import Selection, export_resources
from orchestrator.spec.model import Mark
from orchestrator.spec.resources import load_resources

from .helpers import agent, block, resources

WHERE = Mark("agents/a.yaml", 3, 1)


def test_a_missing_env_var_is_located_at_its_agent_and_key(h):
    res = resources(
        agent(
            "a",
            mark=WHERE,
            tool_env={"API_KEY": "${env:HG_SECRET}"},
            system="key ${env:SYS}",
            memory_blocks=[block("creds", "${env:B}")],
        )
    )
    with pytest.raises(SpecError) as err:
        h.plan(res)
    shown = sorted(i.format() for i in err.value.issues)
    assert shown == [
        "agents/a.yaml:3:1: agents.a.memory_blocks.creds: environment variable B is not set "
        "(export it before plan/apply)",
        "agents/a.yaml:3:1: agents.a.system: environment variable SYS is not set "
        "(export it before plan/apply)",
        "agents/a.yaml:3:1: agents.a.tool_env.API_KEY: environment variable HG_SECRET is not "
        "set (export it before plan/apply)",
    ]


def test_export_keeps_the_env_var_the_yaml_named(h, tmp_path):
    res = resources(agent("a", tool_env={"API_KEY": "${env:HG_SECRET}", "RAW": "literal"}))
    env = {"HG_SECRET": "s3cr3t"}
    h.apply(res, env=env)
    out = tmp_path / "exported"
    report = export_resources(h.backend, Selection(all=True), out)
    text = (out / "agents" / "a.yaml").read_text()
    assert "${env:HG_SECRET}" in text and "${env:API_KEY}" not in text
    assert "s3cr3t" not in text and "literal" not in text  # a literal value is a secret too
    assert "${env:RAW}" in text
    assert any("RAW" in w and "HG_SECRET" not in w for w in report.warnings)
    exported = load_resources(out)
    assert h.plan(exported, env={**env, "RAW": "literal"}).empty
