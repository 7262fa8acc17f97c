"""The ``cloudtasks://projects/P/locations/L/queues/Q`` queue: Google Cloud Tasks.

Each task becomes an HTTP-target task that POSTs its body to
``TASKS_TARGET_BASE_URL`` + the task's path, authenticated by an OIDC token
for ``TASKS_OIDC_SERVICE_ACCOUNT`` (audience ``TASKS_OIDC_AUDIENCE``, or the
target base URL), or, without a service account, by an ``Authorization:
Bearer`` header carrying ``TASKS_AUTH_TOKEN``. The task name is
``<queue path>/tasks/<name>``, so Cloud Tasks itself rejects a second enqueue
of one name (AlreadyExists → False).

google-cloud-tasks and grpc are imported when the queue is opened, never at
module import; ``CLOUD_TASKS_EMULATOR_HOST`` switches to an insecure channel.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from shared.queue import QueueMisconfigured
from shared.queue.base import QueueError, Task, TaskQueue
from shared.queue.config import QueueSettings, check_task_name
from shared.queue.local import QueueStats

# Cloud Tasks refuses an HTTP task whose dispatch deadline is outside 15 s .. 30 min;
# the local dispatcher allows shorter ones, so the value is clamped here.
MIN_DEADLINE_MS = 15_000
MAX_DEADLINE_MS = 1_800_000

_QUEUE_PATH = re.compile(r"^projects/[^/]+/locations/[^/]+/queues/[A-Za-z0-9_-]+$")


def queue_path_from_url(url: str) -> str:
    """``projects/P/locations/L/queues/Q`` from a ``cloudtasks://`` URL."""
    prefix = "cloudtasks://"
    path = url[len(prefix) :].strip("/") if url.startswith(prefix) else ""
    if not _QUEUE_PATH.match(path):
        raise QueueMisconfigured(
            f"expected cloudtasks://projects/P/locations/L/queues/Q, got {url!r}"
        )
    return path


def build_client(settings: QueueSettings) -> Any:
    """A CloudTasksClient: the emulator's insecure channel when one is configured."""
    from google.cloud import tasks_v2

    if settings.emulator_host:
        import grpc
        from google.cloud.tasks_v2.services.cloud_tasks.transports import (
            CloudTasksGrpcTransport,
        )

        channel = grpc.insecure_channel(settings.emulator_host)
        return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
    return tasks_v2.CloudTasksClient()


class CloudTasksQueue(TaskQueue):
    """Enqueue HTTP-target tasks into one Cloud Tasks queue."""

    def __init__(self, queue_path: str, settings: QueueSettings, client: Any = None) -> None:
        self.url = f"cloudtasks://{queue_path}"
        self.queue_path = queue_path
        self.settings = settings
        self._client = client if client is not None else build_client(settings)

    @classmethod
    def from_url(
        cls, url: str, *, settings: QueueSettings | None = None, client: Any = None
    ) -> CloudTasksQueue:
        """Open the queue a ``cloudtasks://`` URL names."""
        return cls(queue_path_from_url(url), settings or QueueSettings.from_env(), client)

    @property
    def client(self) -> Any:
        """The underlying CloudTasksClient (for queue administration in tests and tools)."""
        return self._client

    def full_task_name(self, name: str) -> str:
        """The resource name Cloud Tasks gives a task of this name."""
        return f"{self.queue_path}/tasks/{check_task_name(name)}"

    def build_task(self, task: Task) -> Any:
        """The ``tasks_v2.Task`` a task becomes (public so its shape can be checked)."""
        from google.cloud import tasks_v2
        from google.protobuf import duration_pb2, timestamp_pb2

        if not task.path.startswith("/"):
            raise ValueError(f"task path must start with '/', got {task.path!r}")
        headers = {"Content-Type": "application/json", **dict(task.headers)}
        request = tasks_v2.HttpRequest(
            url=self.settings.target_base_url + task.path,
            http_method=tasks_v2.HttpMethod.POST,
            headers=headers,
            body=task.body,
        )
        if self.settings.oidc_service_account:
            request.oidc_token = tasks_v2.OidcToken(
                service_account_email=self.settings.oidc_service_account,
                audience=self.settings.oidc_audience or self.settings.target_base_url,
            )
        elif self.settings.auth_token:
            request.headers["Authorization"] = f"Bearer {self.settings.auth_token}"
        deadline = duration_pb2.Duration()
        deadline.FromMilliseconds(
            min(max(self.settings.dispatch_deadline_ms, MIN_DEADLINE_MS), MAX_DEADLINE_MS)
        )
        built = tasks_v2.Task(
            name=self.full_task_name(task.name),
            http_request=request,
            dispatch_deadline=deadline,
        )
        if task.schedule_time is not None:
            moment = task.schedule_time
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            stamp = timestamp_pb2.Timestamp()
            stamp.FromDatetime(moment.astimezone(UTC))
            built.schedule_time = stamp
        return built

    def enqueue(self, task: Task) -> bool:
        """Create the task; False when Cloud Tasks already has (or recently had) that name."""
        from google.api_core import exceptions as gexc

        built = self.build_task(task)
        try:
            self._client.create_task(parent=self.queue_path, task=built)
        except gexc.AlreadyExists:
            return False
        except (gexc.NotFound, gexc.PermissionDenied, gexc.InvalidArgument) as exc:
            raise QueueMisconfigured(
                f"Cloud Tasks refused task {task.name} on {self.queue_path}: {exc.message}"
            ) from exc
        except gexc.GoogleAPIError as exc:
            raise QueueError(f"Cloud Tasks could not take task {task.name}: {exc}") from exc
        return True

    def stats(self, now: datetime | None = None) -> QueueStats:
        """Count the queue's tasks by listing them (fine for small queues and the emulator)."""
        from google.api_core import exceptions as gexc

        moment = now or datetime.now(UTC)
        pending = due = 0
        try:
            for listed in self._client.list_tasks(parent=self.queue_path):
                pending += 1
                scheduled = listed.schedule_time
                if scheduled is None or scheduled <= moment:
                    due += 1
        except gexc.GoogleAPIError as exc:
            raise QueueError(f"Cloud Tasks could not list {self.queue_path}: {exc}") from exc
        # Cloud Tasks does not say which tasks are being dispatched right now.
        return QueueStats(pending=pending, leased=0, due=due)
