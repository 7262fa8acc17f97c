"""A report as GitHub-flavoured Markdown (tables GitHub renders in issues and comments)."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from shared.redaction import redact_text
from shared.reports.aggregate import Report
from shared.reports.collect import ReportKind
from shared.reports.i18n import Locale, labels

# Run ids are ours, not secrets, but look random to the redactor: shield them.
RUN_ID = re.compile(r"\b\d{8}T\d{12}Z-[0-9a-f]{6,16}\b")


def redact_keeping_run_ids(text: str) -> str:
    """``redact_text``, except that well-formed run ids stay readable."""
    kept: list[str] = []

    def shield(match: re.Match[str]) -> str:
        kept.append(match.group(0))
        return f"@@run{len(kept) - 1}@@"

    redacted = redact_text(RUN_ID.sub(shield, text))
    return re.sub(r"@@run(\d+)@@", lambda m: kept[int(m.group(1))], redacted)


def _cell(text: object) -> str:
    # A pipe or newline inside a cell would break the table.
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _pct(value: float | None, na: str) -> str:
    return na if value is None else f"{value * 100:.1f}%"


def _ms(value: float | None, na: str) -> str:
    return na if value is None else f"{value:,.0f} ms"


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |"]
    lines.append("|" + "|".join(" --- " for _ in header) + "|")
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return lines


def render_markdown(report: Report, locale: Locale | str = Locale.EN, *, chart: str = "") -> str:
    """The report in ``locale``; ``chart`` names the stored SVG chart (weekly)."""
    t = labels(locale)
    na = t["na"]
    zone = ZoneInfo(report.timezone)
    start = report.period_start.astimezone(zone)
    end = report.period_end.astimezone(zone)
    totals = report.totals
    out = [
        f"# {t['title.' + report.kind.value]}",
        "",
        f"{t['period']}: {start:%Y-%m-%d %H:%M} - {end:%Y-%m-%d %H:%M} ({report.timezone})  ",
        f"{t['generated']}: {report.generated_at.astimezone(zone):%Y-%m-%d %H:%M %Z}",
        "",
        f"## {t['summary']}",
        "",
    ]
    out += _table(
        [t["total_runs"], t["success_rate"], t["failures"], t["cancelled"], t["retried"],
         t["recovered"], t["still_active"], t["p50"], t["p95"]],
        [[totals.runs, _pct(totals.success_rate, na), totals.failed, totals.cancelled,
          totals.retried, totals.recovered, totals.active, _ms(totals.p50_ms, na),
          _ms(totals.p95_ms, na)]],
    )  # fmt: skip
    status = report.status
    out += ["", f"## {t['job_status']}", ""]
    out += _table(
        [t["queued"], t["running"], t["waiting_approval"], t["succeeded"], t["failed"],
         t["dead_letters"], t["backpressure"], t["queue_utilization"]],
        [[status.queued, status.running, status.waiting_approval, status.succeeded,
          status.failed, status.dead_letters,
          t["active"] if status.backpressure_active else t["normal"],
          f"{status.queue_utilization_pct:.1f}%"]],
    )  # fmt: skip
    if report.recommendations:
        out += ["", f"## {t['recommendations']}", ""]
        out += [f"- {t['rec.' + rec.value]}" for rec in report.recommendations]
    if report.kind is ReportKind.DIGEST:
        out += _causes(report, locale)
    out += ["", f"## {t['by_job_type']}", ""]
    out += _table(
        [t["job_type"], t["runs"], t["succeeded"], t["failed"], t["failure_rate"], t["p50"],
         t["p95"]],
        [[row.job_type, row.runs, row.succeeded, row.failed, _pct(row.failure_rate, na),
          _ms(row.p50_ms, na), _ms(row.p95_ms, na)] for row in report.job_types],
    )  # fmt: skip
    out += ["", f"## {t['top_failure_reasons']}", ""]
    if report.top_reasons:
        out += _table(
            [t["code"], t["reason"], t["count"]],
            [[r.code, f"`{r.reason}`", r.count] for r in report.top_reasons],
        )
    else:
        out.append(t["no_failures"])
    if report.days:
        out += ["", f"## {t['daily_trend']}", ""]
        if chart:
            out += [f"{t['chart']}: `{chart}`", ""]
        out += _table(
            [t["day"], t["runs"], t["success_rate"], t["p95"]],
            [[d.day.isoformat(), d.runs, _pct(d.success_rate, na), _ms(d.p95_ms, na)]
             for d in report.days],
        )  # fmt: skip
    out += ["", f"## {t['breakers']}", ""]
    if report.breakers:
        out += _table(
            [t["downstream"], t["state"], t["failures"]],
            [[b.downstream, b.state, b.failures] for b in report.breakers],
        )
    else:
        out.append(t["no_breakers"])
    out += ["", f"## {t['slo']}", ""]
    if report.slos:
        out += _table(
            [t["source"], t["state"], t["burn"], t["breaches"]],
            [[s.source, s.state, s.burn_level, s.consecutive_breaches] for s in report.slos],
        )
    else:
        out.append(t["no_slo"])
    return redact_keeping_run_ids("\n".join(out) + "\n")


def _causes(report: Report, locale: Locale | str) -> list[str]:
    t = labels(locale)
    out = ["", f"## {t['incidents']}", ""]
    if not report.causes:
        return [*out, t["no_incidents"]]
    for rank, cause in enumerate(report.causes, start=1):
        out += [
            f"### {rank}. {_cell(cause.job_type)} / `{_cell(cause.code)}` — {cause.failures}",
            "",
            f"- {t['reason']}: `{_cell(cause.reason)}`",
            f"- {t['incident_count']}: {len(cause.incidents)} "
            f"({t['first_seen']} {cause.first_seen:%Y-%m-%d %H:%M}Z, "
            f"{t['last_seen']} {cause.last_seen:%Y-%m-%d %H:%M}Z)",
            f"- {t['examples']}: " + ", ".join(f"`{x}`" for x in cause.examples),
            f"- {t['action']}: {cause.action(locale)}",
            "",
        ]
    return out
