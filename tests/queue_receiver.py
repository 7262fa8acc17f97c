"""A loopback HTTP receiver for queue tests: records deliveries and answers as told."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Delivery:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    started: float
    finished: float

    @property
    def task_name(self) -> str:
        return self.headers.get("x-cloudtasks-taskname", "")


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok": true}'
    delay: float = 0.0


Responder = Callable[[str, dict[str, str], bytes], Answer]


class Receiver:
    """Thread-safe record of deliveries, with in-flight counters per receiver and per task."""

    def __init__(self, responder: Responder | None = None) -> None:
        self.responder: Responder = responder or (lambda _p, _h, _b: Answer())
        self.deliveries: list[Delivery] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.overlapping: list[str] = []  # task names delivered twice at the same time
        self._in_flight_names: set[str] = set()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.url = ""

    def _enter(self, name: str) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if name and name in self._in_flight_names:
                self.overlapping.append(name)
            self._in_flight_names.add(name)

    def _leave(self, name: str, delivery: Delivery) -> None:
        with self._changed:
            self.in_flight -= 1
            self._in_flight_names.discard(name)
            self.deliveries.append(delivery)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        """Block until ``count`` deliveries finished; returns them in finishing order."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.deliveries) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} deliveries, got {len(self.deliveries)}")
                self._changed.wait(left)
            return list(self.deliveries)


@contextmanager
def serve_receiver(responder: Responder | None = None) -> Iterator[Receiver]:
    """Serve a Receiver on 127.0.0.1 on a free port for the duration of the block."""
    receiver = Receiver(responder)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            started = time.monotonic()
            headers = {key.lower(): value for key, value in self.headers.items()}
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            name = headers.get("x-cloudtasks-taskname", "")
            receiver._enter(name)
            try:
                answer = receiver.responder(self.path, headers, body)
                if answer.delay:
                    time.sleep(answer.delay)
            finally:
                receiver._leave(name, Delivery(self.path, headers, body, started, time.monotonic()))
            self.send_response(answer.status)
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests assert on what they need."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, args=(0.02,), name="queue-receiver", daemon=True
    )
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
