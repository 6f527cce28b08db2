"""Letta agent files (.af, issue 14): export writes no secret value (tool_env values are
blanked even when the server returns them; a secret resolved into a block or the system
prompt is redacted); import restores tool_env from the environment and refuses an identity
the server already has; a file that is not an agent file is a located error."""

from __future__ import annotations

import json

import pytest

from orchestrator.errors import ProvisionError
from orchestrator.provision.agentfile import export_agent_files, import_agent_files
from orchestrator.provision.export import Selection

from .helpers import agent, block, resources

SECRET = "hunter2-is-not-a-password"
ENV = {"HG_SECRET": SECRET}


def fleet():
    return resources(
        agent(
            "a",
            tool_env={"API_KEY": "${env:HG_SECRET}"},
            system="You help. Key: ${env:HG_SECRET}",
            memory_blocks=[block("persona", "I keep ${env:HG_SECRET} safe")],
        )
    )


def test_export_writes_no_secret_and_import_restores_it_from_the_environment(h, tmp_path):
    h.apply(fleet(), env=ENV)
    report = export_agent_files(h.server, Selection(all=True), tmp_path, "default", ENV)
    text = (tmp_path / "a.af").read_text()
    assert SECRET not in text
    doc = json.loads(text)
    assert doc["agents"][0]["tool_exec_environment_variables"] == {"API_KEY": ""}
    assert h.agent("a").metadata["orchestrate"]["tool_env"].startswith("sha256:")
    assert doc["agents"][0]["metadata"]["orchestrate"]["tool_env"] == ""  # no digest either
    assert "I keep (redacted) safe" in text
    assert any("replaced by (redacted)" in w for w in report.warnings)
    old = h.agent("a")
    h.server.delete_agent(old.id)
    done = import_agent_files(h.server, [tmp_path / "a.af"], ENV)
    (new_id,) = [a.split("(")[1].rstrip(")") for a in done.agents]
    assert h.server.agents[new_id]["env"] == {"API_KEY": SECRET}  # from HG_SECRET, as applied
    assert [b.label for b in h.server.get_agent(new_id).blocks] == ["persona"]


def test_import_next_to_the_same_identity_is_refused_before_anything_is_written(h, tmp_path):
    h.apply(fleet(), env=ENV)
    export_agent_files(h.server, Selection(all=True), tmp_path, "default", ENV)
    before = len(h.server.agents)
    with pytest.raises(
        ProvisionError,
        match="has the identity 'default/a', which an agent on the server already has",
    ):
        import_agent_files(h.server, [tmp_path / "a.af"], ENV)
    assert len(h.server.agents) == before


def test_a_missing_variable_is_a_warning_naming_it(h, tmp_path):
    h.apply(fleet(), env=ENV)
    export_agent_files(h.server, Selection(all=True), tmp_path, "default", ENV)
    h.server.delete_agent(h.agent("a").id)
    done = import_agent_files(h.server, [tmp_path / "a.af"], {})
    assert done.warnings == [
        "a.af: agent 'a': tool_env API_KEY is empty (set HG_SECRET and "
        "import again, or apply its YAML)"
    ]


def test_not_an_agent_file_is_located(h, tmp_path):
    bad = tmp_path / "bad.af"
    bad.write_text('{"agents": [\n  1,\n}')
    with pytest.raises(ProvisionError, match=r"bad.af:3:1: not an agent file \(invalid JSON"):
        import_agent_files(h.server, [bad], {})
    bad.write_text("{}")
    with pytest.raises(ProvisionError, match=r"bad.af:1:1: not an agent file \(no 'agents'"):
        import_agent_files(h.server, [bad], {})


def test_a_secret_used_only_in_a_block_or_the_system_prompt_is_redacted(h, tmp_path):
    """Not named by tool_env: apply's record of the fields it resolved (env_fields, a shared
    block's env_template) names the variables, so their values are redacted too."""
    env = {
        "ONLY_IN_BLOCK": "block-only-s3cret",
        "ONLY_IN_SYSTEM": "system-only-s3cret",
        "SHARED_ONE": "shared-only-s3cret",
    }
    res = resources(
        agent(
            "b",
            system="Use ${env:ONLY_IN_SYSTEM} carefully.",
            memory_blocks=[block("vault", "pin ${env:ONLY_IN_BLOCK}")],
            shared_blocks=["team"],
        ),
        blocks=[block("team", "team key ${env:SHARED_ONE}")],
    )
    h.apply(res, env=env)
    export_agent_files(h.server, Selection(all=True), tmp_path, "default", env)
    text = (tmp_path / "b.af").read_text()
    assert not [name for name, value in env.items() if value in text]
    assert text.count("(redacted)") >= 3


def test_letta_ids_are_not_reported_as_secrets_but_a_key_is(h, tmp_path):
    h.apply(
        resources(
            agent(
                "c", memory_blocks=[block("ids", "file_agent-8a5d681f-fb74-4070-8e9b-e6369cfbe171")]
            )
        )
    )
    report = export_agent_files(h.server, Selection(all=True), tmp_path, "default", {})
    assert not report.warnings
    h.apply(resources(agent("c", memory_blocks=[block("ids", "AKIAIOSFODNN7EXAMPLE")])))
    report = export_agent_files(h.server, Selection(all=True), tmp_path, "default", {})
    assert report.warnings == [
        f"c.af: what looks like a secret (aws-access-key): check it "
        f"with `orchestrate audit {tmp_path / 'c.af'}` before sharing "
        "the file"
    ]
    assert "AKIAIOSFODNN7EXAMPLE" not in "".join(report.warnings)


def test_import_can_give_the_model_and_embedding_the_new_server_offers(h, tmp_path):
    h.apply(fleet(), env=ENV)
    export_agent_files(h.server, Selection(all=True), tmp_path, "default", ENV)
    h.server.delete_agent(h.agent("a").id)
    import_agent_files(
        h.server, [tmp_path / "a.af"], ENV, model="other/model", embedding="other/embedding"
    )
    back = h.agent("a")
    assert (back.model, back.embedding) == ("other/model", "other/embedding")
