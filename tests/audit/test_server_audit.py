"""`orchestrate audit --server` on the embedded Letta: secrets and personal data planted in a
managed agent's blocks, archival passages, messages and tool environment, and a secret
apply resolved into its system prompt, are found and named (agent, block label, passage
id), never shown; an unmanaged agent is neither reported nor touched; `--fix` redacts or
deletes exactly the planted passages (issue 20)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from letta_client import Letta

from orchestrator.backends.letta_admin import LettaAdmin
from orchestrator.cli import main
from orchestrator.provision import DiffOptions, apply, plan
from tests.audit.corpus import CARD, EMAIL, GITHUB, OPENAI, PHONE_US, PLANTED, SLACK, SSN
from tests.provision.helpers import agent, block, resources

pytestmark = pytest.mark.integration
RESOLVED = "sk-" + uuid.uuid4().hex + "Qz9"  # what ${env:AUDIT_KEY} resolves to
SECRETS = [*PLANTED, RESOLVED]


@pytest.fixture
def fleet(letta_stack, tmp_path):
    """A managed agent with everything planted, and an unmanaged one with a planted passage."""
    backend = LettaAdmin(letta_stack.base_url)
    client = Letta(base_url=letta_stack.base_url)
    options = DiffOptions(namespace=f"audit-{uuid.uuid4().hex[:8]}")
    env = {"AUDIT_KEY": RESOLVED}
    res = resources(
        agent(
            "helper",
            model=letta_stack.model_handle,
            embedding=letta_stack.embedding_handle,
            system="You help. Use ${env:AUDIT_KEY} for the CRM.",
            memory_blocks=[
                block("persona", f"Call {PHONE_US} or write to {EMAIL}"),
                block("notes", "nothing to see"),
            ],
            tool_env={"SLACK": SLACK},
        )
    )
    apply(
        plan(res, backend, options, env=env),
        res,
        backend,
        options,
        lock_dir=tmp_path / "locks",
        env=env,
    )
    helper = backend.list_agents(tags=[f"orchestrate:id={options.namespace}/helper"])[0]
    planted = [
        client.agents.passages.create(helper.id, text=text)[0].id
        for text in (f"customer card {CARD}", f"ssn on file: {SSN}, mail {EMAIL}")
    ]
    clean = client.agents.passages.create(helper.id, text="the sky is blue")[0].id
    secret_only = client.agents.passages.create(helper.id, text=f"token {GITHUB}")[0].id
    client.agents.messages.create(
        helper.id, messages=[{"role": "user", "content": f"my key is {OPENAI}, thanks"}]
    )
    stranger = client.agents.create(
        name=f"hand-made-{options.namespace}",
        model=letta_stack.model_handle,
        embedding=letta_stack.embedding_handle,
    )
    theirs = client.agents.passages.create(stranger.id, text=f"stranger's mail {EMAIL}")[0].id
    yield {
        "ns": options.namespace,
        "url": letta_stack.base_url,
        "helper": helper.id,
        "planted": planted,
        "clean": clean,
        "secret_only": secret_only,
        "stranger": stranger.id,
        "theirs": theirs,
        "client": client,
    }
    client.agents.delete(stranger.id)
    prune = DiffOptions(options.namespace, prune=True)
    apply(
        plan(resources(), backend, prune, env={}),
        resources(),
        backend,
        prune,
        lock_dir=tmp_path / "locks",
        allow_memory_loss=True,
        env={},
    )


def _audit(fleet, *extra: str) -> Result:
    return CliRunner().invoke(
        main, ["audit", "--server", "--namespace", fleet["ns"], "--base-url", fleet["url"], *extra]
    )


def _leaks(*texts: str) -> list[int]:
    """Indexes (never the values) of the planted values found in these texts."""
    raw = "\n".join(texts)
    return [i for i, value in enumerate(SECRETS) if value in raw]


def _passages(fleet, agent_id: str) -> dict[str, str]:
    return {p.id: p.text for p in fleet["client"].agents.passages.list(agent_id, limit=100)}


def test_planted_data_is_found_and_named_never_shown(fleet, letta_stack):
    result = _audit(fleet)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    helper = f"agent helper ({fleet['helper']})"
    expected = [
        f"{helper}: block persona: personal data: e-mail address (email)",
        f"{helper}: block persona: personal data: phone number (phone)",
        f"{helper}: passage {fleet['planted'][0]}: personal data: payment card number "
        "(card-number)",
        f"{helper}: passage {fleet['planted'][1]}: personal data: US social security number "
        "(us-ssn)",
        f"{helper}: passage {fleet['secret_only']}: secret: GitHub token 'ghp_…' (github-token)",
        f"{helper}: system prompt: secret: secret resolved from ${{env:AUDIT_KEY}} at apply "
        "(resolved-secret)",
        f"{helper}: tool_env SLACK (stored in clear): secret: Slack token 'xoxb-…' (slack-token)",
    ]
    for line in expected:
        assert line in lines, line
    assert any(
        line.startswith(f"{helper}: message ")
        and "(user_message): secret: OpenAI API key 'sk-…' (openai-key)" in line
        for line in lines
    ), lines
    assert f"{helper}: passage {fleet['clean']}" not in result.stdout
    assert "hand-made" not in result.output and fleet["stranger"] not in result.output
    assert _leaks(result.output) == []
    doc = json.loads(_audit(fleet, "--json").stdout)
    assert doc["ok"] is False and doc["agents"] == ["helper"]
    assert {f["rule"] for f in doc["findings"]} >= {
        "email",
        "us-ssn",
        "slack-token",
        "resolved-secret",
        "openai-key",
    }
    assert _leaks(json.dumps(doc)) == []
    logs = Path(letta_stack.home) / "logs"
    for name in ("model.log",):  # what orchestrate's own processes write
        if (logs / name).exists():
            assert _leaks((logs / name).read_text(errors="replace")) == []


def test_fix_redacts_exactly_the_planted_passages(fleet):
    before = _passages(fleet, fleet["helper"])
    theirs_before = _passages(fleet, fleet["stranger"])
    result = _audit(fleet, "--fix")
    assert _leaks(result.output) == []
    for planted in fleet["planted"]:
        assert f"will redact passage {planted} of agent helper" in result.stderr
    after = _passages(fleet, fleet["helper"])
    assert set(before) - set(after) == set(fleet["planted"])  # exactly those replaced
    new = {pid: text for pid, text in after.items() if pid not in before}
    assert sorted(new.values()) == [
        "customer card [redacted: card-number]",
        "ssn on file: [redacted: us-ssn], mail [redacted: email]",
    ]
    assert after[fleet["clean"]] == before[fleet["clean"]]
    assert after[fleet["secret_only"]] == before[fleet["secret_only"]]  # secrets: rotate
    assert _passages(fleet, fleet["stranger"]) == theirs_before  # unmanaged: untouched
    again = _audit(fleet, "--fix")
    assert "will " not in again.stderr  # nothing left to fix


def test_fix_delete_mode_deletes_them(fleet):
    _audit(fleet, "--fix", "--fix-mode", "delete")
    after = _passages(fleet, fleet["helper"])
    assert not set(fleet["planted"]) & set(after) and len(after) == 2
