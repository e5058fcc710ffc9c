"""Charts drawn on the server as SVG: no script, nothing from elsewhere, allowed by the CSP.

Each chart is an image with a title and a description for screen readers (``role="img"``,
``aria-labelledby``), every bar carries its number as text (colour is never the only cue), and
the page shows the same numbers in a table beside it.
"""

from __future__ import annotations

from itertools import count

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 240
TOP, BOTTOM, LEFT, RIGHT = 24, 48, 40, 8
_ids = count(1)


def bar_chart(title: str, description: str, bars: list[tuple[str, int]]) -> Markup:
    """Vertical bars, one per (label, value); labels are thinned out when there are many."""
    chart_id = f"chart-{next(_ids)}"
    top = max((value for _label, value in bars), default=0) or 1
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = inner_w / max(len(bars), 1)
    bar_w = max(step * 0.7, 1.0)
    every = max(1, round(len(bars) / 12))  # at most about 12 axis labels
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(description)}</desc>',
        f'<line x1="{LEFT}" y1="{TOP + inner_h}" x2="{WIDTH - RIGHT}" y2="{TOP + inner_h}" '
        'stroke="#333" stroke-width="1"/>',
    ]
    for index, (label, value) in enumerate(bars):
        height = inner_h * value / top
        x = LEFT + index * step + (step - bar_w) / 2
        y = TOP + inner_h - height
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{height:.1f}" '
            f'fill="#1f5f99"><title>{escape(label)}: {value}</title></rect>'
        )
        if len(bars) <= 31 or value == top:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
                f'font-size="11" fill="#111">{value}</text>'
            )
        if index % every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{TOP + inner_h + 16}" text-anchor="middle" '
                f'font-size="11" fill="#111">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
