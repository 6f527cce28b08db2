"""Which model and embedding a run's agents and steps use.

Owns `Models`: a step's model is step.model, else the agent's, else the pipeline default,
else the run default (--model / ORCHESTRATE_MODEL, resolved by the caller; else the
server's first `openai-proxy/` model, else its first chat model). A step whose model
differs from its agent's sends that one message with Letta's `override_model`: same agent,
same memory, another model for that turn (`step`). An agent's embedding is its own, else
the pipeline default, else ORCHESTRATE_EMBEDDING (orchestrator.settings), else
DEFAULT_EMBEDDING if the server offers it (or offers none), else the server's first. The
server's (chat, embedding) model lists are asked once, or given (a Temporal worker is told
the ones the run started with).

Must not: create or delete anything, or send messages.
"""

from __future__ import annotations

from orchestrator import settings
from orchestrator.backends.base import RunBackend
from orchestrator.compile.plan import Plan, StepPlan
from orchestrator.errors import RunError
from orchestrator.run.provisioned import Agent
from orchestrator.spec.model import AgentSpec

DEFAULT_EMBEDDING = "openai/text-embedding-3-small"


class Models:
    def __init__(
        self,
        plan: Plan,
        backend: RunBackend,
        *,
        default_model: str | None = None,
        server: tuple[list[str], list[str]] | None = None,
    ):
        self.plan, self.backend = plan, backend  # backend: AgentPool replaces it (tracing)
        self._default_model = default_model
        self._server = server  # the server's (chat, embedding) handles, once asked

    def default(self) -> str:
        """The run default: the one given, else the server's first proxied (or chat) model."""
        if self._default_model is None:
            chat = self.server()[0]
            proxied = [m for m in chat if m.startswith("openai-proxy/")]
            if not (proxied or chat):
                raise RunError(
                    f"the server at {self.backend.base_url} offers no chat model: "
                    "pass --model or set ORCHESTRATE_MODEL"
                )
            self._default_model = (proxied or chat)[0]
        return self._default_model

    def agent(self, spec: AgentSpec) -> str:
        return spec.model or self.plan.defaults.model or self.default()

    @staticmethod
    def step(step: StepPlan, agent: Agent | None = None) -> str | None:
        """The override for this step's messages, or None to use the agent's own model."""
        if not step.model:
            return None
        return None if agent and agent.model == step.model else step.model

    def embedding(self, spec: AgentSpec) -> str:
        chosen = (
            spec.embedding
            or self.plan.defaults.embedding
            or settings.value("ORCHESTRATE_EMBEDDING")
        )
        if chosen:
            return chosen
        available = self.server()[1]
        return (
            DEFAULT_EMBEDDING if DEFAULT_EMBEDDING in available or not available else available[0]
        )

    def server(self) -> tuple[list[str], list[str]]:
        """(chat, embedding) model handles the server offers (asked once)."""
        if self._server is None:
            self._server = self.backend.models()
        return self._server
