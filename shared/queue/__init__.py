"""The task queue behind one port, opened by URL.

    open_queue("local://")                                      the embedded default
    open_queue("cloudtasks://projects/P/locations/L/queues/Q")  Google Cloud Tasks

``local://`` keeps tasks in the object store and needs the
:class:`~shared.queue.dispatcher.Dispatcher` running to deliver them;
``cloudtasks://`` imports google-cloud-tasks only when opened.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from shared.clock import Clock, utcnow
from shared.queue.base import QueueError, Task, TaskQueue, task_name
from shared.queue.config import QueueSettings, check_task_name
from shared.storage import ObjectStore

SCHEMES = ("local", "cloudtasks")


class QueueMisconfigured(QueueError):
    """The queue URL or its settings are wrong; retrying will not help."""


def open_queue(
    url: str,
    store: ObjectStore | None = None,
    *,
    settings: QueueSettings | None = None,
    clock: Clock = utcnow,
    client: Any = None,
) -> TaskQueue:
    """Open the queue a URL names; raises QueueMisconfigured for an unknown scheme.

    ``store`` is where ``local://`` keeps tasks (the process store by default);
    ``client`` is an injected ``CloudTasksClient`` for ``cloudtasks://``.
    """
    scheme = urlsplit(url).scheme
    if scheme == "local":
        from shared.queue.local import LocalQueue

        return LocalQueue(store, url=url, settings=settings, clock=clock)
    if scheme == "cloudtasks":
        try:
            from shared.queue.cloudtasks import CloudTasksQueue
        except ImportError as exc:  # pragma: no cover - the dependency ships by default
            raise QueueMisconfigured(
                f"the cloudtasks:// queue needs the google-cloud-tasks package: {exc}"
            ) from exc
        return CloudTasksQueue.from_url(url, settings=settings, client=client)
    known = ", ".join(f"{name}://" for name in SCHEMES)
    raise QueueMisconfigured(f"unknown queue scheme in {url!r}; expected one of {known}")


__all__ = [
    "QueueError",
    "QueueMisconfigured",
    "QueueSettings",
    "Task",
    "TaskQueue",
    "check_task_name",
    "open_queue",
    "task_name",
]
