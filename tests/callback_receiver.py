"""A scripted loopback HTTP receiver for callback senders.

    with ScriptedReceiver([(503, {}), (200, {})]) as receiver:
        ...POST to receiver.url...
        receiver.requests  # [(path, headers, body), ...]

Each request is answered with the next ``(status, headers)`` of the script
(the last entry repeats); ``delay_s`` holds every answer back (timeouts).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ScriptedReceiver:
    def __init__(
        self, script: list[tuple[int, dict[str, str]]] | None = None, *, delay_s: float = 0.0
    ) -> None:
        self.script = list(script or [(200, {})])
        self.delay_s = delay_s
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/callbacks"

    def _next(self) -> tuple[int, dict[str, str]]:
        with self._lock:
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with owner._lock:
                    owner.requests.append((self.path, dict(self.headers.items()), body))
                if owner.delay_s:
                    threading.Event().wait(owner.delay_s)
                status, headers = owner._next()
                payload = b'{"ok": true}'
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> ScriptedReceiver:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
