"""Whole latency runs against loopback targets and a loopback webhook receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.latency import run_latency_job
from shared.latency.config import LatencyConfig, Target
from shared.latency.job import HEARTBEAT_NAME, LOCK_NAME
from shared.latency.lock import Lease, LeaseLock
from shared.latency.rollup import read_rollups
from shared.runlog import RunLog, RunStatus
from shared.storage import ObjectStore
from shared.storage.memory import MemoryStore
from tests.latency_servers import ScriptedTarget, WebhookReceiver, scripted_target, webhook_receiver

SECRET = "latency-hook-secret"
START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
RUN_EVERY = timedelta(minutes=15)


class FakeClock:
    """A settable clock: runs advance it by whole scheduling intervals."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta = RUN_EVERY) -> None:
        self.now += delta


@pytest.fixture
def store() -> ObjectStore:
    return MemoryStore()


@pytest.fixture
def target() -> Iterator[ScriptedTarget]:
    with scripted_target(default_ms=1) as served:
        yield served


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver(SECRET) as served:
        yield served


def make_config(
    *targets: Target, receiver: WebhookReceiver | None = None, **options: Any
) -> LatencyConfig:
    return LatencyConfig(
        targets=targets,
        webhook_url=receiver.url if receiver else None,
        webhook_secret=SECRET if receiver else None,
        webhook_retry_wait_seconds=0.01,
        evidence_base_url="https://ops.example.com",
        **options,
    )


def api_target(url: str, *, samples: int = 4, threshold: float = 20.0) -> Target:
    return Target(name="api-health", url=url, slo_p95_ms=threshold, source="api", samples=samples)


def raw_latencies(store: ObjectStore) -> tuple[list[float], int]:
    """Successful latencies and error count, read straight from the stored JSON lines."""
    values: list[float] = []
    errors = 0
    for info in store.list("latency/raw/"):
        for line in store.get(info.name).data.decode().splitlines():
            row = json.loads(line)
            if row["latency_ms"] is None:
                errors += 1
            else:
                values.append(row["latency_ms"])
    return values, errors


def independent_percentile(values: list[float], p: float) -> float:
    """Nearest rank, by definition: the smallest value with at least p% of values <= it."""
    n = len(values)
    for candidate in sorted(values):
        if sum(1 for v in values if v <= candidate) * 100 >= p * n:
            return candidate
    raise AssertionError("unreachable")


def consecutive_alerts(receiver: WebhookReceiver) -> list[str]:
    return [p["state"] for p in receiver.verified_payloads if p["kind"] == "consecutive"]


def test_rollup_equals_an_independent_percentile_computation(
    store: ObjectStore, target: ScriptedTarget
) -> None:
    """Scripted latencies → p50/p95/p99/max equal nearest-rank computed from the raw rows."""
    target.script(2, 30, 5, 12, 8, 45, 3, 20, 15, 6)
    clock = FakeClock()
    run = run_latency_job(store, make_config(api_target(target.url, samples=10)), clock=clock)
    assert run.status is RunStatus.OK
    assert run.summary.samples_written == 10
    values, errors = raw_latencies(store)
    assert (len(values), errors) == (10, 0)
    (rollup,) = read_rollups(store, source="api")
    assert rollup.hour == START
    assert rollup.count == 10
    assert rollup.p50_ms == independent_percentile(values, 50)
    assert rollup.p95_ms == independent_percentile(values, 95)
    assert rollup.p99_ms == independent_percentile(values, 99)
    assert rollup.max_ms == max(values)
    # The scripted sleeps show through the measured latencies.
    assert rollup.max_ms >= 45
    assert rollup.breach_flag is (rollup.p95_ms > 20.0)


def test_failed_requests_are_error_samples_not_latencies(store: ObjectStore) -> None:
    """A 500 and a refused connection count in the error rate, never in the percentiles."""
    with scripted_target(default_ms=1, status=500) as broken, scripted_target(default_ms=1) as good:
        targets = (
            Target("broken", broken.url, 50, "svc", samples=2),
            Target("refused", "http://127.0.0.1:9/nothing", 50, "svc", samples=1, timeout_ms=500),
            Target("good", good.url, 50, "svc", samples=3),
        )
        run_latency_job(store, make_config(*targets), clock=FakeClock())
    values, errors = raw_latencies(store)
    assert (len(values), errors) == (3, 3)
    (rollup,) = read_rollups(store, source="svc")
    assert (rollup.count, rollup.error_count, rollup.error_rate) == (6, 3, 0.5)
    assert rollup.max_ms == max(values)
    rows = [
        json.loads(line)
        for info in store.list("latency/raw/")
        for line in store.get(info.name).data.splitlines()
    ]
    assert {r["status"] for r in rows if r["latency_ms"] is None} == {500, None}
    assert set(rows[0]) >= {"timestamp_utc", "source", "latency_ms", "status"}


def test_three_breaching_runs_warn_then_go_critical_and_recovery_resolves(
    store: ObjectStore, target: ScriptedTarget, receiver: WebhookReceiver
) -> None:
    """Breach x3 → one warning, then one critical; a good run → one resolved; all signed."""
    clock = FakeClock()
    # A wide gap between slow (250 ms) and fast (1 ms) around the 200 ms threshold keeps
    # the verdicts stable on a busy machine.
    config = make_config(api_target(target.url, samples=1, threshold=200), receiver=receiver)
    history: list[list[str]] = []
    for delays in ([250], [250], [250], [1], [1]):
        target.script(*delays)
        before = len(receiver.received)
        run_latency_job(store, config, clock=clock)
        history.append(
            [p["state"] for p in receiver.verified_payloads[before:] if p["kind"] == "consecutive"]
        )
        clock.advance()
    assert history == [[], ["warning"], ["critical"], ["resolved"], []]
    assert all(r.signature_ok for r in receiver.received)
    warning = next(p for p in receiver.verified_payloads if p["state"] == "warning")
    assert warning["severity"] == "warning"
    assert warning["source"] == "api"
    assert warning["notified_channels"] == ["webhook"]
    assert warning["evidence_url"].startswith("https://ops.example.com/latency/rollups?source=api")
    assert warning["evidence"]["consecutive_breaches"] == 2
    assert set(warning) >= {"id", "severity", "message", "evidence_url", "notified_channels"}
    # Every sample over the threshold burns the 30-day budget 100x: one page, once.
    burn = [p["state"] for p in receiver.verified_payloads if p["kind"] == "burn_rate"]
    assert burn.count("page") == 1
    records = list(RunLog(store).read(job="latency"))
    assert [len(r.alerts) > 0 for r in records][1:4] == [True, True, True]
    assert all(r.status is RunStatus.OK for r in records)


def test_reminders_repeat_a_lasting_state_at_the_configured_interval(
    store: ObjectStore, target: ScriptedTarget, receiver: WebhookReceiver
) -> None:
    """Critical for an hour with a 30-minute reminder → critical, then reminders."""
    clock = FakeClock()
    target.default_ms = 30
    config = make_config(api_target(target.url, samples=2), receiver=receiver, reminder_minutes=30)
    for _ in range(7):
        run_latency_job(store, config, clock=clock)
        clock.advance()
    payloads = receiver.verified_payloads
    states = [(p["state"], p["reminder"]) for p in payloads if p["kind"] == "consecutive"]
    assert states == [
        ("warning", False),
        ("critical", False),
        ("critical", True),
        ("critical", True),
    ]


def test_two_concurrent_runs_one_samples_the_other_is_skipped(
    store: ObjectStore, target: ScriptedTarget
) -> None:
    """Both start together; exactly one samples, the other records status skipped."""
    # Requests wait at the gate, so the sampling run holds the lease until the other is done.
    target.gate = threading.Event()
    config = make_config(api_target(target.url, samples=3))
    clock = FakeClock()
    barrier = threading.Barrier(2)
    runs = []
    finished = threading.Semaphore(0)

    def one_run() -> None:
        barrier.wait()
        runs.append(run_latency_job(store, config, clock=clock))
        finished.release()

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    assert finished.acquire(timeout=10)
    assert [r.status for r in runs] == [RunStatus.SKIPPED]
    target.gate.set()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(r.status.value for r in runs) == ["ok", "skipped"]
    assert target.hits == 3
    skipped = next(r for r in runs if r.status is RunStatus.SKIPPED)
    assert skipped.summary.samples_written == 0
    assert "holds the lock" in (skipped.message or "")
    records = list(RunLog(store).read(job="latency"))
    assert sorted(r.status.value for r in records) == ["ok", "skipped"]
    assert next(r for r in records if r.status is RunStatus.SKIPPED).error_code == "lock_held"
    # The winner released the lease: the next run samples.
    assert store.get_or_none(LOCK_NAME) is None
    assert run_latency_job(store, config, clock=clock).status is RunStatus.OK


def test_a_lock_left_by_a_killed_run_expires(store: ObjectStore, target: ScriptedTarget) -> None:
    """Skipped while the dead holder's lease lasts, sampled once it has expired."""
    clock = FakeClock()
    config = make_config(api_target(target.url, samples=1), lock_ttl_seconds=600)
    dead = LeaseLock(store, LOCK_NAME, ttl=timedelta(seconds=600), clock=clock).acquire("killed")
    assert isinstance(dead, Lease)  # ... and the process died without releasing it
    assert run_latency_job(store, config, clock=clock).status is RunStatus.SKIPPED
    clock.advance(timedelta(seconds=599))
    assert run_latency_job(store, config, clock=clock).status is RunStatus.SKIPPED
    assert target.hits == 0
    clock.advance(timedelta(seconds=2))
    run = run_latency_job(store, config, clock=clock)
    assert run.status is RunStatus.OK
    assert target.hits == 1
    # The dead holder can no longer release a lease that is not its own.
    assert not LeaseLock(store, LOCK_NAME, ttl=timedelta(seconds=600), clock=clock).release(dead)


def test_dry_run_alert_stores_the_payload_instead_of_sending(
    store: ObjectStore, target: ScriptedTarget, receiver: WebhookReceiver
) -> None:
    """--dry-run-alert: nothing reaches the webhook; latency_alerts/<job_id>.json holds it."""
    clock = FakeClock()
    target.default_ms = 30
    config = make_config(api_target(target.url, samples=2), receiver=receiver)
    run_latency_job(store, config, clock=clock, dry_run_alert=True)
    clock.advance()
    run = run_latency_job(store, config, clock=clock, dry_run_alert=True)
    assert receiver.received == []
    stored = json.loads(store.get(f"latency_alerts/{run.job_id}.json").data)
    assert [a["state"] for a in stored["alerts"] if a["kind"] == "consecutive"] == ["warning"]
    assert stored["alerts"][0]["notified_channels"] == []
    assert run.alerts_object == f"latency_alerts/{run.job_id}.json"


def test_undeliverable_alerts_are_kept_and_the_run_is_an_error(
    store: ObjectStore, target: ScriptedTarget, receiver: WebhookReceiver
) -> None:
    """A webhook that keeps failing: payload stored as undelivered, run-log status error."""
    receiver.responses.extend([(503, {})] * 20)
    target.default_ms = 30
    config = make_config(api_target(target.url, samples=1), receiver=receiver)
    config = LatencyConfig(**{**config.__dict__, "webhook_max_retries": 1})
    run = run_latency_job(store, config, clock=FakeClock())  # burn-rate page fires at once
    assert run.status is RunStatus.ERROR
    stored = json.loads(store.get(f"latency_alerts/{run.job_id}.json").data)
    assert stored["undelivered"] is True
    assert stored["alerts"][0]["state"] == "page"
    (record,) = RunLog(store).read(job="latency")
    assert (record.status, record.error_code) == (RunStatus.ERROR, "alert_delivery_failed")


def test_heartbeat_summary_and_run_log_record(store: ObjectStore, target: ScriptedTarget) -> None:
    """Heartbeat fields, the summary figures and the run-log record of an ok run."""
    clock = FakeClock(START + timedelta(minutes=50))
    target.default_ms = 30
    config = make_config(api_target(target.url, samples=2), rotation_bytes=4096)
    run = run_latency_job(store, config, clock=clock)
    heartbeat = json.loads(store.get(HEARTBEAT_NAME).data)
    assert heartbeat == {
        "job_id": run.job_id,
        "generated_at": "2026-11-25T10:50:00Z",
        "next_run_at": "2026-11-25T11:05:00Z",
        "last_breach_at": "2026-11-25T10:50:00Z",
    }
    raw_size = next(iter(store.list("latency/raw/"))).size
    assert run.summary.to_json() == {
        "samples_written": 2,
        "rollups_written": 1,
        "breach_count": 1,
        "next_rotation_bytes": 4096 - raw_size,
    }
    (record,) = RunLog(store).read(job="latency")
    assert record.status is RunStatus.OK
    assert record.artefacts["heartbeat"] == HEARTBEAT_NAME
    assert record.duration_ms == run.duration_ms >= 60
