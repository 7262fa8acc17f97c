"""The local queue: durable, deduplicated tasks in the object store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared import runtime
from shared.queue import QueueMisconfigured, QueueSettings, Task, open_queue, task_name
from shared.queue.local import LocalQueue, TaskRecord, task_object_name
from shared.storage import open_store

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _queue() -> LocalQueue:
    queue = open_queue("local://", clock=lambda: NOW)
    assert isinstance(queue, LocalQueue)
    return queue


def test_open_queue_local_uses_the_process_store() -> None:
    """local:// keeps tasks in the store OPSPLANE_STORE names."""
    queue = _queue()
    assert queue.enqueue(Task(name="r1-a1", body=b'{"run_id": "r1"}'))
    assert runtime.store().get_or_none(task_object_name("r1-a1")) is not None


def test_open_queue_with_an_explicit_store() -> None:
    """A store passed in is the one the queue writes to."""
    store = open_store("memory://explicit-queue-store")
    queue = open_queue("local://", store)
    assert queue.enqueue(Task(name="t1", body=b"{}"))
    assert store.get_or_none(task_object_name("t1")) is not None
    assert runtime.store().get_or_none(task_object_name("t1")) is None


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("amqp://broker/q", id="unknown-scheme"),
        pytest.param("tasks", id="no-scheme"),
        pytest.param("cloudtasks://projects/p/queues/q", id="cloudtasks-bad-path"),
    ],
)
def test_open_queue_rejects_unknown_urls(url: str) -> None:
    """An unknown scheme or malformed queue path is a clear configuration error."""
    with pytest.raises(QueueMisconfigured, match="expected"):
        open_queue(url)


def test_enqueue_same_name_twice_is_deduplicated() -> None:
    """The second enqueue of one name returns False and keeps the first body."""
    queue = _queue()
    assert queue.enqueue(Task(name=task_name("run-1", 1), body=b'{"v": 1}')) is True
    assert queue.enqueue(Task(name=task_name("run-1", 1), body=b'{"v": 2}')) is False
    record = queue.get(task_name("run-1", 1))
    assert record is not None
    assert record.body == b'{"v": 1}'


def test_enqueue_records_path_headers_and_schedule_time() -> None:
    """The stored record keeps what the dispatcher needs to deliver the task later."""
    queue = _queue()
    later = NOW + timedelta(seconds=30)
    task = Task(
        name="r2-a3",
        body=b"\x00\xffbin",
        path="/tasks/x",
        schedule_time=later,
        headers={"X-Trace": "abc"},
    )
    assert queue.enqueue(task)
    record = queue.get("r2-a3")
    assert record == TaskRecord(
        name="r2-a3",
        path="/tasks/x",
        body=b"\x00\xffbin",
        headers={"X-Trace": "abc"},
        created=NOW,
        schedule_time=later,
    )
    stats = queue.stats()
    assert (stats.pending, stats.due, stats.leased) == (1, 0, 0)


def test_enqueue_without_schedule_time_is_due_now() -> None:
    """A task with no schedule time is due immediately."""
    queue = _queue()
    queue.enqueue(Task(name="now", body=b"{}"))
    assert queue.stats().as_dict() == {"pending": 1, "leased": 0, "due": 1, "dropped": 0}


@pytest.mark.parametrize(
    "task",
    [
        pytest.param(Task(name="has space", body=b""), id="space-in-name"),
        pytest.param(Task(name="", body=b""), id="empty-name"),
        pytest.param(Task(name="a/b", body=b""), id="slash-in-name"),
        pytest.param(Task(name="ok", body=b"", path="tasks"), id="relative-path"),
    ],
)
def test_enqueue_rejects_invalid_tasks(task: Task) -> None:
    """Names Cloud Tasks would refuse, and relative paths, are refused and nothing is stored."""
    queue = _queue()
    with pytest.raises(ValueError, match=r"invalid task name|must start"):
        queue.enqueue(task)
    assert list(runtime.store().list("queue/")) == []


def test_queue_settings_from_env_reads_every_variable() -> None:
    """Each TASKS_* variable lands in its field."""
    env = {
        "TASKS_QUEUE_NAME": "q1",
        "TASKS_MIN_BACKOFF_MS": "10",
        "TASKS_MAX_BACKOFF_MS": "300",
        "TASKS_MAX_DOUBLINGS": "3",
        "TASKS_MAX_ATTEMPTS": "-1",
        "TASKS_MAX_DISPATCHES_PER_SECOND": "2.5",
        "TASKS_MAX_CONCURRENT_DISPATCHES": "4",
        "TASKS_DISPATCH_DEADLINE_MS": "15000",
        "TASKS_AUTH_TOKEN": "tok",
        "TASKS_TARGET_BASE_URL": "https://worker.example/",
        "TASKS_OIDC_SERVICE_ACCOUNT": "sa@p.iam.gserviceaccount.com",
        "TASKS_OIDC_AUDIENCE": "https://aud",
        "CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:9",
    }
    assert QueueSettings.from_env(env) == QueueSettings(
        queue_name="q1",
        min_backoff_ms=10,
        max_backoff_ms=300,
        max_doublings=3,
        max_attempts=-1,
        max_dispatches_per_second=2.5,
        max_concurrent_dispatches=4,
        dispatch_deadline_ms=15000,
        auth_token="tok",
        target_base_url="https://worker.example",
        oidc_service_account="sa@p.iam.gserviceaccount.com",
        oidc_audience="https://aud",
        emulator_host="127.0.0.1:9",
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        pytest.param({"TASKS_MAX_ATTEMPTS": "0"}, "TASKS_MAX_ATTEMPTS", id="zero-attempts"),
        pytest.param({"TASKS_MIN_BACKOFF_MS": "x"}, "TASKS_MIN_BACKOFF_MS", id="not-a-number"),
        pytest.param(
            {"TASKS_MIN_BACKOFF_MS": "500", "TASKS_MAX_BACKOFF_MS": "100"},
            "TASKS_MAX_BACKOFF_MS",
            id="max-below-min",
        ),
        pytest.param(
            {"TASKS_MAX_CONCURRENT_DISPATCHES": "0"},
            "TASKS_MAX_CONCURRENT_DISPATCHES",
            id="no-concurrency",
        ),
        pytest.param({"TASKS_QUEUE_NAME": "a b"}, "TASKS_QUEUE_NAME", id="bad-queue-name"),
    ],
)
def test_queue_settings_reject_bad_values(env: dict[str, str], variable: str) -> None:
    """A bad value fails with an error naming the variable."""
    from shared.settings import SettingsError

    with pytest.raises(SettingsError) as caught:
        QueueSettings.from_env(env)
    assert caught.value.variable == variable


def test_retry_delays_follow_cloud_tasks_doubling_then_linear() -> None:
    """min 10s, max 300s, 3 doublings → 10, 20, 40, 80, 160, 240, 300, 300."""
    settings = QueueSettings(min_backoff_ms=10_000, max_backoff_ms=300_000, max_doublings=3)
    delays = [settings.retry_delay_ms(failures) // 1000 for failures in range(1, 9)]
    assert delays == [10, 20, 40, 80, 160, 240, 300, 300]
