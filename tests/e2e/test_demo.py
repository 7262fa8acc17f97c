"""`opsplane demo` against a served local stack: the batch settles, report and triage follow."""

from __future__ import annotations

import os
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
CLI = [sys.executable, "-c", "from shared.cli import main; raise SystemExit(main())"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`python -m shared.localstack` on a free port with a store of its own."""
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPSPLANE_")}
    env["OPSPLANE_STORE"] = f"file://{tmp_path / 'store'}"
    log = (tmp_path / "stack.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "shared.localstack", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail(f"the local stack did not start:\n{(tmp_path / 'stack.log').read_text()}")
        yield base_url, {**env, "OPSPLANE_URL": base_url}
    finally:
        process.kill()
        process.wait(timeout=10)
        log.close()


def test_demo_runs_the_batch_and_prints_report_and_triage(
    stack: tuple[str, dict[str, str]],
) -> None:
    """16 runs settle (12 succeeded, 3 failed, 1 waiting); the report and triage agree."""
    _, env = stack
    done = subprocess.run(
        [*CLI, "demo", "--timeout", "45"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "all 16 runs settled" in out
    assert "succeeded 12  failed  3  waiting approval 1" in out
    summary = out.split("## Summary", 1)[1].splitlines()[4]
    cells = [c.strip() for c in summary.strip("|").split("|")]
    assert cells[:6] == ["16", "80.0%", "3", "0", "4", "3"]
    assert "Dead letters are waiting" in out
    assert "**3** dead letters" in out
    assert "customer <n> has no billing address" in out


def test_demo_without_a_stack_says_how_to_start_one() -> None:
    """Nothing listening: exit 1 with a hint to run `make run`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSPLANE_")}
    env["OPSPLANE_URL"] = f"http://127.0.0.1:{_free_port()}"
    done = subprocess.run(
        [*CLI, "demo"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "make run" in done.stderr
