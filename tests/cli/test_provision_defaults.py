"""Default model/embedding handles `plan`/`apply` use on the embedded stack (no Letta needed)."""

from __future__ import annotations

import os

from orchestrator.provision.defaults import given_defaults
from orchestrator.server import stack, state
from orchestrator.server.paths import StackPaths

URL = "http://127.0.0.1:8999"


def _defaults(base_url, model, embedding):
    """What `plan` / `apply` use: the provisioning rule, told what the embedded stack offers."""
    return given_defaults(base_url, model, embedding, stack=stack.handles_at)


def _embedded(home, model: dict) -> None:
    """A state file saying Letta (this very process: it is alive) runs at URL."""
    state.write(
        StackPaths(home), {"letta": {"pid": os.getpid(), "url": URL, "port": 8999}, "model": model}
    )


def test_local_model_handle_on_the_embedded_stack(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path))
    for name in (
        "ORCHESTRATE_DEFAULT_MODEL",
        "ORCHESTRATE_DEFAULT_EMBEDDING",
        "ORCHESTRATE_MODEL",
        "ORCHESTRATE_EMBEDDING",
        "ORCHESTRATE_MODEL_HANDLE",
    ):
        monkeypatch.delenv(name, raising=False)
    _embedded(tmp_path, {"pid": os.getpid(), "url": "http://127.0.0.1:8998/v1", "port": 8998})
    assert _defaults(URL, None, None) == (
        stack.default_model_handle(),
        stack.default_embedding_handle(),
    )
    assert _defaults("http://elsewhere:8283", None, None) == (None, None)


def test_external_model_endpoint_does_not_get_the_local_model_handle(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path))
    for name in (
        "ORCHESTRATE_DEFAULT_MODEL",
        "ORCHESTRATE_DEFAULT_EMBEDDING",
        "ORCHESTRATE_MODEL_HANDLE",
        "ORCHESTRATE_MODEL",
        "ORCHESTRATE_EMBEDDING",
    ):
        monkeypatch.delenv(name, raising=False)
    _embedded(tmp_path, {"external": True, "url": "https://api.example.com/v1"})
    model, embedding = _defaults(URL, None, None)
    assert model is None  # plan/apply then ask for --default-model instead of a wrong handle
    assert embedding == stack.default_embedding_handle()
    monkeypatch.setenv("ORCHESTRATE_MODEL_HANDLE", "openai-proxy/gpt-4o-mini")
    assert _defaults(URL, None, None)[0] == "openai-proxy/gpt-4o-mini"
    assert _defaults(URL, "my/model", None)[0] == "my/model"
