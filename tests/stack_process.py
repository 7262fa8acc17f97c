"""The local stack (``python -m shared.localstack``) as a child process for tests.

The child gets the parent's environment minus every opsplane setting, plus the
test's own, serves on a free loopback port, and is stopped (SIGTERM, then
kill) when the block ends, however the test went.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.servers import RunningServer, free_port

REPO = Path(__file__).resolve().parents[1]
_DROPPED = ("OPSPLANE_", "WORKER_", "TASKS_", "GITHUB_", "STORAGE_EMULATOR_HOST")


def stack_environment(settings: Mapping[str, str]) -> dict[str, str]:
    """The child's environment: the parent's minus opsplane settings, plus ``settings``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_DROPPED)}
    env.update(settings)
    return env


def wait_until_healthy(server: RunningServer, timeout: float = 30.0) -> None:
    """Block until GET /health answers 200; RuntimeError with the output otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the local stack exited: {server.output()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the local stack did not answer within {timeout:.0f} s: {server.output()}")


@contextmanager
def served_stack(
    settings: Mapping[str, str], *, port: int | None = None
) -> Iterator[RunningServer]:
    """Serve the local stack with ``settings`` until the block ends."""
    port = port or free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - owned by RunningServer, closed in stop()
    process = subprocess.Popen(
        [sys.executable, "-m", "shared.localstack", "--port", str(port)],
        cwd=REPO,
        env=stack_environment(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = RunningServer("local stack", f"http://127.0.0.1:{port}", process, log)
    try:
        wait_until_healthy(server)
        yield server
    finally:
        server.stop()
