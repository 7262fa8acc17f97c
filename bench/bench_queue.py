"""The local queue: enqueue rate, dispatcher delivery rate and enqueue-to-delivery latency.

Deliveries go to a loopback HTTP server that answers 200; the baseline for
the delivery rate is the same server driven directly by the same number of
httpx threads, so the ratio is what leasing, bookkeeping and headers cost.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from bench.harness import Results, percentile
from shared.queue import QueueSettings, Task, open_queue
from shared.queue.dispatcher import Dispatcher
from shared.storage import ObjectStore, StoreMisconfigured, open_store

TASKS = 300
CONCURRENCY = 10


@contextmanager
def _receiver() -> Iterator[tuple[str, list[float]]]:
    arrivals: list[float] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                arrivals.append(time.monotonic())
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", arrivals
    finally:
        server.shutdown()
        server.server_close()


def _settings() -> QueueSettings:
    return QueueSettings(
        max_dispatches_per_second=100_000.0,
        max_concurrent_dispatches=CONCURRENCY,
        dispatch_deadline_ms=10_000,
    )


def _stores() -> Iterator[tuple[str, ObjectStore]]:
    yield "memory", open_store("memory://bench-queue")
    with tempfile.TemporaryDirectory(prefix="opsplane-bench-queue-") as root:
        try:
            store = open_store(f"file://{root}")
        except StoreMisconfigured as exc:
            print(f"  (file:// store unavailable, skipped: {exc})")
            return
        yield "file", store


def _bare_rate(url: str) -> float:
    with httpx.Client() as client:

        def post(index: int) -> None:
            client.post(f"{url}/tasks", content=b'{"i": %d}' % index)

        started = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(post, range(TASKS)))
        return TASKS / (time.perf_counter() - started)


def run(results: Results) -> None:
    with _receiver() as (url, arrivals):
        bare = _bare_rate(url)
        for label, store in _stores():
            queue = open_queue("local://", store, settings=_settings())
            started = time.perf_counter()
            for index in range(TASKS):
                queue.enqueue(Task(name=f"bench-{label}-{index}", body=b"{}"))
            results.add(
                f"queue: enqueue rate ({label}://)",
                TASKS / (time.perf_counter() - started),
                "tasks/s",
            )

            arrivals.clear()
            dispatcher = Dispatcher(store, url, _settings(), lease_margin=timedelta(0))
            started = time.perf_counter()
            delivered = 0
            while delivered < TASKS:
                delivered += dispatcher.run_once()
            elapsed = time.perf_counter() - started
            dispatcher.close()
            results.add(
                f"queue: dispatcher delivery rate ({label}://, {CONCURRENCY} concurrent)",
                TASKS / elapsed,
                "tasks/s",
                baseline=bare,
            )

            latencies = _latency(store, url, arrivals, label)
            results.add(
                f"queue: enqueue to delivery p50 ({label}://, 150 ms poll)",
                percentile(latencies, 50),
                "ms",
            )


def _latency(store: ObjectStore, url: str, arrivals: list[float], label: str) -> list[float]:
    queue = open_queue("local://", store, settings=_settings())
    stop = threading.Event()
    dispatcher = Dispatcher(store, url, _settings())
    loop = threading.Thread(target=dispatcher.run, args=(stop,))
    loop.start()
    samples = []
    try:
        for index in range(20):
            arrivals.clear()
            sent = time.monotonic()
            queue.enqueue(Task(name=f"latency-{label}-{index}", body=b"{}"))
            while not arrivals:
                time.sleep(0.001)
            samples.append((arrivals[0] - sent) * 1000)
            time.sleep(0.037)  # de-phase from the poll interval
    finally:
        stop.set()
        loop.join()
    return samples
