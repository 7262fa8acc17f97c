"""kill -9 of execute_task mid-run: the run is reclaimed after its lease and finishes once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from shared.jobs import service
from shared.jobs.models import AttemptOutcome, RunStatus
from shared.jobs.service import Submission
from shared.jobs.store import RunStore
from shared.jobs.tasks import TaskBody
from shared.storage import open_store
from tests.jobs_support import TASKS_TOKEN, make_plane

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": f"Bearer {TASKS_TOKEN}", "Content-Type": "application/json"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Worker:
    """execute_task served by functions-framework in its own process."""

    def __init__(self, store_url: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSPLANE_", "WORKER_"))}
        env.update(
            OPSPLANE_STORE=store_url,
            OPSPLANE_QUEUE="local://",
            TASKS_AUTH_TOKEN=TASKS_TOKEN,
            WORKER_LEASE_MS="1500",
            WORKER_HEARTBEAT_MS="300",
        )
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "functions_framework",
                "--source",
                "functions/main.py",
                "--target",
                "execute_task",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own process group: the server may fork workers, and kill -9 must take them all.
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"{self.url}/tasks/health", headers=AUTH, timeout=1)
                if health.status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        pytest.fail("execute_task did not start")

    def deliver(self, body: bytes, timeout: float = 30) -> httpx.Response:
        return httpx.post(f"{self.url}/tasks", content=body, headers=AUTH, timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"file://{tmp_path / 'store'}"


def test_a_killed_worker_s_run_is_reclaimed_after_its_lease_and_finishes_once(
    store_url: str,
) -> None:
    """SIGKILL mid-attempt; a redelivery waits out the lease, then reclaims and succeeds."""
    store = open_store(store_url)
    plane = make_plane(store)
    run_id = service.submit(plane, Submission("sleep", {"ms": 1500}), "tester")[0].run_id
    body = TaskBody(run_id, 1).encode()
    runs = RunStore(store)

    first = Worker(store_url)
    try:
        # The delivery's connection dies with the process; deliver it in the background.
        pending = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, httpx; httpx.post(sys.argv[1], content=sys.argv[2],"
                " headers={'Authorization': 'Bearer ' + sys.argv[3],"
                " 'Content-Type': 'application/json'}, timeout=30)",
                f"{first.url}/tasks",
                body.decode(),
                TASKS_TOKEN,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while runs.get(run_id).run.status is not RunStatus.RUNNING:
            assert time.monotonic() < deadline, "the attempt never started"
            time.sleep(0.02)
        first.stop()
        pending.wait(timeout=30)
    finally:
        first.stop()
    assert runs.get(run_id).run.status is RunStatus.RUNNING  # nobody finished it

    second = Worker(store_url)
    try:
        # The queue retries; while the dead worker's lease holds, the answer is 429 + Retry-After.
        done = second.deliver(body)
        while done.status_code == 429:
            assert done.json()["error"] == "run_in_progress"
            assert 1 <= int(done.headers["Retry-After"]) <= 2
            assert runs.get(run_id).run.status is RunStatus.RUNNING
            time.sleep(float(done.headers["Retry-After"]))
            done = second.deliver(body)
        assert done.status_code == 200
        assert done.json()["status"] == "SUCCEEDED"
        again = second.deliver(body)
        assert again.json()["action"] == "finished"
    finally:
        second.stop()
    run = runs.get(run_id).run
    assert run.status is RunStatus.SUCCEEDED
    assert [a.outcome for a in run.attempts] == [
        AttemptOutcome.LEASE_EXPIRED,
        AttemptOutcome.SUCCEEDED,
    ]
    assert run.finished_at is not None
