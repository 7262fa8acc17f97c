"""`make run`'s server: every function at one base URL, stopped cleanly by Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPSPLANE_")}
    env["OPSPLANE_STORE"] = f"file://{tmp_path / 'store'}"
    process = subprocess.Popen(
        [sys.executable, "-m", "shared.localstack", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail(f"the local stack did not start:\n{process.communicate()[0]}")
    yield process, base_url
    if process.poll() is None:
        process.kill()
        process.communicate()
    elif process.stdout is not None:
        process.stdout.close()


def test_health_and_readiness_answer_on_one_base_url(stack) -> None:
    """/health and /health/test (a real store round trip) answer 200."""
    _, base_url = stack
    assert httpx.get(f"{base_url}/health").json()["status"] == "ok"
    readiness = httpx.get(f"{base_url}/health/test")
    assert readiness.status_code == 200, readiness.text
    assert readiness.json()["store"] == "file://"


def test_unknown_paths_list_the_endpoints(stack) -> None:
    """A path no function owns gets a JSON 404 naming what is served."""
    _, base_url = stack
    response = httpx.get(f"{base_url}/nowhere")
    assert response.status_code == 404
    assert "/health" in response.json()["endpoints"]


def test_ctrl_c_stops_cleanly(stack) -> None:
    """SIGINT ends the process with status 0 after printing the endpoint table."""
    process, base_url = stack
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert f"{base_url}/health" in output
    assert "stopped" in output
