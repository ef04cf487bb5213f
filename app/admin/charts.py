"""Inline SVG bar charts drawn on the server: no script, and readable without colour.

Every bar carries its label and its value as text, and the chart has a <title> and a <desc>
that a screen reader announces (role="img"), so the numbers never depend on the bar colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

ROW_HEIGHT = 30
BAR_HEIGHT = 18
LABEL_WIDTH = 190
BAR_AREA = 330
VALUE_WIDTH = 170
TOP = 8


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # decides the length of the bar
    text: str  # the value as a reader should read it, written beside the bar


def bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    bars: Sequence[Bar],
    maximum: float | None = None,
) -> Markup:
    """A horizontal bar chart: label on the left, bar, value written after the bar.

    `maximum` fixes the full length (100 for percentages); by default the largest value is.
    """
    top = max([maximum or 0.0, *(bar.value for bar in bars)]) or 1.0
    width = LABEL_WIDTH + BAR_AREA + VALUE_WIDTH
    height = TOP * 2 + ROW_HEIGHT * max(len(bars), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" id="{escape(chart_id)}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px" '
        f'font-size="13" font-family="inherit">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
        f'<line x1="{LABEL_WIDTH}" y1="{TOP - 4}" x2="{LABEL_WIDTH}" '
        f'y2="{height - TOP + 4}" stroke="#5b636d" stroke-width="1"/>',
    ]
    for index, bar in enumerate(bars):
        y = TOP + index * ROW_HEIGHT
        middle = y + ROW_HEIGHT / 2
        length = max(bar.value, 0) / top * BAR_AREA
        parts.append(
            f'<g><text x="{LABEL_WIDTH - 8}" y="{middle:.1f}" text-anchor="end" '
            f'dominant-baseline="middle" fill="#1b1f24">{escape(bar.label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + (ROW_HEIGHT - BAR_HEIGHT) / 2:.1f}" '
            f'width="{length:.1f}" height="{BAR_HEIGHT}" fill="#2f5d8a"/>'
            f'<text x="{LABEL_WIDTH + length + 6:.1f}" y="{middle:.1f}" '
            f'dominant-baseline="middle" fill="#1b1f24" font-weight="600">'
            f"{escape(bar.text)}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


def describe(bars: Sequence[Bar]) -> str:
    """The bars as one sentence, for the chart's <desc>: "Current: €250.00; 1–30 days: …"."""
    return "; ".join(f"{bar.label}: {bar.text}" for bar in bars) + "."
