"""Start or resume one batch: records, results file, the work list, the final status.

Owns `start_batch` and `resume_batch` (the glue between a checked `BatchFile`, the batch
records, an `ItemRunner` and the `BatchDriver`) and `BatchSummary`. A new batch records
every line first (bad ones `invalid`, with their `FILE:LINE:` message and a failed result
line), then drives the good ones. A resume refuses a batch file whose bytes changed, a batch
whose process is still alive, and a batch with nothing left; it keeps finished items as they
are (a failed one runs again only with `retry_failed`), settles items whose run finished
just before a crash (from the run's records, without running anything), resumes runs that
started but did not finish, and starts the rest, under their already recorded run ids.

Must not: print, parse arguments, or know how one run executes (the ItemRunner does).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.compile.plan import Plan
from orchestrator.errors import RunError
from orchestrator.private import open_private, private_dir
from orchestrator.run.batch import (
    BatchDriver,
    EventSink,
    ItemResult,
    ItemRunner,
    Work,
    new_batch_id,
)
from orchestrator.run.batch_input import BatchFile, BatchLine
from orchestrator.run.batch_records import BatchRecords
from orchestrator.run.batch_results import ResultsFile
from orchestrator.run.liveness import process_alive
from orchestrator.run.runner import new_run_id
from orchestrator.run.services import CTRL_C
from orchestrator.run.status import (
    CANCELLED,
    FAILED,
    FINISHED_ITEM,
    INVALID,
    PENDING,
    RUNNING,
    SUCCEEDED,
    BatchStatus,
)

DEFAULT_CONCURRENCY = 4


@dataclass
class BatchSummary:
    batch_id: str
    status: BatchStatus  # succeeded | failed | cancelled
    total: int
    counts: dict[str, int]  # items by status: succeeded, failed, invalid, cancelled, pending
    results: str
    duration: float
    resumed: bool = False
    error: str | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)  # line, run_id, error

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "status": self.status,
            "total": self.total,
            "succeeded": self.counts.get(SUCCEEDED, 0),
            "failed": self.counts.get(FAILED, 0) + self.counts.get(INVALID, 0),
            "invalid": self.counts.get(INVALID, 0),
            "cancelled": self.counts.get(CANCELLED, 0),
            "not_started": self.counts.get(PENDING, 0),
            "results": self.results,
            "duration": round(self.duration, 3),
            "resumed": self.resumed,
            "error": self.error,
            "failures": self.failures,
        }


def start_batch(
    plan: Plan,
    batch: BatchFile,
    runner: ItemRunner,
    records: BatchRecords,
    *,
    options: dict[str, Any],
    concurrency: int = DEFAULT_CONCURRENCY,
    results_path: str | Path | None = None,
    emit: EventSink = lambda k, **d: None,
    make_run_id: Callable[[], str] = new_run_id,
) -> BatchSummary:
    runner.check()  # a server that is down fails the batch once, not every line
    batch_id = new_batch_id()
    if results_path is None:  # in the state dir: the owner's only, like the run records
        path = private_dir(records.path.parent / "batches").resolve() / f"{batch_id}.jsonl"
        open_private(path, "w").close()
    else:
        path = Path(results_path).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("", encoding="utf-8")  # a new batch's results replace what was there
    records.create(
        batch_id,
        pipeline=plan.name,
        pipeline_file=os.path.abspath(plan.source),
        file=batch.path,
        file_hash=batch.sha256,
        results=str(path),
        options={**options, "concurrency": concurrency},
        items=[(b.line, INVALID if b.error else PENDING, b.error) for b in batch.lines],
        pid=os.getpid(),
    )
    results = ResultsFile(path)
    driver = BatchDriver(
        batch_id,
        records,
        results,
        runner,
        concurrency=concurrency,
        emit=emit,
        new_run_id=make_run_id,
    )
    emit(
        "batch_started",
        batch_id=batch_id,
        pipeline=plan.name,
        file=batch.shown,
        total=len(batch.lines),
        done=0,
        failed=0,
        results=str(path),
        resumed=False,
        concurrency=concurrency,
    )
    for bad in batch.bad:
        results.write(bad.line, run_id=None, status=FAILED, error=bad.error)
        emit(
            "item_finished",
            line=bad.line,
            run_id=None,
            status=FAILED,
            error=bad.error,
            invalid=True,
        )
    return _drive(
        driver, [Work(b.line, b.given) for b in batch.lines if b.given is not None], resumed=False
    )


def resume_batch(
    batch_id: str,
    batch: BatchFile,
    runner: ItemRunner,
    records: BatchRecords,
    *,
    concurrency: int | None = None,
    retry_failed: bool = False,
    emit: EventSink = lambda k, **d: None,
    make_run_id: Callable[[], str] = new_run_id,
) -> BatchSummary:
    rec = records.batch(batch_id)
    if rec is None:
        raise RunError(f"no batch '{batch_id}' in {records.path}")
    _check_resumable(rec, batch)
    lines = {b.line: b for b in batch.lines}
    settled, work, invalid = _plan_resume(records.items(batch_id), lines, runner, retry_failed)
    if not (settled or work or invalid):
        counts = rec["counts"]
        raise RunError(
            f"batch {batch_id} has nothing to resume: all {rec['total']} items "
            f"finished ({counts.get(SUCCEEDED, 0)} succeeded, "
            f"{counts.get(FAILED, 0) + counts.get(INVALID, 0)} failed)"
            + ("" if retry_failed else "; --retry-failed runs the failed ones again")
        )
    runner.check()
    concurrency = concurrency or rec["options"].get("concurrency") or DEFAULT_CONCURRENCY
    records.reopen(
        batch_id, pid=os.getpid(), options={**rec["options"], "concurrency": concurrency}
    )
    results = ResultsFile(rec["results"])
    driver = BatchDriver(
        batch_id,
        records,
        results,
        runner,
        concurrency=concurrency,
        emit=emit,
        new_run_id=make_run_id,
    )
    before = Counter(i["status"] for i in records.items(batch_id))
    emit(
        "batch_started",
        batch_id=batch_id,
        pipeline=rec["pipeline"],
        file=batch.shown,
        total=rec["total"],
        done=sum(before[s] for s in FINISHED_ITEM),
        failed=before[FAILED] + before[INVALID],
        results=rec["results"],
        resumed=True,
        concurrency=concurrency,
    )
    written = results.written
    for line, result in settled:  # their runs finished just before the batch was stopped
        driver.settle(line, result, write=line not in written)
    for line, error in invalid:  # the pipeline's inputs changed under a pending line
        driver.settle(line, ItemResult(FAILED, None, error=error))
        records.item_done(batch_id, line, INVALID, run_id=None, error=error)
    return _drive(driver, work, resumed=True)


def _check_resumable(rec: dict[str, Any], batch: BatchFile) -> None:
    if batch.sha256 != rec["file_hash"]:
        raise RunError(
            f"{batch.shown}: changed since batch {rec['id']} started (its sha256 "
            "differs); a batch resumes only on the same file: restore it, or start "
            "a new batch"
        )
    if rec["status"] == RUNNING and rec.get("pid") and process_alive(rec["pid"]):
        raise RunError(f"batch {rec['id']} is still running (pid {rec['pid']})")


def _plan_resume(
    items: list[dict[str, Any]], lines: dict[int, BatchLine], runner: ItemRunner, retry_failed: bool
) -> tuple[list[tuple[int, ItemResult]], list[Work], list[tuple[int, str]]]:
    """What each unfinished item needs: settled from its run's record, run (resumed or
    started), or marked invalid (the pipeline's inputs changed under a pending line)."""
    settled: list[tuple[int, ItemResult]] = []
    work: list[Work] = []
    invalid: list[tuple[int, str]] = []
    for item in items:
        status, run_id, line = item["status"], item["run_id"], item["line"]
        if status in (INVALID, SUCCEEDED) or (status == FAILED and not retry_failed):
            continue
        given = lines[line]
        if given.given is None:
            invalid.append((line, given.error or "invalid"))
            continue
        recorded = runner.recorded(run_id) if run_id else None
        if recorded is None:  # never started, or its id was written but the run was not
            work.append(Work(line, given.given, run_id))
        elif recorded.status == SUCCEEDED or (recorded.status == FAILED and status != FAILED):
            settled.append((line, recorded))
        else:
            work.append(Work(line, given.given, run_id, resume=True))
    return settled, work, invalid


def _drive(driver: BatchDriver, work: list[Work], *, resumed: bool) -> BatchSummary:
    began = time.monotonic()
    driver.drive(work)
    records, batch_id = driver.records, driver.batch_id
    items = records.items(batch_id)
    counts = Counter(i["status"] for i in items)
    unfinished = sum(1 for i in items if i["status"] not in FINISHED_ITEM)
    again = f"continue with `orchestrate resume {batch_id}`"
    status: BatchStatus
    if driver.cancelled:
        status, error = CANCELLED, f"{CTRL_C}; {again}"
    elif unfinished:
        status, error = FAILED, f"{unfinished} item(s) did not finish; {again}"
    elif counts[FAILED] or counts[INVALID]:
        status, error = FAILED, None
    else:
        status, error = SUCCEEDED, None
    if not unfinished:
        driver.results.compact()  # every line settled: one line each, in input order
    driver.results.close()
    records.finish(batch_id, status, error)
    failures = [
        {"line": i["line"], "run_id": i["run_id"], "error": i["error"]}
        for i in items
        if i["status"] in (FAILED, INVALID)
    ]
    return BatchSummary(
        batch_id,
        status,
        len(items),
        dict(counts),
        str(driver.results.path),
        time.monotonic() - began,
        resumed,
        error,
        failures,
    )
