"""One client span per Letta call of a traced run: `TracedBackend` wraps the run's backend.

Owns the spans of `send` (`gen_ai.operation.name` invoke_agent: a message to a Letta agent,
under its unit's span, with the reply's token usage), `create_agent` (create_agent) and
every other call of the RunBackend Protocol (`letta.<call>`, under the run's span). What
an agent is created with (tool environment, system prompt, block values: where
`${env:VAR}` values go) is never put on a span; a prompt and a reply only with the run's
content opt-in, masked.

Must not: change what a call does, returns or raises.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

from orchestrator.backends.base import AgentRef, BlockRef, ChunkSink, Delivery, Reply, RunBackend
from orchestrator.backends.requests import NewAgent, NewBlock

if TYPE_CHECKING:
    from orchestrator.run.otel import RunTrace

T = TypeVar("T")


class TracedBackend:
    """A RunBackend that traces each call of the one it wraps."""

    def __init__(self, inner: RunBackend, trace_: RunTrace):
        self._inner, self._trace = inner, trace_
        self.base_url = inner.base_url
        url = urllib.parse.urlsplit(inner.base_url)
        self._server: dict[str, Any] = {
            "server.address": url.hostname or "",
            "server.port": url.port or 0,
            "gen_ai.provider.name": "letta",
        }

    def for_run(self, *, run_timeout: float | None = None) -> RunBackend:
        return TracedBackend(self._inner.for_run(run_timeout=run_timeout), self._trace)

    def _call(
        self,
        name: str,
        fn: Callable[[], T],
        *,
        context: Context | None = None,
        attrs: dict[str, Any] | None = None,
        after: Callable[[Span, T], None] | None = None,
    ) -> T:
        span = self._trace.tracer.start_span(
            name,
            context=context or self._trace.context,
            kind=SpanKind.CLIENT,
            attributes={**self._server, "orchestrate.run.id": self._trace.run_id, **(attrs or {})},
        )
        try:
            result = fn()
        except BaseException as exc:
            span.set_attribute("error.type", type(exc).__name__)
            self._trace._error(span, f"{type(exc).__name__}: {exc}")
            span.end()
            raise
        if after is not None:
            after(span, result)
        span.end()
        return result

    def send(
        self,
        agent_id: str,
        prompt: str,
        *,
        otid: str,
        model: str | None = None,
        timeout: float | None = None,
        on_chunk: ChunkSink | None = None,
    ) -> Reply:
        context, attempt, agent = self._trace.unit_of(otid)
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.id": agent_id,
            "gen_ai.agent.name": agent,
            "gen_ai.conversation.id": agent_id,
            "orchestrate.attempt": attempt,
            "orchestrate.otid": otid,
        }
        if model:
            attrs["gen_ai.request.model"] = model
        if self._trace.content:
            from orchestrator.run.otel import _messages

            attrs["gen_ai.input.messages"] = self._trace._text(_messages("user", prompt))

        def after(span: Span, reply: Reply) -> None:
            span.set_attributes(
                {
                    "gen_ai.usage.input_tokens": reply.prompt_tokens,
                    "gen_ai.usage.output_tokens": reply.completion_tokens,
                    "orchestrate.letta.step_count": reply.step_count,
                }
            )
            if self._trace.content:
                from orchestrator.run.otel import _messages

                span.set_attribute(
                    "gen_ai.output.messages", self._trace._text(_messages("assistant", reply.text))
                )

        return self._call(
            "letta.send",
            lambda: self._inner.send(
                agent_id, prompt, otid=otid, model=model, timeout=timeout, on_chunk=on_chunk
            ),
            context=context,
            attrs=attrs,
            after=after,
        )

    def delivery(self, agent_id: str, otid: str) -> Delivery:
        context, attempt, _ = self._trace.unit_of(otid)

        def after(span: Span, found: Delivery) -> None:
            span.set_attributes(
                {"orchestrate.received": found.received, "orchestrate.busy": found.busy}
            )

        return self._call(
            "letta.delivery",
            lambda: self._inner.delivery(agent_id, otid),
            context=context,
            attrs={
                "gen_ai.agent.id": agent_id,
                "orchestrate.otid": otid,
                "orchestrate.attempt": attempt,
            },
            after=after,
        )

    def answer_tool(
        self,
        agent_id: str,
        call_id: str,
        *,
        approve: bool,
        reason: str | None,
        otid: str,
        timeout: float | None = None,
    ) -> Reply:
        """A person's answer to a tool call that needed approval (run.approval)."""
        context, attempt, _ = self._trace.unit_of(otid)
        return self._call(
            "letta.answer_tool",
            lambda: self._inner.answer_tool(
                agent_id, call_id, approve=approve, reason=reason, otid=otid, timeout=timeout
            ),
            context=context,
            attrs={
                "gen_ai.agent.id": agent_id,
                "orchestrate.otid": otid,
                "orchestrate.attempt": attempt,
                "orchestrate.approved": approve,
            },
        )

    def create_agent(self, request: NewAgent) -> AgentRef:
        def after(span: Span, ref: AgentRef) -> None:
            span.set_attribute("gen_ai.agent.id", ref.id)

        # only the name and model: the request's other fields may hold resolved secrets
        return self._call(
            f"create_agent {request.name}",
            lambda: self._inner.create_agent(request),
            attrs={
                "gen_ai.operation.name": "create_agent",
                "gen_ai.agent.name": self._trace._text(request.name),
                "gen_ai.request.model": request.model,
            },
            after=after,
        )

    def check(self) -> None:
        self._call("letta.check", self._inner.check)

    def models(self) -> tuple[list[str], list[str]]:
        return self._call("letta.models", self._inner.models)

    def create_block(self, block: NewBlock) -> str:
        return self._call("letta.create_block", lambda: self._inner.create_block(block))

    def delete_block(self, block_id: str) -> None:
        self._call("letta.delete_block", lambda: self._inner.delete_block(block_id))

    def find_agents(self, tags: tuple[str, ...]) -> list[AgentRef]:
        return self._call("letta.find_agents", lambda: self._inner.find_agents(tags))

    def delete_agent(self, agent_id: str) -> None:
        self._call(
            "letta.delete_agent",
            lambda: self._inner.delete_agent(agent_id),
            attrs={"gen_ai.agent.id": agent_id},
        )

    def find_blocks(self, tags: tuple[str, ...], *, unattached: bool = False) -> list[BlockRef]:
        return self._call(
            "letta.find_blocks", lambda: self._inner.find_blocks(tags, unattached=unattached)
        )

    def agent_blocks(self, agent_id: str) -> list[str]:
        return self._call(
            "letta.agent_blocks",
            lambda: self._inner.agent_blocks(agent_id),
            attrs={"gen_ai.agent.id": agent_id},
        )
