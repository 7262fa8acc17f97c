"""Execution plane: no-op runs/s through execute_task, store ops per run, cold start.

* Throughput: no-op runs delivered to ``POST /tasks`` of execute_task served by
  functions-framework on loopback with the file:// store, against a bare
  functions-framework handler returning 200, same client, same concurrency.
* Store operations per successful run (submit included), counted by an
  instrumented store around the file backend.
* Cold start: process start to the first 200 (a real delivery for
  execute_task), against the bare function.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.harness import Results, median, section

REPO = Path(__file__).resolve().parent.parent
TOKEN = "bench-tasks-token"  # noqa: S105 - a benchmark-only token
RUNS = 600
CONCURRENCY = 8
COLD_STARTS = 5
# Where a tmpfs is mounted: the same file store without the disk's fsync latency.
TMPFS = Path("/dev/shm")
BARE_SOURCE = """
def bare(request):
    return "ok"
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """A functions-framework process (its own process group, so kill takes its workers)."""

    def __init__(self, source: str, target: str, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "functions_framework",
                "--source",
                source,
                "--target",
                target,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def first_ok(self, request: Callable[[], httpx.Response], timeout: float = 60) -> float:
        """Milliseconds from process start to the first 200 of ``request``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if request().status_code == 200:
                    return (time.perf_counter() - self.started) * 1000
            except httpx.TransportError:
                time.sleep(0.005)
        raise RuntimeError(f"{self.url} never answered 200")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _env(store_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSPLANE_", "WORKER_"))}
    env.update(
        OPSPLANE_STORE=store_url,
        OPSPLANE_QUEUE="local://",
        OPSPLANE_LOG_LEVEL="WARNING",
        TASKS_AUTH_TOKEN=TOKEN,
        WORKER_MAX_CONCURRENT_TASKS="64",
    )
    return env


def _submit_noops(store_url: str, count: int) -> list[bytes]:
    """Create ``count`` no-op runs in the store; the task bodies that deliver them."""
    from shared.jobs import service
    from shared.jobs.plane import Plane
    from shared.jobs.service import Submission
    from shared.queue.base import Task, TaskQueue
    from shared.storage import open_store

    bodies: list[bytes] = []

    class Collect(TaskQueue):
        url = "collect://"

        def enqueue(self, task: Task) -> bool:
            bodies.append(task.body)
            return True

    plane = Plane(store=open_store(store_url), queue=Collect())
    for _ in range(count):
        service.submit(plane, Submission("noop", {}), "bench")
    return bodies


def _rate(send: Callable[[httpx.Client, bytes], httpx.Response], bodies: list[bytes]) -> float:
    with httpx.Client(timeout=30) as client:
        send(client, bodies[0])  # warm the connection path
        started = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            statuses = list(pool.map(lambda body: send(client, body).status_code, bodies[1:]))
        elapsed = time.perf_counter() - started
    bad = Counter(status for status in statuses if status != 200)
    if bad:
        raise RuntimeError(f"non-200 answers: {dict(bad)}")
    return (len(bodies) - 1) / elapsed


def _throughput(results: Results, workdir: Path, bare_source: Path, label: str) -> None:
    store_url = f"file://{workdir / 'throughput'}"
    bodies = _submit_noops(store_url, RUNS)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    worker = Served("functions/main.py", "execute_task", _env(store_url))
    bare = Served(str(bare_source), "bare", _env(store_url))
    try:
        worker.first_ok(lambda: httpx.get(f"{worker.url}/tasks/health", headers=headers))
        bare.first_ok(lambda: httpx.get(bare.url))
        bare_rate = _rate(lambda c, b: c.post(bare.url, content=b, headers=headers), bodies)
        rate = _rate(lambda c, b: c.post(f"{worker.url}/tasks", content=b, headers=headers), bodies)
    finally:
        worker.stop()
        bare.stop()
    results.add(
        f"execute_task no-op runs/s ({label}, {CONCURRENCY} clients)",
        rate,
        "runs/s",
        baseline=bare_rate,
    )


def _store_ops(results: Results, workdir: Path) -> None:
    from shared.jobs import service
    from shared.jobs.executor import Executor
    from shared.jobs.plane import Plane
    from shared.jobs.service import Submission
    from shared.jobs.tasks import TaskBody
    from shared.queue.base import Task, TaskQueue
    from shared.storage import open_store
    from shared.storage.counting import CountingStore

    tasks: list[Task] = []

    class Collect(TaskQueue):
        url = "collect://"

        def enqueue(self, task: Task) -> bool:
            tasks.append(task)
            return True

    store = CountingStore(open_store(f"file://{workdir / 'ops'}"))
    plane = Plane(store=store, queue=Collect())
    count = 100
    for _ in range(count):
        service.submit(plane, Submission("noop", {}), "bench")
        body = TaskBody.parse(json.loads(tasks.pop().body))
        Executor(plane).execute(body.run_id, body.attempt)
    writes = (store.ops["put"] + store.ops["delete"]) / count
    results.add("store writes per successful run (submit + execute)", writes, "writes")
    results.add("store reads per successful run", store.ops["get"] / count, "reads")
    results.add(
        "store listings per run (queue-depth cache, amortized)", store.ops["list"] / count, "lists"
    )


def _cold_start(results: Results, workdir: Path, bare_source: Path) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    worker_ms: list[float] = []
    alone_ms: list[float] = []
    bare_ms: list[float] = []

    def cold(source: str, target: str, store_url: str, into: list[float]) -> None:
        body = _submit_noops(store_url, 1)[0]
        worker = Served(source, target, _env(store_url))
        try:
            url = f"{worker.url}/tasks"
            into.append(worker.first_ok(lambda: httpx.post(url, content=body, headers=headers)))
        finally:
            worker.stop()

    def cold_worker(store_url: str) -> None:
        # As deployed: functions/main.py, which imports every function module.
        cold("functions/main.py", "execute_task", store_url, worker_ms)

    def cold_alone(store_url: str) -> None:
        # The function's own module as the source: what execute_task itself costs.
        cold("functions/execute_task.py", "execute_task_function", store_url + "-alone", alone_ms)

    def cold_bare(store_url: str) -> None:
        bare = Served(str(bare_source), "bare", _env(store_url))
        try:
            bare_ms.append(bare.first_ok(lambda: httpx.get(bare.url)))
        finally:
            bare.stop()

    # Interleaved, alternating which goes first, so background load hits both alike.
    for index in range(COLD_STARTS):
        store_url = f"file://{workdir / f'cold-{index}'}"
        order = (cold_worker, cold_alone, cold_bare)
        if index % 2:
            order = order[::-1]
        for measure in order:
            measure(store_url)
    results.add(
        "execute_task cold start (process start -> first 200 delivery)",
        median(worker_ms),
        "ms",
        baseline=median(bare_ms),
    )
    results.add(
        "execute_task cold start minus bare function", median(worker_ms) - median(bare_ms), "ms"
    )
    results.add(
        "execute_task cold start, own module as source",
        median(alone_ms),
        "ms",
        baseline=median(bare_ms),
    )
    results.add(
        "execute_task (own module) cold start minus bare function",
        median(alone_ms) - median(bare_ms),
        "ms",
    )


def run(results: Results) -> None:
    with section("execution plane"), tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        bare_source = workdir / "bare_main.py"
        bare_source.write_text(BARE_SOURCE)
        _store_ops(results, workdir)
        _throughput(results, workdir, bare_source, "file store on disk")
        if TMPFS.is_dir():
            with tempfile.TemporaryDirectory(dir=TMPFS) as shm:
                _throughput(results, Path(shm), bare_source, "file store on tmpfs")
        _cold_start(results, workdir, bare_source)
