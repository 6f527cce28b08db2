"""One agent call of a step (a "unit": a plain step, one for_each item, or one loop-body
step in one iteration), with every rule about attempts. Executor-independent by design: the
local executor and a future Temporal one both call `call_agent`.

Owns: rendering the prompt (+ the JSON request for json steps), reusing the unit's result
from an earlier attempt of the run (resume: same fingerprint, same rendered prompt),
exactly-once toward the agent (the intent and a deterministic `otid` are recorded *before*
sending; after an ambiguous failure or a crash the agent's history is asked whether the
message arrived and what it answered), retries with exponential backoff on transient
errors, the per-attempt timeout, the JSON parse/validate/repair loop, and the budget check
before the unit and before each message (run.budget). Repairs and
transient failures share the step's attempt budget (`retry.max_attempts`).

Must not: decide when a unit runs, or send two messages to one agent at once (it leases one
copy of the agent from the pool for the whole unit, repairs included, so a repair follows its
bad answer on the same Letta agent; see run.replicas for which copy).
"""

from __future__ import annotations

import contextvars
import hashlib
import time
from collections.abc import Callable
from typing import Any

from orchestrator.backends.base import Reply, ToolRequest
from orchestrator.compile.plan import StepPlan
from orchestrator.compile.templates import render
from orchestrator.errors import BackendError, RunError
from orchestrator.run import approval, cache, jsonout
from orchestrator.run.budget import BudgetExceeded
from orchestrator.run.context import StepResult, Usage
from orchestrator.run.records import UnitKey
from orchestrator.run.services import Cancelled, Services
from orchestrator.run.status import (
    CANCELLED,
    FAILED,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    WAITING_APPROVAL,
)

RECONCILE_POLL = 0.5  # seconds between looks at a busy agent's history
RECONCILE_WAIT = 600.0  # longest wait for a busy agent when the step has no timeout
SETTLE_TRIES = 5  # reads of an agent's history before a message's fate is called unknown


# An executor that runs one new unit per call (the Temporal executor replays a loop step:
# what is done is reused from the records, then one more unit runs) is told here before a
# unit that is not reused starts; it may raise to end the call. Per thread (context).
unit_gate: contextvars.ContextVar[Callable[[UnitKey], None] | None] = contextvars.ContextVar(
    "unit_gate", default=None
)


class StepFailed(RunError):
    """A unit used up its attempts or hit a permanent error; `usage` is what it cost."""

    def __init__(self, message: str, usage: Usage):
        super().__init__(message)
        self.usage = usage


def make_otid(run_id: str, key: UnitKey, attempt: int) -> str:
    """Deterministic per (run, unit, attempt): a resumed run finds its own messages."""
    raw = f"{run_id}|{key.step}|{key.item}|{key.iteration}|{attempt}"
    return "orch-" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def backoff_delay(failures: int, base: float, cap: float) -> float:
    return min(base * (2 ** (failures - 1)), cap)


def call_agent(svc: Services, step: StepPlan, key: UnitKey, context: dict[str, Any]) -> StepResult:
    """The unit's result, through its approval gates (run.approval): raises
    AwaitingApproval while a person has not answered, and Rejected for a rejection the step
    does not `continue` after (one it does comes back `skipped`, with the decision)."""
    svc.check_cancelled()
    gate = step.approval
    if gate is None:
        return _call(svc, step, key, context)
    try:
        decision = approval.check(svc, step, key, "before", context) if gate.before else None
        if gate.after:  # rejected already: its output is not used, nothing is asked again
            earlier = approval.decided(svc, key, "after")
            if earlier is not None and not earlier["approved"]:
                raise approval.Rejected(key.label(), earlier)
        result = _call(svc, step, key, context)
        if gate.after:
            decision = approval.check(svc, step, key, "after", {**context, "output": result.output})
    except approval.Rejected as exc:
        if gate.on_reject != "continue":
            raise
        return StepResult(SKIPPED, approval=exc.decision)
    result.approval = decision
    return result


def _call(svc: Services, step: StepPlan, key: UnitKey, context: dict[str, Any]) -> StepResult:
    if step.prompt is None or step.agent is None:  # only loop steps lack them: never here
        raise RunError(f"step '{step.name}' has no agent and prompt to send")
    prompt = render(step.prompt, context)
    if step.output_format == "json":
        prompt += jsonout.request_suffix(step.output_schema)
    recorded = svc.redactor.text(prompt) or ""
    earlier = svc.memo.get(key) or {}
    same = earlier.get("prompt") == recorded and earlier.get("fingerprint") == step.fingerprint
    # the top-level step: the step itself, or for a loop-body unit (`<loop>.<body step>`)
    # its loop's (a sub-pipeline's steps are top-level too: `review.draft`)
    top = key.step if key.step == step.name else key.step.rsplit(".", 1)[0]
    if same and earlier.get("status") == SUCCEEDED:  # no agent needed: nothing is sent
        svc.step_began(top)
        return StepResult(
            SUCCEEDED, earlier.get("output"), reused=True, duration=earlier.get("duration") or 0.0
        )
    # `running`: the process died; `cancelled`: Ctrl-C; `failed`: its last message's fate may
    # be unknown (a history that could not be read) or it was answered and the answer used
    # up the attempts. Either way the message may be there, and only the agent it went to
    # can say: that copy is needed, whatever it is busy with.
    in_flight = (
        same and bool(earlier.get("otid")) and earlier.get("status") in (RUNNING, CANCELLED, FAILED)
    )
    # Its turn stopped for a tool call that needs approval (Letta's requires_approval): the
    # decision goes to the very agent holding the turn (raises while nobody answered).
    paused = same and bool(earlier.get("otid")) and earlier.get("status") == WAITING_APPROVAL
    decision = approval.tool_decision(svc, key) if paused else None
    in_flight = in_flight or decision is not None
    ckey = cache.cache_key(svc, step, key, prompt) if step.cache else None
    if ckey is not None and not in_flight:  # an earlier run's answer: nothing is sent
        hit = cache.take(svc, step, key, ckey, recorded)
        if hit is not None:
            svc.step_began(top)
            return hit
    gate = unit_gate.get()
    if gate is not None:  # an executor running one new unit per call may stop here
        gate(key)
    svc.budget.check(key.step)  # a unit that would start beyond a budget does not start
    got: list[float] = []  # when the copy became this unit's: its time counts from then
    agent = _lease(
        svc,
        step,
        top,
        key,
        need=earlier.get("agent_id") if in_flight else None,
        prefer=earlier.get("agent_id"),
        got=got,
    )
    try:
        model = svc.agents.step_model(step, agent)
        unit = _Unit(svc, step, key, agent, model, prompt, recorded, earlier.get("attempts") or 0)
        if got:  # as the step's own time does (flow): making its agent is the unit's work
            unit.started, unit.clock = unit.started - (unit.clock - got[0]), got[0]
        unit.usage = carried_usage(earlier)  # the row stays the unit's total over every attempt
        unit.cache_key = ckey
        unit.decision = decision
        pending = (
            earlier.get("otid")
            if in_flight and earlier.get("agent_id") == agent.ref.id and decision is None
            else None
        )
        # A unit that *failed* before is asked once; one that was running (a crash, Ctrl-C)
        # may still be in its turn on the server: wait for that while the agent is busy.
        return unit.run(pending, wait_busy=earlier.get("status") != FAILED)
    finally:  # the lease spans every attempt: a repair follows its bad answer on one agent
        svc.agents.give_back(agent)


def carried_usage(row: dict) -> Usage:
    """What an earlier attempt of the run spent on this unit (its record; empty if none)."""
    tokens = (row.get("prompt_tokens") or 0) + (row.get("completion_tokens") or 0)
    unpriced = tokens if row and row.get("cost") is None else row.get("unpriced_tokens") or 0
    return Usage(
        row.get("prompt_tokens") or 0,
        row.get("completion_tokens") or 0,
        row.get("step_count") or 0,
        usd=row.get("cost") or 0.0,
        unpriced_tokens=unpriced,
        repairs=row.get("repairs") or 0,
    )


def _lease(
    svc: Services,
    step: StepPlan,
    top: str,
    key: UnitKey,
    *,
    need: str | None,
    prefer: str | None,
    got: list[float],
) -> Any:
    """A copy of the step's agent for this unit alone (found or created on first use),
    retrying transient server errors. Loop iterations of one (step, item) go back to the copy
    they had when it is free."""
    retry, failures, name = step.retry, 0, step.agent or ""
    on_wait = lambda: svc.step_waits(top, name, svc.agents.replicas(name))  # noqa: E731
    while True:
        try:
            return svc.agents.lease(
                name,
                need=need,
                prefer=prefer,
                affinity=(key.step, key.item),
                on_wait=on_wait,
                on_got=lambda: _got(svc, top, got),
                check=svc.check_cancelled,
            )
        except BackendError as exc:
            failures += 1
            if not exc.transient or failures >= retry.max_attempts:
                raise StepFailed(svc.redactor.text(str(exc)) or "", Usage()) from None
            svc.sleep(backoff_delay(failures, retry.backoff, retry.max_backoff))


def _got(svc: Services, top: str, got: list[float]) -> None:
    got[:] = [time.monotonic()]
    svc.step_began(top)


class _Unit:
    def __init__(
        self,
        svc: Services,
        step: StepPlan,
        key: UnitKey,
        agent: Any,
        model: str | None,
        prompt: str,
        recorded: str,
        attempt: int,
    ):
        self.svc, self.step, self.key, self.agent = svc, step, key, agent
        self.model, self.prompt, self.recorded = model, prompt, recorded
        self.attempt = attempt  # attempts so far, across resumes: otids stay unique
        self.usage = Usage()
        self.started = time.time()
        self.clock = time.monotonic()

    def run(self, pending_otid: str | None, wait_busy: bool = True) -> StepResult:
        try:
            output = self._attempts(pending_otid, wait_busy)
        except BudgetExceeded as exc:
            if not self.usage.attempts:  # nothing sent: the unit did not start
                raise
            self._record(status=FAILED, error=str(exc), **self._bad())  # between messages
            raise StepFailed(str(exc), self.usage) from None
        except StepFailed as exc:
            # a JSON step's last, invalid reply is kept (redacted): `runs show` shows it
            self._record(status=FAILED, error=str(exc), **self._bad())
            raise
        except Cancelled as exc:
            self._record(status=CANCELLED, error=str(exc))
            raise
        self._record(status=SUCCEEDED, output=self.svc.redactor.data(output), error=None)
        return StepResult(
            SUCCEEDED, output, duration=time.monotonic() - self.clock, usage=self.usage
        )

    def _attempts(self, pending_otid: str | None, wait_busy: bool = True) -> Any:
        retry, message, failures = self.step.retry, self.prompt, 0
        reply = self._settle(pending_otid, wait_busy) if pending_otid else None
        used = 0
        while True:
            if reply is None:
                if used >= retry.max_attempts:
                    raise StepFailed(self._exhausted(), self.usage)
                used += 1
                try:
                    reply = self._send(message)
                except BackendError as exc:
                    failures += 1
                    self.last_error = self.svc.redactor.text(str(exc)) or ""
                    if not exc.transient:  # refused as asked (4xx): nothing was stored
                        raise StepFailed(self.last_error, self.usage) from None
                    # Ambiguous: a timeout, a dropped connection, or an error status (5xx,
                    # 408, 409, 429) may come *after* the server stored and answered the
                    # turn. Only the agent's history can tell; ask it before any resend.
                    reply = self._settle(self.otid)
                    if reply is not None:
                        continue
                    if used >= retry.max_attempts:
                        raise StepFailed(self._exhausted(), self.usage) from None
                    self._retrying(
                        self.last_error, backoff_delay(failures, retry.backoff, retry.max_backoff)
                    )
                    continue
            if reply.pending is not None:  # the turn waits for a person: so does the unit
                self._pause(reply.pending)
            try:
                return self._decode(reply)
            except jsonout.InvalidReply as exc:  # the reason quotes the reply: redact it
                self.bad_reply = self.svc.redactor.text(reply.text)
                self.last_error = self.svc.redactor.text(f"invalid JSON reply: {exc}") or ""
                if used >= retry.max_attempts:  # no attempt follows: no "retry" event
                    raise StepFailed(self._exhausted(), self.usage) from None
                message, reply = jsonout.repair_prompt(str(exc), self.step.output_schema), None
                self.usage.repairs += 1
                self.svc.emit(
                    "step_retry",
                    step=self.key.label(),
                    error=self.last_error,
                    attempt=self.attempt,
                    delay=0.0,
                )

    last_error = ""
    bad_reply: str | None = None  # the last reply that was not valid JSON for the schema
    otid = ""
    cache_key: str | None = None  # a `cache: true` unit's key, recorded with its answer
    decision: dict[str, Any] | None = None  # a paused tool call's answer, still to send

    def _pause(self, call: ToolRequest) -> None:
        """The agent asks to call a tool that needs approval: the request is recorded, the
        unit waits (its otid kept: resume sends the answer to this agent, never the prompt
        again)."""
        approval.ask_tool(self.svc, self.step, self.key, self.step.agent or "", call)
        self._record(status=WAITING_APPROVAL, otid=self.otid)
        raise approval.AwaitingApproval([self.key.label()])

    def _send(self, message: str) -> Reply:
        self.svc.check_cancelled()
        # every message is checked, repairs and retries too: a step's limit bounds them
        self.svc.budget.check(
            self.key.step, model=self.model or self.agent.model, prices=self.svc.prices
        )
        self.attempt += 1
        self.usage.attempts += 1  # counted when sent: a failed attempt is an attempt too
        self.otid = make_otid(self.svc.run_id, self.key, self.attempt)
        self._record(status=RUNNING, otid=self.otid)  # the intent, before the message
        shown = None  # --stream: masked text, held back so that no piece splits a secret
        if self.svc.stream:
            shown = self.svc.redactor.stream(
                lambda text: self.svc.emit("chunk", step=self.key.label(), text=text)
            )
        if self.decision is not None:  # the answer to a paused tool call goes on the turn
            reply = self.svc.backend.answer_tool(
                self.agent.ref.id,
                self.decision["call_id"],
                approve=self.decision["approved"],
                reason=self.decision["comment"],
                otid=self.otid,
                timeout=self.step.timeout,
            )
            approval.tool_answered(self.svc, self.key, self.decision)
            self.decision = None
        else:
            reply = self.svc.backend.send(
                self.agent.ref.id,
                message,
                otid=self.otid,
                model=self.model,
                timeout=self.step.timeout,
                on_chunk=shown.feed if shown else None,
            )
        if shown is not None:  # the end of the turn (a failed turn's held text is dropped)
            shown.flush()
        self._spend(reply)
        return reply

    def _spend(self, reply: Reply) -> None:
        """Count a turn's usage (its reply came back, or was found in the history)."""
        cost = self.svc.prices.cost(
            self.model or self.agent.model, reply.prompt_tokens, reply.completion_tokens
        )
        self.usage.add(
            Usage(
                reply.prompt_tokens,
                reply.completion_tokens,
                reply.step_count,
                usd=cost.usd,
                unpriced_tokens=cost.unpriced_tokens,
            )
        )
        self.svc.budget.spend(self.key.step, reply.prompt_tokens + reply.completion_tokens, cost)

    def _settle(self, otid: str, wait_busy: bool = True) -> Reply | None:
        """The fate of a message sent with `otid`: its reply if the agent answered it, None if
        it did not reach the agent (a new message is then safe). While the agent is still
        busy (the turn may be ours), wait up to the step's timeout. A history that cannot be
        read is asked again with backoff; if it still cannot, the unit fails rather than risk
        a second copy of the message (resume asks again: the otid stays recorded)."""
        waited, limit = 0.0, self.step.timeout or RECONCILE_WAIT
        retry, errors = self.step.retry, 0
        while True:
            try:
                delivery = self.svc.backend.delivery(self.agent.ref.id, otid)
            except BackendError as exc:
                errors += 1
                if not exc.transient or errors >= max(SETTLE_TRIES, retry.max_attempts):
                    raise StepFailed(self._unknown_fate(exc), self.usage) from None
                self.svc.sleep(backoff_delay(errors, retry.backoff, retry.max_backoff))
                continue
            if delivery.reply is not None:
                self.svc.emit("step_reconciled", step=self.key.label(), otid=otid)
                self._spend(delivery.reply)  # the lost turn was paid for all the same
                return delivery.reply
            # A server that died mid-turn leaves its run `active` for ever: a unit whose
            # failure was seen (not a crash of ours) does not wait on that.
            if not wait_busy or not delivery.busy or waited >= limit:
                return None
            self.svc.sleep(RECONCILE_POLL)
            waited += RECONCILE_POLL

    def _unknown_fate(self, exc: BackendError) -> str:
        reason = self.svc.redactor.text(str(exc))
        return (
            f"could not tell whether the message reached agent {self.agent.ref.id} "
            f"(its history could not be read: {reason}); not sent again, to avoid a "
            f"second copy: `orchestrate resume {self.svc.run_id}` asks again"
        )

    def _bad(self) -> dict[str, Any]:
        return {} if self.bad_reply is None else {"output": self.bad_reply}

    def _decode(self, reply: Reply) -> Any:
        if self.step.output_format != "json":
            return reply.text
        return jsonout.decode(reply.text, self.step.output_schema)

    def _retrying(self, error: str, delay: float) -> None:
        self.svc.emit(
            "step_retry", step=self.key.label(), error=error, attempt=self.attempt, delay=delay
        )
        self._record(status=RUNNING, error=error)
        self.svc.sleep(delay)

    def _exhausted(self) -> str:
        n = self.step.retry.max_attempts
        return f"gave up after {n} attempt{'s' if n != 1 else ''}: {self.last_error}"

    def _record(self, **fields: Any) -> None:
        done = fields.get("status") != RUNNING
        if fields.get("error"):  # errors may quote the agent's reply
            fields["error"] = self.svc.redactor.text(fields["error"])
        self.svc.records.write_unit(
            self.svc.run_id,
            self.key,
            attempts=self.attempt,
            agent=self.step.agent,
            agent_id=self.agent.ref.id,
            replica=self.agent.replica,
            model=self.model or self.agent.model,
            prompt=self.recorded,
            fingerprint=self.step.fingerprint,
            started=self.started,
            ended=time.time() if done else None,
            duration=time.monotonic() - self.clock if done else None,
            prompt_tokens=self.usage.prompt_tokens,
            completion_tokens=self.usage.completion_tokens,
            step_count=self.usage.step_count,
            cost=round(self.usage.usd, 9),
            unpriced_tokens=self.usage.unpriced_tokens,
            repairs=self.usage.repairs,
            cache_key=self.cache_key,
            **fields,
        )
