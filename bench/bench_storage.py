"""Object store latency per backend, and the health function's cold start.

Per backend (memory, file, gcs on fake-gcs-server, s3 on moto), over 1,000
objects of ~256 bytes: the latency of each create-only put, of each get, and
of each listing page of 100 names, as p50 and p99 in milliseconds. The
emulators run on loopback, so gcs and s3 figures measure the client libraries
and the emulators, not the cloud. moto handles one request at a time (see
tests/servers.py), which makes it slower than real S3 under load.

Cold start: process start of ``functions-framework --target health`` to its
first 200 on /health, median of a few starts, with a bare functions-framework
function returning 200 as the baseline measured in the same run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.harness import Results, median, percentile, section
from shared.storage import ObjectStore, open_store

OBJECTS = 1000
LIST_PAGE = 100
LIST_ROUNDS = 5
COLD_STARTS = 5
PAYLOAD = b'{"status":"ok","job":"latency","attempts":1,"pad":"' + b"x" * 190 + b'"}'
REPO = Path(__file__).resolve().parent.parent

_BARE_FUNCTION = """
def bare(request):
    return "ok", 200
"""


def run(results: Results) -> None:
    for backend, opener in _backends():
        with section(f"storage: {backend}"), opener() as store:
            _measure_store(results, backend, store)
    with section("cold start: functions-framework to first 200"):
        _measure_cold_start(results)


def _backends() -> list[tuple[str, Callable[[], Iterator[ObjectStore]]]]:
    return [
        ("memory", _memory),
        ("file", _file),
        ("gcs", _gcs),
        ("s3", _s3),
    ]


@contextmanager
def _memory() -> Iterator[ObjectStore]:
    yield open_store(f"memory://bench-{os.getpid()}-{time.time_ns()}")


@contextmanager
def _file() -> Iterator[ObjectStore]:
    with tempfile.TemporaryDirectory(prefix="opsplane-bench-") as root:
        yield open_store(f"file://{root}")


@contextmanager
def _gcs() -> Iterator[ObjectStore]:
    from shared.storage.gcs import GCSStore
    from tests.servers import gcs_client, running, start_fake_gcs

    with running(start_fake_gcs()) as server:
        client = gcs_client(server.url)
        client.create_bucket("bench")
        yield GCSStore.from_url("gs://bench/run", client=client)


@contextmanager
def _s3() -> Iterator[ObjectStore]:
    from shared.storage.s3 import S3Store
    from tests.servers import running, s3_client, start_moto

    with running(start_moto()) as server:
        client = s3_client(server.url)
        client.create_bucket(Bucket="bench")
        yield S3Store.from_url("s3://bench/run", client=client)


def _measure_store(results: Results, backend: str, store: ObjectStore) -> None:
    names = [f"bench/obj-{i:05d}.json" for i in range(OBJECTS)]
    puts = _timed_each(names, lambda name: store.put(name, PAYLOAD, if_absent=True))
    gets = _timed_each(names, store.get)
    pages: list[float] = []
    for _ in range(LIST_ROUNDS):
        token: str | None = None
        while True:
            started = time.perf_counter()
            page = store.list_page("bench/", page_token=token, page_size=LIST_PAGE)
            pages.append((time.perf_counter() - started) * 1000)
            token = page.next_token
            if token is None:
                break
    for operation, samples in (("put", puts), ("get", gets), ("list", pages)):
        results.add(f"storage.{backend}.{operation}.p50_ms", percentile(samples, 50), "ms")
        results.add(f"storage.{backend}.{operation}.p99_ms", percentile(samples, 99), "ms")


def _timed_each(names: list[str], operation: Callable[[str], object]) -> list[float]:
    samples = []
    for name in names:
        started = time.perf_counter()
        operation(name)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _measure_cold_start(results: Results) -> None:
    from tests.servers import free_port

    executable = str(Path(sys.executable).parent / "functions-framework")
    env = {**os.environ, "OPSPLANE_STORE": "memory://bench"}
    with tempfile.TemporaryDirectory(prefix="opsplane-bare-") as bare_dir:
        bare_source = Path(bare_dir) / "main.py"
        bare_source.write_text(_BARE_FUNCTION)
        health: list[float] = []
        bare: list[float] = []
        for _ in range(COLD_STARTS):  # interleaved, so drift hits both alike
            health.append(
                _cold_start(
                    [executable, "--source", str(REPO / "functions" / "main.py")],
                    "health",
                    "/health",
                    free_port(),
                    env,
                )
            )
            bare_command = [executable, "--source", str(bare_source)]
            bare.append(_cold_start(bare_command, "bare", "/", free_port(), env))
    results.add("coldstart.health.median_ms", median(health), "ms", baseline=median(bare))
    results.add("coldstart.bare_function.median_ms", median(bare), "ms")


def _cold_start(
    command: list[str], target: str, path: str, port: int, env: dict[str, str]
) -> float:
    """Milliseconds from process start to the first 200 on ``path``."""
    argv = [*command, "--target", target, "--host", "127.0.0.1", "--port", str(port)]
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        url = f"http://127.0.0.1:{port}{path}"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"{target} exited with {process.returncode}: {stderr[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return (time.perf_counter() - started) * 1000
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.005)
        raise RuntimeError(f"{target} did not answer 200 within 60 s")
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
