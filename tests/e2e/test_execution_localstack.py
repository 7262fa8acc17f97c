"""200 runs through the local stack: API -> local queue -> dispatcher -> execute_task.

Successes, retryable failures that later succeed, permanent failures, exhausted
retries and timeouts all reach their final state with exactly the attempts
their policy allows; the failures sit in the dead-letter store, redacted.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.jobs.deadletters import read_dead_letter
from shared.storage import open_store
from tests.stack_process import served_stack

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": "Bearer e2e-token"}
SECRET = "ghp_" + "x" * 36
POLICIES = {
    "fail": {"max_retries": 3, "backoff": "linear", "base_delay_ms": 20, "jitter": 0.5},
    "sleep": {"max_retries": 1, "backoff": "immediate"},
}
# (job type, params, final status, attempts, dead letter, how many)
MIX: list[tuple[str, dict[str, Any], str, int, bool, int]] = [
    ("noop", {}, "SUCCEEDED", 1, False, 80),
    ("fail", {"code": "temporary_failure", "succeed_on_attempt": 3}, "SUCCEEDED", 3, False, 40),
    (
        "fail",
        {"code": "bad_request", "retryable": False, "message": f"refused {SECRET}"},
        "FAILED",
        1,
        True,
        40,
    ),
    ("fail", {"code": "rate_limit"}, "FAILED", 4, True, 20),
    ("sleep", {"ms": 5000}, "FAILED", 2, True, 20),
]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[str, str]]:
    store_url = f"file://{tmp_path / 'store'}"
    settings = {
        "OPSPLANE_STORE": store_url,
        "OPSPLANE_API_TOKENS": "e2e=e2e-token",
        "OPSPLANE_JOB_POLICIES": json.dumps(POLICIES),
        "OPSPLANE_LOG_LEVEL": "WARNING",
        "WORKER_TASK_TIMEOUT_MS": "200",
        "WORKER_MAX_CONCURRENT_TASKS": "32",
        "TASKS_MAX_DISPATCHES_PER_SECOND": "500",
        "TASKS_MAX_CONCURRENT_DISPATCHES": "16",
        "TASKS_MIN_BACKOFF_MS": "100",
        "TASKS_MAX_BACKOFF_MS": "1000",
    }
    with served_stack(settings) as server:
        yield server.url, store_url


def _all_runs(client: httpx.Client) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        page = client.get("/runs", params=params).json()
        runs.extend(page["runs"])
        cursor = page["next_cursor"]
        if not cursor:
            return runs


def test_two_hundred_mixed_runs_reach_their_final_state_per_policy(
    stack: tuple[str, str],
) -> None:
    """Every run ends as its policy says, with the exact attempt count, failures dead-lettered."""
    base_url, store_url = stack
    expected: dict[str, tuple[str, int, bool]] = {}
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=30) as client:
        for job_type, params, status, attempts, dead, count in MIX:
            for _ in range(count):
                response = client.post("/runs", json={"job_type": job_type, "params": params})
                assert response.status_code == 202, response.text
                expected[response.json()["run_id"]] = (status, attempts, dead)
        assert len(expected) == 200
        deadline = time.monotonic() + 60
        while True:
            runs = {run["run_id"]: run for run in _all_runs(client)}
            unfinished = [r for r in runs.values() if r["status"] not in ("SUCCEEDED", "FAILED")]
            if not unfinished:
                break
            assert time.monotonic() < deadline, f"{len(unfinished)} runs never finished"
            time.sleep(0.5)
        # A run's final state is written just before its delivery returns, so the
        # last delivery may still be on its way out: in flight drains to zero.
        drain_deadline = time.monotonic() + 15
        while (stats := client.get("/tasks/health").json())["in_flight"]:
            assert time.monotonic() < drain_deadline, stats
            time.sleep(0.2)
    store = open_store(store_url)
    outcomes: Counter[str] = Counter()
    for run_id, (status, attempts, dead) in expected.items():
        run = runs[run_id]
        assert (run["status"], run["attempt_count"]) == (status, attempts), run
        letter = read_dead_letter(store, run_id)
        assert (letter is not None) is dead
        if letter is not None:
            assert SECRET not in json.dumps(letter)
            assert letter["error_code"] == run["error_code"]
            assert len(letter["attempts"]) == attempts
        outcomes[run["status"]] += 1
    assert outcomes == {"SUCCEEDED": 120, "FAILED": 80}
    assert {r["error_code"] for r in runs.values() if r["job_type"] == "sleep"} == {"timeout"}
    assert stats["in_flight"] == 0
