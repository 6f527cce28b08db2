"""Export never writes a secret that apply resolved into a system prompt or a block value:
such a field is written back as the `${env:VAR}` references the YAML used (recorded at
apply, names and the text around them only), or export refuses, naming the agent and the
field and never the value (issue 20)."""

from __future__ import annotations

import pytest

from orchestrator.errors import ProvisionError
from orchestrator.provision.export import Selection, export_resources
from orchestrator.spec.resources import load_resources

from .helpers import agent, block, resources

SECRET = "sk-live-Q7f2ZpX9mW4tK8vR1nB6yH3c"
OTHER = "ghp_R2d2C3p0Yy9xWw8vVu7tTs6rRq5pPo4nNm"
ENV = {"EXP_API_KEY": SECRET, "EXP_TOKEN": OTHER}


def _leaked(root) -> list[str]:
    """The variables whose value is somewhere in the files under `root` (names only, so a
    failing assertion does not print a value either)."""
    raw = b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())
    return sorted(name for name, value in ENV.items() if value.encode() in raw)


def _fleet():
    return resources(
        agent(
            "keeper",
            system="You are careful.\nUse key ${env:EXP_API_KEY} for the API.\n",
            memory_blocks=[
                block("creds", "token=${env:EXP_TOKEN}; key=${env:EXP_API_KEY}"),
                block("persona", "plain"),
            ],
            shared_blocks=["team"],
        ),
        blocks=[block("team", "the team token is ${env:EXP_TOKEN}")],
    )


def test_export_writes_env_references_not_resolved_secrets(h, tmp_path):
    h.apply(_fleet(), env=ENV)
    assert SECRET in h.agent("keeper").system  # apply resolved it: the server holds the value
    out = tmp_path / "exported"
    export_resources(h.backend, Selection(all=True), out)
    assert _leaked(out) == []
    system = (out / "agents" / "keeper.system.md").read_text()
    assert system == "You are careful.\nUse key ${env:EXP_API_KEY} for the API.\n"
    agent_yaml = (out / "agents" / "keeper.yaml").read_text()
    assert "token=${env:EXP_TOKEN}; key=${env:EXP_API_KEY}" in agent_yaml
    assert "${env:EXP_TOKEN}" in (out / "blocks" / "team.yaml").read_text()
    assert h.plan(load_resources(out), env=ENV).empty  # export -> apply stays a no-op


def test_a_changed_secret_field_is_refused_naming_agent_and_field(h, tmp_path):
    h.apply(_fleet(), env=ENV)
    creds = next(b for b in h.agent("keeper").blocks if b.label == "creds")
    h.server.update_block(creds.id, value=f"the agent rewrote this: {OTHER}")
    with pytest.raises(ProvisionError) as err:
        export_resources(h.backend, Selection(all=True), tmp_path / "out")
    message = str(err.value)
    assert "keeper" in message and "memory_blocks.creds" in message
    assert not any(value in message for value in ENV.values())
    assert not (tmp_path / "out" / "agents" / "keeper.yaml").exists()


def test_a_changed_secret_field_is_written_back_when_the_variable_is_set(h, tmp_path):
    h.apply(_fleet(), env=ENV)
    creds = next(b for b in h.agent("keeper").blocks if b.label == "creds")
    h.server.update_block(creds.id, value=f"rewritten: {OTHER}")
    out = tmp_path / "out"
    export_resources(h.backend, Selection(all=True), out, env=ENV)
    assert _leaked(out) == []
    assert "rewritten: ${env:EXP_TOKEN}" in (out / "agents" / "keeper.yaml").read_text()


def test_a_field_applied_without_a_record_is_written_with_a_warning(h, tmp_path):
    h.apply(resources(agent("old", system="You are old.")))
    made = h.agent("old")
    h.server.update_agent(made.id, system=f"You are old. Key {SECRET}")  # as before issue 20
    report = export_resources(h.backend, Selection(all=True), tmp_path / "out")
    assert [w for w in report.warnings if "agent old: system" in w and "openai-key" in w]
    assert not any(value in w for w in report.warnings for value in ENV.values())


@pytest.mark.parametrize(
    ("template", "value", "fits"),
    [
        ("${env:A}", "anything at all", True),
        ("key ${env:A}.", "key s3cr3t.", True),
        ("key ${env:A}.", "key s3cr3t. And more", False),
        ("a${env:A}b${env:B}c", "aXbYc", True),
        ("a${env:A}b${env:B}c", "abc", True),
        ("a${env:A}b${env:B}c", "aXcYb", False),
        ("ab${env:A}ba", "aba", False),  # prefix and suffix must not overlap
    ],
)
def test_the_shape_of_a_template(template, value, fits):
    from orchestrator.provision.export_secrets import _fits, _literals

    assert _fits(value, _literals(template)) is fits
