"""The local stack (``python -m shared.localstack``) as a child process with known tokens.

Shared by the fuzz, load and fault tests: a tmp ``file://`` store (or any
store URL), one token valid both as an API token and as the tasks token, and
callbacks pointed back at the stack itself, so every endpoint is reachable.
"""

from __future__ import annotations

import json
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

REPO = Path(__file__).resolve().parents[2]
TOKEN = "fuzz-token-0123456789"  # one token for both caller kinds, so one header reaches all
AUTH = {"Authorization": f"Bearer {TOKEN}"}
_DROPPED = ("OPSPLANE_", "WORKER_", "TASKS_", "GITHUB_", "STORAGE_EMULATOR_HOST")


def stack_environment(store_url: str, port: int, extra: Mapping[str, str]) -> dict[str, str]:
    """The child's environment: the parent's minus opsplane settings, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED)}
    env.update(
        {
            "OPSPLANE_STORE": store_url,
            "OPSPLANE_QUEUE": "local://",
            "OPSPLANE_API_TOKENS": f"fuzz={TOKEN}",
            "TASKS_AUTH_TOKEN": TOKEN,
            "WORKER_CALLBACK_URL": f"http://127.0.0.1:{port}/callbacks",
            "WORKER_CALLBACK_SIGNING_SECRET": "fuzz-callback-secret",
            "OPSPLANE_LOG_LEVEL": "WARNING",
            "OPSPLANE_LATENCY_CONFIG": json.dumps(
                {
                    "targets": [
                        {
                            "name": "stack-health",
                            "url": f"http://127.0.0.1:{port}/health",
                            "samples": 1,
                            "slo_p95_ms": 1000,
                            "source": "stack",
                        }
                    ]
                }
            ),
        }
    )
    env.update(extra)
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
    output = server.output()
    server.stop()
    raise RuntimeError(f"the local stack did not answer within {timeout:.0f} s: {output}")


@contextmanager
def local_stack(
    store_url: str, extra_env: Mapping[str, str] | None = None
) -> Iterator[RunningServer]:
    """Serve the local stack on a free port until the block ends (SIGTERM, then kill)."""
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - owned by RunningServer, closed in stop()
    process = subprocess.Popen(
        [sys.executable, "-m", "shared.localstack", "--port", str(port)],
        cwd=REPO,
        env=stack_environment(store_url, port, extra_env or {}),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = RunningServer("local stack", f"http://127.0.0.1:{port}", process, log)
    try:
        wait_until_healthy(server)
        yield server
    finally:
        server.stop()
