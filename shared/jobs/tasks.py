"""The task that delivers one attempt of a run to ``POST /tasks``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shared.jobs.models import Run
from shared.queue.base import Task, TaskQueue, task_name

TASKS_PATH = "/tasks"


class InvalidTask(ValueError):
    """A task body that is not ``{"run_id": str, "attempt": int >= 1}``."""


@dataclass(frozen=True)
class TaskBody:
    run_id: str
    attempt: int

    def encode(self) -> bytes:
        return json.dumps({"run_id": self.run_id, "attempt": self.attempt}).encode()

    @classmethod
    def parse(cls, doc: Any) -> TaskBody:
        if not isinstance(doc, dict):
            raise InvalidTask("the task body must be a JSON object")
        run_id, attempt = doc.get("run_id"), doc.get("attempt")
        if not isinstance(run_id, str) or not run_id or len(run_id) > 200:
            raise InvalidTask("the task body needs 'run_id': a non-empty string")
        if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
            raise InvalidTask("the task body needs 'attempt': an integer >= 1")
        return cls(run_id, attempt)


def attempt_task(run: Run) -> Task:
    """The task for the run's next attempt, due at ``scheduled_at``."""
    body = TaskBody(run.run_id, run.next_attempt)
    return Task(
        name=task_name(run.run_id, run.next_attempt),
        body=body.encode(),
        path=TASKS_PATH,
        schedule_time=run.scheduled_at,
    )


def enqueue_next_attempt(queue: TaskQueue, run: Run) -> bool:
    """Enqueue the run's next attempt; False when that task already exists."""
    return queue.enqueue(attempt_task(run))
