"""`orchestrate stats --plot FILE.png`: the same two panels as the SVG, as a PNG image.

Owns `plot_png(doc) -> bytes`, drawn with Pillow (the `plot` extra: a small, well-kept
imaging library with no plotting stack behind it; imported only here, only for a .png).
The layout is the SVG's (run.stats_plot.panels, sizes and colours): what one shows the
other shows.

Must not: read records or compute figures.
"""

from __future__ import annotations

import io
from typing import Any

from orchestrator.errors import RunError
from orchestrator.run.stats_plot import PAD, PANEL, WIDTH, Bar, panels, short

HEIGHT = 2 * PANEL + 40
NO_PILLOW = (
    "a PNG plot needs Pillow: pip install 'orchestrate[plot]' (or name a .svg "
    "file, which needs nothing)"
)


def plot_png(doc: dict[str, Any]) -> bytes:
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        raise RunError(NO_PILLOW) from None
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    fonts = {size: ImageFont.load_default(size) for size in (9, 11, 13)}
    for index, (title, bars, colour) in enumerate(panels(doc)):
        _panel(draw, fonts, index * (PANEL + 20), title, bars, colour)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _panel(
    draw: Any, fonts: dict[int, Any], top: int, title: str, bars: list[Bar], colour: str
) -> None:
    draw.text((PAD, top + 8), title, fill="black", font=fonts[13])
    base, height = top + PANEL - 30, PANEL - 70
    draw.line([(PAD, base), (WIDTH - 10, base)], fill="#333333")
    if not bars:
        draw.text((PAD, base - 20), "no data", fill="black", font=fonts[11])
        return
    high = max(value for _, value, _ in bars) or 1
    draw.text((PAD - 4, base - height - 4), short(high), fill="black", font=fonts[11], anchor="ra")
    slot = (WIDTH - 10 - PAD) / len(bars)
    for i, (label, value, above) in enumerate(bars):
        h = height * value / high
        x = PAD + i * slot + slot * 0.1
        if h:
            draw.rectangle([x, base - h, x + slot * 0.8, base], fill=colour)
        middle = x + slot * 0.4
        if above and len(bars) <= 31:
            draw.text((middle, base - h - 3), above, fill="black", font=fonts[9], anchor="ms")
        if len(bars) <= 31 or i % max(1, len(bars) // 15) == 0:
            draw.text((middle, base + 4), label, fill="black", font=fonts[9], anchor="ma")
