"""The words for states: of a run, a step (and each unit of it), a batch and a batch item.

Owns the vocabulary, once: each word as a `Final` constant (what code compares with), the
`Literal` types mypy checks status fields against (`RunStatus`, `StepStatus`, `UnitStatus`,
`BatchStatus`, `ItemStatus`, `ApprovalStatus`), and the named sets code decides by (`DONE_OK`: downstream
steps may proceed; `BROKEN`: a step whose end fails the run; `TERMINAL`: a run that has
ended; `FINISHED_ITEM`: a batch item a resume never runs again).

The words are plain strings, not an Enum, on purpose: they are stored in the run records,
written in `--json` output and events, and shown in f-strings exactly as they are.

The words:
- `running`: a run, batch, batch item or unit under way (the intent is recorded before a
  message is sent). A `running` record whose process is gone reads `interrupted`
  (run.liveness): never stored, only shown.
- `succeeded`, `failed`: ended, well or not (a run that timed out is `failed`: the same
  limit would end it again; what succeeded is kept for `resume`).
- `cancelled`: stopped by Ctrl-C (or its output closed) before it ended; resumable.
- `skipped` (a step whose `when:` was false, or after a rejected gate that continues),
  `blocked` (an upstream step did not succeed), `not_started` (the run stopped, by Ctrl-C,
  a timeout or its budget, before the step began).
- `waiting_approval`, `rejected`: an approval gate waits for a person, or a person said no
  (run.approval).
- Batch items only: `pending` (not started yet) and `invalid` (a bad line: never run).
- An approval gate's request (the records' `approvals` rows): `waiting` for an answer, then
  `approved` or `rejected`.

Must not: import anything of the project (every part of the run layer, the web view and the
CLI read it), or hold rules beyond naming these sets.
"""

from __future__ import annotations

from typing import Final, Literal

RUNNING: Final = "running"
SUCCEEDED: Final = "succeeded"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"
SKIPPED: Final = "skipped"
BLOCKED: Final = "blocked"
NOT_STARTED: Final = "not_started"
WAITING_APPROVAL: Final = "waiting_approval"
REJECTED: Final = "rejected"
INTERRUPTED: Final = "interrupted"  # shown for a `running` record whose process is gone
PENDING: Final = "pending"  # a batch item not started yet
INVALID: Final = "invalid"  # a batch item whose line is bad: never run
WAITING: Final = "waiting"  # an approval request not answered yet
APPROVED: Final = "approved"  # an approval request answered yes

RunStatus = Literal["running", "succeeded", "failed", "cancelled", "waiting_approval", "rejected"]
ShownStatus = Literal[RunStatus, "interrupted"]  # what `runs list` and the web view show
StepStatus = Literal[
    "succeeded",
    "failed",
    "cancelled",
    "skipped",
    "blocked",
    "not_started",
    "waiting_approval",
    "rejected",
]
UnitStatus = Literal["running", StepStatus]  # a unit's row in the run records
BatchStatus = Literal["running", "succeeded", "failed", "cancelled"]
ItemStatus = Literal["pending", "running", "succeeded", "failed", "cancelled", "invalid"]
ApprovalStatus = Literal["waiting", "approved", "rejected"]

DONE_OK: Final[frozenset[StepStatus]] = frozenset({SUCCEEDED, SKIPPED})  # downstream may go on
# a step whose failure makes the run fail (not one that merely waits or was rejected)
BROKEN: Final[frozenset[StepStatus]] = frozenset({FAILED, BLOCKED, CANCELLED})
TERMINAL: Final[frozenset[RunStatus]] = frozenset({SUCCEEDED, FAILED, CANCELLED, REJECTED})
# a batch item that is settled for good: a resume of the batch never runs it again
FINISHED_ITEM: Final[frozenset[ItemStatus]] = frozenset({SUCCEEDED, FAILED, INVALID})
