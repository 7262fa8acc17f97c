"""The callback wire format: one JSON object per run event.

    {"eventId": "<run_id>.<revision>", "runId", "jobType", "status", "attempt",
     "revision", "occurredAt", "errorCode", "result"}

``revision`` orders a run's events: a receiver applies an event only when its
revision is newer than what it has applied, so late or replayed events never
move a run backwards.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.clock import isoformat, parse_iso
from shared.jobs.events import RunEvent
from shared.jobs.models import RunStatus

# Event ids become object names: keep them to one safe path segment.
EVENT_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")
RUN_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")


class InvalidEvent(ValueError):
    """A callback body is not a well-formed run event."""


@dataclass(frozen=True)
class CallbackEvent:
    """A run event as it travels between sender and receiver."""

    event_id: str
    run_id: str
    job_type: str
    status: RunStatus
    attempt: int
    revision: int
    occurred_at: datetime
    error_code: str | None = None
    result: Any = None

    @classmethod
    def from_run_event(cls, event: RunEvent) -> CallbackEvent:
        return cls(
            event_id=event.event_id,
            run_id=event.run_id,
            job_type=event.job_type,
            status=event.status,
            attempt=event.attempt,
            revision=revision_of(event.event_id),
            occurred_at=event.occurred_at,
            error_code=event.error_code,
            result=event.result_summary,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "eventId": self.event_id,
            "runId": self.run_id,
            "jobType": self.job_type,
            "status": self.status.value,
            "attempt": self.attempt,
            "revision": self.revision,
            "occurredAt": isoformat(self.occurred_at),
            "errorCode": self.error_code,
            "result": self.result,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True).encode()


def revision_of(event_id: str) -> int:
    """The revision an event id ``<run_id>.<revision>`` names (0 when it names none)."""
    _, _, tail = event_id.rpartition(".")
    return int(tail) if tail.isdigit() else 0


def parse_event(body: bytes) -> CallbackEvent:
    """Decode and validate a callback body; InvalidEvent says what is wrong."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidEvent(f"the body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidEvent("the body must be a JSON object")
    event_id = _string(doc, "eventId")
    if not EVENT_ID.fullmatch(event_id):
        raise InvalidEvent("'eventId' must be 1-200 characters of [A-Za-z0-9._-]")
    run_id = _string(doc, "runId")
    if not RUN_ID.fullmatch(run_id):
        raise InvalidEvent("'runId' must be 1-200 characters of [A-Za-z0-9._-]")
    try:
        status = RunStatus(_string(doc, "status"))
    except ValueError:
        raise InvalidEvent(f"'status' must be one of {[s.value for s in RunStatus]}") from None
    attempt, revision = _count(doc, "attempt"), _count(doc, "revision")
    try:
        occurred_at = parse_iso(_string(doc, "occurredAt"))
    except ValueError:
        raise InvalidEvent("'occurredAt' must be an ISO 8601 time") from None
    error_code = doc.get("errorCode")
    if error_code is not None and not isinstance(error_code, str):
        raise InvalidEvent("'errorCode' must be a string or null")
    job_type = doc.get("jobType", "")
    if not isinstance(job_type, str):
        raise InvalidEvent("'jobType' must be a string")
    return CallbackEvent(
        event_id=event_id,
        run_id=run_id,
        job_type=job_type,
        status=status,
        attempt=attempt,
        revision=revision,
        occurred_at=occurred_at,
        error_code=error_code,
        result=doc.get("result"),
    )


def _string(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidEvent(f"'{name}' is required and must be a non-empty string")
    return value


def _count(doc: dict[str, Any], name: str) -> int:
    value = doc.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidEvent(f"'{name}' must be a non-negative integer")
    return value
