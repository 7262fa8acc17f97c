"""One call from the store to a finished report: data, payload, Markdown and chart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.jobs.settings import WorkerSettings
from shared.reports.aggregate import Report, build_report
from shared.reports.chart import render_svg
from shared.reports.collect import ReportKind, collect
from shared.reports.history import HISTORY_PREFIX, period_key
from shared.reports.i18n import Locale, labels
from shared.reports.render_json import to_payload
from shared.reports.render_md import render_markdown
from shared.storage import ObjectStore
from shared.webhooks import canonical_json


@dataclass(frozen=True)
class ReportBundle:
    """A report and its renderings in one locale."""

    report: Report
    locale: Locale
    payload: dict[str, Any]
    markdown: str
    svg: str | None
    hours_compacted: int

    @property
    def title(self) -> str:
        t = labels(self.locale)
        return f"{t['title.' + self.report.kind.value]} {self.report.period_end:%Y-%m-%d %H:%MZ}"

    def files(self) -> dict[str, bytes]:
        """The files history keeps for this report."""
        files = {
            "report.json": canonical_json(self.payload),
            "report.md": self.markdown.encode(),
        }
        if self.svg is not None:
            files["chart.svg"] = self.svg.encode()
        return files


def make_report(
    store: ObjectStore,
    kind: ReportKind | str,
    now: datetime,
    *,
    locale: Locale | str = Locale.EN,
    timezone: str = "UTC",
    settings: WorkerSettings | None = None,
    live: bool = False,
) -> ReportBundle:
    """Collect, aggregate and render a report of ``kind`` ending at ``now``'s hour.

    ``live`` includes the current, still open hour (see ``collect.period_bounds``).
    """
    kind, locale = ReportKind(kind), Locale(locale)
    data = collect(store, kind, now, timezone=timezone, settings=settings, live=live)
    report = build_report(data)
    svg = None
    chart_name = ""
    if kind is ReportKind.WEEKLY:
        t = labels(locale)
        svg = render_svg(
            report.days,
            title=t["title.weekly"],
            rate_label=t["success_rate"],
            p95_label=t["p95"],
        )
        chart_name = f"{HISTORY_PREFIX}{kind.value}/{period_key(report.period_end)}/chart.svg"
    return ReportBundle(
        report=report,
        locale=locale,
        payload=to_payload(report, locale),
        markdown=render_markdown(report, locale, chart=chart_name),
        svg=svg,
        hours_compacted=data.hours_compacted,
    )
