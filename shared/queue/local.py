"""The ``local://`` queue: one object per task in the object store.

A task lives at ``queue/local/tasks/<name>.json`` from enqueue until it is
delivered (then deleted) or dropped after its last attempt (then moved to
``queue/local/dropped/<name>.json`` for inspection). The object is created
create-only, so a second enqueue of the same name is a no-op, as in Cloud
Tasks. The :mod:`shared.queue.dispatcher` delivers the tasks; everything it
needs to resume after a restart is in the object, so no task is lost.

Listing metadata carries ``due_at`` and ``lease_until`` (epoch milliseconds)
so a scan can skip tasks that are not due without reading them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from shared.clock import Clock, isoformat, parse_iso, utcnow
from shared.queue.base import QueueError, Task, TaskQueue
from shared.queue.config import QueueSettings, check_task_name
from shared.storage import ObjectStore, StoreError

TASKS_PREFIX = "queue/local/tasks/"
DROPPED_PREFIX = "queue/local/dropped/"


def task_object_name(name: str) -> str:
    """Where a pending task is stored."""
    return f"{TASKS_PREFIX}{name}.json"


def dropped_object_name(name: str) -> str:
    """Where a task that ran out of attempts is kept for inspection."""
    return f"{DROPPED_PREFIX}{name}.json"


def to_millis(moment: datetime) -> int:
    """Epoch milliseconds, the spelling listing metadata uses."""
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class TaskRecord:
    """A stored task and its delivery state.

    ``attempts`` counts deliveries tried so far (Cloud Tasks' retry count for
    the next try); ``responses`` counts those that got an HTTP answer other
    than 503 (Cloud Tasks' execution count).
    """

    name: str
    path: str
    body: bytes
    headers: Mapping[str, str]
    created: datetime
    schedule_time: datetime
    attempts: int = 0
    responses: int = 0
    lease_holder: str | None = None
    lease_until: datetime | None = None
    first_attempt: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_task(cls, task: Task, now: datetime) -> TaskRecord:
        """A fresh record for a task being enqueued."""
        schedule = task.schedule_time or now
        if schedule.tzinfo is None:
            schedule = schedule.replace(tzinfo=UTC)
        return cls(
            name=task.name,
            path=task.path,
            body=task.body,
            headers=dict(task.headers),
            created=now,
            schedule_time=schedule,
        )

    def is_leased(self, now: datetime) -> bool:
        """True while a dispatcher holds an unexpired lease on it."""
        return self.lease_until is not None and self.lease_until > now

    def is_due(self, now: datetime) -> bool:
        """True when a dispatcher may deliver it now."""
        return self.schedule_time <= now and not self.is_leased(now)

    def leased(self, holder: str, until: datetime) -> TaskRecord:
        return replace(self, lease_holder=holder, lease_until=until)

    def to_json(self) -> bytes:
        doc: dict[str, Any] = {
            "name": self.name,
            "path": self.path,
            "body_b64": base64.b64encode(self.body).decode("ascii"),
            "headers": dict(self.headers),
            "created": isoformat(self.created),
            "schedule_time": isoformat(self.schedule_time),
            "attempts": self.attempts,
            "responses": self.responses,
            "lease_holder": self.lease_holder,
            "lease_until": isoformat(self.lease_until) if self.lease_until else None,
            "first_attempt": isoformat(self.first_attempt) if self.first_attempt else None,
            "last_status": self.last_status,
            "last_error": self.last_error,
        }
        doc.update(self.extra)
        return json.dumps(doc, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> TaskRecord:
        doc = json.loads(data)
        known = {
            "name",
            "path",
            "body_b64",
            "headers",
            "created",
            "schedule_time",
            "attempts",
            "responses",
            "lease_holder",
            "lease_until",
            "first_attempt",
            "last_status",
            "last_error",
        }
        return cls(
            name=doc["name"],
            path=doc["path"],
            body=base64.b64decode(doc["body_b64"]),
            headers=dict(doc.get("headers") or {}),
            created=parse_iso(doc["created"]),
            schedule_time=parse_iso(doc["schedule_time"]),
            attempts=int(doc.get("attempts", 0)),
            responses=int(doc.get("responses", 0)),
            lease_holder=doc.get("lease_holder"),
            lease_until=parse_iso(doc["lease_until"]) if doc.get("lease_until") else None,
            first_attempt=parse_iso(doc["first_attempt"]) if doc.get("first_attempt") else None,
            last_status=doc.get("last_status"),
            last_error=doc.get("last_error"),
            extra={key: value for key, value in doc.items() if key not in known},
        )

    def metadata(self) -> dict[str, str]:
        """Listing hints: when it is due and until when it is leased."""
        hints = {"due_at": str(to_millis(self.schedule_time))}
        if self.lease_until is not None:
            hints["lease_until"] = str(to_millis(self.lease_until))
        return hints


@dataclass(frozen=True)
class QueueStats:
    """A snapshot of the queue: tasks stored, leased by a dispatcher, and due now."""

    pending: int
    leased: int
    due: int
    dropped: int | None = None

    def as_dict(self) -> dict[str, int | None]:
        return {
            "pending": self.pending,
            "leased": self.leased,
            "due": self.due,
            "dropped": self.dropped,
        }


class LocalQueue(TaskQueue):
    """Tasks kept durably in the object store, delivered by the local dispatcher."""

    def __init__(
        self,
        store: ObjectStore | None = None,
        *,
        url: str = "local://",
        settings: QueueSettings | None = None,
        clock: Clock = utcnow,
    ) -> None:
        if store is None:
            from shared import runtime

            store = runtime.store()
        self.url = url
        self.store = store
        self.settings = settings or QueueSettings.from_env()
        self._clock = clock

    def enqueue(self, task: Task) -> bool:
        """Store the task create-only; False when a task of that name is pending."""
        check_task_name(task.name)
        if not task.path.startswith("/"):
            raise ValueError(f"task path must start with '/', got {task.path!r}")
        record = TaskRecord.from_task(task, self._clock())
        try:
            return self.store.create(
                task_object_name(task.name), record.to_json(), metadata=record.metadata()
            )
        except StoreError as exc:
            raise QueueError(f"could not store task {task.name}: {exc}") from exc

    def get(self, name: str) -> TaskRecord | None:
        """The pending task of that name, or None."""
        stored = self.store.get_or_none(task_object_name(name))
        return TaskRecord.from_json(stored.data) if stored else None

    def dropped(self, name: str) -> TaskRecord | None:
        """The dropped task of that name, or None."""
        stored = self.store.get_or_none(dropped_object_name(name))
        return TaskRecord.from_json(stored.data) if stored else None

    def stats(self) -> QueueStats:
        """Count pending, leased and due tasks (and dropped ones)."""
        return local_stats(self.store, self._clock())


def local_stats(store: ObjectStore, now: datetime) -> QueueStats:
    """Count the local queue's tasks from listing hints, reading objects without hints."""
    pending = leased = due = 0
    now_ms = to_millis(now)
    for info in store.list(TASKS_PREFIX):
        pending += 1
        if "due_at" in info.metadata:
            lease_until = int(info.metadata.get("lease_until", "0"))
            is_leased = lease_until > now_ms
            is_due = not is_leased and int(info.metadata["due_at"]) <= now_ms
        else:
            stored = store.get_or_none(info.name)
            if stored is None:
                pending -= 1
                continue
            try:
                record = TaskRecord.from_json(stored.data)
            except (ValueError, KeyError, TypeError):
                continue  # unreadable: the dispatcher moves it aside on its next pass
            is_leased, is_due = record.is_leased(now), record.is_due(now)
        leased += is_leased
        due += is_due
    dropped = sum(1 for _ in store.list(DROPPED_PREFIX))
    return QueueStats(pending=pending, leased=leased, due=due, dropped=dropped)
