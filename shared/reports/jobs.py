"""The schedule runner's report jobs.

    daily_observability_report    the last 24 h
    weekly_observability_report   the last 7 days, with the SVG chart
    weekly_improvement_digest     the last 7 days' failures grouped into causes
    stats_compaction              folds closed hours into stats/hourly/ (list it in the
                                  schedule, e.g. every 60 min; reports also compact lazily)

Each report job keeps the report in history (its SHA-256 goes into the run
log artefacts), prunes history past 60 days, then posts where the job's
configuration says: ``postToIssue`` (a comment on ``dashboardIssue``, or a new
issue) and ``webhook`` (signed, retried; the attempts go into the run log).
``OPSPLANE_REPORT_LOCALE`` picks ``en`` (default) or ``ja``;
``OPSPLANE_REPORT_DRY_RUN=1`` stores the payloads instead of sending them.
The runner writes the run-log record of every run.
"""

from __future__ import annotations

import os
from datetime import timedelta

from shared.reports.build import make_report
from shared.reports.collect import ReportKind
from shared.reports.compact import compact_closed_hours, prune_summaries
from shared.reports.deliver import DeliveryFailed, Target, deliver
from shared.reports.i18n import Locale
from shared.schedule.registry import JobContext, JobFailed, JobResult, register_job
from shared.settings import SettingsError, env_bool, env_optional

LOCALE_VARIABLE = "OPSPLANE_REPORT_LOCALE"
DRY_RUN_VARIABLE = "OPSPLANE_REPORT_DRY_RUN"
STATS_RETENTION = timedelta(days=60)


def report_locale() -> Locale:
    """``OPSPLANE_REPORT_LOCALE`` (en by default); SettingsError for another value."""
    raw = env_optional(os.environ, LOCALE_VARIABLE) or Locale.EN.value
    try:
        return Locale(raw)
    except ValueError:
        raise SettingsError(LOCALE_VARIABLE, f"must be en or ja, got {raw!r}") from None


def run_report_job(ctx: JobContext, kind: ReportKind) -> JobResult:
    """Make, keep and post one report (what every report job does)."""
    bundle = make_report(
        ctx.store, kind, ctx.now, locale=report_locale(), timezone=ctx.schedule.timezone
    )
    target = Target(
        github=ctx.config.post_to_issue,
        dashboard_issue=ctx.schedule.dashboard_issue,
        webhook=ctx.config.webhook,
        dry_run=env_bool(os.environ, DRY_RUN_VARIABLE, False),
    )
    try:
        delivered = deliver(ctx.store, bundle, target, now=ctx.now, clock=ctx.clock)
    except DeliveryFailed as exc:
        raise JobFailed(
            exc.code, exc.message, attempts=exc.attempts, artefacts=exc.artefacts
        ) from None
    return JobResult(
        artefacts=delivered.artefacts,
        attempts=delivered.attempts,
        details={
            "runs": bundle.report.totals.runs,
            "hours_compacted": bundle.hours_compacted,
            **delivered.details,
        },
    )


def daily_report_job(ctx: JobContext) -> JobResult:
    """The daily observability report (last 24 h)."""
    return run_report_job(ctx, ReportKind.DAILY)


def weekly_report_job(ctx: JobContext) -> JobResult:
    """The weekly observability report (last 7 days, with the chart)."""
    return run_report_job(ctx, ReportKind.WEEKLY)


def improvement_digest_job(ctx: JobContext) -> JobResult:
    """The weekly improvement digest (top causes of the week's failures)."""
    return run_report_job(ctx, ReportKind.DIGEST)


def stats_compaction_job(ctx: JobContext) -> JobResult:
    """Compact the closed hours of the last two days; drop summaries past 60 days."""
    written = compact_closed_hours(ctx.store, ctx.now)
    pruned = prune_summaries(ctx.store, ctx.now, keep=STATS_RETENTION)
    return JobResult(
        skipped=written == 0 and pruned == 0,
        message=f"{written} hours compacted, {pruned} summaries pruned",
        details={"compacted": written, "pruned": pruned},
    )


register_job("daily_observability_report", daily_report_job)
register_job("weekly_observability_report", weekly_report_job)
register_job("weekly_improvement_digest", improvement_digest_job)
register_job("stats_compaction", stats_compaction_job)
