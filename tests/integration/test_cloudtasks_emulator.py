"""The Cloud Tasks adapter against the real Cloud Tasks emulator (gcloud-tasks-emulator).

The emulator pins an old protobuf, so it runs from its own virtualenv
(``make tasks-emulator``) as a separate server process. Its command-line
entry point listens on every interface, so the tests start it through the
package's own ``create_server`` with the gRPC port bound to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared import runtime
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


# The real thing: the emulator delivers to execute_task under functions-framework.

API_TOKEN = "emulator-api-secret"
TASKS_TOKEN = "emulator-tasks-secret"
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}


@pytest.fixture
def execute_task_url(
    emulator_host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """execute_task served by functions-framework on loopback, sharing a file:// store."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "OPSPLANE_STORE": f"file://{tmp_path / 'store'}",
        "OPSPLANE_QUEUE": f"cloudtasks://{QUEUE_PATH}",
        "CLOUD_TASKS_EMULATOR_HOST": emulator_host,
        "TASKS_TARGET_BASE_URL": url,
        "TASKS_AUTH_TOKEN": TASKS_TOKEN,
        "OPSPLANE_API_TOKENS": f"tester={API_TOKEN}",
        "OPSPLANE_JOB_POLICIES": json.dumps(
            {"fail": {"max_retries": 2, "backoff": "linear", "base_delay_ms": 200}}
        ),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runtime.reset()
    served_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPSPLANE_", "TASKS_", "WORKER_"))
    }
    served_env.update(env)
    log_path = tmp_path / "execute_task.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "functions-framework"),
                "--source",
                str(REPO / "functions" / "main.py"),
                "--target",
                "execute_task",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=REPO,
            env=served_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_serving(f"{url}/tasks/health", process, log_path)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"execute_task exited:\n{log_path.read_text()}")
        try:
            answer = httpx.get(url, headers={"Authorization": f"Bearer {TASKS_TOKEN}"}, timeout=2)
            if answer.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"execute_task did not start:\n{log_path.read_text()}")


def test_emulator_delivers_runs_to_execute_task_and_they_complete(execute_task_url: str) -> None:
    """Runs submitted through the runs API reach their final state via the emulator.

    Sleep runs succeed in one attempt; a retryable failure is retried by tasks
    execute_task schedules through Cloud Tasks, three attempts in all, then FAILED.
    """
    from functions_framework import create_app

    api = create_app("runs", str(REPO / "functions" / "main.py")).test_client()
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    submitted = {}
    for _ in range(3):
        answer = api.post("/runs", json={"job_type": "sleep", "params": {"ms": 5}}, headers=auth)
        assert answer.status_code == 202, answer.get_data(as_text=True)
        submitted[answer.get_json()["run_id"]] = ("SUCCEEDED", 1)
    failing = api.post(
        "/runs",
        json={"job_type": "fail", "params": {"code": "temporary_failure", "retryable": True}},
        headers=auth,
    )
    assert failing.status_code == 202, failing.get_data(as_text=True)
    submitted[failing.get_json()["run_id"]] = ("FAILED", 3)

    deadline = time.monotonic() + 60
    final: dict[str, dict[str, object]] = {}
    while time.monotonic() < deadline and len(final) < len(submitted):
        for run_id in submitted.keys() - final.keys():
            view = api.get(f"/runs/{run_id}", headers=auth).get_json()
            if view["status"] in TERMINAL:
                final[run_id] = view
        time.sleep(0.1)
    assert final.keys() == submitted.keys(), f"runs still open: {submitted.keys() - final.keys()}"
    outcomes = {run_id: (view["status"], view["attempt_count"]) for run_id, view in final.items()}
    assert outcomes == submitted
