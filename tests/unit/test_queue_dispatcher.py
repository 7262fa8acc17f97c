"""The local dispatcher delivers stored tasks to a real loopback HTTP receiver."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.queue import QueueSettings, Task, open_queue
from shared.queue.dispatcher import Dispatcher, parse_retry_after
from shared.queue.local import LocalQueue, task_object_name
from shared.storage import ObjectStore, StoredObject, open_store
from shared.storage.memory import MemoryStore
from tests.queue_receiver import Answer, Receiver, serve_receiver

START = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


class FakeClock:
    """A settable clock; deliveries still happen in real time."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def _settings(**overrides: object) -> QueueSettings:
    values: dict[str, object] = {
        "queue_name": "test-queue",
        "min_backoff_ms": 100,
        "max_backoff_ms": 1000,
        "max_doublings": 2,
        "max_attempts": 6,
        "max_dispatches_per_second": 1000.0,
        "max_concurrent_dispatches": 4,
        "dispatch_deadline_ms": 5000,
    }
    values.update(overrides)
    return QueueSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def store() -> ObjectStore:
    return open_store(f"memory://dispatcher-{time.monotonic_ns()}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as served:
        yield served


def _queue(store: ObjectStore, clock: FakeClock | None = None) -> LocalQueue:
    queue = open_queue("local://", store, settings=_settings(), clock=clock or FakeClock())
    assert isinstance(queue, LocalQueue)
    return queue


def _dispatcher(
    store: ObjectStore, receiver: Receiver, clock: object = None, **overrides: object
) -> Dispatcher:
    return Dispatcher(
        store,
        receiver.url,
        _settings(**overrides),
        clock or FakeClock(),  # type: ignore[arg-type]
        lease_margin=timedelta(0),
    )


def test_delivers_with_cloud_tasks_headers_and_deletes_on_2xx(
    store: ObjectStore, receiver: Receiver
) -> None:
    """A due task is POSTed once with exactly the headers Cloud Tasks sends, then removed."""
    clock = FakeClock()
    _queue(store, clock).enqueue(
        Task(name="run-7-a1", body=b'{"run_id": "run-7"}', path="/tasks", headers={"X-Extra": "1"})
    )
    dispatcher = _dispatcher(store, receiver, clock, auth_token="s3cret-token")
    assert dispatcher.run_once() == 1
    dispatcher.close()
    [delivery] = receiver.deliveries
    assert delivery.path == "/tasks"
    assert delivery.body == b'{"run_id": "run-7"}'
    sent = {key: value for key, value in delivery.headers.items() if key != "accept-encoding"}
    assert sent == {
        "host": receiver.url.removeprefix("http://"),
        "accept": "*/*",
        "connection": "keep-alive",
        "content-length": str(len(delivery.body)),
        "content-type": "application/json",
        "user-agent": "Google-Cloud-Tasks",
        "authorization": "Bearer s3cret-token",
        "x-extra": "1",
        "x-cloudtasks-queuename": "test-queue",
        "x-cloudtasks-taskname": "run-7-a1",
        "x-cloudtasks-taskretrycount": "0",
        "x-cloudtasks-taskexecutioncount": "0",
        "x-cloudtasks-tasketa": f"{START.timestamp():.6f}",
    }
    assert store.get_or_none(task_object_name("run-7-a1")) is None


def test_no_authorization_header_without_a_token(store: ObjectStore, receiver: Receiver) -> None:
    """Without TASKS_AUTH_TOKEN the dispatcher sends no Authorization header."""
    _queue(store).enqueue(Task(name="t", body=b"{}"))
    dispatcher = _dispatcher(store, receiver)
    dispatcher.run_once()
    dispatcher.close()
    assert "authorization" not in receiver.deliveries[0].headers


def test_task_scheduled_later_waits_for_its_time(store: ObjectStore, receiver: Receiver) -> None:
    """A task with a future schedule_time is not delivered before it."""
    clock = FakeClock()
    _queue(store, clock).enqueue(
        Task(name="later", body=b"{}", schedule_time=START + timedelta(seconds=30))
    )
    dispatcher = _dispatcher(store, receiver, clock)
    assert dispatcher.run_once() == 0
    clock.advance(timedelta(seconds=29))
    assert dispatcher.run_once() == 0
    clock.advance(timedelta(seconds=1))
    assert dispatcher.run_once() == 1
    dispatcher.close()
    assert receiver.deliveries[0].headers["x-cloudtasks-tasketa"] == (
        f"{(START + timedelta(seconds=30)).timestamp():.6f}"
    )


def test_failures_back_off_like_cloud_tasks_then_drop(store: ObjectStore) -> None:
    """Delays double, then grow linearly up to max_backoff; the last attempt drops the task."""
    clock = FakeClock()
    secret = "ghp_" + "a" * 30
    with serve_receiver(lambda _p, _h, _b: Answer(500, body=f"boom {secret}".encode())) as rx:
        queue = _queue(store, clock)
        queue.enqueue(Task(name="flaky", body=b"{}"))
        dispatcher = _dispatcher(
            store, rx, clock, min_backoff_ms=100, max_backoff_ms=500, max_doublings=1
        )
        delays = []
        for _ in range(5):
            assert dispatcher.run_once() == 1
            record = queue.get("flaky")
            assert record is not None
            delays.append(round((record.schedule_time - clock.now).total_seconds() * 1000))
            clock.advance(record.schedule_time - clock.now - timedelta(milliseconds=1))
            assert dispatcher.run_once() == 0, "delivered before its backoff elapsed"
            clock.advance(timedelta(milliseconds=1))
        assert dispatcher.run_once() == 1
        dispatcher.close()
    # min 100, one doubling → 100, 200, then +200 per retry: 400, 600→500 cap, 500.
    assert delays == [100, 200, 400, 500, 500]
    assert [d.headers["x-cloudtasks-taskretrycount"] for d in rx.deliveries] == [
        "0",
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    assert [d.headers["x-cloudtasks-taskexecutioncount"] for d in rx.deliveries] == [
        "0",
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    assert rx.deliveries[1].headers["x-cloudtasks-taskpreviousresponse"] == "500"
    assert queue.get("flaky") is None
    dropped = queue.dropped("flaky")
    assert dropped is not None
    assert dropped.attempts == 6
    assert dropped.last_status == 500
    assert dropped.last_error is not None
    assert secret not in dropped.last_error
    assert "boom" in dropped.last_error
    assert queue.stats().as_dict() == {"pending": 0, "leased": 0, "due": 0, "dropped": 1}


@pytest.mark.parametrize(
    ("status", "retry_after", "expected_delay_s"),
    [
        pytest.param(429, "7", 7.0, id="429-seconds"),
        pytest.param(503, "2.5", 2.5, id="503-seconds"),
        pytest.param(429, "Wed, 04 Mar 2026 05:06:19 GMT", 12.0, id="429-http-date"),
        pytest.param(429, None, 0.1, id="429-without-header-uses-backoff"),
        pytest.param(500, "7", 0.1, id="500-ignores-retry-after"),
    ],
)
def test_retry_after_sets_the_next_try(
    store: ObjectStore, status: int, retry_after: str | None, expected_delay_s: float
) -> None:
    """429/503 with Retry-After schedule the next try that far out; other answers use backoff."""
    clock = FakeClock()
    headers = {"Retry-After": retry_after} if retry_after else {}
    with serve_receiver(lambda _p, _h, _b: Answer(status, headers)) as rx:
        queue = _queue(store, clock)
        queue.enqueue(Task(name="busy", body=b"{}"))
        dispatcher = _dispatcher(store, rx, clock)
        dispatcher.run_once()
        dispatcher.close()
    record = queue.get("busy")
    assert record is not None
    assert (record.schedule_time - START).total_seconds() == pytest.approx(expected_delay_s)
    # Cloud Tasks counts a response as an execution unless it is a 503.
    assert record.responses == (0 if status == 503 else 1)


def test_retry_after_delays_the_real_next_delivery(store: ObjectStore) -> None:
    """In the running loop, a 429 with Retry-After: 1 holds the next delivery about a second."""
    answers = iter([Answer(429, {"Retry-After": "1"}), Answer(200)])
    with serve_receiver(lambda _p, _h, _b: next(answers)) as rx:
        open_queue("local://", store, settings=_settings()).enqueue(Task(name="x", body=b"{}"))
        dispatcher = Dispatcher(store, rx.url, _settings(), poll_interval=0.02)
        stop = threading.Event()
        loop = threading.Thread(target=dispatcher.run, args=(stop,))
        loop.start()
        try:
            first, second = rx.wait_for(2, timeout=5)
        finally:
            stop.set()
            loop.join(timeout=5)
    assert second.started - first.finished >= 0.95
    assert store.get_or_none(task_object_name("x")) is None


def test_unreachable_worker_is_a_retryable_failure(store: ObjectStore) -> None:
    """A connection error counts as an attempt without an execution, and the task stays."""
    clock = FakeClock()
    with serve_receiver() as rx:
        dead_url = rx.url  # the port is free again once the receiver stops
    queue = _queue(store, clock)
    queue.enqueue(Task(name="nobody-home", body=b"{}"))
    dispatcher = Dispatcher(store, dead_url, _settings(), clock)
    dispatcher.run_once()
    dispatcher.close()
    record = queue.get("nobody-home")
    assert record is not None
    assert (record.attempts, record.responses, record.last_status) == (1, 0, None)
    assert record.last_error is not None
    assert "ConnectError" in record.last_error


def test_rate_limit_spaces_dispatches(store: ObjectStore, receiver: Receiver) -> None:
    """At 20 dispatches per second, 10 tasks take at least 9 intervals of 50 ms."""
    queue = _queue(store)
    for index in range(10):
        queue.enqueue(Task(name=f"r{index}", body=b"{}"))
    dispatcher = _dispatcher(
        store, receiver, max_dispatches_per_second=20.0, max_concurrent_dispatches=10
    )
    assert dispatcher.run_once() == 10
    dispatcher.close()
    starts = sorted(delivery.started for delivery in receiver.deliveries)
    assert starts[-1] - starts[0] >= 9 * 0.05 * 0.9


def test_max_concurrent_dispatches_is_respected(store: ObjectStore) -> None:
    """With 3 concurrent dispatches and slow answers, the receiver sees at most 3 at once."""
    with serve_receiver(lambda _p, _h, _b: Answer(delay=0.15)) as rx:
        queue = _queue(store)
        for index in range(9):
            queue.enqueue(Task(name=f"c{index}", body=b"{}"))
        dispatcher = _dispatcher(store, rx, max_concurrent_dispatches=3)
        assert dispatcher.run_once() == 9
        dispatcher.close()
    assert rx.max_in_flight == 3
    assert len(rx.deliveries) == 9


class SlowReads(MemoryStore):
    """A memory store whose reads take a few milliseconds, like a remote store's.

    The pause widens the window between reading a task and leasing it, so
    dispatchers that skipped the compare-and-swap would visibly collide.
    """

    def get(self, name: str) -> StoredObject:
        stored = super().get(name)
        time.sleep(0.003)
        return stored


@pytest.mark.parametrize("backend", ["slow-memory", "file"])
def test_dispatchers_sharing_a_store_deliver_each_task_once(backend: str, tmp_path: Path) -> None:
    """Three dispatchers on one store never deliver one task twice, concurrently or at all."""
    store = open_store(f"file://{tmp_path / 'store'}") if backend == "file" else SlowReads()
    with serve_receiver(lambda _p, _h, _b: Answer(delay=0.01)) as rx:
        queue = open_queue("local://", store, settings=_settings())
        names = [f"shared-{index}" for index in range(40)]
        for name in names:
            queue.enqueue(Task(name=name, body=b"{}"))
        stop = threading.Event()
        loops = [
            threading.Thread(
                target=Dispatcher(store, rx.url, _settings(), poll_interval=0.01).run,
                args=(stop,),
            )
            for _ in range(3)
        ]
        for loop in loops:
            loop.start()
        try:
            rx.wait_for(40)
            time.sleep(0.3)  # room for a wrongful second delivery to show up
        finally:
            stop.set()
            for loop in loops:
                loop.join(timeout=5)
    delivered = [delivery.task_name for delivery in rx.deliveries]
    assert sorted(delivered) == sorted(names)
    assert rx.overlapping == []
    assert list(store.list("queue/local/tasks/")) == []


@pytest.mark.parametrize("backend", ["memory", "file"])
def test_restart_loses_no_task(backend: str, tmp_path: Path) -> None:
    """Stopping a dispatcher mid-way and starting another on the same store delivers the rest."""
    store = open_store(
        f"file://{tmp_path / 'store'}" if backend == "file" else f"memory://restart-{tmp_path.name}"
    )
    with serve_receiver(lambda _p, _h, _b: Answer(delay=0.02)) as rx:
        queue = open_queue("local://", store, settings=_settings())
        names = [f"restart-{index}" for index in range(20)]
        for name in names:
            queue.enqueue(Task(name=name, body=b"{}"))
        stop_first = threading.Event()
        first = Dispatcher(
            store, rx.url, _settings(max_dispatches_per_second=50.0), poll_interval=0.01
        )
        loop = threading.Thread(target=first.run, args=(stop_first,))
        loop.start()
        rx.wait_for(3)
        stop_first.set()
        loop.join(timeout=5)
        delivered_by_first = len(rx.deliveries)
        assert delivered_by_first < 20, "the first dispatcher should not have finished"
        second = Dispatcher(store, rx.url, _settings())
        while second.run_once():
            pass
        second.close()
    assert sorted(delivery.task_name for delivery in rx.deliveries) == sorted(names)


def test_expired_lease_of_a_dead_dispatcher_is_taken_over(store: ObjectStore) -> None:
    """A lease whose dispatcher never finishes expires, then another dispatcher delivers."""
    clock = FakeClock()
    release = threading.Event()
    calls = iter(range(100))

    def hang_first(_p: str, _h: dict[str, str], _b: bytes) -> Answer:
        if next(calls) == 0:
            release.wait(5)  # the first dispatcher's delivery never comes back in time
        return Answer(200)

    with serve_receiver(hang_first) as rx:
        queue = _queue(store, clock)
        queue.enqueue(Task(name="orphan", body=b"{}"))
        stuck = _dispatcher(store, rx, clock, dispatch_deadline_ms=2000)
        stuck_pass = threading.Thread(target=stuck.run_once)
        stuck_pass.start()
        while (record := queue.get("orphan")) is None or record.lease_holder is None:
            time.sleep(0.01)
        assert queue.stats().leased == 1
        rescuer = _dispatcher(store, rx, clock, dispatch_deadline_ms=2000)
        assert rescuer.run_once() == 0, "took a task under a live lease"
        clock.advance(timedelta(milliseconds=2001))
        assert rescuer.run_once() == 1
        rescuer.close()
        release.set()
        stuck_pass.join(timeout=5)
        stuck.close()
    assert queue.get("orphan") is None
    assert [d.task_name for d in rx.deliveries].count("orphan") == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("3", 3.0, id="seconds"),
        pytest.param("-4", 0.0, id="negative-clamped"),
        pytest.param("999999", 3600.0, id="huge-capped"),
        pytest.param("nan", None, id="nan"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("", None, id="empty"),
        pytest.param("Wed, 04 Mar 2026 05:06:17 GMT", 10.0, id="http-date"),
    ],
)
def test_parse_retry_after(value: str, expected: float | None) -> None:
    """Retry-After is read as seconds or an HTTP date; junk is ignored."""
    assert parse_retry_after(value, START) == expected


def test_unreadable_task_is_moved_aside_and_the_rest_delivered(
    store: ObjectStore, receiver: Receiver
) -> None:
    """A corrupt task object is quarantined under dropped/ and does not block other tasks."""
    store.put(task_object_name("corrupt"), b"{not json")
    _queue(store).enqueue(Task(name="fine", body=b"{}"))
    dispatcher = _dispatcher(store, receiver)
    assert dispatcher.run_once() == 1
    dispatcher.close()
    assert [delivery.task_name for delivery in receiver.deliveries] == ["fine"]
    assert store.get_or_none(task_object_name("corrupt")) is None
    moved = store.get_or_none("queue/local/dropped/corrupt.json")
    assert moved is not None
    assert moved.data == b"{not json"


def test_a_delivery_over_the_dispatch_deadline_is_a_failed_attempt(store: ObjectStore) -> None:
    """A worker slower than the dispatch deadline counts as a failure and is retried later."""
    clock = FakeClock()
    with serve_receiver(lambda _p, _h, _b: Answer(delay=1.0)) as rx:
        queue = _queue(store, clock)
        queue.enqueue(Task(name="slow", body=b"{}"))
        dispatcher = _dispatcher(store, rx, clock, dispatch_deadline_ms=300)
        started = time.monotonic()
        dispatcher.run_once()
        waited = time.monotonic() - started
        dispatcher.close()
    record = queue.get("slow")
    assert record is not None
    assert waited < 0.9
    assert (record.attempts, record.last_status) == (1, None)
    assert record.last_error is not None
    assert "Timeout" in record.last_error


def test_serve_does_nothing_when_the_queue_is_cloud_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local stack's dispatcher service returns at once for a cloudtasks:// queue."""
    from shared import runtime
    from shared.queue.dispatcher import serve

    monkeypatch.setenv("OPSPLANE_QUEUE", "cloudtasks://projects/p/locations/l/queues/q")
    runtime.reset()
    assert serve(threading.Event()) is False
