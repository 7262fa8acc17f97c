"""Periods: which run of a job a moment belongs to, in the job's local time.

A period is one slot a job runs in: a local day (``2026-06-27``), an ISO week
(``2026-W26``) or an interval of N minutes (``20260627T0915Z``). Its
``scheduled_at`` is the UTC instant the run becomes due.

Local times are resolved with zoneinfo, so daylight saving time is handled the
way the wall clock behaves: a time that does not exist (02:30 on the spring-
forward day in New York) is due one hour later on the wall clock (03:30 EDT,
the same instant as 02:30 EST), and a time that happens twice (01:30 on the
fall-back day) is due at its first occurrence. Either way, one run per period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.schedule.config import Cadence, JobConfig

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, order=True)
class Period:
    """One slot of a job; keys of one job sort in time order."""

    scheduled_at: datetime
    key: str


def _local_instant(day: date, job: JobConfig, zone: ZoneInfo) -> datetime:
    # fold=0: an ambiguous time is its first occurrence; a missing one is read
    # with the offset before the gap, i.e. it lands after the gap on the wall clock.
    return datetime.combine(day, job.at, tzinfo=zone).astimezone(UTC)


def _daily(day: date, job: JobConfig, zone: ZoneInfo) -> Period:
    return Period(_local_instant(day, job, zone), day.isoformat())


def _weekly(day_in_week: date, job: JobConfig, zone: ZoneInfo) -> Period:
    target = day_in_week - timedelta(days=day_in_week.isoweekday() - job.dow)
    year, week, _ = target.isocalendar()
    return Period(_local_instant(target, job, zone), f"{year}-W{week:02d}")


def _every(slot: int, job: JobConfig) -> Period:
    start = _EPOCH + timedelta(minutes=slot * job.every_minutes)
    return Period(start, f"{start:%Y%m%dT%H%MZ}")


def current_period(job: JobConfig, zone: ZoneInfo, now: datetime) -> Period:
    """The latest period of ``job`` whose scheduled time is at or before ``now``."""
    now = now.astimezone(UTC)
    if job.cadence is Cadence.EVERY:
        minutes = int((now - _EPOCH).total_seconds() // 60)
        return _every(minutes // job.every_minutes, job)
    today = now.astimezone(zone).date()
    if job.cadence is Cadence.DAILY:
        period = _daily(today, job, zone)
        return (
            period if period.scheduled_at <= now else _daily(today - timedelta(days=1), job, zone)
        )
    period = _weekly(today, job, zone)
    return period if period.scheduled_at <= now else _weekly(today - timedelta(days=7), job, zone)


def next_period(job: JobConfig, zone: ZoneInfo, period: Period) -> Period:
    """The period after ``period``."""
    if job.cadence is Cadence.EVERY:
        slot = int((period.scheduled_at - _EPOCH).total_seconds() // 60) // job.every_minutes
        return _every(slot + 1, job)
    local_day = period.scheduled_at.astimezone(zone).date()
    if job.cadence is Cadence.DAILY:
        return _daily(local_day + timedelta(days=1), job, zone)
    return _weekly(local_day + timedelta(days=7), job, zone)
