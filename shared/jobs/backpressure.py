"""Backpressure: the in-flight limit, the queue-size limit and load shedding.

Counting queued runs must not cost a full listing per request. The count is a
per-instance cache refreshed at most every ``WORKER_QUEUE_COUNT_TTL_MS``, and a
refresh lists only from a watermark: the newest run before which every run is
final (a new instance starts from the sweeper's recorded one). Run ids are
time-ordered, so that prefix of the listing never changes again and is
skipped; statuses come from listing metadata, not reads. (A run created by an
instance whose clock lags by more than the time it took the run before it to
finish could sort below the watermark; Cloud Run clocks are synchronised far
tighter than that.)

Why a cache and not sharded counters: counters would add writes to every
transition (the budget is four writes per run), and a gate needs only an
approximate depth a second or two old. Cloud Tasks itself is the precise
queue; this limit only keeps a flood from piling up unbounded.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.jobs.models import FINAL_STATUSES, MAX_PRIORITY, RunStatus
from shared.jobs.store import RunStore, run_id_from_name
from shared.storage import ObjectInfo


class InFlightLimiter:
    """At most ``limit`` tasks at once in this instance; never blocks."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def try_acquire(self) -> bool:
        with self._lock:
            if self._in_flight >= self.limit:
                return False
            self._in_flight += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)


@dataclass(frozen=True)
class ScanResult:
    """Counts of unfinished runs, and their listing entries."""

    counts: dict[RunStatus, int]
    active: list[ObjectInfo]
    watermark: str | None


def scan_active(runs: RunStore, start_after: str | None) -> ScanResult:
    """List runs after ``start_after``; count and collect the unfinished ones.

    The returned watermark is the newest run id before which everything seen is
    final: the next scan may start after it.
    """
    counts = {status: 0 for status in RunStatus if status not in FINAL_STATUSES}
    active: list[ObjectInfo] = []
    watermark = start_after
    for info in runs.list_infos(start_after=start_after):
        status = runs.status_of(info)
        if status is None or status in FINAL_STATUSES:
            if not active:
                watermark = run_id_from_name(info.name)
            continue
        counts[status] += 1
        active.append(info)
    return ScanResult(counts, active, watermark)


class QueueDepth:
    """A cached count of queued, running and waiting runs (see the module docstring)."""

    def __init__(
        self,
        runs: RunStore,
        ttl_ms: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runs = runs
        self.ttl = ttl_ms / 1000
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._watermark: str | None = None
        self._watermark_loaded = False
        self._counts: dict[RunStatus, int] | None = None
        self._at = -math.inf
        self._pending = 0  # runs this instance created since the last refresh

    def counts(self) -> dict[RunStatus, int]:
        with self._lock:
            if self._counts is None or self.monotonic() - self._at >= self.ttl:
                if not self._watermark_loaded:
                    # A new instance starts where the sweeper's last pass found only
                    # finished runs, instead of listing the whole history once.
                    self._watermark = self.runs.read_watermark()
                    self._watermark_loaded = True
                result = scan_active(self.runs, self._watermark)
                self._watermark = result.watermark
                self._counts = result.counts
                self._at = self.monotonic()
                self._pending = 0
            counts = dict(self._counts)
            counts[RunStatus.QUEUED] += self._pending
            return counts

    def queued(self) -> int:
        return self.counts()[RunStatus.QUEUED]

    def note_created(self) -> None:
        """Count a run this instance just queued until the next refresh sees it."""
        with self._lock:
            self._pending += 1


@dataclass
class ErrorRate:
    """The failure ratio of this instance's attempts over a sliding window."""

    window_s: float
    min_samples: int = 20
    monotonic: Callable[[], float] = time.monotonic
    _samples: deque[tuple[float, bool]] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, ok: bool) -> None:
        with self._lock:
            self._samples.append((self.monotonic(), ok))
            self._trim()

    def ratio(self) -> float:
        with self._lock:
            self._trim()
            if len(self._samples) < self.min_samples:
                return 0.0
            failures = sum(1 for _, ok in self._samples if not ok)
            return failures / len(self._samples)

    def _trim(self) -> None:
        horizon = self.monotonic() - self.window_s
        while self._samples and self._samples[0][0] < horizon:
            self._samples.popleft()


def shed_threshold(
    queued: int,
    error_rate: float,
    *,
    queue_limit: int,
    error_limit: float,
    shed_below: int,
) -> int:
    """The lowest job-type priority still served (0 = serve everything).

    Over a limit, priorities below ``shed_below`` are shed; past twice a limit,
    everything below the top priority is.
    """
    pressure = 0.0
    if queue_limit:
        pressure = max(pressure, queued / queue_limit)
    if error_limit:
        pressure = max(pressure, error_rate / error_limit)
    if pressure >= 2:
        return MAX_PRIORITY
    if pressure > 1:
        return shed_below
    return 0
