"""A burst of 10,000 submissions against WORKER_MAX_QUEUE_SIZE: 429s, and no lost or doubled run.

Eight threads post through functions-framework's test client (in process, on
a memory store with the local:// queue and no dispatcher, so nothing drains).
Each submission carries its own Idempotency-Key. Admission stops at the
limit; every refusal is a 429 with Retry-After and writes nothing; every
acceptance is exactly one stored run with one queued task; and re-sending
every accepted key returns the same run without creating another.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from functions_framework import create_app

from shared import runtime
from shared.jobs.store import IDEMPOTENCY_PREFIX, RUNS_PREFIX
from shared.queue.local import TASKS_PREFIX

pytestmark = pytest.mark.slow

TOTAL = 10_000
THREADS = 8
LIMIT = 300
TOKEN = "burst-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def runs_client(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("OPSPLANE_API_TOKENS", f"burst={TOKEN}")
    monkeypatch.setenv("OPSPLANE_QUEUE", "local://")
    monkeypatch.setenv("WORKER_MAX_QUEUE_SIZE", str(LIMIT))
    monkeypatch.setenv("OPSPLANE_LOG_LEVEL", "ERROR")
    return create_app("runs", "functions/main.py").test_client()  # type: ignore[no-untyped-call]


def test_burst_sheds_with_429_and_loses_or_doubles_nothing(runs_client: Any) -> None:
    """10,000 concurrent submissions: LIMIT (+ racing threads) accepted, the rest 429."""
    keys = [uuid.uuid4().hex for _ in range(TOTAL)]
    statuses: Counter[int] = Counter()
    accepted: dict[str, str] = {}
    refused_without_retry_after = 0
    lock = threading.Lock()

    def submit(chunk: list[str]) -> None:
        nonlocal refused_without_retry_after
        for key in chunk:
            response = runs_client.post(
                "/runs", json={"job_type": "noop"}, headers={**AUTH, "Idempotency-Key": key}
            )
            with lock:
                statuses[response.status_code] += 1
                if response.status_code == 202:
                    accepted[key] = response.get_json()["run_id"]
                elif response.status_code == 429:
                    body = response.get_json()
                    assert body["error"] == "queue_full", body
                    if not response.headers.get("Retry-After"):
                        refused_without_retry_after += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=submit, args=(keys[i::THREADS],)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started

    assert set(statuses) <= {202, 429}, statuses
    assert statuses[202] + statuses[429] == TOTAL
    # The admission check and the create are not one atomic step: each racing thread
    # may slip one run past the limit, never more.
    assert LIMIT <= statuses[202] <= LIMIT + THREADS, statuses
    assert refused_without_retry_after == 0

    store = runtime.store()
    stored_runs = [info.name for info in store.list(RUNS_PREFIX)]
    tasks = [info.name for info in store.list(TASKS_PREFIX)]
    claimed_keys = [info.name for info in store.list(IDEMPOTENCY_PREFIX)]
    assert len(set(accepted.values())) == len(accepted), "two submissions share a run"
    assert len(stored_runs) == len(accepted), "a refused submission left a run behind"
    assert len(tasks) == len(accepted), "an accepted run has no task, or one has two"
    assert len(claimed_keys) == len(accepted), "a refused submission claimed its key"

    # Re-sending every accepted key answers the same run and creates nothing.
    for key, run_id in list(accepted.items())[:100]:
        again = runs_client.post(
            "/runs", json={"job_type": "noop"}, headers={**AUTH, "Idempotency-Key": key}
        )
        assert again.status_code in (200, 429), again.get_json()
        if again.status_code == 200:
            assert again.get_json()["run_id"] == run_id
    assert sum(1 for _ in store.list(RUNS_PREFIX)) == len(accepted)
    print(f"\nburst: {TOTAL} in {elapsed:.1f}s ({TOTAL / elapsed:.0f}/s), {dict(statuses)}")
