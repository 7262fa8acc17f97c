"""The Cloud Tasks adapter against the real Cloud Tasks emulator (gcloud-tasks-emulator).

The emulator pins an old protobuf, so it runs from its own virtualenv
(``make tasks-emulator``) as a separate server process. Its command-line
entry point listens on every interface, so the tests start it through the
package's own ``create_server`` with the gRPC port bound to 127.0.0.1.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.queue import Task, open_queue
from shared.queue.cloudtasks import CloudTasksQueue
from tests.queue_receiver import Receiver, serve_receiver

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("cloudtasks-emulator")]

REPO = Path(__file__).resolve().parents[2]
EMULATOR_PYTHON = REPO / ".venv-tasks-emulator" / "bin" / "python"
QUEUE_PATH = "projects/opsplane-test/locations/local/queues/opsplane-tasks"

# Runs inside the emulator's virtualenv: the stock server, its API bound to loopback.
LAUNCHER = """
import sys
from concurrent import futures

import grpc
from gcloud_tasks_emulator import server as emulator


def serve_on_loopback(self):
    self._httpd = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    emulator.add_CloudTasksServicer_to_server(emulator.Greeter(self._state), self._httpd)
    self._httpd.add_insecure_port(f"127.0.0.1:{self._port}")
    self._httpd.start()


emulator.APIThread.run = serve_on_loopback
port, queue = int(sys.argv[1]), sys.argv[2]
emulator.create_server("127.0.0.1", port, "127.0.0.1", 9, [queue], 5).run()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def emulator_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running emulator with the test queue created; yields its host:port."""
    if not EMULATOR_PYTHON.exists():
        pytest.skip("the Cloud Tasks emulator's virtualenv is missing: run `make tasks-emulator`")
    import grpc

    port = _free_port()
    host = f"127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("cloudtasks-emulator") / "emulator.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(EMULATOR_PYTHON), "-c", LAUNCHER, str(port), QUEUE_PATH],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    channel = grpc.insecure_channel(host)
    try:
        grpc.channel_ready_future(channel).result(timeout=30)
    except grpc.FutureTimeoutError:
        process.kill()
        process.wait()
        pytest.fail(f"the Cloud Tasks emulator did not start:\n{log_path.read_text()}")
    finally:
        channel.close()
    yield host
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as served:
        yield served


@pytest.fixture
def queue(
    emulator_host: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CloudTasksQueue]:
    """The adapter as a deployment opens it, pointed at the emulator and the receiver."""
    monkeypatch.setenv("CLOUD_TASKS_EMULATOR_HOST", emulator_host)
    monkeypatch.setenv("TASKS_TARGET_BASE_URL", receiver.url)
    monkeypatch.setenv("TASKS_AUTH_TOKEN", "emulator-token")
    opened = open_queue(f"cloudtasks://{QUEUE_PATH}")
    assert isinstance(opened, CloudTasksQueue)
    yield opened
    opened.client.transport.close()


def test_emulator_delivers_the_task_to_the_worker(
    queue: CloudTasksQueue, receiver: Receiver
) -> None:
    """An enqueued task reaches the worker's /tasks with its body, name and bearer token."""
    assert queue.enqueue(Task(name="run-e1-a1", body=b'{"run_id": "e1", "attempt": 1}'))
    [delivery] = receiver.wait_for(1, timeout=15)
    assert delivery.path == "/tasks"
    assert delivery.body == b'{"run_id": "e1", "attempt": 1}'
    assert delivery.headers["x-cloudtasks-taskname"] == "run-e1-a1"
    assert delivery.headers["x-cloudtasks-queuename"].endswith("opsplane-tasks")
    assert delivery.headers["x-cloudtasks-taskretrycount"] == "0"
    assert delivery.headers["authorization"] == "Bearer emulator-token"
    assert delivery.headers["content-type"] == "application/json"


def test_emulator_holds_a_delayed_attempt_until_its_schedule_time(
    queue: CloudTasksQueue, receiver: Receiver
) -> None:
    """A task scheduled 1.5 s ahead is not delivered before then."""
    enqueued = time.monotonic()
    when = datetime.now(UTC) + timedelta(seconds=1.5)
    assert queue.enqueue(Task(name="run-e2-a2", body=b"{}", schedule_time=when))
    [delivery] = receiver.wait_for(1, timeout=15)
    assert delivery.started - enqueued >= 1.4
    assert delivery.headers["x-cloudtasks-taskname"] == "run-e2-a2"


def test_stats_count_tasks_waiting_in_a_paused_queue(
    queue: CloudTasksQueue, receiver: Receiver
) -> None:
    """stats() sees tasks the emulator holds, and none once they are delivered."""
    queue.client.pause_queue(name=QUEUE_PATH)
    try:
        later = datetime.now(UTC) + timedelta(hours=1)
        assert queue.enqueue(Task(name="run-e3-a1", body=b"{}"))
        assert queue.enqueue(Task(name="run-e4-a1", body=b"{}"))
        assert queue.enqueue(Task(name="run-e5-a1", body=b"{}", schedule_time=later))
        stats = queue.stats()
        assert (stats.pending, stats.due) == (3, 2)
        queue.client.purge_queue(name=QUEUE_PATH)
        assert queue.enqueue(Task(name="run-e6-a1", body=b"{}"))
    finally:
        queue.client.resume_queue(name=QUEUE_PATH)
    [delivery] = receiver.wait_for(1, timeout=15)
    assert delivery.headers["x-cloudtasks-taskname"] == "run-e6-a1"
    deadline = time.monotonic() + 5
    while queue.stats().pending and time.monotonic() < deadline:
        time.sleep(0.05)
    assert queue.stats().pending == 0
