"""Batch records as text: `orchestrate batches list` and `batches show`.

Owns `batches_table` and `batch_detail`, and `shown_status` (a batch whose process is gone
without finishing reads `interrupted`, as runs do).

Must not: read records or print (the CLI does both).
"""

from __future__ import annotations

import time
from typing import Any

from orchestrator.run.liveness import process_alive
from orchestrator.run.status import FAILED, FINISHED_ITEM, INTERRUPTED, INVALID, RUNNING


def shown_status(batch: dict[str, Any]) -> str:
    if batch["status"] == RUNNING and not (batch.get("pid") and process_alive(batch["pid"])):
        return INTERRUPTED
    return str(batch["status"])


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) if ts else "-"


def _done(batch: dict[str, Any]) -> tuple[int, int]:
    counts = batch["counts"]
    done = sum(counts.get(s, 0) for s in FINISHED_ITEM)
    return done, counts.get(FAILED, 0) + counts.get(INVALID, 0)


def batches_table(batches: list[dict[str, Any]]) -> str:
    if not batches:
        return "no batches recorded yet"
    rows = [
        f"{'BATCH ID':<29}  {'PIPELINE':<20}  {'STATUS':<11}  {'DONE':>11}  "
        f"{'FAILED':>6}  {'STARTED (UTC)':<19}"
    ]
    for b in batches:
        done, failed = _done(b)
        progress = f"{done}/{b['total']}"
        rows.append(
            f"{b['id']:<29}  {b['pipeline'][:20]:<20}  {shown_status(b):<11}  "
            f"{progress:>11}  {failed:>6}  {_when(b['started']):<19}"
        )
    return "\n".join(rows)


def batch_detail(batch: dict[str, Any], items: list[dict[str, Any]]) -> str:
    done, failed = _done(batch)
    lines = [
        f"batch {batch['id']}  {shown_status(batch)}",
        f"  pipeline  {batch['pipeline']} ({batch['pipeline_file']})",
        f"  file      {batch['file']} (sha256 {batch['file_hash'][:16]})",
        f"  results   {batch['results']}",
        f"  progress  {done}/{batch['total']} done, {failed} failed",
        f"  started   {_when(batch['started'])}   ended {_when(batch.get('ended'))}",
        f"  options   concurrency {batch['options'].get('concurrency')}",
    ]
    if batch.get("resumes"):
        lines.append(f"  resumed   {batch['resumes']} time(s)")
    if batch.get("error"):
        lines.append(f"  error     {batch['error']}")
    lines += ["", f"{'LINE':>6}  {'STATUS':<10}  {'RUN ID':<23}  ERROR"]
    for item in items:
        error = (item.get("error") or "").replace("\n", " ")
        lines.append(
            f"{item['line']:>6}  {item['status']:<10}  {item.get('run_id') or '-':<23}"
            f"  {error[:120]}"
        )
    return "\n".join(lines)
