"""The GCS emulator stopped and restarted under a running local stack.

The stack runs on a gs:// store served by fake-gcs-server (filesystem backend,
so a restart keeps the bucket). Clients keep submitting runs, each under its
own Idempotency-Key, retrying on 429/503 as a client should. While the
emulator is down requests fail with a retryable status (503 + Retry-After,
JSON); once it is back every submission ends as exactly one run, every run
finishes, and every run object in the bucket is a whole, readable record.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.jobs.store import RunStore
from shared.storage import open_store
from tests.fuzz.stack import AUTH, local_stack
from tests.servers import RunningServer, _start, fake_gcs_binary, free_port, gcs_client

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("gcs-outage")]

BUCKET = "outage"


def start_emulator(port: int, root: Path) -> RunningServer:
    url = f"http://127.0.0.1:{port}"
    argv = [
        fake_gcs_binary(),
        "-scheme", "http",
        "-backend", "filesystem",
        "-filesystem-root", str(root),
        "-host", "127.0.0.1",
        "-port", str(port),
        "-external-url", url,
        "-log-level", "error",
    ]  # fmt: skip
    return _start("fake-gcs-server", argv, url, "/storage/v1/b", 15.0)


class Emulator:
    """fake-gcs-server on a fixed port and directory, so it can come back as it was."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.root = root
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: RunningServer | None = None

    def start(self) -> None:
        self.server = start_emulator(self.port, self.root)
        if (self.root / f"{BUCKET}.bucketMetadata").exists():
            # A restart reloads buckets from disk; wait until ours is served again.
            # On a loaded machine the reload can take a while; fail here, not later.
            client = gcs_client(self.url)
            deadline = time.monotonic() + 45
            while not client.bucket(BUCKET).exists():
                assert time.monotonic() < deadline, "the restarted emulator lost the bucket"
                time.sleep(0.1)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    emulator = Emulator(tmp_path / "gcs")
    emulator.start()
    gcs_client(emulator.url).create_bucket(BUCKET)
    yield emulator
    emulator.stop()


class Submitter(threading.Thread):
    """Submits runs one after another, each retried under its key until accepted."""

    def __init__(self, base_url: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.stop_event = stop
        self.statuses: Counter[int] = Counter()
        self.errors: list[dict[str, Any]] = []
        self.accepted: dict[str, str] = {}  # idempotency key -> run id
        self.pending: set[str] = set()
        self.unexpected: list[str] = []

    def saw_503(self) -> bool:
        return any(error["status"] == 503 for error in self.errors)

    def submit(self, client: httpx.Client, key: str) -> None:
        while True:
            try:
                response = client.post(
                    f"{self.base_url}/runs",
                    json={"job_type": "noop"},
                    headers={**AUTH, "Idempotency-Key": key},
                )
            except httpx.TransportError:
                self.statuses[0] += 1
                time.sleep(0.5)
                continue
            self.statuses[response.status_code] += 1
            if response.status_code in (200, 202):
                self.accepted[key] = response.json()["run_id"]
                self.pending.discard(key)
                return
            if response.status_code in (429, 503):
                self.errors.append({"status": response.status_code, **response.json()})
                assert response.headers.get("Retry-After"), response.headers
                time.sleep(0.5)
                continue
            self.unexpected.append(f"{response.status_code}: {response.text[:300]}")
            time.sleep(0.5)

    def run(self) -> None:
        with httpx.Client(timeout=90) as client:
            while not self.stop_event.is_set():
                key = uuid.uuid4().hex
                self.pending.add(key)
                self.submit(client, key)
                time.sleep(0.2)


def _runs(store_url: str, emulator_url: str, monkeypatch: pytest.MonkeyPatch) -> RunStore:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator_url)
    return RunStore(open_store(store_url))


def _assert_all_finish_whole(runs: RunStore, run_ids: set[str]) -> None:
    """Every run finishes SUCCEEDED, and the bucket holds those runs and no others."""
    deadline = time.monotonic() + 90
    unfinished = run_ids
    while time.monotonic() < deadline:
        unfinished = {r for r in run_ids if not runs.get(r).run.status.final}
        if not unfinished:
            break
        time.sleep(1)
    assert not unfinished, Counter(runs.get(r).run.status.value for r in unfinished)
    stored = runs.list(limit=10_000)[0]
    assert {run.run_id for run in stored} == run_ids, "a run nobody was told about exists"
    outcomes = Counter(
        (run.status.value, run.error_code, tuple(a.outcome for a in run.attempts)) for run in stored
    )
    assert all(run.status.value == "SUCCEEDED" for run in stored), outcomes


def test_emulator_outage_is_a_retryable_503_and_every_run_completes_after(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """503 + Retry-After while GCS is down; afterwards no lost, duplicated or torn run.

    The outage lasts as long as the gs:// store's retry deadline (30 s): a
    shorter one is ridden out by the retries and never reaches a caller.
    """
    store_url = f"gs://{BUCKET}/faults"
    # A run whose attempt was cut off by the outage waits out its lease and is retried
    # (lease_expired is retryable; no-op runs get retries here): a short lease, a short wait.
    env = {
        "STORAGE_EMULATOR_HOST": emulator.url,
        "WORKER_LEASE_MS": "4000",
        "OPSPLANE_JOB_POLICIES": json.dumps({"noop": {"max_retries": 3, "base_delay_ms": 200}}),
    }
    with local_stack(store_url, env) as stack:
        stop = threading.Event()
        submitters = [Submitter(stack.url, stop) for _ in range(2)]
        for submitter in submitters:
            submitter.start()
        warm_until = time.monotonic() + 30
        while time.monotonic() < warm_until and not all(s.accepted for s in submitters):
            time.sleep(0.1)
        assert all(s.accepted for s in submitters), [s.statuses for s in submitters]

        emulator.stop()
        run_id = next(iter(submitters[0].accepted.values()))
        with ThreadPoolExecutor(2) as pool:
            # Both wait out the store's retry deadline, side by side.
            readiness_call = pool.submit(httpx.get, f"{stack.url}/health/test", timeout=90)
            read_call = pool.submit(
                httpx.get, f"{stack.url}/runs/{run_id}", headers=AUTH, timeout=90
            )
            readiness, read = readiness_call.result(), read_call.result()
        # Keep GCS down until the submitters too have been told 503 (their requests
        # started later than the probes, so their retry deadlines end later).
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and not all(s.saw_503() for s in submitters):
            time.sleep(0.2)
        emulator.start()
        stop.set()
        for submitter in submitters:
            submitter.join(timeout=120)
            assert not submitter.is_alive()
        statuses = sum((s.statuses for s in submitters), Counter())
        errors = [error for s in submitters for error in s.errors]
        accepted = {key: run for s in submitters for key, run in s.accepted.items()}

        assert readiness.status_code == 503, readiness.text
        assert readiness.headers["Retry-After"]
        assert readiness.json()["error"] == "store_unavailable"
        assert read.status_code == 503, read.text
        assert read.json()["error"] == "unavailable"
        assert int(read.headers["Retry-After"]) >= 1
        unexpected = [u for s in submitters for u in s.unexpected]
        assert not unexpected, (statuses, unexpected)
        assert statuses[503] >= 2, statuses
        assert {e["error"] for e in errors} <= {"unavailable", "queue_full"}
        assert not any(s.pending for s in submitters)

        # Every accepted submission is one run, and the queue delivers all of them.
        run_ids = set(accepted.values())
        assert len(run_ids) == len(accepted), "two keys became one run"
        _assert_all_finish_whole(_runs(store_url, emulator.url, monkeypatch), run_ids)
        print(
            f"\ngcs outage: {len(run_ids)} runs, statuses {dict(statuses)}, "
            f"probes {readiness.status_code}/{read.status_code}"
        )
