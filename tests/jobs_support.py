"""Shared helpers for the execution plane's tests: a recording queue and a plane."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.jobs import plane as jobs_plane
from shared.jobs.events import RecordingNotifier
from shared.jobs.plane import Plane
from shared.jobs.policy import load_policies
from shared.jobs.settings import WorkerSettings
from shared.queue.base import Task, TaskQueue
from shared.storage import ObjectStore
from shared.storage.memory import MemoryStore

API_TOKEN = "test-api-token"
TASKS_TOKEN = "test-tasks-token"


class RecordingQueue(TaskQueue):
    """Keeps enqueued tasks; a name enqueued twice is deduplicated like Cloud Tasks."""

    url = "recording://"

    def __init__(self) -> None:
        self.tasks: list[Task] = []
        self._names: set[str] = set()
        self._lock = threading.Lock()

    def enqueue(self, task: Task) -> bool:
        with self._lock:
            if task.name in self._names:
                return False
            self._names.add(task.name)
            self.tasks.append(task)
            return True

    def pop_all(self) -> list[Task]:
        with self._lock:
            tasks, self.tasks = self.tasks, []
            return tasks


def make_plane(
    store: ObjectStore | None = None,
    *,
    policies: str | None = None,
    **settings: Any,
) -> Plane:
    """A plane on a memory store with a recording queue and notifier."""
    return Plane(
        store=store or MemoryStore(),
        queue=RecordingQueue(),
        settings=WorkerSettings(**settings),
        policies=load_policies(policies),
        notifier=RecordingNotifier(),
    )


@contextmanager
def installed(plane: Plane) -> Iterator[Plane]:
    jobs_plane.install(plane)
    try:
        yield plane
    finally:
        jobs_plane.install(None)


class CountingTarget:
    """A loopback HTTP server the ``http`` job calls; counts requests per path.

    ``script[path]`` is a list of status codes answered in turn (the last one
    repeats); ``delay_s`` slows every answer so duplicates overlap.
    """

    def __init__(self, delay_s: float = 0.0) -> None:
        import http.server

        self.calls: Counter[str] = Counter()
        self.script: dict[str, list[int]] = {}
        self.delay_s = delay_s
        self._lock = threading.Lock()
        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self._answer()

            def _answer(self) -> None:
                with target._lock:
                    target.calls[self.path] += 1
                    count = target.calls[self.path]
                    statuses = target.script.get(self.path, [200])
                status = statuses[min(count, len(statuses)) - 1]
                time.sleep(target.delay_s)
                body = json.dumps({"call": count}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CountingTarget:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def served(app: Any) -> Iterator[str]:
    """Serve a WSGI app on a loopback port in a thread; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
