"""The schedule runner: ``run_once(now)`` runs every job that is due at ``now``.

For each enabled job it finds the latest period whose scheduled time has
passed (``periods.current_period``). The period runs when it is newer than the
job's last run and the invocation wins the period's create-only marker, so

* across restarts a period runs once (state and markers are in the store);
* of several invocations firing at the same moment exactly one runs it;
* after downtime only the latest missed period runs, once;
* a daily or weekly job first seen at time T starts with the first period
  scheduled at or after T (deploying or enabling it does not replay
  yesterday); a minute-interval job starts with the current slot.

A run whose process died leaves its marker unfinished; after ``stale_after``
the next invocation takes it over as attempt 2. ``force=True`` runs now,
whatever the schedule says (one run per job per second). Every run writes one
run-log record and updates ``state/<job>.json``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from shared import logs
from shared.clock import Clock, isoformat, utcnow
from shared.redaction import redact_data
from shared.runlog import RunLog, RunStatus
from shared.schedule.config import Cadence, JobConfig, ScheduleConfig, load_config
from shared.schedule.periods import Period, current_period, next_period
from shared.schedule.registry import (
    JobContext,
    JobFailed,
    JobFunction,
    JobResult,
    registered_jobs,
)
from shared.schedule.state import Claim, JobState, LastStatus, Marker, ScheduleStore
from shared.storage import ObjectStore
from shared.storage.errors import StoreError

DEFAULT_STALE_AFTER = timedelta(hours=1)
# Markers of minute-interval jobs are dropped after a day; the state's lastPeriod
# keeps an old period from running again once its marker is gone.
_EVERY_MARKER_RETENTION = timedelta(days=1)
_log = logs.get_logger("opsplane.schedule")


class OutcomeStatus(StrEnum):
    OK = "ok"
    ERROR = "error"
    SKIPPED = "skipped"
    UNREGISTERED = "unregistered"


class UnknownJob(LookupError):
    """``only`` names a job the configuration does not have."""

    def __init__(self, job: str, known: list[str]) -> None:
        super().__init__(f"unknown job {job!r}; configured jobs: {', '.join(known) or 'none'}")
        self.job = job


@dataclass(frozen=True)
class JobOutcome:
    """What one job did in this invocation."""

    job: str
    status: OutcomeStatus
    period: str | None = None
    forced: bool = False
    job_id: str | None = None
    started_at: datetime | None = None
    duration_ms: int = 0
    attempt: int = 1
    error_code: str | None = None
    error_message: str | None = None
    message: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "status": self.status.value,
            "period": self.period,
            "forced": self.forced,
            "jobId": self.job_id,
            "startedAt": isoformat(self.started_at) if self.started_at else None,
            "durationMs": self.duration_ms,
            "attempt": self.attempt,
            "errorCode": self.error_code,
            "errorMessage": self.error_message,
            "message": self.message,
            # Details come from job code: redacted here, since they leave the system.
            "details": redact_data(dict(self.details)),
        }


@dataclass(frozen=True)
class JobStatus:
    """A job's configuration, state and next run, for ``schedule status``."""

    job: str
    config: JobConfig
    registered: bool
    due: bool
    next_run_at: datetime | None
    state: JobState | None

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "schedule": self.config.describe(),
            "config": self.config.to_json(),
            "registered": self.registered,
            "due": self.due,
            "nextRunAt": isoformat(self.next_run_at) if self.next_run_at else None,
            "state": self.state.to_json() if self.state else None,
        }


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


class ScheduleRunner:
    """Runs due jobs against one store with one configuration."""

    def __init__(
        self,
        store: ObjectStore,
        config: ScheduleConfig,
        *,
        jobs: Mapping[str, JobFunction] | None = None,
        clock: Clock = utcnow,
        runlog: RunLog | None = None,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
        owner: str | None = None,
    ) -> None:
        self.config = config
        self._store = store
        self._jobs = dict(registered_jobs() if jobs is None else jobs)
        self._clock = clock
        self._runlog = runlog or RunLog(store, clock)
        self._stale_after = stale_after
        self._owner = owner or uuid.uuid4().hex[:12]
        self._state = ScheduleStore(store, config.state_prefix())

    def run_once(
        self, now: datetime, *, force: bool = False, only: str | None = None
    ) -> list[JobOutcome]:
        """Run every job due at ``now`` (or ``only`` that one); ``force`` ignores the schedule."""
        now = _utc(now)
        if only is not None and only not in self.config.jobs:
            raise UnknownJob(only, sorted(self.config.jobs))
        names = [only] if only is not None else sorted(self.config.jobs)
        outcomes: list[JobOutcome] = []
        for name in names:
            outcome = self._run_if_due(self.config.jobs[name], now, force=force)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def status(self, now: datetime) -> list[JobStatus]:
        """Every configured job with its state and next run time."""
        now = _utc(now)
        result = []
        for name, job in sorted(self.config.jobs.items()):
            state = self._state.read_state(name)
            registered = name in self._jobs
            period = current_period(job, self.config.zone, now)
            active = self.config.enabled and job.enabled and registered
            if state is None:
                is_new = job.cadence is Cadence.EVERY  # see _period_is_new
            else:
                is_new = self._period_is_new(job, period, state)
            due = active and is_new
            upcoming = period if due else next_period(job, self.config.zone, period)
            result.append(
                JobStatus(
                    name, job, registered, due, upcoming.scheduled_at if active else None, state
                )
            )
        return result

    # One job

    def _run_if_due(self, job: JobConfig, now: datetime, *, force: bool) -> JobOutcome | None:
        function = self._jobs.get(job.name)
        if not force and not (self.config.enabled and job.enabled):
            return None
        if function is None:
            return JobOutcome(
                job.name,
                OutcomeStatus.UNREGISTERED,
                forced=force,
                message="no function is registered for this job in this build",
            )
        state = self._state.ensure_state(job.name, now)
        if force:
            marker = Marker(job.name, f"{now:%Y%m%dT%H%M%SZ}", now, self._owner, forced=True)
        else:
            period = current_period(job, self.config.zone, now)
            if not self._period_is_new(job, period, state):
                return None
            marker = Marker(job.name, period.key, now, self._owner)
        claim = self._state.claim(marker, stale_before=now - self._stale_after)
        if claim is None:
            return None  # another invocation runs this period
        return self._run(job, function, claim, now)

    @staticmethod
    def _period_is_new(job: JobConfig, period: Period, state: JobState) -> bool:
        # A daily or weekly period that was over before the job was first seen is
        # not replayed; a minute-interval job simply starts with the current slot.
        if job.cadence is not Cadence.EVERY and period.scheduled_at < state.tracking_since:
            return False
        return state.last_period is None or period.key > state.last_period

    def _run(
        self, job: JobConfig, function: JobFunction, claim: Claim, now: datetime
    ) -> JobOutcome:
        marker = claim.marker
        context = JobContext(
            job=job.name,
            period=marker.period,
            now=now,
            forced=marker.forced,
            config=job,
            schedule=self.config,
            store=self._store,
            clock=self._clock,
            attempt=marker.attempt,
        )
        started_at = self._clock()
        started = time.perf_counter()
        status = OutcomeStatus.OK
        error_code = error_message = message = None
        artefacts: Mapping[str, str] = {}
        alerts: list[Mapping[str, Any]] = []
        attempts = marker.attempt
        details: Mapping[str, Any] = {}
        try:
            result = function(context) or JobResult()
        except JobFailed as exc:
            status, error_code = OutcomeStatus.ERROR, exc.code
            error_message = self.config.redact(exc.message)
            artefacts, alerts, attempts = exc.artefacts, exc.alerts, max(attempts, exc.attempts)
        except Exception as exc:  # noqa: BLE001 - a failing job is recorded, never a crash
            status, error_code = OutcomeStatus.ERROR, type(exc).__name__
            error_message = self.config.redact(str(exc) or type(exc).__name__)
        else:
            status = OutcomeStatus.SKIPPED if result.skipped else OutcomeStatus.OK
            message = self.config.redact(result.message) if result.message else None
            artefacts, alerts, details = result.artefacts, list(result.alerts), result.details
            attempts = max(attempts, result.attempts)
        duration_ms = int((time.perf_counter() - started) * 1000)
        outcome = JobOutcome(
            job=job.name,
            status=status,
            period=marker.period,
            forced=marker.forced,
            started_at=started_at,
            duration_ms=duration_ms,
            attempt=marker.attempt,
            error_code=error_code,
            error_message=error_message,
            message=message,
            details=details,
        )
        return self._book(
            job, claim, outcome, artefacts=artefacts, alerts=alerts, attempts=attempts
        )

    def _book(
        self,
        job: JobConfig,
        claim: Claim,
        outcome: JobOutcome,
        *,
        artefacts: Mapping[str, str],
        alerts: list[Mapping[str, Any]],
        attempts: int,
    ) -> JobOutcome:
        """Run log, marker, state: each step tried even when an earlier one failed."""
        started_at = outcome.started_at or self._clock()
        job_id = None
        try:
            record = self._runlog.record(
                job.name,
                RunStatus(outcome.status.value),
                started_at=started_at,
                duration_ms=outcome.duration_ms,
                artefacts=artefacts,
                alerts=alerts,
                attempts=attempts,
                error_code=outcome.error_code,
                error_message=outcome.error_message,
            )
            job_id = record.job_id
        except StoreError as exc:
            _log.error("cannot write the run-log record", extra={"fields": _fields(job, exc)})
        try:
            self._state.finish(claim)
            self._state.update_state(
                job.name, lambda state: _after_run(state, claim.marker, outcome, job_id)
            )
            if job.cadence is Cadence.EVERY and not claim.marker.forced:
                cutoff = current_period(
                    job, self.config.zone, claim.marker.claimed_at - _EVERY_MARKER_RETENTION
                )
                self._state.prune_markers(job.name, cutoff.key)
        except StoreError as exc:
            _log.error("cannot record the job state", extra={"fields": _fields(job, exc)})
        _log.info(
            "scheduled job ran",
            extra={
                "fields": {
                    "job": job.name,
                    "period": claim.marker.period,
                    "status": outcome.status.value,
                    "duration_ms": outcome.duration_ms,
                    "job_id": job_id,
                }
            },
        )
        return replace(outcome, job_id=job_id)


def _fields(job: JobConfig, exc: Exception) -> dict[str, Any]:
    return {"job": job.name, "error": f"{type(exc).__name__}: {exc}"}


def _after_run(
    state: JobState, marker: Marker, outcome: JobOutcome, job_id: str | None
) -> JobState:
    failed = outcome.status is OutcomeStatus.ERROR
    last_status = {
        OutcomeStatus.OK: LastStatus.OK,
        OutcomeStatus.ERROR: LastStatus.FAIL,
    }.get(outcome.status, LastStatus.SKIPPED)
    last_period = state.last_period
    if not marker.forced and (last_period is None or marker.period > last_period):
        last_period = marker.period
    return replace(
        state,
        last_run_at=outcome.started_at,
        last_status=last_status,
        last_period=last_period,
        last_job_id=job_id,
        last_duration_ms=outcome.duration_ms,
        last_error=outcome.error_message if failed else state.last_error,
        consecutive_failures=state.consecutive_failures + 1 if failed else 0,
        run_count=state.run_count + 1,
    )


def default_runner(clock: Clock = utcnow) -> ScheduleRunner:
    """A runner on this process's store, configuration and registered jobs."""
    from shared import runtime

    return ScheduleRunner(runtime.store(), load_config(), clock=clock)


def run_once(now: datetime, *, force: bool = False, only: str | None = None) -> list[JobOutcome]:
    """Run what is due at ``now`` with the process's store and configuration."""
    return default_runner().run_once(now, force=force, only=only)
