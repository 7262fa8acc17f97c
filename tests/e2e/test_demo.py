"""`opsplane demo` against a served local stack: the batch settles, report and triage follow."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port
from tests.stack_process import served_stack, stack_environment

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from shared.cli import main; raise SystemExit(main())"]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`python -m shared.localstack` on a free port with a store of its own."""
    settings = {"OPSPLANE_STORE": f"file://{tmp_path / 'store'}"}
    with served_stack(settings) as server:
        yield server.url, {**stack_environment(settings), "OPSPLANE_URL": server.url}


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
    env["OPSPLANE_URL"] = f"http://127.0.0.1:{free_port()}"
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
