"""Per-job state and per-period run markers in the object store.

    <stateLocation>/state/<job>.json              lastRunAt, lastStatus, counters
    <stateLocation>/markers/<job>/<period>.json   one per period that was claimed
    <stateLocation>/forced/<job>/<stamp>.json     one per forced run (per second)

A marker is created create-only: of any number of invocations that find a
period due at the same moment, exactly one creates it and runs the job. The
state object is updated with compare-and-swap by that one winner.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.clock import isoformat, parse_iso
from shared.storage import ObjectStore
from shared.storage.errors import PreconditionFailed

_MAX_CAS_ATTEMPTS = 20


class LastStatus(StrEnum):
    OK = "ok"
    FAIL = "fail"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class JobState:
    """What the store remembers about one job between invocations."""

    job: str
    tracking_since: datetime
    last_run_at: datetime | None = None
    last_status: LastStatus | None = None
    last_period: str | None = None
    last_job_id: str | None = None
    last_duration_ms: int | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    run_count: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "trackingSince": isoformat(self.tracking_since),
            "lastRunAt": isoformat(self.last_run_at) if self.last_run_at else None,
            "lastStatus": self.last_status.value if self.last_status else None,
            "lastPeriod": self.last_period,
            "lastJobId": self.last_job_id,
            "lastDurationMs": self.last_duration_ms,
            "lastError": self.last_error,
            "consecutiveFailures": self.consecutive_failures,
            "runCount": self.run_count,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobState:
        return cls(
            job=str(data["job"]),
            tracking_since=parse_iso(data["trackingSince"]),
            last_run_at=parse_iso(data["lastRunAt"]) if data.get("lastRunAt") else None,
            last_status=LastStatus(data["lastStatus"]) if data.get("lastStatus") else None,
            last_period=data.get("lastPeriod"),
            last_job_id=data.get("lastJobId"),
            last_duration_ms=data.get("lastDurationMs"),
            last_error=data.get("lastError"),
            consecutive_failures=int(data.get("consecutiveFailures", 0)),
            run_count=int(data.get("runCount", 0)),
        )


@dataclass(frozen=True)
class Marker:
    """A claimed period: who claimed it, when, and whether the run finished."""

    job: str
    period: str
    claimed_at: datetime
    owner: str
    attempt: int = 1
    finished: bool = False
    forced: bool = False

    def to_bytes(self) -> bytes:
        data = asdict(self)
        data["claimed_at"] = isoformat(self.claimed_at)
        return json.dumps(data, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Marker:
        data = json.loads(raw)
        data["claimed_at"] = parse_iso(data["claimed_at"])
        return cls(**data)


@dataclass(frozen=True)
class Claim:
    """A marker this invocation holds, with the generation it wrote."""

    marker: Marker
    generation: str


class ScheduleStore:
    """Job state and period markers under one prefix."""

    def __init__(self, store: ObjectStore, prefix: str) -> None:
        self._store = store
        self._prefix = prefix if prefix.endswith("/") else prefix + "/"

    def state_name(self, job: str) -> str:
        return f"{self._prefix}state/{job}.json"

    def marker_name(self, job: str, period: str, *, forced: bool = False) -> str:
        # Forced runs live apart, so scheduled markers stay in period order.
        folder = "forced" if forced else "markers"
        return f"{self._prefix}{folder}/{job}/{period}.json"

    def read_state(self, job: str) -> JobState | None:
        stored = self._store.get_or_none(self.state_name(job))
        return JobState.from_json(json.loads(stored.data)) if stored else None

    def ensure_state(self, job: str, now: datetime) -> JobState:
        """The job's state, created (create-only) on first sight with ``trackingSince=now``."""
        state = self.read_state(job)
        if state is not None:
            return state
        fresh = JobState(job=job, tracking_since=now)
        if self._store.create(self.state_name(job), json.dumps(fresh.to_json()).encode()):
            return fresh
        state = self.read_state(job)
        return state if state is not None else fresh

    def update_state(self, job: str, change: Callable[[JobState], JobState]) -> JobState:
        """Apply ``change`` with compare-and-swap, retrying when another writer won."""
        for _ in range(_MAX_CAS_ATTEMPTS):
            stored = self._store.get_or_none(self.state_name(job))
            if stored is None:
                raise LookupError(f"no state for job {job!r}")
            new = change(JobState.from_json(json.loads(stored.data)))
            try:
                self._store.put(
                    self.state_name(job),
                    json.dumps(new.to_json()).encode(),
                    if_generation=stored.generation,
                )
            except PreconditionFailed:
                continue
            return new
        raise RuntimeError(f"state of job {job!r} kept changing; gave up after retries")

    def claim(self, marker: Marker, *, stale_before: datetime) -> Claim | None:
        """Create the period's marker; None when another invocation holds it.

        A marker left unfinished since before ``stale_before`` (its run died
        with its process) is taken over by compare-and-swap, as attempt n+1.
        """
        name = self.marker_name(marker.job, marker.period, forced=marker.forced)
        try:
            generation = self._store.put(name, marker.to_bytes(), if_absent=True)
        except PreconditionFailed:
            pass
        else:
            return Claim(marker, generation)
        stored = self._store.get_or_none(name)
        if stored is None:
            return None  # deleted under us: let the next tick decide
        existing = Marker.from_bytes(stored.data)
        if existing.finished or existing.claimed_at >= stale_before:
            return None
        takeover = replace(marker, attempt=existing.attempt + 1)
        try:
            generation = self._store.put(name, takeover.to_bytes(), if_generation=stored.generation)
        except PreconditionFailed:
            return None
        return Claim(takeover, generation)

    def finish(self, claim: Claim) -> None:
        """Mark the claimed run finished, unless someone took the claim over meanwhile."""
        marker = claim.marker
        name = self.marker_name(marker.job, marker.period, forced=marker.forced)
        # A failed precondition means a takeover happened; its owner finishes the marker.
        with contextlib.suppress(PreconditionFailed):
            self._store.put(
                name, replace(marker, finished=True).to_bytes(), if_generation=claim.generation
            )

    def prune_markers(self, job: str, before_period: str) -> int:
        """Delete a job's markers of periods sorting before ``before_period``."""
        prefix = f"{self._prefix}markers/{job}/"
        deleted = 0
        for info in self._store.list(prefix):
            if info.name[len(prefix) :].removesuffix(".json") >= before_period:
                break  # names sort in period order: the rest are newer
            deleted += self._store.delete_if_exists(info.name)
        return deleted
