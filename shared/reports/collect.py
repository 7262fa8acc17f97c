"""Gather what a report needs from the store: period tallies and the present state.

The period comes from hourly summaries (see ``compact``); the present state
(queue depth, dead letters, breakers, SLOs) from listings and a handful of
small objects. Nothing here reads every run of the period.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from shared.jobs.backpressure import scan_active
from shared.jobs.models import RunStatus
from shared.jobs.settings import WorkerSettings
from shared.jobs.store import RunStore
from shared.reports.compact import HOUR, compact_hour, floor_hour, hours_between, resolve_pending
from shared.reports.tally import Tally
from shared.storage import ObjectStore

JOB_DLQ_PREFIX = "dlq/jobs/"
CALLBACK_DLQ_PREFIX = "dlq/callbacks/"
BREAKER_PREFIX = "breakers/"
_UNRESOLVED = frozenset({"open", "replaying"})
DAY = timedelta(days=1)


class ReportKind(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    DIGEST = "digest"

    @property
    def span(self) -> timedelta:
        return timedelta(days=1) if self is ReportKind.DAILY else timedelta(days=7)


@dataclass(frozen=True)
class Breaker:
    downstream: str
    state: str
    failures: int


@dataclass(frozen=True)
class Slo:
    source: str
    state: str
    burn_level: str
    consecutive_breaches: int


@dataclass(frozen=True)
class Present:
    """The state of the system when the report was made."""

    queued: int
    running: int
    waiting_approval: int
    dead_letters: int
    callback_dead_letters: int
    max_queue_size: int
    shed_queue_depth: int
    breakers: tuple[Breaker, ...] = ()
    slos: tuple[Slo, ...] = ()


@dataclass(frozen=True)
class PeriodData:
    """Everything a report is computed from."""

    kind: ReportKind
    start: datetime
    end: datetime
    generated_at: datetime
    timezone: str
    tally: Tally
    days: Mapping[date, Tally]
    present: Present
    hours_compacted: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)


def period_bounds(
    kind: ReportKind, now: datetime, *, live: bool = False
) -> tuple[datetime, datetime]:
    """The hours a report covers: the last 24 h (or 7 days) of closed hours.

    ``live`` swaps the oldest hour for the current, still open one (counted
    from its runs, never stored): what ``opsplane demo`` shows right after a batch.
    """
    end = floor_hour(now)
    if live:
        return end - kind.span + HOUR, now
    return end - kind.span, end


def collect(
    store: ObjectStore,
    kind: ReportKind,
    now: datetime,
    *,
    timezone: str = "UTC",
    settings: WorkerSettings | None = None,
    live: bool = False,
) -> PeriodData:
    """Tallies of the period (compacting hours not compacted yet) and the present state."""
    start, end = period_bounds(kind, now, live=live)
    zone = ZoneInfo(timezone)
    days: dict[date, Tally] = {}
    compacted = 0
    for hour in hours_between(start, end):
        result = compact_hour(store, hour, now)
        compacted += result.compacted
        tally = resolve_pending(store, result.tally)
        # Days are the period's 24-hour slices (a weekly report has exactly seven),
        # each named by the local date it starts on.
        slice_start = start + DAY * ((hour - start) // DAY)
        days.setdefault(slice_start.astimezone(zone).date(), Tally()).merge(tally)
    total = Tally.merged(days.values())
    return PeriodData(
        kind=kind,
        start=start,
        end=end,
        generated_at=now,
        timezone=timezone,
        tally=total,
        days=days,
        present=present_state(store, settings or WorkerSettings.from_env()),
        hours_compacted=compacted,
    )


def present_state(store: ObjectStore, settings: WorkerSettings) -> Present:
    """Queue depth (listing from the sweeper's watermark), dead letters, breakers, SLOs."""
    runs = RunStore(store)
    counts = scan_active(runs, runs.read_watermark()).counts
    return Present(
        queued=counts[RunStatus.QUEUED],
        running=counts[RunStatus.RUNNING],
        waiting_approval=counts[RunStatus.WAITING_APPROVAL],
        dead_letters=_unresolved_letters(store, JOB_DLQ_PREFIX),
        callback_dead_letters=_unresolved_letters(store, CALLBACK_DLQ_PREFIX),
        max_queue_size=settings.max_queue_size,
        shed_queue_depth=settings.shed_queue_depth,
        breakers=tuple(_breakers(store)),
        slos=tuple(_slos(store)),
    )


def _unresolved_letters(store: ObjectStore, prefix: str) -> int:
    # Listing metadata carries the letter's status; a letter without it counts.
    return sum(
        1
        for info in store.list(prefix)
        if (info.metadata or {}).get("status", "open") in _UNRESOLVED
    )


def _breakers(store: ObjectStore) -> list[Breaker]:
    found = []
    for info in store.list(BREAKER_PREFIX):
        stored = store.get_or_none(info.name)
        if stored is None:
            continue
        try:
            doc = json.loads(stored.data)
            state, failures = str(doc["state"]), int(doc.get("failures", 0))
        except (ValueError, KeyError, TypeError):
            continue
        # breakers/<slug>-<8 hex>.json: the slug is the downstream's readable name.
        stem = info.name[len(BREAKER_PREFIX) : -len(".json")]
        found.append(Breaker(stem.rsplit("-", 1)[0], state, failures))
    return found


def _slos(store: ObjectStore) -> list[Slo]:
    try:
        from shared.latency.slo import all_sources
    except ImportError:  # pragma: no cover - latency sampling is not part of this build
        return []
    return [
        Slo(s.source, s.state.value, s.burn_level.value, s.consecutive_breaches)
        for s in all_sources(store)
    ]


def hours_of(kind: ReportKind) -> int:
    return int(kind.span / HOUR)
