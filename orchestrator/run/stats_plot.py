"""`orchestrate stats --plot FILE.svg`: the trends as a picture, written as SVG by hand.

Owns `plot_svg(doc) -> str` and `panels(doc)` (what run.stats_png draws the same way): two
panels over the document `run.stats.collect` returns: tokens per day (bars, with the priced
cost above each), and the step-duration distribution (a histogram). SVG written directly rather than through a plotting library: two bar charts
are ~100 lines of text, any browser or image viewer opens the file, and it adds no
dependency (matplotlib alone is tens of megabytes and slow to import for a CLI).

Must not: read records or compute figures; text from records is escaped (XML).
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from orchestrator.run.cost import usd_text

WIDTH, PANEL, PAD = 760, 260, 48


Bar = tuple[str, float, str]  # (label under it, value, text above it)
Panel = tuple[str, list[Bar], str]  # (title, bars, colour)


def panels(doc: dict[str, Any]) -> list[Panel]:
    days = doc["per_day"][-60:]
    bins = doc["duration_histogram"]
    return [
        (
            "Tokens per day (UTC); priced cost above each bar",
            [(d["day"][5:], d["tokens"], _money(d)) for d in days],
            "#4C78A8",
        ),
        (
            "Step duration distribution (steps per bin)",
            [
                (f"{b['from']:.1f}s", b["count"], str(b["count"]) if b["count"] else "")
                for b in bins
            ],
            "#F58518",
        ),
    ]


def plot_svg(doc: dict[str, Any]) -> str:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{2 * PANEL + 40}" viewBox="0 0 {WIDTH} {2 * PANEL + 40}" '
        'font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH}" height="{2 * PANEL + 40}" fill="white"/>',
    ]
    for index, (title, bars, colour) in enumerate(panels(doc)):
        parts += _panel(index * (PANEL + 20), title, bars, colour)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _money(day: dict[str, Any]) -> str:
    return usd_text(day["cost_usd_priced"]) + ("+?" if day["unpriced_tokens"] else "")


def _panel(top: int, title: str, bars: list[Bar], colour: str) -> list[str]:
    out = [
        f'<text x="{PAD}" y="{top + 20}" font-size="13" font-weight="bold">{escape(title)}</text>'
    ]
    base, height = top + PANEL - 30, PANEL - 70
    out.append(f'<line x1="{PAD}" y1="{base}" x2="{WIDTH - 10}" y2="{base}" stroke="#333"/>')
    if not bars:
        out.append(f'<text x="{PAD}" y="{base - 10}">no data</text>')
        return out
    high = max(value for _, value, _ in bars) or 1
    out.append(
        f'<text x="{PAD - 4}" y="{base - height + 4}" text-anchor="end">{short(high)}</text>'
    )
    slot = (WIDTH - 10 - PAD) / len(bars)
    for i, (label, value, above) in enumerate(bars):
        h = height * value / high
        x = PAD + i * slot + slot * 0.1
        out.append(
            f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{slot * 0.8:.1f}" '
            f'height="{h:.1f}" fill="{colour}"><title>{escape(label)}: {value:g}'
            "</title></rect>"
        )
        if above and len(bars) <= 31:
            out.append(
                f'<text x="{x + slot * 0.4:.1f}" y="{base - h - 3:.1f}" '
                f'text-anchor="middle" font-size="9">{escape(above)}</text>'
            )
        if len(bars) <= 31 or i % max(1, len(bars) // 15) == 0:
            out.append(
                f'<text x="{x + slot * 0.4:.1f}" y="{base + 14}" text-anchor="middle" '
                f'font-size="9">{escape(label)}</text>'
            )
    return out


def short(value: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:g}"
