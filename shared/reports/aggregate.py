"""From collected data to a report: totals, rates, percentiles, alerts, recommendations.

Rates are over finished runs that ran to an end (succeeded + failed);
cancelled runs are counted but neither succeed nor fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from shared.reports.collect import Breaker, PeriodData, ReportKind, Slo
from shared.reports.digest import Cause, top_causes
from shared.reports.histogram import Histogram
from shared.reports.tally import JobTally, Tally

TOP_REASONS = 5
MANY_WAITING_APPROVAL = 5  # "many waiting approval" starts here


class Recommendation(StrEnum):
    RUN_TRIAGE = "run_triage"
    CHECK_CAPACITY = "check_capacity"
    CHECK_APPROVALS = "check_approvals"
    CHECK_CALLBACK_RECEIVER = "check_callback_receiver"


@dataclass(frozen=True)
class Totals:
    runs: int
    succeeded: int
    failed: int
    cancelled: int
    active: int
    retried: int
    recovered: int
    success_rate: float | None
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True)
class JobRow:
    job_type: str
    runs: int
    succeeded: int
    failed: int
    failure_rate: float | None
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True)
class ReasonRow:
    code: str
    reason: str
    count: int


@dataclass(frozen=True)
class JobStatus:
    queued: int
    running: int
    waiting_approval: int
    succeeded: int
    failed: int
    dead_letters: int
    callback_dead_letters: int
    backpressure_active: bool
    queue_utilization_pct: float


@dataclass(frozen=True)
class DayRow:
    day: date
    runs: int
    success_rate: float | None
    p95_ms: float | None


@dataclass(frozen=True)
class Alert:
    kind: str
    severity: str
    subject: str
    state: str


@dataclass(frozen=True)
class Report:
    """One report, ready to render in any locale."""

    kind: ReportKind
    generated_at: datetime
    period_start: datetime
    period_end: datetime
    timezone: str
    totals: Totals
    job_types: tuple[JobRow, ...]
    top_reasons: tuple[ReasonRow, ...]
    status: JobStatus
    breakers: tuple[Breaker, ...]
    slos: tuple[Slo, ...]
    alerts: tuple[Alert, ...]
    recommendations: tuple[Recommendation, ...]
    days: tuple[DayRow, ...] = ()
    causes: tuple[Cause, ...] = ()


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _finished(by_status: dict[str, int]) -> tuple[int, int, int]:
    return by_status.get("SUCCEEDED", 0), by_status.get("FAILED", 0), by_status.get("CANCELLED", 0)


def _job_row(name: str, job: JobTally) -> JobRow:
    succeeded, failed, _ = _finished(dict(job.by_status))
    return JobRow(
        name,
        job.runs,
        succeeded,
        failed,
        rate(failed, succeeded + failed),
        job.durations.percentile(50),
        job.durations.percentile(95),
    )


def totals_of(tally: Tally) -> Totals:
    succeeded, failed, cancelled = _finished(dict(tally.by_status))
    durations = Histogram.merged(job.durations for job in tally.job_types.values())
    return Totals(
        runs=tally.runs,
        succeeded=succeeded,
        failed=failed,
        cancelled=cancelled,
        active=tally.runs - succeeded - failed - cancelled,
        retried=sum(job.retried for job in tally.job_types.values()),
        recovered=sum(job.recovered for job in tally.job_types.values()),
        success_rate=rate(succeeded, succeeded + failed),
        p50_ms=durations.percentile(50),
        p95_ms=durations.percentile(95),
    )


def build_report(data: PeriodData) -> Report:
    """The report of a collected period."""
    tally, present = data.tally, data.present
    totals = totals_of(tally)
    utilization = round(100 * present.queued / present.max_queue_size, 1)
    backpressure = present.queued >= present.max_queue_size or bool(
        present.shed_queue_depth and present.queued > present.shed_queue_depth
    )
    status = JobStatus(
        queued=present.queued,
        running=present.running,
        waiting_approval=present.waiting_approval,
        succeeded=totals.succeeded,
        failed=totals.failed,
        dead_letters=present.dead_letters,
        callback_dead_letters=present.callback_dead_letters,
        backpressure_active=backpressure,
        queue_utilization_pct=utilization,
    )
    days = tuple(
        DayRow(day, totals_of(t).runs, totals_of(t).success_rate, totals_of(t).p95_ms)
        for day, t in sorted(data.days.items())
    )
    return Report(
        kind=data.kind,
        generated_at=data.generated_at,
        period_start=data.start,
        period_end=data.end,
        timezone=data.timezone,
        totals=totals,
        job_types=tuple(_job_row(n, j) for n, j in sorted(tally.job_types.items())),
        top_reasons=tuple(
            ReasonRow(r.code, r.reason, r.count) for r in tally.top_reasons(TOP_REASONS)
        ),
        status=status,
        breakers=present.breakers,
        slos=present.slos,
        alerts=tuple(_alerts(present.breakers, present.slos)),
        recommendations=tuple(recommendations_for(status)),
        days=days if data.kind is not ReportKind.DAILY else (),
        causes=tuple(top_causes(tally)) if data.kind is ReportKind.DIGEST else (),
    )


def _alerts(breakers: tuple[Breaker, ...], slos: tuple[Slo, ...]) -> list[Alert]:
    alerts = [
        Alert("breaker", "critical" if b.state == "open" else "warning", b.downstream, b.state)
        for b in breakers
        if b.state != "closed"
    ]
    alerts.extend(
        Alert("slo", "critical" if s.state == "critical" else "warning", s.source, s.state)
        for s in slos
        if s.state != "ok"
    )
    return alerts


def recommendations_for(status: JobStatus) -> list[Recommendation]:
    """Only the recommendations whose condition holds."""
    found = []
    if status.dead_letters:
        found.append(Recommendation.RUN_TRIAGE)
    if status.backpressure_active:
        found.append(Recommendation.CHECK_CAPACITY)
    if status.waiting_approval >= MANY_WAITING_APPROVAL:
        found.append(Recommendation.CHECK_APPROVALS)
    if status.callback_dead_letters:
        found.append(Recommendation.CHECK_CALLBACK_RECEIVER)
    return found
