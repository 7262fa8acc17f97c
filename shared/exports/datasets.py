"""The dashboard datasets: each a list of rows computed from what the store holds.

    run_history      per UTC day and job type: runs, success rate, p50/p95 duration
    dlq_summary      dead letters per kind and job type, by status
    latency_rollups  the hourly latency rollups of every source
    slo_status       the SLO state of every latency source
    schedule_status  every scheduled job's configuration, state and next run

Run history reads the hourly run summaries the reports keep (``stats/hourly/``,
compacted on the way when missing), so a day costs 24 small reads whatever the
run count. Dead letters are counted from listing metadata, never read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.clock import isoformat
from shared.storage import ObjectStore

Row = dict[str, Any]

RUN_HISTORY_DAYS = 14
HOUR = timedelta(hours=1)
LATENCY_HOURS = 48
JOB_DLQ_PREFIX = "dlq/jobs/"
CALLBACK_DLQ_PREFIX = "dlq/callbacks/"


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: its name, the store prefixes it reads and how it is built."""

    name: str
    inputs: tuple[str, ...]
    build: Callable[[ObjectStore, datetime], list[Row]]


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def run_history(store: ObjectStore, now: datetime, *, days: int = RUN_HISTORY_DAYS) -> list[Row]:
    """Per UTC day (the last ``days``, today included) and job type."""
    from shared.reports.compact import (
        HOURLY_PREFIX,
        compact_hour,
        hour_object_name,
        hours_between,
        read_summary,
        resolve_pending,
    )
    from shared.reports.tally import Tally

    today = now.astimezone(UTC).date()
    first = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), UTC)
    first_run = _first_run_hour(store)
    summaries = {
        info.name for info in store.list(HOURLY_PREFIX, start_after=hour_object_name(first - HOUR))
    }
    per_day: dict[date, Tally] = {}
    for hour in hours_between(first, now):
        if first_run is None or hour < first_run:
            # No run is stored this early: only a kept summary can say anything.
            summary = read_summary(store, hour) if hour_object_name(hour) in summaries else None
            tally = resolve_pending(store, summary) if summary else Tally()
        else:
            tally = resolve_pending(store, compact_hour(store, hour, now).tally)
        per_day.setdefault(hour.date(), Tally()).merge(tally)
    rows: list[Row] = []
    for day, tally in sorted(per_day.items()):
        for job_type, job in sorted(tally.job_types.items()):
            succeeded = job.by_status.get("SUCCEEDED", 0)
            failed = job.by_status.get("FAILED", 0)
            rows.append(
                {
                    "day": day.isoformat(),
                    "job_type": job_type,
                    "runs": job.runs,
                    "succeeded": succeeded,
                    "failed": failed,
                    "success_rate": _rate(succeeded, succeeded + failed),
                    "p50_ms": _ms(job.durations.percentile(50)),
                    "p95_ms": _ms(job.durations.percentile(95)),
                }
            )
    return rows


def _first_run_hour(store: ObjectStore) -> datetime | None:
    """The hour the oldest stored run was created in (run ids sort by creation time)."""
    from shared.jobs.store import RunStore, run_id_from_name
    from shared.reports.compact import floor_hour

    runs = RunStore(store)
    for info in runs.list_infos():
        try:
            return floor_hour(runs.get(run_id_from_name(info.name)).run.created_at)
        except LookupError:
            continue
    return None


def dlq_summary(store: ObjectStore, now: datetime) -> list[Row]:
    """Dead letters per kind (jobs, callbacks) and job type, counted by status."""
    del now  # the present state, whatever the time
    counts: dict[tuple[str, str], Counter[str]] = {}
    oldest: dict[tuple[str, str], datetime] = {}
    for kind, prefix in (("jobs", JOB_DLQ_PREFIX), ("callbacks", CALLBACK_DLQ_PREFIX)):
        for info in store.list(prefix):
            metadata = info.metadata or {}
            key = (kind, metadata.get("job_type") or "-")
            status = metadata.get("status", "open")
            counts.setdefault(key, Counter())[status] += 1
            if status == "open" and (key not in oldest or info.updated < oldest[key]):
                oldest[key] = info.updated
    rows: list[Row] = []
    for (kind, job_type), by_status in sorted(counts.items()):
        first_open = oldest.get((kind, job_type))
        rows.append(
            {
                "kind": kind,
                "job_type": job_type,
                "open": by_status.get("open", 0),
                "replaying": by_status.get("replaying", 0),
                "resolved": by_status.get("resolved", 0),
                "total": sum(by_status.values()),
                "oldest_open_at": isoformat(first_open) if first_open else None,
            }
        )
    return rows


def latency_rollups(store: ObjectStore, now: datetime, *, hours: int = LATENCY_HOURS) -> list[Row]:
    """Every source's hourly rollups of the last ``hours``, by hour then source."""
    from shared.latency.rollup import read_rollups

    found = read_rollups(store, since=now - timedelta(hours=hours - 1))
    keep = ("source", "hour_utc", "count", "error_count", "error_rate", "p50_ms", "p95_ms")
    rows: list[Row] = []
    for rollup in found:
        data = rollup.to_json()
        row = {key: data[key] for key in keep}
        row.update(
            p99_ms=data["p99_ms"], threshold_ms=data["threshold_ms"], breach=data["breach_flag"]
        )
        rows.append(row)
    return rows


def slo_status(store: ObjectStore, now: datetime) -> list[Row]:
    """The SLO state of every latency source, by source."""
    del now
    from shared.latency.slo import all_sources

    return [
        {
            "source": slo.source,
            "state": slo.state.value,
            "consecutive_breaches": slo.consecutive_breaches,
            "burn_level": slo.burn_level.value,
            "last_breach_at": isoformat(slo.last_breach_at) if slo.last_breach_at else None,
            "last_alert_at": isoformat(slo.last_alert_at) if slo.last_alert_at else None,
        }
        for slo in sorted(all_sources(store), key=lambda s: s.source)
    ]


def schedule_status(store: ObjectStore, now: datetime) -> list[Row]:
    """Every configured scheduled job: cadence, whether it is on, its last and next run."""
    from shared.schedule.config import load_config
    from shared.schedule.runner import ScheduleRunner

    config = load_config()
    runner = ScheduleRunner(store, config)
    rows: list[Row] = []
    for status in runner.status(now):
        state = status.state
        rows.append(
            {
                "job": status.job,
                "schedule": status.config.describe(),
                "enabled": config.enabled and status.config.enabled,
                "registered": status.registered,
                "due": status.due,
                "next_run_at": isoformat(status.next_run_at) if status.next_run_at else None,
                "last_run_at": isoformat(state.last_run_at)
                if state and state.last_run_at
                else None,
                "last_status": state.last_status.value if state and state.last_status else None,
                "consecutive_failures": state.consecutive_failures if state else 0,
                "run_count": state.run_count if state else 0,
            }
        )
    return rows


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("run_history", ("runs/", "stats/hourly/"), run_history),
        DatasetSpec("dlq_summary", (JOB_DLQ_PREFIX, CALLBACK_DLQ_PREFIX), dlq_summary),
        DatasetSpec("latency_rollups", ("latency/rollups/",), latency_rollups),
        DatasetSpec("slo_status", ("latency/slo/",), slo_status),
        DatasetSpec("schedule_status", ("schedule/state/",), schedule_status),
    )
}
DATASET_NAMES: tuple[str, ...] = tuple(DATASETS)


def check_names(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The datasets asked for, in the canonical order; ValueError naming an unknown one."""
    unknown = [name for name in names if name not in DATASETS]
    if unknown:
        raise ValueError(
            f"unknown dataset {unknown[0]!r}; expected one of {', '.join(DATASET_NAMES)}"
        )
    wanted = set(names)
    return tuple(name for name in DATASET_NAMES if name in wanted)
