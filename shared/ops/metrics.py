"""One metrics snapshot, computed from what the store holds.

* heartbeat stale ratio: RUNNING runs whose lease has expired (no heartbeat
  within the lease) / RUNNING runs, over every run;
* run success rate: SUCCEEDED / (SUCCEEDED + FAILED) among runs created in the
  window;
* retry success rate: the same among those runs that needed a retry (more than
  one attempt, or a retry of an earlier run);
* callback failed-event ratio: callback dead letters written in the window /
  (those + callback events received in the window);
* queue stats: runs per status, and dead letters per kind.

A ratio with nothing to divide by is None ("no data"), never a fake 0 or 1.
The run listing uses the status each object carries as metadata, so only
RUNNING runs and runs in the window are read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.callbacks import deadletters as callback_letters
from shared.callbacks.receiver import EVENTS_PREFIX
from shared.clock import isoformat
from shared.jobs import deadletters as job_letters
from shared.jobs.models import RunStatus, run_id_floor
from shared.jobs.store import RunNotFound, RunStore, run_id_from_name
from shared.storage import ObjectStore


@dataclass(frozen=True)
class MetricsSnapshot:
    """The figures /ops/metrics reports."""

    generated_at: datetime
    window: timedelta
    heartbeat_stale_ratio: float | None
    callback_failed_ratio: float | None
    retry_success_rate: float | None
    run_success_rate: float | None
    runs_by_status: dict[str, int] = field(default_factory=dict)
    running: int = 0
    stale_running: int = 0
    finished_in_window: int = 0
    retried_in_window: int = 0
    callback_events_in_window: int = 0
    callback_failures_in_window: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)

    def ratios(self) -> dict[str, float | None]:
        return {
            "heartbeat_stale_ratio": self.heartbeat_stale_ratio,
            "callback_failed_ratio": self.callback_failed_ratio,
            "retry_success_rate": self.retry_success_rate,
            "run_success_rate": self.run_success_rate,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "generated_at": isoformat(self.generated_at),
            "window_minutes": int(self.window.total_seconds() // 60),
            **self.ratios(),
            "runs_by_status": self.runs_by_status,
            "queue": {
                "queued": self.runs_by_status.get(RunStatus.QUEUED.value, 0),
                "running": self.running,
                "waiting_approval": self.runs_by_status.get(RunStatus.WAITING_APPROVAL.value, 0),
                "stale_running": self.stale_running,
            },
            "finished_in_window": self.finished_in_window,
            "retried_in_window": self.retried_in_window,
            "callback_events_in_window": self.callback_events_in_window,
            "callback_failures_in_window": self.callback_failures_in_window,
            "dead_letters": self.dead_letters,
        }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def collect(store: ObjectStore, now: datetime, window: timedelta) -> MetricsSnapshot:
    """Compute the snapshot at ``now`` over runs and callbacks of the last ``window``."""
    runs = RunStore(store)
    floor = run_id_floor(now - window)
    counts: Counter[str] = Counter()
    running = stale = 0
    succeeded = failed = retried = retried_succeeded = 0
    for info in runs.list_infos():
        status = runs.status_of(info)
        if status is None:
            continue
        counts[status.value] += 1
        run_id = run_id_from_name(info.name)
        in_window = run_id >= floor
        if status is not RunStatus.RUNNING and not (in_window and status.final):
            continue
        try:
            run = runs.get(run_id).run
        except RunNotFound:
            continue
        if run.status is RunStatus.RUNNING:
            running += 1
            if run.lease is None or run.lease.expired(now):
                stale += 1
        elif in_window and run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            ok = run.status is RunStatus.SUCCEEDED
            succeeded += ok
            failed += not ok
            if len(run.attempts) > 1 or run.retry_of_run_id:
                retried += 1
                retried_succeeded += ok
    since = now - window
    events = sum(1 for info in store.list(EVENTS_PREFIX) if info.updated >= since)
    failures = sum(1 for info in store.list(callback_letters.PREFIX) if info.updated >= since)
    return MetricsSnapshot(
        generated_at=now,
        window=window,
        heartbeat_stale_ratio=_ratio(stale, running),
        callback_failed_ratio=_ratio(failures, failures + events),
        retry_success_rate=_ratio(retried_succeeded, retried),
        run_success_rate=_ratio(succeeded, succeeded + failed),
        runs_by_status={status.value: counts.get(status.value, 0) for status in RunStatus},
        running=running,
        stale_running=stale,
        finished_in_window=succeeded + failed,
        retried_in_window=retried,
        callback_events_in_window=events,
        callback_failures_in_window=failures,
        dead_letters={
            "jobs": sum(1 for _ in store.list(job_letters.PREFIX)),
            "callbacks": callback_letters.count(store),
        },
    )
