"""The state vocabulary (run/status.py): its Literal types, constants and named sets agree,
and every state a step can end in has a word in the progress output."""

from __future__ import annotations

from typing import get_args

from orchestrator.run import status
from orchestrator.run.progress import ICONS

WORDS = {v for k, v in vars(status).items() if k.isupper() and isinstance(v, str)}


def test_every_word_of_every_status_type_is_a_constant():
    for alias in (
        status.RunStatus,
        status.ShownStatus,
        status.StepStatus,
        status.UnitStatus,
        status.BatchStatus,
        status.ItemStatus,
        status.ApprovalStatus,
    ):
        assert set(get_args(alias)) <= WORDS, alias


def test_the_named_sets_are_made_of_their_types_words():
    assert status.DONE_OK <= set(get_args(status.StepStatus))
    assert status.BROKEN <= set(get_args(status.StepStatus))
    assert not status.DONE_OK & status.BROKEN
    assert status.TERMINAL <= set(get_args(status.RunStatus))
    assert status.RUNNING not in status.TERMINAL
    assert status.WAITING_APPROVAL not in status.TERMINAL  # it goes on once answered
    assert status.FINISHED_ITEM <= set(get_args(status.ItemStatus))


def test_the_words_are_those_the_records_hold():
    # stored in run records and written in --json: a rename would break old records
    assert set(get_args(status.UnitStatus)) == {
        "running",
        "succeeded",
        "failed",
        "cancelled",
        "skipped",
        "blocked",
        "not_started",
        "waiting_approval",
        "rejected",
    }
    assert set(get_args(status.ShownStatus)) == set(get_args(status.RunStatus)) | {"interrupted"}


def test_progress_has_a_word_for_every_unit_status():
    assert set(get_args(status.UnitStatus)) <= set(ICONS)
