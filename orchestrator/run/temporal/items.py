"""A step's units as activities of their own on Temporal: for_each items, loop units.

The step's meaning stays in run.flow (items, contexts, skips, the aggregate and its record);
this module only swaps *how the items run* through run.fanout's `items_by` hook, in three
activity modes the workflow drives (workflow.py `_fan`):
- `expand`: run the step up to its fan-out and report how many items there are (or the
  step's end, if it was skipped or its `for_each` failed);
- `item`: run item `index` alone, on the one agent copy the workflow leased to it;
- `collect`: run the step again with every item taken from the run records (no message is
  sent), so flow aggregates the outputs and records the step as it does locally. A failed
  item fails the step with the lowest failed index's error, as locally.

A loop step runs in `unit` calls instead: each call replays the loop from the run records
(done units are reused, nothing is sent for them) and runs one new unit (a body step in
one iteration), through run.step's `unit_gate`; the loop's `until` is evaluated by flow
on the way, as locally. The call that finds nothing new to run ends the step.

Must not: decide when units run (the workflow does), or send a message outside `item` and
the one new unit of a `unit` call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.run.context import StepResult, Usage
from orchestrator.run.records import UnitKey
from orchestrator.run.services import Cancelled, Services
from orchestrator.run.status import CANCELLED, FAILED, SUCCEEDED
from orchestrator.run.step import StepFailed


class Expanded(BaseException):  # noqa: N818 - a control-flow signal, not an error
    """The step reached its fan-out: `count` items (BaseException: flow must not catch it)."""

    def __init__(self, count: int):
        super().__init__(count)
        self.count = count


class ItemDone(BaseException):  # noqa: N818 - a control-flow signal, not an error
    """One item ran (or failed): its result, carried out of run_step before aggregation."""

    def __init__(self, result: StepResult):
        super().__init__(result.status)
        self.result = result


def expand(
    svc: Services, count: int, run_one: Callable[[int], Any], width: int, name: str
) -> list[Any]:
    raise Expanded(count)


def _ended(svc: Services, label: str, index: int, count: int, ok: bool) -> None:
    """As run.fanout says locally; `done` is counted by the starting process (the items
    run in activities of their own, perhaps on other workers)."""
    svc.emit("item_finished", step=label, item=index, ok=ok, done=None, total=count)


def one_item(index: int) -> Callable[..., list[Any]]:
    def hook(
        svc: Services, count: int, run_one: Callable[[int], Any], width: int, name: str
    ) -> list[Any]:
        if index >= count:
            raise ItemDone(
                StepResult(FAILED, error=f"item {index} is gone: the list has {count} items now")
            )
        label = name.removesuffix("-item")
        try:
            result = run_one(index)
        except StepFailed as exc:
            _ended(svc, label, index, count, False)
            raise ItemDone(StepResult(FAILED, error=str(exc), usage=exc.usage)) from None
        except Cancelled as exc:
            raise ItemDone(StepResult(CANCELLED, error=str(exc))) from None
        _ended(svc, label, index, count, True)
        raise ItemDone(result)

    return hook


def collect(step: str) -> Callable[..., list[Any]]:
    def hook(
        svc: Services, count: int, run_one: Callable[[int], Any], width: int, name: str
    ) -> list[Any]:
        units = svc.records.units(svc.run_id)
        results = []
        for index in range(count):
            row = units.get(UnitKey(step, index)) or {}
            if row.get("status") != SUCCEEDED:
                error = row.get("error") or f"item {index} did not run"
                raise StepFailed(error, Usage())
            results.append(
                StepResult(
                    SUCCEEDED,
                    row.get("output"),
                    usage=Usage(
                        row.get("prompt_tokens") or 0,
                        row.get("completion_tokens") or 0,
                        row.get("step_count") or 0,
                        row.get("attempts") or 0,
                    ),
                    duration=row.get("duration") or 0.0,
                )
            )
        return results

    return hook


class MoreUnits(BaseException):  # noqa: N818 - a control-flow signal, not an error
    """This call ran its one new unit; the step has more: the workflow calls again."""


def one_new_unit() -> Callable[[UnitKey], None]:
    """The unit gate of a `unit` call (loops): the first new unit runs, the next ends the
    call. What earlier calls did is reused from the records, so each call adds one unit."""
    ran: list[UnitKey] = []

    def gate(key: UnitKey) -> None:
        if ran:
            raise MoreUnits(key.label())
        ran.append(key)

    return gate
