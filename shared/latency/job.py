"""One latency run: lock → sample → write → rollup → evaluate → alert → heartbeat.

Every run ends with one run-log record (job ``latency``): ``ok``, ``error``
(alerts undeliverable, or the run failed), or ``skipped`` when another run
still holds the lease. The summary a caller gets back::

    {"samples_written", "rollups_written", "breach_count", "next_rotation_bytes"}

``breach_count`` is the number of hourly rollups written by this run whose
p95 is over the threshold; ``next_rotation_bytes`` is how many more bytes the
fullest hourly object written by this run takes before it rotates.

The lease lives for ``lock_ttl_seconds`` (10 minutes by default), longer than
a run: targets x samples x timeout must fit in it, which configuration keeps
small (a run every 15 minutes measures, it does not load-test).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared import logs
from shared.clock import Clock, isoformat, utcnow
from shared.latency.alerts import AlertDelivery, PosterFactory, default_poster, deliver
from shared.latency.config import LatencyConfig
from shared.latency.lock import Held, LeaseLock
from shared.latency.raw import PruneResult, prune, write_samples
from shared.latency.rollup import ROLLUP_PREFIX, Rollup, build_rollup, nearest_rank
from shared.latency.sampler import Monotonic, Sample, sample_all
from shared.latency.slo import AlertEvent, RunObservation, record_run
from shared.runlog import RunLog, RunStatus, job_id_for
from shared.storage import ObjectStore

if TYPE_CHECKING:
    import httpx

JOB_NAME = "latency"
LOCK_NAME = "latency/lock.json"
HEARTBEAT_NAME = "latency/heartbeat.json"
_log = logs.get_logger("opsplane.latency")


@dataclass(frozen=True)
class RunSummary:
    """The figures a run returns and records."""

    samples_written: int = 0
    rollups_written: int = 0
    breach_count: int = 0
    next_rotation_bytes: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "samples_written": self.samples_written,
            "rollups_written": self.rollups_written,
            "breach_count": self.breach_count,
            "next_rotation_bytes": self.next_rotation_bytes,
        }


@dataclass(frozen=True)
class LatencyRun:
    """The outcome of one run."""

    job_id: str
    status: RunStatus
    summary: RunSummary
    started_at: datetime
    duration_ms: int
    alerts: tuple[dict[str, Any], ...] = ()
    rollups: tuple[Rollup, ...] = ()
    message: str | None = None
    alerts_object: str | None = None
    pruned: PruneResult | None = None
    heartbeat: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "job_id": self.job_id,
            "status": self.status.value,
            "started_at": isoformat(self.started_at),
            "duration_ms": self.duration_ms,
            "summary": self.summary.to_json(),
            "alerts": list(self.alerts),
            "rollups": [r.to_json() for r in self.rollups],
        }
        if self.message:
            body["message"] = self.message
        if self.alerts_object:
            body["alerts_object"] = self.alerts_object
        if self.pruned is not None:
            body["pruned"] = {
                "raw": self.pruned.raw,
                "archive": self.pruned.archive,
                "rollups": self.pruned.rollups,
            }
        if self.heartbeat:
            body["heartbeat"] = self.heartbeat
        return body


def run_latency_job(
    store: ObjectStore,
    config: LatencyConfig,
    *,
    clock: Clock = utcnow,
    monotonic: Monotonic = time.monotonic,
    client: httpx.Client | None = None,
    dry_run_alert: bool = False,
    raw_retention_days: int | None = None,
    rollup_retention_days: int | None = None,
    poster_factory: PosterFactory = default_poster,
    record_run: bool = True,
) -> LatencyRun:
    """Run the latency job once; the run log gets one record whatever happens.

    ``record_run=False`` leaves the record to a caller that writes its own (the
    schedule runner records every job it runs).
    """
    for label, days in (("raw", raw_retention_days), ("rollup", rollup_retention_days)):
        if days is not None and days < 1:
            raise ValueError(f"{label} retention must be at least 1 day, got {days}")
    started = clock()
    began = monotonic()
    job_id = f"{job_id_for(JOB_NAME, started)}-{uuid.uuid4().hex[:8]}"
    runlog: RunLog | _NoRunLog = RunLog(store, clock) if record_run else _NoRunLog()
    lock = LeaseLock(store, LOCK_NAME, ttl=timedelta(seconds=config.lock_ttl_seconds), clock=clock)
    lease = lock.acquire(job_id)

    def elapsed_ms() -> int:
        return max(0, round((monotonic() - began) * 1000))

    if isinstance(lease, Held):
        message = (
            f"another latency run ({lease.holder}) holds the lock until "
            f"{isoformat(lease.expires_at)}; this run is skipped"
        )
        _log.warning(message, extra={"fields": {"job_id": job_id, "holder": lease.holder}})
        duration = elapsed_ms()
        runlog.record(
            JOB_NAME,
            RunStatus.SKIPPED,
            started_at=started,
            duration_ms=duration,
            error_code="lock_held",
            error_message=message,
        )
        return LatencyRun(
            job_id, RunStatus.SKIPPED, RunSummary(), started, duration, message=message
        )
    try:
        run = _run_locked(
            store,
            config,
            job_id=job_id,
            started=started,
            clock=clock,
            monotonic=monotonic,
            client=client,
            dry_run_alert=dry_run_alert,
            raw_days=raw_retention_days or config.raw_retention_days,
            rollup_days=rollup_retention_days or config.rollup_retention_days,
            poster_factory=poster_factory,
        )
    except Exception as exc:
        runlog.record(
            JOB_NAME,
            RunStatus.ERROR,
            started_at=started,
            duration_ms=elapsed_ms(),
            error_code=type(exc).__name__,
            error_message=str(exc),
        )
        raise
    finally:
        lock.release(lease)
    duration = elapsed_ms()
    artefacts = {"heartbeat": HEARTBEAT_NAME}
    if run.alerts_object:
        artefacts["alerts"] = run.alerts_object
    runlog.record(
        JOB_NAME,
        run.status,
        started_at=started,
        duration_ms=duration,
        artefacts=artefacts,
        alerts=run.alerts,
        error_code="alert_delivery_failed" if run.status is RunStatus.ERROR else None,
        error_message=run.message if run.status is RunStatus.ERROR else None,
    )
    return LatencyRun(
        run.job_id,
        run.status,
        run.summary,
        started,
        duration,
        run.alerts,
        run.rollups,
        run.message,
        run.alerts_object,
        run.pruned,
        run.heartbeat,
    )


def _run_locked(
    store: ObjectStore,
    config: LatencyConfig,
    *,
    job_id: str,
    started: datetime,
    clock: Clock,
    monotonic: Monotonic,
    client: httpx.Client | None,
    dry_run_alert: bool,
    raw_days: int,
    rollup_days: int,
    poster_factory: PosterFactory,
) -> LatencyRun:
    samples = sample_all(config.targets, clock=clock, client=client, monotonic=monotonic)
    written = write_samples(store, samples, job_id=job_id, rotation_bytes=config.rotation_bytes)
    thresholds = config.thresholds()
    rollups = tuple(
        build_rollup(store, source, hour, threshold_ms=thresholds[source], generated_at=clock())
        for source, hour in written.hours
        if source in thresholds
    )
    now = clock()
    events: list[AlertEvent] = []
    last_breach: datetime | None = None
    reminder = timedelta(minutes=config.reminder_minutes) if config.reminder_minutes else None
    for source, threshold in sorted(thresholds.items()):
        observation = observe(
            [s for s in samples if s.source == source], at=now, threshold_ms=threshold
        )
        state, raised = record_run(
            store, source, observation, objective=config.slo_objective, reminder=reminder
        )
        events.extend(raised)
        if state.last_breach_at and (last_breach is None or state.last_breach_at > last_breach):
            last_breach = state.last_breach_at
    delivery: AlertDelivery = deliver(
        events,
        store=store,
        config=config,
        job_id=job_id,
        now=now,
        dry_run=dry_run_alert,
        poster_factory=poster_factory,
    )
    pruned = prune(
        store,
        now=now,
        raw_retention_days=raw_days,
        rollup_retention_days=rollup_days,
        rollup_prefix=ROLLUP_PREFIX,
    )
    heartbeat = {
        "job_id": job_id,
        "generated_at": isoformat(clock()),
        "next_run_at": isoformat(started + timedelta(minutes=config.interval_minutes)),
        "last_breach_at": isoformat(last_breach) if last_breach else None,
    }
    store.put(HEARTBEAT_NAME, json.dumps(heartbeat, sort_keys=True).encode())
    summary = RunSummary(
        samples_written=written.samples_written,
        rollups_written=len(rollups),
        breach_count=sum(r.breach_flag for r in rollups),
        next_rotation_bytes=written.next_rotation_bytes,
    )
    status = RunStatus.ERROR if delivery.error else RunStatus.OK
    return LatencyRun(
        job_id,
        status,
        summary,
        started,
        0,
        delivery.payloads,
        rollups,
        delivery.error,
        delivery.stored_at,
        pruned,
        heartbeat,
    )


class _NoRunLog:
    """Stands in for the run log when the caller records the run itself."""

    def record(self, job: str, status: RunStatus, **_: Any) -> None:
        return None


def observe(samples: Sequence[Sample], *, at: datetime, threshold_ms: float) -> RunObservation:
    """One run's samples of one source, as the SLO evaluation sees them."""
    latencies = sorted(s.latency_ms for s in samples if s.ok and s.latency_ms is not None)
    errors = len(samples) - len(latencies)
    slow = sum(1 for value in latencies if value > threshold_ms)
    return RunObservation(
        at=at,
        total=len(samples),
        errors=errors,
        bad=errors + slow,
        p95_ms=nearest_rank(latencies, 95) if latencies else None,
        threshold_ms=threshold_ms,
    )
