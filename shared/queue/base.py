"""The task queue port: deliver an HTTP task to a function, at most once per name.

Task names are deterministic (a run id and an attempt number), so enqueueing
the same attempt twice is a no-op both in Cloud Tasks (which rejects a
duplicate name) and in the local queue (a create-only object per task).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Task:
    """One HTTP delivery: POST ``body`` to ``path`` on the worker, not before ``schedule_time``."""

    name: str
    body: bytes
    path: str = "/tasks"
    schedule_time: datetime | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


def task_name(run_id: str, attempt: int) -> str:
    """The deterministic name of a run's attempt; Cloud Tasks allows [A-Za-z0-9_-]."""
    return f"{run_id}-a{attempt}"


class QueueError(Exception):
    """The queue could not accept a task (transient or misconfigured)."""


class TaskQueue(abc.ABC):
    """Enqueue tasks; delivery happens elsewhere (Cloud Tasks, or the local dispatcher)."""

    url: str

    @abc.abstractmethod
    def enqueue(self, task: Task) -> bool:
        """Enqueue a task; False when a task of that name already exists (deduplicated)."""
