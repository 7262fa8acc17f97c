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
``OPSPLANE_REPORT_DRY_RUN=1`` stores webhook payloads instead of sending them.
The runner writes the run-log record of every run.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from shared.reports.build import make_report
from shared.reports.collect import ReportKind
from shared.reports.compact import compact_closed_hours, prune_summaries
from shared.reports.history import RETENTION, prune_history, write_history
from shared.reports.i18n import Locale
from shared.reports.publish import (
    SECRET_VARIABLE,
    PayloadInvalid,
    WebhookOptions,
    post_github,
    post_webhook,
    store_dry_run,
)
from shared.schedule.registry import JobContext, JobFailed, JobFunction, JobResult, register_job
from shared.settings import env_bool, env_optional
from shared.webhooks import WebhookError

LOCALE_VARIABLE = "OPSPLANE_REPORT_LOCALE"
DRY_RUN_VARIABLE = "OPSPLANE_REPORT_DRY_RUN"
STATS_RETENTION = timedelta(days=60)

JOB_KINDS: dict[str, ReportKind] = {
    "daily_observability_report": ReportKind.DAILY,
    "weekly_observability_report": ReportKind.WEEKLY,
    "weekly_improvement_digest": ReportKind.DIGEST,
}


def report_locale() -> Locale:
    raw = env_optional(os.environ, LOCALE_VARIABLE) or Locale.EN.value
    try:
        return Locale(raw)
    except ValueError:
        from shared.settings import SettingsError

        raise SettingsError(LOCALE_VARIABLE, f"must be en or ja, got {raw!r}") from None


def run_report_job(ctx: JobContext, kind: ReportKind) -> JobResult:
    """Make, keep and post one report (what every report job does)."""
    bundle = make_report(
        ctx.store, kind, ctx.now, locale=report_locale(), timezone=ctx.schedule.timezone
    )
    entry = write_history(
        ctx.store,
        kind.value,
        bundle.report.period_end,
        bundle.files(),
        secret=env_optional(os.environ, SECRET_VARIABLE),
    )
    pruned = prune_history(ctx.store, ctx.now, keep=RETENTION, kind=kind.value)
    artefacts = entry.artefacts()
    details: dict[str, Any] = {
        "runs": bundle.report.totals.runs,
        "hours_compacted": bundle.hours_compacted,
        "history_pruned": pruned,
    }
    attempts = 1
    if ctx.config.post_to_issue:
        from shared.github import GitHubClient, GitHubError

        try:
            with GitHubClient() as client:
                posted = post_github(
                    client,
                    bundle.title,
                    bundle.markdown,
                    dashboard_issue=ctx.schedule.dashboard_issue,
                )
        except GitHubError as exc:
            raise JobFailed("github_post_failed", str(exc), artefacts=artefacts) from None
        artefacts["github"] = posted.url or f"issue #{posted.issue}"
    if ctx.config.webhook:
        dry_run = env_bool(os.environ, DRY_RUN_VARIABLE, False)
        try:
            if dry_run:
                artefacts["dry_run"] = store_dry_run(
                    ctx.store,
                    bundle.payload,
                    now=ctx.now,
                    url=ctx.config.webhook,
                    secret=env_optional(os.environ, SECRET_VARIABLE),
                )
            else:
                delivery = post_webhook(
                    ctx.config.webhook, bundle.payload, WebhookOptions.from_env()
                )
                attempts = delivery.attempts
                details["webhook_status"] = delivery.status
        except PayloadInvalid as exc:
            raise JobFailed("payload_invalid", str(exc), artefacts=artefacts) from None
        except WebhookError as exc:
            raise JobFailed(
                "webhook_undelivered", str(exc), attempts=exc.attempts, artefacts=artefacts
            ) from None
    return JobResult(artefacts=artefacts, attempts=attempts, details=details)


def _job_for(kind: ReportKind) -> JobFunction:
    def job(ctx: JobContext) -> JobResult:
        return run_report_job(ctx, kind)

    job.__name__ = f"{kind.value}_report_job"
    return job


def stats_compaction_job(ctx: JobContext) -> JobResult:
    """Compact the closed hours of the last two days; drop summaries past 60 days."""
    written = compact_closed_hours(ctx.store, ctx.now)
    pruned = prune_summaries(ctx.store, ctx.now, keep=STATS_RETENTION)
    return JobResult(
        skipped=written == 0 and pruned == 0,
        message=f"{written} hours compacted, {pruned} summaries pruned",
        details={"compacted": written, "pruned": pruned},
    )


_JOBS = {name: _job_for(kind) for name, kind in JOB_KINDS.items()}
for _name, _function in _JOBS.items():
    register_job(_name, _function)
register_job("stats_compaction", stats_compaction_job)
