"""``GET /dashboard``: the datasets as one self-contained HTML page.

Charts are inline SVG drawn here, on the server: success rate per day, p95
latency per source and hour, open dead letters per job type, and SLO state
per source, then the schedule. Nothing is loaded from anywhere else (no
scripts, fonts or stylesheets), so the page works offline and under a strict
Content-Security-Policy. Every figure is printed as text and carried in a
``data-*`` attribute, so a browser (or a test) can read it back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

Document = Mapping[str, Any]
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
_WIDTH = 720
_BAR_AREA = 160
_SLO_COLOURS = {"ok": "#2e7d32", "warning": "#f9a825", "critical": "#c62828"}

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
background:#f5f6f8;color:#1d2330}
header{background:#1d2330;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px}header p{margin:4px 0 0;font-size:13px;color:#c5cad3}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px;padding:16px}
section{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 3px #0002}
h2{font-size:16px;margin:0 0 8px}svg{width:100%;height:auto;display:block}
svg text{font-size:11px;fill:#1d2330}.empty{color:#6b7280;font-style:italic}
table{border-collapse:collapse;font-size:12px;width:100%}
td,th{border-bottom:1px solid #e5e7eb;padding:3px 6px;text-align:left}
.num{text-align:right;font-variant-numeric:tabular-nums}
.tile{display:inline-block;margin:4px;padding:8px 12px;border-radius:6px;color:#fff;
min-width:120px}.tile b{display:block;font-size:14px}
"""


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def _rows(document: Document | None) -> list[dict[str, Any]]:
    return list(document.get("rows", [])) if document else []


def _empty(text: str) -> str:
    return f'<p class="empty">{escape(text)}</p>'


def daily_success(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, int, int, float | None]]:
    """(day, succeeded, failed, success rate) over every job type, by day."""
    days: dict[str, list[int]] = {}
    for row in rows:
        counts = days.setdefault(str(row["day"]), [0, 0])
        counts[0] += int(row["succeeded"])
        counts[1] += int(row["failed"])
    out = []
    for day, (ok, failed) in sorted(days.items()):
        finished = ok + failed
        out.append((day, ok, failed, round(ok / finished, 4) if finished else None))
    return out


def _bar_chart(
    chart_id: str,
    bars: Sequence[tuple[str, float, str, dict[str, str]]],
    top: float,
    colour: str,
    *,
    threshold: float | None = None,
) -> str:
    """Vertical bars: (label, value, value text, data attributes); ``top`` is the full scale.

    ``threshold`` draws a dashed line at that value (an SLO's limit).
    """
    count = max(len(bars), 1)
    slot = (_WIDTH - 40) / count
    width = max(min(slot * 0.7, 60), 2)
    height = _BAR_AREA + 50
    parts = [
        f'<svg id="{chart_id}" viewBox="0 0 {_WIDTH} {height}" role="img" '
        f'aria-label="{escape(chart_id)}">',
        f'<line x1="30" y1="{_BAR_AREA + 10}" x2="{_WIDTH - 5}" y2="{_BAR_AREA + 10}" '
        'stroke="#9ca3af"/>',
    ]
    if threshold is not None and top > 0:
        y = _BAR_AREA + 10 - threshold / top * _BAR_AREA
        parts.append(
            f'<line class="threshold" data-threshold-ms="{threshold:.1f}" x1="30" y1="{y:.1f}" '
            f'x2="{_WIDTH - 5}" y2="{y:.1f}" stroke="#6b7280" stroke-dasharray="6 4"/>'
        )
    for index, (label, value, text, data) in enumerate(bars):
        bar_height = 0.0 if top <= 0 else max(value, 0) / top * _BAR_AREA
        x = 35 + index * slot + (slot - width) / 2
        y = _BAR_AREA + 10 - bar_height
        attributes = " ".join(f'data-{k}="{escape(v)}"' for k, v in data.items())
        parts.append(
            f'<g class="bar" {attributes}>'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{bar_height:.1f}" '
            f'fill="{colour}"><title>{escape(label)}: {escape(text)}</title></rect>'
            f'<text class="value" x="{x + width / 2:.1f}" y="{y - 3:.1f}" '
            f'text-anchor="middle">{escape(text)}</text>'
        )
        if count <= 16 or index % max(count // 12, 1) == 0:
            parts.append(
                f'<text class="label" x="{x + width / 2:.1f}" y="{_BAR_AREA + 26}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def success_rate_section(run_history: Document | None) -> str:
    days = daily_success(_rows(run_history))
    bars = [
        (
            day[5:],
            rate or 0.0,
            _pct(rate),
            {
                "day": day,
                "success-rate": "" if rate is None else f"{rate:.4f}",
                "succeeded": str(ok),
                "failed": str(failed),
            },
        )
        for day, ok, failed, rate in days
        if ok + failed
    ]
    body = (
        _bar_chart("chart-success-rate", bars, 1.0, "#2e7d32")
        if bars
        else _empty("No finished runs in the exported days.")
    )
    table = "".join(
        f'<tr data-day="{escape(r["day"])}" data-job-type="{escape(r["job_type"])}">'
        f"<td>{escape(r['day'])}</td><td>{escape(r['job_type'])}</td>"
        f'<td class="num">{r["runs"]}</td><td class="num">{_pct(r["success_rate"])}</td>'
        f'<td class="num">{_ms(r["p50_ms"])}</td><td class="num">{_ms(r["p95_ms"])}</td></tr>'
        for r in reversed(_rows(run_history))
    )
    if table:
        table = (
            '<table id="table-run-history"><tr><th>day</th><th>job type</th>'
            '<th class="num">runs</th><th class="num">success</th>'
            f'<th class="num">p50</th><th class="num">p95</th></tr>{table}</table>'
        )
    return f'<section id="success-rate"><h2>Success rate per day</h2>{body}{table}</section>'


def latency_section(latency_rollups: Document | None) -> str:
    by_source: dict[str, list[dict[str, Any]]] = {}
    for row in _rows(latency_rollups):
        by_source.setdefault(str(row["source"]), []).append(row)
    if not by_source:
        body = _empty("No latency rollups yet.")
    else:
        charts = []
        for source, rows in sorted(by_source.items()):
            values = [float(r["p95_ms"]) for r in rows if r["p95_ms"] is not None]
            threshold = float(rows[-1]["threshold_ms"])
            top = max([*values, threshold]) * 1.15 or 1.0
            bars = [
                (
                    str(r["hour_utc"])[11:16],
                    float(r["p95_ms"] or 0.0),
                    _ms(r["p95_ms"]),
                    {
                        "source": source,
                        "hour": str(r["hour_utc"]),
                        "p95-ms": "" if r["p95_ms"] is None else f"{float(r['p95_ms']):.1f}",
                        "breach": "true" if r["breach"] else "false",
                    },
                )
                for r in rows
            ]
            colour = "#c62828" if rows[-1]["breach"] else "#1565c0"
            charts.append(
                f'<h3 data-source="{escape(source)}">{escape(source)} '
                f"<small>(threshold {_ms(threshold)})</small></h3>"
                + _bar_chart(f"chart-p95-{escape(source)}", bars, top, colour, threshold=threshold)
            )
        body = "".join(charts)
    return f'<section id="p95-latency"><h2>p95 latency per hour</h2>{body}</section>'


def dead_letter_section(dlq_summary: Document | None) -> str:
    rows = [r for r in _rows(dlq_summary) if r["total"]]
    bars = [
        (
            f"{r['job_type']} ({r['kind']})",
            float(r["open"]),
            str(r["open"]),
            {
                "kind": str(r["kind"]),
                "job-type": str(r["job_type"]),
                "open": str(r["open"]),
                "resolved": str(r["resolved"]),
            },
        )
        for r in rows
    ]
    top = max((b[1] for b in bars), default=0.0) * 1.2 or 1.0
    total = sum(int(r["open"]) for r in rows)
    body = (
        _bar_chart("chart-dead-letters", bars, top, "#ef6c00")
        if bars
        else _empty("No dead letters.")
    )
    return (
        f'<section id="dead-letters" data-open-total="{total}"><h2>Open dead letters '
        f"({total})</h2>{body}</section>"
    )


def slo_section(slo_status: Document | None) -> str:
    rows = _rows(slo_status)
    if not rows:
        body = _empty("No SLO state yet.")
    else:
        tiles = "".join(
            f'<div class="tile slo" data-source="{escape(r["source"])}" '
            f'data-state="{escape(r["state"])}" data-burn-level="{escape(r["burn_level"])}" '
            f'style="background:{_SLO_COLOURS.get(r["state"], "#6b7280")}">'
            f"<b>{escape(r['source'])}</b>{escape(r['state'])} · burn {escape(r['burn_level'])}"
            f" · {r['consecutive_breaches']} breaches</div>"
            for r in rows
        )
        body = f'<div id="chart-slo-state">{tiles}</div>'
    return f'<section id="slo-state"><h2>SLO state</h2>{body}</section>'


def schedule_section(schedule_status: Document | None) -> str:
    rows = _rows(schedule_status)
    if not rows:
        return '<section id="schedule"><h2>Schedule</h2>' + _empty("No jobs.") + "</section>"
    cells = "".join(
        f'<tr data-job="{escape(r["job"])}"><td>{escape(r["job"])}</td>'
        f"<td>{escape(r['schedule'])}</td><td>{'on' if r['enabled'] else 'off'}</td>"
        f"<td>{escape(r['last_status'] or '-')}</td><td>{escape(r['last_run_at'] or '-')}</td>"
        f"<td>{escape(r['next_run_at'] or '-')}</td></tr>"
        for r in rows
    )
    return (
        '<section id="schedule"><h2>Schedule</h2><table><tr><th>job</th><th>schedule</th>'
        "<th>on</th><th>last</th><th>last run</th><th>next run</th></tr>"
        f"{cells}</table></section>"
    )


def render_dashboard(documents: Mapping[str, Document | None], *, subtitle: str) -> str:
    """The whole page from dataset documents (a missing one renders as empty)."""
    sections = [
        success_rate_section(documents.get("run_history")),
        latency_section(documents.get("latency_rollups")),
        dead_letter_section(documents.get("dlq_summary")),
        slo_section(documents.get("slo_status")),
        schedule_section(documents.get("schedule_status")),
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>opsplane dashboard</title><style>{_STYLE}</style></head><body>"
        f'<header><h1>opsplane dashboard</h1><p id="subtitle">{escape(subtitle)}</p></header>'
        f"<main>{''.join(sections)}</main></body></html>"
    )
