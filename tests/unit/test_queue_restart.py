"""A dispatcher process killed mid-delivery loses no task: the next one finishes the work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.queue import QueueSettings, Task, open_queue
from shared.queue.local import LocalQueue
from shared.storage import open_store
from tests.queue_receiver import Answer, Receiver, serve_receiver

pytestmark = pytest.mark.integration

VICTIM = "victim-a1"


def _start_dispatcher(store_url: str, base_url: str, log: Path) -> subprocess.Popen[bytes]:
    """``python -m shared.queue.dispatcher`` as the local stack would run it."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPSPLANE_")}
    env.update(
        {
            "OPSPLANE_STORE": store_url,
            "OPSPLANE_QUEUE": "local://",
            "OPSPLANE_BASE_URL": base_url,
            "TASKS_DISPATCH_DEADLINE_MS": "1000",
            "TASKS_MAX_CONCURRENT_DISPATCHES": "3",
            "TASKS_MAX_DISPATCHES_PER_SECOND": "200",
            "TASKS_MIN_BACKOFF_MS": "100",
        }
    )
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "shared.queue.dispatcher"], env=env, stdout=out, stderr=out
        )


@pytest.fixture
def hanging_receiver() -> Iterator[tuple[Receiver, threading.Event, threading.Event]]:
    """The victim's first delivery hangs until released; everything else answers 200."""
    victim_in_flight = threading.Event()
    release = threading.Event()
    first_victim = threading.Lock()

    def respond(_path: str, headers: dict[str, str], _body: bytes) -> Answer:
        if headers.get("x-cloudtasks-taskname") == VICTIM and first_victim.acquire(blocking=False):
            victim_in_flight.set()
            release.wait(15)
        return Answer(200)

    with serve_receiver(respond) as receiver:
        yield receiver, victim_in_flight, release
        release.set()


def test_kill_9_mid_delivery_then_restart_delivers_everything(
    tmp_path: Path, hanging_receiver: tuple[Receiver, threading.Event, threading.Event]
) -> None:
    """After kill -9, a new dispatcher delivers the rest, and the victim once its lease expires."""
    receiver, victim_in_flight, release = hanging_receiver
    store_url = f"file://{tmp_path / 'store'}"
    store = open_store(store_url)
    queue = open_queue("local://", store, settings=QueueSettings())
    assert isinstance(queue, LocalQueue)
    names = [VICTIM] + [f"other-{index}" for index in range(12)]
    for name in names:
        queue.enqueue(Task(name=name, body=b'{"n": 1}'))

    log = tmp_path / "dispatchers.log"
    first = _start_dispatcher(store_url, receiver.url, log)
    try:
        assert victim_in_flight.wait(20), log.read_text()
        deadline = time.monotonic() + 20
        while queue.stats().pending > 1 and time.monotonic() < deadline:
            time.sleep(0.02)  # the others finish, so only the victim is mid-delivery
        assert queue.stats().pending == 1
        leased = queue.get(VICTIM)
        assert leased is not None
        assert leased.lease_holder is not None
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.monotonic()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    release.set()

    second = _start_dispatcher(store_url, receiver.url, log)
    try:
        deadline = time.monotonic() + 30
        while (queue.stats().pending or not _delivered_twice(receiver, VICTIM)) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.05)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=15) == 0, log.read_text()

    delivered = [delivery.task_name for delivery in receiver.deliveries]
    assert set(delivered) == set(names), log.read_text()
    # Only the victim is delivered twice: once to the dead dispatcher, once after its lease.
    assert sorted(name for name in set(delivered) if delivered.count(name) > 1) == [VICTIM]
    second_victim = [d for d in receiver.deliveries if d.task_name == VICTIM][-1]
    # The lease is the 1 s deadline plus a 1 s margin, taken just before the kill.
    assert second_victim.started - killed_at >= 1.5, "taken over before the lease expired"
    assert queue.stats().as_dict() == {"pending": 0, "leased": 0, "due": 0, "dropped": 0}


def _delivered_twice(receiver: Receiver, name: str) -> bool:
    return [delivery.task_name for delivery in receiver.deliveries].count(name) >= 2
