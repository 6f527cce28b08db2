"""OpenTelemetry traces of a run, with the GenAI semantic conventions, exported over OTLP/HTTP.

Owns `RunTrace`: one span for the run (`invoke_workflow <pipeline>`), one per unit
(`invoke_agent <agent>`: a plain step, one for_each item, one loop-body step in one
iteration; every attempt of it), one per Letta call (client spans, see run.otel_calls).
It rides on what a run already produces rather than on calls in the step code:
- the unit lifecycle is the unit rows written to the run records (`Records.write_unit`:
  the intent `running` row before each message, then the final row), seen through a thin
  proxy of the records;
- retries, JSON repairs and reconciliations are the run's events (`step_retry`,
  `step_reconciled`), seen through the event sink; they become span events;
- Letta calls are seen through a proxy of the backend (run.otel_calls); a message's span
  finds its unit by the message's otid, recorded in the intent row just before.
Attributes: gen_ai.operation.name, gen_ai.agent.name, gen_ai.agent.id,
gen_ai.conversation.id (the Letta agent: its message history is the conversation),
gen_ai.request.model, gen_ai.usage.input_tokens / output_tokens, and orchestrate.run.id,
.step, .item, .iteration, .attempt. Errors are span status ERROR with the (masked) message.

Secrets: prompts and outputs are exported only when asked (`content`); every string that
goes on a span passes the run's Redactor (secret inputs, `${env:VAR}` values, the API key),
and nothing from an agent's creation request (where `${env:VAR}` values live) is exported.

One TracerProvider per process and endpoint (a batch runs many runs in one process); each
run's spans are flushed when the run ends. Imported only when traces are on (run.tracing).

Must not: decide anything about the run, or raise into it (a receiver that is down loses
spans, never a step).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from orchestrator.backends.base import RunBackend
from orchestrator.compile.plan import Plan
from orchestrator.run import tracing
from orchestrator.run.records import NO_ITEM, NO_ITERATION, Records, UnitKey
from orchestrator.run.secrets import Redactor
from orchestrator.run.services import EventSink
from orchestrator.run.status import BLOCKED, CANCELLED, FAILED, NOT_STARTED, RUNNING
from orchestrator.run.tracing import TraceSettings

T = TypeVar("T")

FLUSH_MILLIS = 5000  # the longest a run's end waits for its spans to leave
# The exporter's own default (10 s, retried with backoff) made a run whose receiver is down
# wait ~9 s at its end; a receiver answers in milliseconds. The standard variables win.
EXPORT_TIMEOUT = 2.0
TIMEOUT_VARS = ("OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
REPAIR_PREFIX = "invalid JSON reply"  # run.step's wording of a repair's reason
# span status ERROR; others (succeeded, skipped, waiting for or rejected by a person) are not
ERROR_STATUSES = frozenset({FAILED, CANCELLED, BLOCKED, NOT_STARTED})
_providers: dict[str | None, TracerProvider] = {}
_providers_lock = threading.Lock()


def provider(endpoint: str | None = None) -> TracerProvider:
    """This process's provider for `endpoint` (None: OTEL_EXPORTER_OTLP_* decide). The
    exporter reads the standard variables (headers, timeout, ...) itself."""
    with _providers_lock:
        found = _providers.get(endpoint)
        if found is None:
            attrs = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": "orchestrate"}
            found = TracerProvider(resource=Resource.create(attrs))
            timeout = None if any(os.environ.get(v) for v in TIMEOUT_VARS) else EXPORT_TIMEOUT
            found.add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=timeout))
            )
            _providers[endpoint] = found
        return found


def aggregate_steps(plan: Plan) -> frozenset[str]:
    """Steps whose own record row sums their units (for_each, loop): not a unit."""
    return frozenset(
        name
        for name, step in plan.steps.items()
        if step.for_each is not None or step.loop is not None
    )


def ns(seconds: float | None) -> int | None:
    return int(seconds * 1e9) if seconds else None


def _messages(role: str, text: Any) -> str:
    content = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False)
    return json.dumps(
        [{"role": role, "parts": [{"type": "text", "content": content}]}], ensure_ascii=False
    )


class RunTrace:
    """The spans of one run in this process. `parent`: a W3C trace context carrier from
    another process (a Temporal worker's units hang under the starting process's run span);
    without it this trace opens the run span itself (`open_run`)."""

    def __init__(
        self,
        run_id: str,
        redactor: Redactor,
        *,
        content: bool = False,
        endpoint: str | None = None,
        aggregate: frozenset[str] = frozenset(),
        parent: Mapping[str, str] | None = None,
    ):
        self.run_id, self.redactor, self.content = run_id, redactor, content
        self.endpoint = endpoint
        self.aggregate = aggregate  # for_each and loop steps: their own rows are no unit
        self.provider = provider(endpoint)
        self.tracer = self.provider.get_tracer("orchestrate")
        self.run_span: Span | None = None
        self.context: Context | None = (
            TraceContextTextMapPropagator().extract(dict(parent)) if parent else None
        )
        self._lock = threading.Lock()
        self._units: dict[UnitKey, Span] = {}
        self._labels: dict[str, Span] = {}
        self._done: set[UnitKey] = set()  # units whose span ended
        self._otids: dict[str, tuple[Span, int, str]] = {}  # otid -> (unit, attempt, agent)
        self._sent: dict[UnitKey, list[str]] = {}  # a unit in flight -> its messages' otids

    @classmethod
    def for_run(
        cls,
        plan: Plan,
        run_id: str,
        redactor: Redactor,
        settings: TraceSettings,
        *,
        resumed: bool,
        executor: str,
    ) -> RunTrace:
        """The trace of a run started (or resumed) in this process: its run span opened."""
        made = cls(
            run_id,
            redactor,
            content=settings.content,
            endpoint=settings.endpoint,
            aggregate=aggregate_steps(plan),
        )
        made.open_run(plan.name, resumed=resumed, executor=executor)
        return made

    @classmethod
    def for_worker(cls, run: Mapping[str, Any], plan: Plan, redactor: Redactor) -> RunTrace:
        """A Temporal worker's trace of one activity: its units under the run's span, whose
        context the starting process put in the run's data (`for_workers`). The worker's
        own OTEL_EXPORTER_OTLP_* variables win over the starting process's endpoint."""
        given = run["trace"]
        endpoint = None if tracing.env_endpoint() else given.get("endpoint")
        return cls(
            run["run_id"],
            redactor,
            content=bool(given.get("content")),
            endpoint=endpoint,
            aggregate=aggregate_steps(plan),
            parent=given.get("context") or {},
        )

    def for_workers(self) -> dict[str, Any]:
        """What a Temporal worker needs to trace its units under this run's span (no
        secret: a trace context, the content switch, an endpoint URL)."""
        return {
            "context": self.carrier(),
            "content": self.content,
            "endpoint": self.endpoint or tracing.env_endpoint(),
        }

    def around(self, run: Callable[[], T]) -> T:
        """`run()`; a run that raises instead of finishing ends its span as an error."""
        try:
            return run()
        except BaseException as exc:
            self.close_run(error=exc)
            raise

    # ----- the run -----
    def open_run(self, pipeline: str, *, resumed: bool, executor: str) -> None:
        self.run_span = self.tracer.start_span(
            f"invoke_workflow {pipeline}",
            kind=SpanKind.INTERNAL,
            attributes={
                "gen_ai.operation.name": "invoke_workflow",
                "gen_ai.agent.name": pipeline,
                "gen_ai.provider.name": "letta",
                "openinference.span.kind": "CHAIN",
                "orchestrate.run.id": self.run_id,
                "orchestrate.pipeline": pipeline,
                "orchestrate.resumed": resumed,
                "orchestrate.executor": executor,
            },
        )
        self.context = trace.set_span_in_context(self.run_span)

    def carrier(self) -> dict[str, str]:
        """The run span's context for another process (W3C traceparent)."""
        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier, context=self.context)
        return carrier

    def close_run(self, outcome: Any = None, error: BaseException | None = None) -> None:
        span = self.run_span
        if span is not None and span.is_recording():
            if outcome is not None:
                totals = outcome.totals or {}
                span.set_attributes(
                    {
                        "orchestrate.status": outcome.status,
                        "gen_ai.usage.input_tokens": int(totals.get("prompt_tokens") or 0),
                        "gen_ai.usage.output_tokens": int(totals.get("completion_tokens") or 0),
                        "orchestrate.cost_usd": float(totals.get("cost") or 0.0),
                    }
                )
                if outcome.status in ERROR_STATUSES:
                    self._error(span, outcome.error or outcome.status)
                if self.content and outcome.outputs:
                    self._content(span, "output", outcome.outputs)
            elif error is not None:
                self._error(span, f"{type(error).__name__}: {error}")
            span.end()
        self.flush()

    def flush(self, wait: bool = True) -> None:
        """Send what is queued; `wait=False` (a worker's activity): in the background, so a
        slow receiver never holds the activity's end."""
        if not wait:
            threading.Thread(target=self.flush, name="otel-flush", daemon=True).start()
            return
        try:
            self.provider.force_flush(FLUSH_MILLIS)
        except Exception:  # noqa: BLE001,S110 - a receiver that is down loses spans only
            pass

    # ----- proxies -----
    def records(self, records: Records) -> Records:
        return cast(Records, _TracedRecords(records, self))

    def backend(self, backend: RunBackend) -> RunBackend:
        from orchestrator.run.otel_calls import TracedBackend

        return TracedBackend(backend, self)

    def events(self, emit: EventSink) -> EventSink:
        def sink(kind: str, **data: Any) -> None:
            try:
                emit(kind, **data)  # first: the run's end is shown before its spans leave
            finally:
                try:
                    self.on_event(kind, data)
                except Exception:  # noqa: BLE001,S110 - tracing never breaks a run
                    pass

        return sink

    # ----- units, from the run records -----
    def on_unit(self, run_id: str, key: UnitKey, fields: Mapping[str, Any]) -> None:
        if (
            run_id != self.run_id
            or self.context is None
            or (
                key.step in self.aggregate and key.item == NO_ITEM and key.iteration == NO_ITERATION
            )
        ):
            return
        status = fields.get("status")
        with self._lock:
            span = self._units.get(key)
            if span is None:
                if status != RUNNING and key in self._done:
                    return  # the step's own account of a unit already ended (run.flow)
                self._done.discard(key)
                span = self._open_unit(key, fields)
            if status == RUNNING:
                if fields.get("otid"):
                    self._otids[fields["otid"]] = (
                        span,
                        int(fields.get("attempts") or 0),
                        str(fields.get("agent") or ""),
                    )
                    self._sent.setdefault(key, []).append(fields["otid"])
                return
            self._units.pop(key, None)
            self._labels.pop(key.label(), None)
            for otid in self._sent.pop(key, ()):  # a long run keeps no ended span alive
                self._otids.pop(otid, None)
            self._done.add(key)
        self._finish_unit(span, fields)

    def _open_unit(self, key: UnitKey, fields: Mapping[str, Any]) -> Span:
        agent = str(fields.get("agent") or "")
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": agent,
            "gen_ai.provider.name": "letta",
            "openinference.span.kind": "AGENT",
            "orchestrate.run.id": self.run_id,
            "orchestrate.step": key.step,
            "orchestrate.unit": key.label(),
        }
        if key.item != NO_ITEM:
            attrs["orchestrate.item"] = key.item
        if key.iteration != NO_ITERATION:
            attrs["orchestrate.iteration"] = key.iteration
        span = self.tracer.start_span(
            f"invoke_agent {agent}",
            context=self.context,
            kind=SpanKind.INTERNAL,
            attributes=attrs,
            start_time=ns(fields.get("started")),
        )
        self._units[key] = span
        self._labels[key.label()] = span
        self._set_agent(span, fields)
        if self.content and fields.get("prompt"):
            self._content(span, "input", fields["prompt"])
        return span

    def _set_agent(self, span: Span, fields: Mapping[str, Any]) -> None:
        if fields.get("agent_id"):
            span.set_attribute("gen_ai.agent.id", str(fields["agent_id"]))
            span.set_attribute("gen_ai.conversation.id", str(fields["agent_id"]))
        if fields.get("model"):
            span.set_attribute("gen_ai.request.model", str(fields["model"]))
        if fields.get("replica"):
            span.set_attribute("orchestrate.replica", int(fields["replica"]))

    def _finish_unit(self, span: Span, fields: Mapping[str, Any]) -> None:
        self._set_agent(span, fields)
        status = str(fields.get("status"))
        span.set_attributes(
            {
                "orchestrate.status": status,
                "orchestrate.attempt": int(fields.get("attempts") or 0),
                "orchestrate.repairs": int(fields.get("repairs") or 0),
                "gen_ai.usage.input_tokens": int(fields.get("prompt_tokens") or 0),
                "gen_ai.usage.output_tokens": int(fields.get("completion_tokens") or 0),
                "orchestrate.cost_usd": float(fields.get("cost") or 0.0),
            }
        )
        if status in ERROR_STATUSES:
            self._error(span, fields.get("error") or status)
        elif self.content and fields.get("output") is not None:
            self._content(span, "output", fields["output"])
        span.end(end_time=ns(fields.get("ended")))

    def unit_of(self, otid: str) -> tuple[Context | None, int, str]:
        """(the unit's context, the attempt, the agent's name) of a message's otid."""
        with self._lock:
            found = self._otids.get(otid)
        if found is None:
            return self.context, 0, ""
        return trace.set_span_in_context(found[0]), found[1], found[2]

    # ----- events -----
    def on_event(self, kind: str, data: Mapping[str, Any]) -> None:
        if kind == "step_retry":
            error = str(data.get("error") or "")
            name = "orchestrate.repair" if error.startswith(REPAIR_PREFIX) else "orchestrate.retry"
            self._unit_event(
                str(data.get("step")),
                name,
                {
                    "orchestrate.attempt": int(data.get("attempt") or 0),
                    "orchestrate.delay_s": float(data.get("delay") or 0.0),
                    "error.message": self._text(error),
                },
            )
        elif kind == "step_reconciled":
            self._unit_event(
                str(data.get("step")),
                "orchestrate.reconciled",
                {"orchestrate.otid": str(data.get("otid"))},
            )
        elif kind == "run_finished":
            self.close_run(outcome=data.get("outcome"))
        elif self.run_span is not None and kind in ("step_finished", "loop_iteration", "warning"):
            self.run_span.add_event(f"orchestrate.{kind}", self._event_attrs(data))

    def _unit_event(self, label: str, name: str, attrs: dict[str, Any]) -> None:
        with self._lock:
            span = self._labels.get(label)
        if span is not None:
            span.add_event(name, attrs)

    def _event_attrs(self, data: Mapping[str, Any]) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        for key, value in data.items():
            if key == "result":
                attrs["orchestrate.status"] = value.status
                attrs["orchestrate.duration_s"] = round(float(value.duration), 6)
                if value.error:
                    attrs["error.message"] = self._text(value.error)
            elif isinstance(value, bool | int | float):
                attrs[f"orchestrate.{key}"] = value
            elif isinstance(value, str):
                attrs[f"orchestrate.{key}"] = self._text(value)
        return attrs

    # ----- helpers -----
    def _text(self, value: str) -> str:
        return self.redactor.text(value) or ""

    def _error(self, span: Span, message: Any) -> None:
        span.set_status(Status(StatusCode.ERROR, self._text(str(message))))

    def _content(self, span: Span, which: str, value: Any) -> None:
        """Opt-in content, masked: GenAI's message attribute, and the plain `input.value` /
        `output.value` that viewers such as Phoenix show."""
        masked = self.redactor.data(value)
        text = masked if isinstance(masked, str) else json.dumps(masked, ensure_ascii=False)
        role = "user" if which == "input" else "assistant"
        span.set_attribute(f"gen_ai.{which}.messages", self._text(_messages(role, masked)))
        span.set_attribute(f"{which}.value", self._text(text))


class _TracedRecords:
    """The run records, with each unit row also shown to the trace (everything else, and
    the row itself, goes to the records unchanged)."""

    def __init__(self, records: Records, trace_: RunTrace):
        self._records, self._trace = records, trace_

    def write_unit(self, run_id: str, key: UnitKey, **fields: Any) -> None:
        self._records.write_unit(run_id, key, **fields)
        try:
            self._trace.on_unit(run_id, key, fields)
        except Exception:  # noqa: BLE001,S110 - tracing never breaks a run
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._records, name)
