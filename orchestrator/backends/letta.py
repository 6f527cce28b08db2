"""`RunBackend` on letta-client: the run-time half of all Letta access.

Owns `LettaBackend` and the mapping of letta-client failures onto `orchestrator.errors`:
connection refused/reset -> `ServerUnavailable` (URL + how to start a server), timeouts,
429 and 5xx -> transient `BackendError` (the runner retries), 404 -> `NotFound`, other 4xx ->
permanent `BackendError`; a server that answers but not as Letta does -> `NotLetta`. Error
messages carry the status and the server's short reason, never request bodies (prompts may
hold secrets). Every call has a timeout (letta_limits.py): the health check a short one, a
message the step's timeout, everything else `CALL_TIMEOUT`, none past the run's deadline.

Must not: know pipeline semantics, retry on its own (letta-client's own retries are off, so
the runner's backoff policy is the only one), or log anything.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from letta_client import Letta
from letta_client.types.agents import AssistantMessage

from orchestrator.backends.base import (
    AgentRef,
    BlockRef,
    ChunkSink,
    Delivery,
    NewAgent,
    NewBlock,
    Reply,
    ToolRequest,
)
from orchestrator.backends.letta_args import agent_args, block_args
from orchestrator.backends.letta_errors import NotLetta, listed, translated
from orchestrator.backends.letta_health import check_health
from orchestrator.backends.letta_limits import CALL_TIMEOUT, Limits
from orchestrator.errors import NotFound

T = TypeVar("T")
HISTORY_WINDOW = 200  # messages scanned when reconciling an otid after a crash


class LettaBackend:
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = CALL_TIMEOUT,
        run_timeout: float | None = None,
        http_client: Any = None,
    ):
        """`timeout` bounds each call but a message (which the step's timeout bounds);
        `run_timeout` (seconds from now) bounds every call, the health check included."""
        self.base_url = base_url.rstrip("/")
        self.version: str | None = None  # the server's, once check() has run
        self._limits = Limits(call=timeout, run_timeout=run_timeout)
        self._key = api_key
        # max_retries=0: retries belong to the runner, which knows the step's budget.
        # `http_client` (an httpx.Client) lets tests plug in a fake transport.
        self._letta = Letta(
            base_url=self.base_url,
            api_key=api_key,
            max_retries=0,
            timeout=timeout,
            http_client=http_client,
        )

    @property
    def _client(self) -> Letta:
        """The client, with the timeout of one call as of now (a message passes its own)."""
        return self._letta.with_options(timeout=self._limits.call())

    @property
    def _cleaner(self) -> Letta:
        """The client for deleting what the run made: it may run a little past the deadline."""
        return self._letta.with_options(timeout=self._limits.cleanup())

    def for_run(self, *, run_timeout: float | None = None) -> LettaBackend:
        """A backend for one more run on this server: its own deadline (`run_timeout`
        seconds from now), this one's HTTP connections. A batch makes one per item; a new
        HTTP client each time costs tens of milliseconds of CPU (TLS context, pool)."""
        other = copy.copy(self)
        other._limits = Limits(call=self._limits.call_timeout, run_timeout=run_timeout)
        return other

    def __repr__(self) -> str:  # never show the key
        return f"LettaBackend({self.base_url!r})"

    # ----- error mapping (letta_errors.py, shared with the provisioning backend) -----
    def _calls(self, what: str) -> contextlib.AbstractContextManager[None]:
        return translated(what, self.base_url)

    def _do(self, what: str, fn: Callable[[], T]) -> T:
        with self._calls(what):
            return fn()

    # ----- RunBackend -----
    def check(self) -> None:
        self.version = check_health(self._letta, self.base_url, self._limits.health(), self._key)

    def models(self) -> tuple[list[str], list[str]]:
        chat = self._do("list models", lambda: self._client.models.list())
        emb = self._do("list embedding models", lambda: self._client.models.embeddings.list())
        return (self._handles("list models", chat), self._handles("list embedding models", emb))

    def _handles(self, what: str, answer: Any) -> list[str]:
        items = answer if isinstance(answer, list) else None
        if items is None or not all(
            isinstance(getattr(m, "handle", None), str | None) for m in items
        ):
            raise NotLetta(
                f"{what}: the server at {self.base_url} answered something that "
                f"is not a list of models; is {self.base_url} a Letta server?"
            )
        return [m.handle for m in items if m.handle]

    def create_block(self, block: NewBlock) -> str:
        return self._do(
            f"create block {block.label!r}",
            lambda: _id(self._client.blocks.create(**block_args(block))),
        )

    def delete_block(self, block_id: str) -> None:
        with contextlib.suppress(NotFound):
            self._do(f"delete block {block_id}", lambda: self._cleaner.blocks.delete(block_id))

    def create_agent(self, request: NewAgent) -> AgentRef:
        args = agent_args(request)  # shared blocks by id and tools by name, at creation
        with self._calls(f"create agent {request.name!r}"):  # an answer of the wrong shape
            made = self._client.agents.create(**args)  # fails here, not later
            return AgentRef(_id(made), made.name, request.model, tuple(made.tags or ()))

    def find_agents(self, tags: tuple[str, ...]) -> list[AgentRef]:
        with self._calls("list agents"):
            page = listed(
                self._client.agents.list(
                    tags=list(tags), match_all_tags=True, include=["agent.tags"]
                )
            )
            return [
                AgentRef(_id(a), a.name, getattr(a, "model", None), tuple(a.tags or ()))
                for a in page
            ]

    def delete_agent(self, agent_id: str) -> None:
        with contextlib.suppress(NotFound):
            self._do(f"delete agent {agent_id}", lambda: self._cleaner.agents.delete(agent_id))

    def find_blocks(self, tags: tuple[str, ...], *, unattached: bool = False) -> list[BlockRef]:
        args: dict[str, Any] = {"tags": list(tags), "match_all_tags": True}
        if unattached:
            args["connected_to_agents_count_eq"] = [0]
        with self._calls("list blocks"):  # iterating the page fetches every page
            return [
                BlockRef(_id(b), b.label or "", tuple(b.tags or ()))
                for b in listed(self._client.blocks.list(**args))
            ]

    def agent_blocks(self, agent_id: str) -> list[str]:
        with self._calls(f"list blocks of agent {agent_id}"):
            return [_id(b) for b in listed(self._client.agents.blocks.list(agent_id))]

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
        args: dict[str, Any] = {"messages": [{"role": "user", "content": prompt, "otid": otid}]}
        if model:
            args["override_model"] = model
        args["timeout"] = self._limits.message(timeout)  # never past the run's deadline
        with self._calls(f"message to agent {agent_id}"):
            if on_chunk is None:
                return _reply(self._client.agents.messages.create(agent_id, **args))
            return self._stream(agent_id, args, on_chunk)

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
        decision: dict[str, Any] = {"type": "approval", "tool_call_id": call_id, "approve": approve}
        if reason:
            decision["reason"] = reason
        args: dict[str, Any] = {
            "messages": [{"type": "approval", "approvals": [decision], "otid": otid}],
            "timeout": self._limits.message(timeout),
        }
        with self._calls(f"approval to agent {agent_id}"):
            return _reply(self._client.agents.messages.create(agent_id, **args))

    def delivery(self, agent_id: str, otid: str) -> Delivery:
        # order="desc" picks the newest window; 0.16.8 returns that window oldest first.
        page = self._do(
            f"read history of agent {agent_id}",
            lambda: self._client.agents.messages.list(agent_id, limit=HISTORY_WINDOW, order="desc"),
        )
        found, answers, run_id, steps = False, [], None, set()
        asks: list[Any] = []
        for message in page.items:  # this page only: iterating the page would fetch more
            kind = getattr(message, "message_type", "")
            # a turn starts with a user message, or goes on after a tool call's approval
            if kind in ("user_message", "approval_response_message"):
                if found:
                    break  # the next turn: its answers are not ours
                found = getattr(message, "otid", None) == otid
                run_id = getattr(message, "run_id", None) if found else None
            elif found and kind == "assistant_message":
                answers.append(_text(cast(AssistantMessage, message).content))
            elif found and kind == "approval_request_message":
                asks.append(message)  # the turn stopped for a tool call's approval
            if found and getattr(message, "step_id", None):
                steps.add(message.step_id)
        if not found:
            active = self._do(
                f"list active runs of agent {agent_id}",
                lambda: self._client.runs.list(agent_id=agent_id, active=True, limit=1),
            )
            return Delivery(False, busy=bool(active.items))
        if not answers and not asks:
            return Delivery(True, None)
        prompt, completion = self._run_usage(run_id)
        return Delivery(
            True, Reply("\n".join(answers), prompt, completion, len(steps), pending=_pending(asks))
        )

    def _run_usage(self, run_id: str | None) -> tuple[int, int]:
        """(prompt, completion) tokens of the Letta run that answered a reconciled message:
        its turn was paid for even though its reply was lost (Letta keeps the run's usage)."""
        if not isinstance(run_id, str):
            return 0, 0
        try:
            usage = self._do(
                f"read usage of run {run_id}", lambda: self._client.runs.usage.retrieve(run_id)
            )
        except NotFound:  # a server that no longer has the run: the reply still counts
            return 0, 0
        return (
            getattr(usage, "prompt_tokens", 0) or 0,
            getattr(usage, "completion_tokens", 0) or 0,
        )

    def _stream(self, agent_id: str, args: dict, on_chunk: ChunkSink) -> Reply:
        parts: dict[str, list[str]] = {}
        usage = (0, 0, 0)
        asks: list[Any] = []  # a tool call that needs approval stops the turn
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            events = self._client.agents.messages.create(
                agent_id, streaming=True, stream_tokens=True, **args
            )
        for event in events:
            kind = getattr(event, "message_type", "")
            if kind == "assistant_message":
                piece = _text(event.content)
                parts.setdefault(event.id or "", []).append(piece)
                on_chunk(piece)
            elif kind == "approval_request_message":
                asks.append(event)
            elif kind == "usage_statistics":
                usage = (
                    event.prompt_tokens or 0,
                    event.completion_tokens or 0,
                    event.step_count or 0,
                )
        text = "\n".join("".join(chunks) for chunks in parts.values())
        return Reply(text, *usage, pending=_pending(asks))


def _id(made: Any) -> str:
    """The id of an object the server made or listed (a TypeError if it is not one)."""
    if not isinstance(made.id, str):
        raise TypeError(f"expected an object with a string id, got {type(made).__name__}")
    return made.id


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(getattr(part, "text", "") or "" for part in content)
    return "" if content is None else str(content)


def _reply(response: Any) -> Reply:
    texts = [
        _text(m.content)
        for m in response.messages
        if getattr(m, "message_type", "") == "assistant_message"
    ]
    usage = response.usage
    return Reply(
        "\n".join(texts),
        prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
        completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
        step_count=getattr(usage, "step_count", 0) or 0,
        pending=_pending(response.messages),
    )


def _pending(messages: Any) -> ToolRequest | None:
    """The tool call a turn stopped for (Letta's `requires_approval`), if it did."""
    asks = [m for m in messages if getattr(m, "message_type", "") == "approval_request_message"]
    if not asks:
        return None
    calls = getattr(asks[-1], "tool_calls", None)
    call = calls[0] if isinstance(calls, list) and calls else getattr(asks[-1], "tool_call", None)
    call_id = getattr(call, "tool_call_id", None)
    if not isinstance(call_id, str):
        return None
    return ToolRequest(
        call_id, str(getattr(call, "name", "") or ""), str(getattr(call, "arguments", "") or "")
    )


if TYPE_CHECKING:  # mypy checks each method's signature against the Protocol, not only names
    from orchestrator.backends.base import RunBackend

    def _is_a_run_backend(backend: LettaBackend) -> RunBackend:
        return backend
