"""Hourly compaction: the finished runs of one closed hour folded into one object.

    stats/hourly/<YYYYMMDDHH>.json      (UTC hour the runs were created in)

Run ids are time-ordered, so an hour's runs are one listing range and the
listing's metadata tells their status without a read. Compaction reads each
finished run of the hour once, ever; a report then reads one small object per
hour instead of every run: a day costs 24 reads whatever the run count.

The summary is written create-only: two compactions racing (the hourly job
and a report compacting lazily) leave one, and the loser reads the winner's.
Runs still unfinished when their hour is compacted are not counted in it;
their ids are kept under ``pending`` and a report reads them one by one, so
they are counted in the state they have by then.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.clock import isoformat
from shared.jobs.models import Run, RunStatus, run_id_floor
from shared.jobs.store import RUNS_PREFIX, RunNotFound, RunStore, run_id_from_name
from shared.reports.tally import Tally
from shared.storage import ObjectStore, PreconditionFailed

HOURLY_PREFIX = "stats/hourly/"
HOUR = timedelta(hours=1)
_FINAL = frozenset(s.value for s in RunStatus if s.final)


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_object_name(hour: datetime) -> str:
    return f"{HOURLY_PREFIX}{floor_hour(hour):%Y%m%d%H}.json"


def hours_between(start: datetime, end: datetime) -> Iterator[datetime]:
    """Every UTC hour starting in ``[start, end)``, ``start`` floored to its hour."""
    hour = floor_hour(start)
    while hour < end:
        yield hour
        hour += HOUR


@dataclass(frozen=True)
class HourResult:
    """One hour's tally and how it was obtained."""

    hour: datetime
    tally: Tally
    compacted: bool  # this call wrote the summary
    live: bool  # the hour is still open: counted from the runs, nothing stored


def fold_hour(store: ObjectStore, hour: datetime, *, live: bool) -> Tally:
    """Count the runs created in ``hour``.

    ``live`` counts every run as it is now; otherwise unfinished runs are left
    out and listed under ``pending`` (the hour's summary is written once).
    """
    runs = RunStore(store)
    upper = RUNS_PREFIX + run_id_floor(hour + HOUR)
    tally = Tally()
    for info in runs.list_infos(id_floor=run_id_floor(hour)):
        if info.name >= upper:
            break
        status = (info.metadata or {}).get("status")
        run_id = run_id_from_name(info.name)
        if not live and status and status not in _FINAL:
            tally.pending.append(run_id)
            continue
        try:
            run = runs.get(run_id).run
        except RunNotFound:
            continue
        if not live and not run.status.final:
            tally.pending.append(run_id)
            continue
        tally.add_run(run)
    return tally


def read_summary(store: ObjectStore, hour: datetime) -> Tally | None:
    stored = store.get_or_none(hour_object_name(hour))
    return Tally.from_json(json.loads(stored.data)) if stored else None


def compact_hour(store: ObjectStore, hour: datetime, now: datetime) -> HourResult:
    """The summary of a closed hour: read when stored, else folded and stored."""
    hour = floor_hour(hour)
    if hour + HOUR > now:
        return HourResult(hour, fold_hour(store, hour, live=True), compacted=False, live=True)
    existing = read_summary(store, hour)
    if existing is not None:
        return HourResult(hour, existing, compacted=False, live=False)
    tally = fold_hour(store, hour, live=False)
    doc = {"hour": isoformat(hour), "compacted_at": isoformat(now), **tally.to_json()}
    body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    try:
        store.put(hour_object_name(hour), body, if_absent=True)
    except PreconditionFailed:
        winner = read_summary(store, hour)
        return HourResult(hour, winner or tally, compacted=False, live=False)
    return HourResult(hour, Tally.from_json(doc), compacted=True, live=False)


def resolve_pending(store: ObjectStore, tally: Tally) -> Tally:
    """A copy of ``tally`` with its pending runs counted as they are now."""
    if not tally.pending:
        return tally
    runs = RunStore(store)
    resolved = Tally.merged([tally])
    resolved.pending = []
    for run_id in tally.pending:
        try:
            run: Run = runs.get(run_id).run
        except RunNotFound:
            continue
        resolved.add_run(run)
    return resolved


def compact_closed_hours(store: ObjectStore, now: datetime, *, lookback_hours: int = 48) -> int:
    """Compact every closed hour of the last ``lookback_hours`` not compacted yet.

    One listing of ``stats/hourly/`` tells which exist; returns how many were written.
    """
    first = floor_hour(now) - lookback_hours * HOUR
    start_after = f"{HOURLY_PREFIX}{first - HOUR:%Y%m%d%H}.json"
    existing = {info.name for info in store.list(HOURLY_PREFIX, start_after=start_after)}
    written = 0
    for hour in hours_between(first, floor_hour(now)):
        if hour_object_name(hour) not in existing and compact_hour(store, hour, now).compacted:
            written += 1
    return written


def prune_summaries(store: ObjectStore, now: datetime, *, keep: timedelta) -> int:
    """Delete hourly summaries older than ``keep``; returns how many went."""
    cutoff = hour_object_name(now - keep)
    removed = 0
    for info in store.list(HOURLY_PREFIX):
        if info.name >= cutoff:
            break
        removed += store.delete_if_exists(info.name)
    return removed
