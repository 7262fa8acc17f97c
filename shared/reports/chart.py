"""A small hand-made SVG chart: daily success rate (bars) and p95 duration (line).

No plotting library: the weekly report needs one picture of seven points,
and a few dozen SVG elements are easier to keep stable (and diff) than a
dependency. Text is escaped; every number is formatted by us.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from shared.reports.aggregate import DayRow

WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 56, 28, 36
BAR_COLOUR, LINE_COLOUR = "#4c9a2a", "#d9480f"


def _p95_scale(days: Sequence[DayRow]) -> float:
    highest = max((d.p95_ms for d in days if d.p95_ms is not None), default=0.0)
    return highest * 1.1 if highest > 0 else 1.0


def render_svg(days: Sequence[DayRow], *, title: str, rate_label: str, p95_label: str) -> str:
    """The chart as a standalone SVG document."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(days))
    top_ms = _p95_scale(days)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="16" font-size="13">{escape(title)}</text>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#dddddd"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{fraction * 100:.0f}%</text>'
        )
        parts.append(
            f'<text x="{LEFT + plot_w + 6}" y="{y + 4:.1f}">{fraction * top_ms:.0f} ms</text>'
        )
    points = []
    for index, day in enumerate(days):
        x = LEFT + slot * index
        if day.success_rate is not None:
            bar_h = plot_h * day.success_rate
            parts.append(
                f'<rect x="{x + slot * 0.2:.1f}" y="{TOP + plot_h - bar_h:.1f}" '
                f'width="{slot * 0.6:.1f}" height="{bar_h:.1f}" fill="{BAR_COLOUR}">'
                f"<title>{day.day.isoformat()} {day.success_rate * 100:.1f}%</title></rect>"
            )
        if day.p95_ms is not None:
            y = TOP + plot_h * (1 - day.p95_ms / top_ms)
            points.append(f"{x + slot / 2:.1f},{y:.1f}")
        parts.append(
            f'<text x="{x + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
            f"{day.day:%m-%d}</text>"
        )
    if points:
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{LINE_COLOUR}" '
            'stroke-width="2"/>'
        )
        for point in points:
            cx, cy = point.split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{LINE_COLOUR}"/>')
    legend_y = HEIGHT - 6
    parts.append(
        f'<rect x="{LEFT}" y="{legend_y - 9}" width="10" height="10" fill="{BAR_COLOUR}"/>'
        f'<text x="{LEFT + 14}" y="{legend_y}">{escape(rate_label)}</text>'
        f'<line x1="{LEFT + 180}" y1="{legend_y - 4}" x2="{LEFT + 200}" y2="{legend_y - 4}" '
        f'stroke="{LINE_COLOUR}" stroke-width="2"/>'
        f'<text x="{LEFT + 204}" y="{legend_y}">{escape(p95_label)}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
