"""Approval gates: a person's decision on one unit, kept in the run records.

Owns `check(svc, step, key, stage, context)`: the decision of a unit's gate (`before`: the
unit sends nothing until it is approved; `after`: its output is not used until it is), the
errors that carry the statuses `waiting_approval` and `rejected` (`AwaitingApproval`,
`Rejected`; the words are run.status's), how a waiting unit is named for `orchestrate approve` (its unit label: `step`,
`step[2]` for a for_each item, `loop.body#3` for a loop-body step in iteration 3), and the
timeout rule: a gate still unanswered after `timeout` seconds is decided by `on_timeout`
the next time the run reaches it (on `resume`), recorded as decided by `timeout`.

A gate asks once: the request (its rendered prompt, redacted, and its deadline) is a row of
the records' `approvals` table, and so is the answer, which is why a run survives restarts
and may be answered from any machine that reaches the records.

Must not: talk to Letta, or decide when a unit runs.
"""

from __future__ import annotations

import json
import time
from typing import Any

from orchestrator.backends.base import ToolRequest
from orchestrator.compile.plan import StepPlan
from orchestrator.compile.templates import render
from orchestrator.errors import RunError
from orchestrator.run.records import Records, UnitKey
from orchestrator.run.services import Services
from orchestrator.run.status import APPROVED, WAITING

# `tool:<call id>`: a tool call the agent asked to make, under Letta's requires_approval rule
STAGES = ("before", "after", "tool:")


class AwaitingApproval(RunError):
    """Units wait for a person; `units` are their labels."""

    def __init__(self, units: list[str]):
        super().__init__(f"waiting for approval: {', '.join(units)}")
        self.units = units


class Rejected(RunError):
    """A person (or a gate's timeout) rejected a unit; `decision` is its template view."""

    def __init__(self, label: str, decision: dict[str, Any]):
        by = decision.get("by") or "someone"
        comment = f": {decision['comment']}" if decision.get("comment") else ""
        super().__init__(f"step '{label}' was rejected by {by}{comment}")
        self.label, self.decision = label, decision


def view(row: dict[str, Any]) -> dict[str, Any]:
    """What templates read as `steps.<name>.approval`."""
    return {
        "approved": row["status"] == APPROVED,
        "status": row["status"],
        "comment": row.get("comment"),
        "by": row.get("decided_by"),
        "stage": row["stage"],
    }


def decided(svc: Services, key: UnitKey, stage: str) -> dict[str, Any] | None:
    """The unit's recorded answer at `stage` (None: not asked or still waiting)."""
    row = svc.records.approval(svc.run_id, key, stage)
    return view(row) if row and row["status"] != WAITING else None


def check(
    svc: Services, step: StepPlan, key: UnitKey, stage: str, context: dict[str, Any]
) -> dict[str, Any]:
    """The unit's approved decision at `stage`; raises AwaitingApproval (asking, the first
    time) or Rejected."""
    gate = step.approval
    assert gate is not None  # callers check step.approval
    row = svc.records.approval(svc.run_id, key, stage)
    if row is None:
        shown = (
            render(gate.prompt, context) if gate.prompt is not None else default_prompt(key, stage)
        )
        deadline = time.time() + gate.timeout if gate.timeout else None
        svc.records.ask_approval(
            svc.run_id, key, stage, prompt=svc.redactor.text(shown) or "", deadline=deadline
        )
        row = svc.records.approval(svc.run_id, key, stage) or {}
    if row["status"] == WAITING and row.get("deadline") and time.time() >= row["deadline"]:
        svc.records.decide_approval(
            svc.run_id,
            key,
            stage,
            approved=gate.on_timeout == "approve",
            decided_by="timeout",
            comment=f"no answer within {gate.timeout:g} s (on_timeout: {gate.on_timeout})",
        )
        row = svc.records.approval(svc.run_id, key, stage) or row
    if row["status"] == WAITING:
        svc.emit(
            "approval_waiting",
            step=key.label(),
            stage=stage,
            prompt=row.get("prompt"),
            deadline=row.get("deadline"),
            run_id=svc.run_id,
        )
        raise AwaitingApproval([key.label()])
    decision = view(row)
    svc.emit(
        "approval_decided",
        step=key.label(),
        stage=stage,
        approved=decision["approved"],
        by=decision["by"],
        comment=decision["comment"],
    )
    if not decision["approved"]:
        raise Rejected(key.label(), decision)
    return decision


def ask_tool(svc: Services, step: StepPlan, key: UnitKey, agent: str, call: ToolRequest) -> None:
    """Record that the unit's agent asks to call `call` (Letta's requires_approval rule):
    stage `tool:<call id>`; the arguments are shown redacted. The step's own gate settings
    (`timeout`, `on_timeout`) apply to it too."""
    gate = step.approval
    args = svc.redactor.text(call.arguments) or ""
    shown = f"agent '{agent}' asks to call the tool {call.name}({args})"
    deadline = time.time() + gate.timeout if gate is not None and gate.timeout else None
    stage = f"tool:{call.call_id}"
    svc.records.ask_approval(
        svc.run_id,
        key,
        stage,
        prompt=shown,
        deadline=deadline,
        tool_call=json.dumps({"id": call.call_id, "name": call.name}),
    )
    svc.emit(
        "approval_waiting",
        step=key.label(),
        stage=stage,
        prompt=shown,
        deadline=deadline,
        run_id=svc.run_id,
    )


def tool_decision(svc: Services, key: UnitKey) -> dict[str, Any] | None:
    """The answer to the unit's paused tool call that is still to be sent to its agent
    (None: none is); raises AwaitingApproval while nobody answered."""
    rows = [
        r
        for r in svc.records.approvals(svc.run_id)
        if (r["step"], r["item"], r["iteration"]) == (key.step, key.item, key.iteration)
        and r["stage"].startswith("tool:")
    ]
    for row in rows:
        if row["status"] == WAITING and row.get("deadline") and time.time() >= row["deadline"]:
            svc.records.decide_approval(
                svc.run_id,
                key,
                row["stage"],
                approved=False,
                decided_by="timeout",
                comment="no answer in time",
            )
            row = svc.records.approval(svc.run_id, key, row["stage"]) or row
        if row["status"] == WAITING:
            svc.emit(
                "approval_waiting",
                step=key.label(),
                stage=row["stage"],
                prompt=row.get("prompt"),
                deadline=row.get("deadline"),
                run_id=svc.run_id,
            )
            raise AwaitingApproval([key.label()])
        call = json.loads(row.get("tool_call") or "{}")
        if not call.get("answered"):
            svc.emit(
                "approval_decided",
                step=key.label(),
                stage=row["stage"],
                approved=row["status"] == APPROVED,
                by=row.get("decided_by"),
                comment=row.get("comment"),
            )
            return {
                "call_id": call.get("id", row["stage"][5:]),
                "stage": row["stage"],
                "approved": row["status"] == APPROVED,
                "comment": row.get("comment"),
                "call": call,
            }
    return None


def tool_answered(svc: Services, key: UnitKey, decision: dict[str, Any]) -> None:
    """The decision reached the agent: it is not sent again."""
    svc.records.set_tool_call(
        svc.run_id, key, decision["stage"], json.dumps({**decision["call"], "answered": True})
    )


def default_prompt(key: UnitKey, stage: str) -> str:
    if stage == "after":
        return f"use the output of step '{key.label()}'?"
    return f"run step '{key.label()}'?"


def matching(rows: list[dict[str, Any]], unit: str) -> list[dict[str, Any]]:
    """The gates `unit` names: a unit label exactly (`review[2]`, `revise.recheck#2`), or a
    step (`review`, `revise.recheck`, `revise`): every unit of it."""
    exact = [r for r in rows if label(r) == unit]
    if exact:
        return exact
    return [r for r in rows if r["step"] == unit or r["step"].startswith(unit + ".")]


def label(row: dict[str, Any]) -> str:
    return UnitKey(row["step"], row["item"], row["iteration"]).label()


def how_to_answer(run_id: str, rows: list[dict[str, Any]]) -> str:
    """The message a waiting run ends with: what waits, and the commands that answer."""
    lines = [f"run {run_id} is waiting for approval:"]
    for row in rows:
        due = ""
        if row.get("deadline"):
            due = time.strftime(" (answer by %Y-%m-%d %H:%M:%S UTC)", time.gmtime(row["deadline"]))
        lines.append(f"  {label(row)} [{row['stage']}]: {row.get('prompt') or ''}{due}")
    first = label(rows[0]) if rows else "STEP"
    lines.append(
        f"answer with `orchestrate approve {run_id} {first} [--comment TEXT]` (or "
        f"--reject), then `orchestrate resume {run_id}` (or add --resume to approve)"
    )
    return "\n".join(lines)


def answer(
    records: Records, run_id: str, unit: str, *, approved: bool, comment: str | None, by: str
) -> list[str]:
    """Decide the waiting gates `unit` names (see `matching`); returns their labels. A run
    with none of them waiting is a RunError that says what does wait."""
    run = records.find_run(run_id)
    if run is None:
        raise RunError(f"no run '{run_id}' (see `orchestrate runs list`)")
    waiting = records.approvals(run["id"], status=WAITING)
    chosen = matching(waiting, unit)
    if not chosen:
        answered = matching(records.approvals(run["id"]), unit)
        if answered:
            raise RunError(
                f"run {run['id']}: '{unit}' was answered already "
                f"({answered[0]['status']} by {answered[0]['decided_by']})"
            )
        listed = ", ".join(sorted({label(r) for r in waiting})) or "nothing"
        raise RunError(f"run {run['id']}: no approval of '{unit}' is waiting (waiting: {listed})")
    done = []
    for row in chosen:
        key = UnitKey(row["step"], row["item"], row["iteration"])
        if records.decide_approval(
            run["id"], key, row["stage"], approved=approved, comment=comment, decided_by=by
        ):
            done.append(label(row))
    return done
