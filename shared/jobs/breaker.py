"""A circuit breaker per downstream, its state in the store so every instance sees it.

State lives at ``breakers/<downstream>.json``: one small object per downstream,
written only when the state changes or a failure is counted, never on a
success in the closed state, so a healthy downstream costs one read per call.
Concurrent writers use compare-and-swap; a writer that loses the race re-reads
and applies its change to the newer state, so no failure is silently lost.

    closed --(failure_threshold consecutive failures)--> open
    open --(recovery elapsed; one caller wins the probe)--> half_open
    half_open --success--> closed        half_open --failure--> open
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from shared.clock import Clock, isoformat, parse_iso, utcnow
from shared.storage import ObjectStore, PreconditionFailed

PREFIX = "breakers/"
_MAX_TRIES = 10


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpen(Exception):
    """The downstream's breaker is open: fail fast, retry later."""

    def __init__(self, downstream: str, retry_after_s: float) -> None:
        super().__init__(f"circuit open for {downstream}; retry in {retry_after_s:.0f}s")
        self.downstream = downstream
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class BreakerRecord:
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: datetime | None = None
    probe_started_at: datetime | None = None

    def to_json(self) -> bytes:
        doc: dict[str, Any] = {
            "state": self.state.value,
            "failures": self.failures,
            "opened_at": isoformat(self.opened_at) if self.opened_at else None,
            "probe_started_at": (
                isoformat(self.probe_started_at) if self.probe_started_at else None
            ),
        }
        return json.dumps(doc).encode()

    @classmethod
    def from_json(cls, data: bytes) -> BreakerRecord:
        doc = json.loads(data)
        return cls(
            BreakerState(doc["state"]),
            int(doc.get("failures", 0)),
            parse_iso(doc["opened_at"]) if doc.get("opened_at") else None,
            parse_iso(doc["probe_started_at"]) if doc.get("probe_started_at") else None,
        )


def breaker_object_name(downstream: str) -> str:
    """A safe, stable object name for a downstream (a host, a service name)."""
    slug = re.sub(r"[^A-Za-z0-9._-]", "_", downstream)[:100]
    digest = hashlib.sha256(downstream.encode()).hexdigest()[:8]
    return f"{PREFIX}{slug}-{digest}.json"


class CircuitBreaker:
    """Guard calls to one downstream; ``call(fn, is_failure)`` or before/after by hand."""

    def __init__(
        self,
        store: ObjectStore,
        downstream: str,
        *,
        failure_threshold: int = 5,
        recovery_ms: int = 30_000,
        clock: Clock = utcnow,
    ) -> None:
        self.store = store
        self.downstream = downstream
        self.name = breaker_object_name(downstream)
        self.failure_threshold = failure_threshold
        self.recovery = timedelta(milliseconds=recovery_ms)
        self.clock = clock

    def _read(self) -> tuple[BreakerRecord, str | None]:
        stored = self.store.get_or_none(self.name)
        if stored is None:
            return BreakerRecord(), None
        return BreakerRecord.from_json(stored.data), stored.generation

    def _write(self, record: BreakerRecord, generation: str | None) -> None:
        self.store.put_if_unchanged(self.name, record.to_json(), generation)

    def _change(self, decide: Callable[[BreakerRecord], BreakerRecord | None]) -> BreakerRecord:
        record, generation = self._read()
        for _ in range(_MAX_TRIES):
            new = decide(record)
            if new is None or new == record:
                return record
            try:
                self._write(new, generation)
                return new
            except PreconditionFailed:
                record, generation = self._read()
        return record

    def state(self) -> BreakerState:
        return self._read()[0].state

    def before_call(self) -> None:
        """Raise CircuitOpen unless a call may go through now."""
        now = self.clock()
        record, generation = self._read()
        if record.state is BreakerState.CLOSED:
            return
        if record.state is BreakerState.HALF_OPEN:
            # A probe is in flight; if its caller died, let another probe after a recovery.
            started = record.probe_started_at or now
            if now - started < self.recovery:
                raise CircuitOpen(self.downstream, self.recovery.total_seconds())
        elif record.opened_at and now - record.opened_at < self.recovery:
            remaining = self.recovery - (now - record.opened_at)
            raise CircuitOpen(self.downstream, remaining.total_seconds())
        # Recovery elapsed: exactly one caller wins the half-open probe.
        probe = replace(record, state=BreakerState.HALF_OPEN, probe_started_at=now)
        try:
            self._write(probe, generation)
        except PreconditionFailed:
            raise CircuitOpen(self.downstream, self.recovery.total_seconds()) from None

    def record_success(self) -> None:
        def decide(record: BreakerRecord) -> BreakerRecord | None:
            if record.state is BreakerState.CLOSED and record.failures == 0:
                return None
            return BreakerRecord()

        self._change(decide)

    def record_failure(self) -> None:
        now = self.clock()

        def decide(record: BreakerRecord) -> BreakerRecord | None:
            if record.state is BreakerState.OPEN:
                return None
            failures = record.failures + 1
            if record.state is BreakerState.HALF_OPEN or failures >= self.failure_threshold:
                return BreakerRecord(BreakerState.OPEN, failures, opened_at=now)
            return replace(record, failures=failures)

        self._change(decide)
