"""Scheduled reports: daily and weekly observability reports and the improvement digest.

compact    hourly compaction: a closed hour's runs folded into stats/hourly/<hour>.json
collect    a period's tallies (from hourly summaries) and the present state
aggregate  totals, rates, p50/p95, alerts and recommendations
digest     failed runs grouped into incidents, top causes with actions
render_md / render_json / chart   Markdown, the canonical JSON payload, the SVG chart
i18n       labels in en and ja
history    reports/history/<kind>/<period>/ with SHA-256 and signature, 60-day retention
publish    GitHub comment or issue, signed webhooks, dry-run outbox
jobs       the schedule runner's jobs

from shared.reports import make_report
bundle = make_report(store, "daily", now, locale="ja", timezone="Asia/Tokyo")
"""

from __future__ import annotations

from shared.reports.build import ReportBundle, make_report
from shared.reports.collect import ReportKind
from shared.reports.i18n import Locale

__all__ = ["Locale", "ReportBundle", "ReportKind", "make_report"]
