"""The Cloud Tasks adapter: the tasks it builds and how it reads Cloud Tasks' answers."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import tasks_v2

from shared.queue import QueueError, QueueMisconfigured, QueueSettings, Task, open_queue
from shared.queue.cloudtasks import CloudTasksQueue

QUEUE = "projects/demo/locations/europe-west1/queues/jobs"


class RecordingClient:
    """Stands in for CloudTasksClient: records create_task calls, or raises what it is told."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.created: list[tuple[str, tasks_v2.Task]] = []

    def create_task(self, *, parent: str, task: tasks_v2.Task) -> tasks_v2.Task:
        if self.error is not None:
            raise self.error
        self.created.append((parent, task))
        return task


def _queue(client: Any, **settings: Any) -> CloudTasksQueue:
    values: dict[str, Any] = {"target_base_url": "https://worker.example"}
    values.update(settings)
    queue = open_queue(f"cloudtasks://{QUEUE}", settings=QueueSettings(**values), client=client)
    assert isinstance(queue, CloudTasksQueue)
    return queue


def test_enqueue_builds_a_named_http_task_with_bearer_auth() -> None:
    """Without a service account, the task carries TASKS_AUTH_TOKEN as a bearer header."""
    client = RecordingClient()
    queue = _queue(client, auth_token="tok-123", dispatch_deadline_ms=30_000)
    assert queue.enqueue(Task(name="run-1-a1", body=b'{"run_id": "run-1"}', headers={"X-A": "b"}))
    [(parent, task)] = client.created
    assert parent == QUEUE
    assert task.name == f"{QUEUE}/tasks/run-1-a1"
    assert task.http_request.url == "https://worker.example/tasks"
    assert task.http_request.http_method == tasks_v2.HttpMethod.POST
    assert task.http_request.body == b'{"run_id": "run-1"}'
    assert dict(task.http_request.headers) == {
        "Content-Type": "application/json",
        "X-A": "b",
        "Authorization": "Bearer tok-123",
    }
    assert not task.http_request.oidc_token.service_account_email
    assert task.dispatch_deadline.total_seconds() == 30
    assert "schedule_time" not in task


@pytest.mark.parametrize(
    ("configured_ms", "sent_s"),
    [
        pytest.param(300, 15, id="raised-to-15s"),
        pytest.param(120_000, 120, id="kept"),
    ],
)
def test_dispatch_deadline_stays_within_cloud_tasks_bounds(configured_ms: int, sent_s: int) -> None:
    """A deadline shorter than Cloud Tasks accepts is raised to its 15 s minimum."""
    client = RecordingClient()
    _queue(client, dispatch_deadline_ms=configured_ms).enqueue(Task(name="d", body=b"{}"))
    assert client.created[0][1].dispatch_deadline.total_seconds() == sent_s


def test_service_account_gives_an_oidc_token_and_no_bearer_header() -> None:
    """With TASKS_OIDC_SERVICE_ACCOUNT the task is signed by Cloud Tasks with that account."""
    client = RecordingClient()
    queue = _queue(
        client,
        auth_token="tok-123",
        oidc_service_account="tasks@demo.iam.gserviceaccount.com",
        oidc_audience="https://execute-task.example",
    )
    queue.enqueue(Task(name="t1", body=b"{}"))
    [(_, task)] = client.created
    token = task.http_request.oidc_token
    assert token.service_account_email == "tasks@demo.iam.gserviceaccount.com"
    assert token.audience == "https://execute-task.example"
    assert "Authorization" not in task.http_request.headers


def test_oidc_audience_defaults_to_the_target_base_url() -> None:
    """Without TASKS_OIDC_AUDIENCE the audience is the worker's base URL."""
    client = RecordingClient()
    _queue(client, oidc_service_account="sa@demo.iam.gserviceaccount.com").enqueue(
        Task(name="t2", body=b"{}")
    )
    assert client.created[0][1].http_request.oidc_token.audience == "https://worker.example"


def test_schedule_time_is_sent_for_delayed_attempts() -> None:
    """A task's schedule_time becomes the Cloud Tasks schedule time."""
    client = RecordingClient()
    when = datetime(2026, 5, 6, 7, 8, 9, 500000, tzinfo=UTC)
    _queue(client).enqueue(Task(name="later", body=b"{}", schedule_time=when))
    assert client.created[0][1].schedule_time == when


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(gexc.ServiceUnavailable("down"), QueueError, id="unavailable"),
        pytest.param(gexc.DeadlineExceeded("slow"), QueueError, id="deadline"),
        pytest.param(gexc.NotFound("no queue"), QueueMisconfigured, id="queue-missing"),
        pytest.param(gexc.PermissionDenied("nope"), QueueMisconfigured, id="permission"),
    ],
)
def test_cloud_tasks_errors_become_queue_errors(
    error: Exception, expected: type[Exception]
) -> None:
    """Transient failures are QueueError; a wrong queue or IAM is QueueMisconfigured."""
    with pytest.raises(expected) as caught:
        _queue(RecordingClient(error)).enqueue(Task(name="t3", body=b"{}"))
    assert caught.value.__cause__ is error


def test_already_exists_means_deduplicated() -> None:
    """Cloud Tasks' AlreadyExists for the name is a dedupe: enqueue returns False."""
    queue = _queue(RecordingClient(gexc.AlreadyExists("task exists")))
    assert queue.enqueue(Task(name="run-1-a1", body=b"{}")) is False


def test_invalid_names_are_refused_before_calling_cloud_tasks() -> None:
    """A name Cloud Tasks would reject never reaches the client."""
    client = RecordingClient()
    with pytest.raises(ValueError, match="invalid task name"):
        _queue(client).enqueue(Task(name="run/1", body=b"{}"))
    assert client.created == []


def test_settings_from_env_drive_the_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    """TASKS_TARGET_BASE_URL and TASKS_AUTH_TOKEN from the environment shape the task."""
    monkeypatch.setenv("TASKS_TARGET_BASE_URL", "http://127.0.0.1:9999/")
    monkeypatch.setenv("TASKS_AUTH_TOKEN", "env-token")
    client = RecordingClient()
    open_queue(f"cloudtasks://{QUEUE}", client=client).enqueue(
        Task(name="t4", body=b"{}", path="/tasks")
    )
    request = client.created[0][1].http_request
    assert request.url == "http://127.0.0.1:9999/tasks"
    assert request.headers["Authorization"] == "Bearer env-token"


def test_queue_modules_do_not_import_cloud_sdks() -> None:
    """Importing the queue package, local queue and dispatcher loads no Cloud Tasks or gRPC."""
    code = (
        "import sys, shared.queue, shared.queue.local, shared.queue.dispatcher;"
        "loaded = [m for m in ('google.cloud.tasks_v2', 'grpc', 'flask') if m in sys.modules];"
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
