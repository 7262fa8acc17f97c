"""Runs and attempts: frozen records, the status enum and its legal transitions.

A run's lifecycle::

    WAITING_APPROVAL --approve--> QUEUED --claim--> RUNNING --> SUCCEEDED
           |                        ^  |               |  \\--> FAILED (dead letter)
           |                        |  |               |   \\-> WAITING_APPROVAL (escalated)
           |                        +--+-- retry ------+
           +--reject/cancel--> CANCELLED <-- cancel ---+

Attempts are numbered from 1. While a run is QUEUED, ``next_attempt`` is
``len(attempts) + 1``; while it is RUNNING, the last attempt has no end yet.
Every stored change bumps ``revision``, which names the change for events.
"""

from __future__ import annotations

import enum
import json
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from shared.clock import isoformat, parse_iso

MIN_PRIORITY = 0
MAX_PRIORITY = 9
DEFAULT_PRIORITY = 5


class RunStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    WAITING_APPROVAL = "WAITING_APPROVAL"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})

LEGAL_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.WAITING_APPROVAL: frozenset(
        {RunStatus.QUEUED, RunStatus.CANCELLED, RunStatus.FAILED}
    ),
    # QUEUED -> QUEUED: the sweeper records a lost task and schedules the next attempt.
    RunStatus.QUEUED: frozenset(
        {RunStatus.RUNNING, RunStatus.QUEUED, RunStatus.CANCELLED, RunStatus.FAILED}
    ),
    # RUNNING -> RUNNING: a heartbeat, or an expired lease reclaimed by a new attempt.
    RunStatus.RUNNING: frozenset(
        {
            RunStatus.RUNNING,
            RunStatus.SUCCEEDED,
            RunStatus.FAILED,
            RunStatus.QUEUED,
            RunStatus.WAITING_APPROVAL,
            RunStatus.CANCELLED,
        }
    ),
    RunStatus.SUCCEEDED: frozenset(),
    RunStatus.FAILED: frozenset(),
    RunStatus.CANCELLED: frozenset(),
}


class AttemptOutcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMEOUT = "timeout"
    LEASE_EXPIRED = "lease_expired"
    LOST = "lost"
    CANCELLED = "cancelled"


class IllegalTransition(Exception):
    """A run cannot move from its current status to the requested one."""

    def __init__(self, run_id: str, current: RunStatus, wanted: RunStatus) -> None:
        super().__init__(f"run {run_id} is {current.value}; it cannot become {wanted.value}")
        self.run_id = run_id
        self.current = current
        self.wanted = wanted


def check_transition(run_id: str, current: RunStatus, wanted: RunStatus) -> None:
    """Raise IllegalTransition unless ``current -> wanted`` is allowed."""
    if wanted not in LEGAL_TRANSITIONS[current]:
        raise IllegalTransition(run_id, current, wanted)


def new_run_id(now: datetime) -> str:
    """A time-ordered id: listing ``runs/`` by name lists runs by creation time."""
    return f"{run_id_floor(now)}-{secrets.token_hex(5)}"


def run_id_floor(moment: datetime) -> str:
    """The smallest id a run created at ``moment`` or later can have."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


@dataclass(frozen=True)
class Lease:
    """Who runs the current attempt, and until when unless heartbeated."""

    holder: str
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True)
class Attempt:
    """One try of a run; ``outcome`` is None while it is in progress."""

    number: int
    started_at: datetime
    ended_at: datetime | None = None
    outcome: AttemptOutcome | None = None
    error_code: str | None = None
    error_message: str | None = None
    worker: str | None = None

    def finish(
        self,
        now: datetime,
        outcome: AttemptOutcome,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> Attempt:
        return replace(
            self,
            ended_at=now,
            outcome=outcome,
            error_code=error_code,
            error_message=error_message,
        )


@dataclass(frozen=True)
class Run:
    """One submitted job and everything that happened to it."""

    run_id: str
    job_type: str
    params: dict[str, Any]
    owner: str
    status: RunStatus
    created_at: datetime
    updated_at: datetime
    priority: int = DEFAULT_PRIORITY
    attempts: tuple[Attempt, ...] = ()
    lease: Lease | None = None
    result: Any = None
    error_code: str | None = None
    error_message: str | None = None
    idempotency_key: str | None = None
    retry_of_run_id: str | None = None
    requires_approval: bool = False
    # When the task for the next attempt is due (the sweeper's "lost task" clock).
    scheduled_at: datetime | None = None
    finished_at: datetime | None = None
    revision: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def next_attempt(self) -> int:
        """The number the next started attempt gets."""
        return len(self.attempts) + 1

    @property
    def current_attempt(self) -> Attempt | None:
        """The attempt in progress (RUNNING), or None."""
        if self.attempts and self.attempts[-1].outcome is None:
            return self.attempts[-1]
        return None

    @property
    def last_attempt(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    def evolve(self, now: datetime, **changes: Any) -> Run:
        """A copy with ``changes``, a new revision and ``updated_at``."""
        return replace(self, updated_at=now, revision=self.revision + 1, **changes)

    def with_last_attempt(self, attempt: Attempt) -> tuple[Attempt, ...]:
        return (*self.attempts[:-1], attempt)

    # Serialization: one JSON document per run.

    def to_dict(self) -> dict[str, Any]:
        # Built by hand: dataclasses.asdict deep-copies every value, and this runs per write.
        lease = self.lease
        return {
            "run_id": self.run_id,
            "job_type": self.job_type,
            "params": self.params,
            "owner": self.owner,
            "status": self.status.value,
            "created_at": isoformat(self.created_at),
            "updated_at": isoformat(self.updated_at),
            "priority": self.priority,
            "attempts": [_attempt_to_dict(attempt) for attempt in self.attempts],
            "lease": (
                {"holder": lease.holder, "expires_at": isoformat(lease.expires_at)}
                if lease
                else None
            ),
            "result": self.result,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "idempotency_key": self.idempotency_key,
            "retry_of_run_id": self.retry_of_run_id,
            "requires_approval": self.requires_approval,
            "scheduled_at": isoformat(self.scheduled_at) if self.scheduled_at else None,
            "finished_at": isoformat(self.finished_at) if self.finished_at else None,
            "revision": self.revision,
            "extra": self.extra,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Run:
        lease = doc.get("lease")
        return cls(
            run_id=doc["run_id"],
            job_type=doc["job_type"],
            params=doc.get("params") or {},
            owner=doc["owner"],
            status=RunStatus(doc["status"]),
            created_at=parse_iso(doc["created_at"]),
            updated_at=parse_iso(doc["updated_at"]),
            priority=int(doc.get("priority", DEFAULT_PRIORITY)),
            attempts=tuple(_attempt_from_dict(a) for a in doc.get("attempts") or ()),
            lease=Lease(lease["holder"], parse_iso(lease["expires_at"])) if lease else None,
            result=doc.get("result"),
            error_code=doc.get("error_code"),
            error_message=doc.get("error_message"),
            idempotency_key=doc.get("idempotency_key"),
            retry_of_run_id=doc.get("retry_of_run_id"),
            requires_approval=bool(doc.get("requires_approval", False)),
            scheduled_at=_opt_time(doc.get("scheduled_at")),
            finished_at=_opt_time(doc.get("finished_at")),
            revision=int(doc.get("revision", 1)),
            extra=doc.get("extra") or {},
        )

    @classmethod
    def from_json(cls, data: bytes) -> Run:
        return cls.from_dict(json.loads(data))


def _opt_time(value: str | None) -> datetime | None:
    return parse_iso(value) if value else None


def _attempt_to_dict(attempt: Attempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "started_at": isoformat(attempt.started_at),
        "ended_at": isoformat(attempt.ended_at) if attempt.ended_at else None,
        "outcome": attempt.outcome.value if attempt.outcome else None,
        "error_code": attempt.error_code,
        "error_message": attempt.error_message,
        "worker": attempt.worker,
    }


def _attempt_from_dict(doc: dict[str, Any]) -> Attempt:
    return Attempt(
        number=int(doc["number"]),
        started_at=parse_iso(doc["started_at"]),
        ended_at=_opt_time(doc.get("ended_at")),
        outcome=AttemptOutcome(doc["outcome"]) if doc.get("outcome") else None,
        error_code=doc.get("error_code"),
        error_message=doc.get("error_message"),
        worker=doc.get("worker"),
    )
