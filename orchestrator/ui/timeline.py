"""A run's timeline as server-side SVG: a Gantt of its units, one lane per agent replica.

Owns `timeline_svg(units, now)`: each unit row with a start is a bar from start to end (to
`now` while it runs), in the lane of the agent copy that handled it (`writer`, `writer #2`
for replica 2); units that overlap in one lane are stacked in sub-rows. A for_each step's
aggregate row and a loop's own row span their children, so they get no bar of their own.
Every string is escaped here.

Must not: read records (callers pass the unit rows).
"""

from __future__ import annotations

import functools
from html import escape
from typing import Any

from orchestrator.run.records import UnitKey
from orchestrator.run.status import RUNNING

LABEL_W, WIDTH, ROW_H, AXIS_H = 150, 760, 22, 24


def _bars(units: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    bars = []
    parents = {str(u["step"]) for u in units if u["item"] >= 0}  # for_each aggregates
    parents |= {str(u["step"]).partition(".")[0] for u in units if "." in str(u["step"])}
    for unit in units:
        if unit.get("started") is None or unit.get("prompt") is None:
            continue  # never sent (skipped, pending)
        if unit["item"] < 0 and str(unit["step"]) in parents:
            continue  # a for_each's or a loop's own row: its children have the bars
        end = unit.get("ended") or (now if unit["status"] == RUNNING else unit["started"])
        replica = int(unit.get("replica") or 1)
        lane = str(unit.get("agent") or "?") + (f" #{replica}" if replica > 1 else "")
        label = UnitKey(str(unit["step"]), int(unit["item"]), int(unit["iteration"])).label()
        bars.append(
            {
                "lane": lane,
                "start": float(unit["started"]),
                "end": float(end),
                "label": label,
                "status": str(unit["status"]),
            }
        )
    return bars


def timeline_svg(units: list[dict[str, Any]], now: float) -> str:
    bars = _bars(units, now)
    if not bars:
        return '<p class="empty">No unit has started yet.</p>'
    t0 = min(b["start"] for b in bars)
    span = max(max(b["end"] for b in bars) - t0, 0.001)
    scale = (WIDTH - LABEL_W - 10) / span
    rows: list[tuple[str, list[dict[str, Any]]]] = []  # (lane, bars) per sub-row
    for lane in sorted({b["lane"] for b in bars}):
        subrows: list[list[dict[str, Any]]] = []
        for bar in sorted((b for b in bars if b["lane"] == lane), key=lambda b: b["start"]):
            free = next((r for r in subrows if r[-1]["end"] <= bar["start"]), None)
            if free is None:
                subrows.append([bar])
            else:
                free.append(bar)
        rows += [(lane if i == 0 else "", r) for i, r in enumerate(subrows)]
    height = AXIS_H + ROW_H * len(rows) + 6
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" role="img" '
        f'aria-label="timeline of units" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}">'
    ]
    for i in range(5):
        x = LABEL_W + (WIDTH - LABEL_W - 10) * i / 4
        parts.append(
            f'<line class="tick" x1="{x:.1f}" y1="{AXIS_H - 6}" x2="{x:.1f}" '
            f'y2="{height}"/><text class="axis" x="{x:.1f}" y="{AXIS_H - 10}" '
            f'text-anchor="{"end" if i == 4 else "middle"}">{_secs(span * i / 4, span)}'
            "</text>"
        )
    for index, (lane, row) in enumerate(rows):
        y = AXIS_H + index * ROW_H
        if lane:
            parts.append(
                f'<text class="lane" x="{LABEL_W - 8}" y="{y + 15}" '
                f'text-anchor="end">{escape(lane)}</text>'
            )
        for bar in row:
            x = LABEL_W + (bar["start"] - t0) * scale
            w = max(2.0, (bar["end"] - bar["start"]) * scale)
            tip = f"{bar['label']} ({bar['lane']}): {bar['status']}, {bar['end'] - bar['start']:.2f} s"
            parts.append(
                f'<g class="bar st-{_css(bar["status"])}" data-unit="{escape(bar["label"])}">'
                f'<title>{escape(tip)}</title><rect x="{x:.1f}" y="{y + 3}" '
                f'width="{w:.1f}" height="{ROW_H - 6}" rx="3"/>'
            )
            if w > 40:
                parts.append(
                    f'<text class="barlabel" x="{x + 4:.1f}" y="{y + 15}">'
                    f"{escape(bar['label'][: int(w / 7)])}</text>"
                )
            parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _secs(value: float, span: float) -> str:
    return f"{value * 1000:.0f} ms" if span < 2 else f"{value:.1f} s"


@functools.lru_cache(maxsize=64)
def _css(status: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in status)
