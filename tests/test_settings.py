"""orchestrator/settings.py: every setting declared once, the docs table generated from it,
old names still read with a deprecation notice (issue 18)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator import settings

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"ORCHESTRATE_[A-Z][A-Z_]*[A-Z]")


def test_every_orchestrate_variable_in_the_code_is_declared():
    declared = set(settings.SETTINGS) | {a for s in settings.SETTINGS.values() for a in s.aliases}
    used: dict[str, str] = {}
    for path in (ROOT / "orchestrator").rglob("*.py"):
        for name in NAME.findall(path.read_text(encoding="utf-8")):
            used.setdefault(name, str(path.relative_to(ROOT)))
    undeclared = {n: p for n, p in used.items() if n not in declared}
    assert not undeclared, f"declare these in orchestrator/settings.py: {undeclared}"
    assert "ORCHESTRATE_MODEL" in used and "ORCHESTRATE_HOME" in used  # the scan sees reads


def test_docs_settings_md_is_generated_from_the_module():
    assert (ROOT / "docs" / "settings.md").read_text(encoding="utf-8") == settings.markdown(), (
        "regenerate: python3 -m orchestrator.settings --markdown > docs/settings.md"
    )


def test_the_new_name_wins_and_an_empty_value_is_unset(monkeypatch):
    env = {"ORCHESTRATE_MODEL": "a/new", "ORCHESTRATE_DEFAULT_MODEL": "a/old"}
    assert settings.value("ORCHESTRATE_MODEL", env) == "a/new"
    assert settings.value("ORCHESTRATE_MODEL", {"ORCHESTRATE_MODEL": ""}) is None
    assert settings.value("ORCHESTRATE_MODEL", {}) is None


def test_an_old_name_still_works_with_one_deprecation_notice(monkeypatch, capsys):
    monkeypatch.setattr(settings, "_warned", set())
    env = {"ORCHESTRATE_MODEL_HANDLE": "openai-proxy/x"}
    assert settings.value("ORCHESTRATE_MODEL", env) == "openai-proxy/x"
    assert settings.value("ORCHESTRATE_MODEL", env) == "openai-proxy/x"
    err = capsys.readouterr().err
    assert err.count("ORCHESTRATE_MODEL_HANDLE is deprecated") == 1
    assert "set ORCHESTRATE_MODEL instead" in err
    assert "openai-proxy/x" not in err  # a value is never echoed


def test_apply_defaults_read_the_one_model_name(tmp_path, monkeypatch, capsys):
    from orchestrator.provision.defaults import given_defaults
    from orchestrator.server.stack import handles_at

    def _defaults(base_url, model, embedding):  # as `plan` / `apply` ask it
        return given_defaults(base_url, model, embedding, stack=handles_at)

    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path))
    for name in (
        "ORCHESTRATE_DEFAULT_MODEL",
        "ORCHESTRATE_DEFAULT_EMBEDDING",
        "ORCHESTRATE_MODEL_HANDLE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ORCHESTRATE_MODEL", "my/model")
    monkeypatch.setenv("ORCHESTRATE_EMBEDDING", "my/embedding")
    assert _defaults("http://elsewhere:8283", None, None) == ("my/model", "my/embedding")
    monkeypatch.setattr(settings, "_warned", set())
    monkeypatch.delenv("ORCHESTRATE_EMBEDDING")
    monkeypatch.setenv("ORCHESTRATE_DEFAULT_EMBEDDING", "old/embedding")
    assert _defaults("http://elsewhere:8283", None, None) == ("my/model", "old/embedding")
    assert "ORCHESTRATE_DEFAULT_EMBEDDING is deprecated" in capsys.readouterr().err


def test_an_undeclared_setting_is_a_bug_and_integers_are_checked():
    with pytest.raises(KeyError):
        settings.value("ORCHESTRATE_NOT_A_SETTING")
    assert settings.int_value("ORCHESTRATE_LETTA_PORT", 8283, {}) == 8283
    with pytest.raises(ValueError, match="ORCHESTRATE_LETTA_PORT must be an integer"):
        settings.int_value("ORCHESTRATE_LETTA_PORT", 8283, {"ORCHESTRATE_LETTA_PORT": "x"})


def test_secrets_are_marked():
    secret = {s.name for s in settings.SETTINGS.values() if s.secret}
    assert {
        "ORCHESTRATE_OPENAI_API_KEY",
        "ORCHESTRATE_RECORDS_URL",
        "ORCHESTRATE_TEMPORAL_KEY",
        "ORCHESTRATE_MODEL_ADMIN_TOKEN",
    } <= secret
