"""The approval watcher as a scheduled job (``approval_watcher``) and a one-shot sync.

The schedule runner calls :func:`approval_watcher_job` and writes the run-log
record itself; ``opsplane approvals sync`` and ``POST /approvals/sync`` call
:func:`run_sync`, which writes the record too. Either way a missing or
refused ``GITHUB_TOKEN``, a rate limit or any polling error ends up in that
record and in :func:`~shared.approvals.status.last_status`, never as a crash.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from shared.approvals.settings import ApprovalSettings
from shared.approvals.status import write_status
from shared.approvals.watcher import ApprovalWatcher, SyncReport, error_code_of
from shared.clock import Clock
from shared.github import GitHubClient, GitHubError
from shared.redaction import redact_text
from shared.runlog import RunLog, RunStatus
from shared.schedule.registry import JobContext, JobFailed, JobResult, register_job

if TYPE_CHECKING:
    from shared.jobs.plane import Plane

JOB_NAME = "approval_watcher"
ClientFactory = Callable[[], GitHubClient]


def sync_once(
    plane: Plane,
    *,
    client_factory: ClientFactory = GitHubClient,
    settings: ApprovalSettings | None = None,
    clock: Clock | None = None,
) -> SyncReport:
    """One watcher pass; the status for metrics is written whatever happened."""
    clock = clock or plane.clock
    started = time.monotonic()
    try:
        client = client_factory()
    except GitHubError as exc:
        report = SyncReport(error_code=error_code_of(exc), error_message=redact_text(exc.message))
    else:
        with client:
            report = ApprovalWatcher(plane, client, settings).sync()
    duration_ms = int((time.monotonic() - started) * 1000)
    write_status(plane.store, report, at=clock(), duration_ms=duration_ms)
    return report


def _summary(report: SyncReport) -> str:
    return (
        f"{report.waiting} waiting, {len(report.opened)} opened, {len(report.approved)} approved, "
        f"{len(report.rejected)} rejected, {len(report.refused)} refused"
    )


def approval_watcher_job(ctx: JobContext) -> JobResult:
    """The scheduled pass: a failure becomes a JobFailed the runner records."""
    from shared.jobs import plane as jobs_plane

    report = sync_once(jobs_plane.current(), clock=ctx.clock)
    if report.error_code is not None:
        raise JobFailed(report.error_code, report.error_message or report.error_code)
    if report.errors:
        first = report.errors[0]
        raise JobFailed(first["code"], f"{len(report.errors)} runs failed: {first['message']}")
    return JobResult(message=_summary(report), details=report.to_dict())


def run_sync(
    plane: Plane,
    *,
    client_factory: ClientFactory = GitHubClient,
    settings: ApprovalSettings | None = None,
) -> SyncReport:
    """A pass outside the scheduler, with its own run-log record."""
    started_at = plane.clock()
    started = time.monotonic()
    report = sync_once(plane, client_factory=client_factory, settings=settings)
    error_code = report.error_code or (report.errors[0]["code"] if report.errors else None)
    error_message = report.error_message or (report.errors[0]["message"] if report.errors else None)
    RunLog(plane.store, plane.clock).record(
        JOB_NAME,
        RunStatus.OK if report.ok else RunStatus.ERROR,
        started_at=started_at,
        duration_ms=int((time.monotonic() - started) * 1000),
        error_code=error_code,
        error_message=error_message,
    )
    return report


register_job(JOB_NAME, approval_watcher_job)
