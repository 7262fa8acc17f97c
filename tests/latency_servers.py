"""Loopback servers for the latency tests: scripted targets and a webhook receiver.

``ScriptedTarget`` answers every request after sleeping the next scripted
delay (then the default); ``WebhookReceiver`` verifies ``X-OBS-Signature``
on every post and answers with scripted statuses (then 200).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shared.webhooks import SIGNATURE_HEADER, verify


@dataclass
class ScriptedTarget:
    """A target whose latencies (ms) and status are set by the test."""

    default_ms: float = 1.0
    status: int = 200
    delays: deque[float] = field(default_factory=deque)
    hits: int = 0
    methods: list[str] = field(default_factory=list)
    gate: threading.Event | None = None  # when set by the test, requests wait for it
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, *delays_ms: float) -> None:
        with self.lock:
            self.delays.extend(delays_ms)

    def next_delay(self) -> float:
        with self.lock:
            self.hits += 1
            return self.delays.popleft() if self.delays else self.default_ms


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    signature_ok: bool

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Collects signed posts; ``responses`` are (status, headers) answered in order."""

    secret: str
    responses: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    url: str = ""

    @property
    def verified_payloads(self) -> list[Any]:
        return [r.payload for r in self.received if r.signature_ok]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out and hung up is part of the scripts


def _target_handler(target: ScriptedTarget) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            target.methods.append(self.command)
            if target.gate is not None:
                target.gate.wait(timeout=10)
            time.sleep(target.next_delay() / 1000)
            body = b'{"ok":true}'
            self.send_response(target.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_HEAD = _answer  # noqa: N815 - http.server's naming

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def _receiver_handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            ok = verify(body, headers.get(SIGNATURE_HEADER.lower()), receiver.secret)
            receiver.received.append(Received(body, headers, ok))
            status, extra = receiver.responses.popleft() if receiver.responses else (200, {})
            if not ok:
                status, extra = 401, {}
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def scripted_target(default_ms: float = 1.0, status: int = 200) -> Iterator[ScriptedTarget]:
    """A loopback target; its ``url`` is set while the block runs."""
    target = ScriptedTarget(default_ms=default_ms, status=status)
    with _serve(_target_handler(target)) as base:
        target.url = f"{base}/probe"
        yield target


@contextmanager
def webhook_receiver(secret: str) -> Iterator[WebhookReceiver]:
    """A loopback webhook receiver that checks every signature."""
    receiver = WebhookReceiver(secret)
    with _serve(_receiver_handler(receiver)) as base:
        receiver.url = f"{base}/hook"
        yield receiver
