"""`make run`'s server: every function at one base URL, stopped cleanly by Ctrl-C."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import RunningServer
from tests.stack_process import served_stack

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[RunningServer]:
    with served_stack({"OPSPLANE_STORE": f"file://{tmp_path / 'store'}"}) as server:
        yield server


def test_health_and_readiness_answer_on_one_base_url(stack) -> None:
    """/health and /health/test (a real store round trip) answer 200."""
    base_url = stack.url
    assert httpx.get(f"{base_url}/health").json()["status"] == "ok"
    readiness = httpx.get(f"{base_url}/health/test")
    assert readiness.status_code == 200, readiness.text
    assert readiness.json()["store"] == "file://"


def test_unknown_paths_list_the_endpoints(stack) -> None:
    """A path no function owns gets a JSON 404 naming what is served."""
    response = httpx.get(f"{stack.url}/nowhere")
    assert response.status_code == 404
    assert "/health" in response.json()["endpoints"]


def test_ctrl_c_stops_cleanly(stack) -> None:
    """SIGINT ends the process with status 0 after printing the endpoint table."""
    stack.process.send_signal(signal.SIGINT)
    stack.process.wait(timeout=20)
    output = stack.output()
    assert stack.process.returncode == 0, output
    assert f"{stack.url}/health" in output
    assert "stopped" in output
