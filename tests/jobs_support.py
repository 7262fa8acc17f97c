"""Shared helpers for the execution plane's tests: a recording queue and a plane."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.jobs import plane as jobs_plane
from shared.jobs.events import RecordingNotifier
from shared.jobs.plane import Plane
from shared.jobs.policy import load_policies
from shared.jobs.settings import WorkerSettings
from shared.queue.base import Task, TaskQueue
from shared.storage import ObjectStore
from shared.storage.memory import MemoryStore

API_TOKEN = "test-api-token"
TASKS_TOKEN = "test-tasks-token"


class RecordingQueue(TaskQueue):
    """Keeps enqueued tasks; a name enqueued twice is deduplicated like Cloud Tasks."""

    url = "recording://"

    def __init__(self) -> None:
        self.tasks: list[Task] = []
        self._names: set[str] = set()
        self._lock = threading.Lock()

    def enqueue(self, task: Task) -> bool:
        with self._lock:
            if task.name in self._names:
                return False
            self._names.add(task.name)
            self.tasks.append(task)
            return True

    def pop_all(self) -> list[Task]:
        with self._lock:
            tasks, self.tasks = self.tasks, []
            return tasks


def make_plane(
    store: ObjectStore | None = None,
    *,
    policies: str | None = None,
    **settings: Any,
) -> Plane:
    """A plane on a memory store with a recording queue and notifier."""
    return Plane(
        store=store or MemoryStore(),
        queue=RecordingQueue(),
        settings=WorkerSettings(**settings),
        policies=load_policies(policies),
        notifier=RecordingNotifier(),
    )


@contextmanager
def installed(plane: Plane) -> Iterator[Plane]:
    jobs_plane.install(plane)
    try:
        yield plane
    finally:
        jobs_plane.install(None)
