"""Latency configuration from OPSPLANE_LATENCY_CONFIG, and the lease lock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.latency.config import load_config
from shared.latency.lock import Held, Lease, LeaseLock
from shared.settings import SettingsError
from shared.storage.memory import MemoryStore

TARGET = {"name": "api", "url": "https://api.example.com/health", "slo_p95_ms": 300}


def env_with(document: Any, **extra: str) -> dict[str, str]:
    return {"OPSPLANE_LATENCY_CONFIG": json.dumps(document), **extra}


def test_inline_json_with_defaults() -> None:
    """Only name, url and slo_p95_ms are required; the rest has documented defaults."""
    config = load_config(env_with({"targets": [TARGET]}), base_url="http://127.0.0.1:8080")
    (target,) = config.targets
    assert (target.method, target.expected_status, target.timeout_ms, target.samples) == (
        "GET",
        200,
        2000,
        5,
    )
    assert target.source == "api"
    assert (config.raw_retention_days, config.rollup_retention_days) == (14, 90)
    assert config.rotation_bytes == 10 * 1024 * 1024
    assert config.reminder_minutes == 60
    assert config.webhook_url is None
    assert config.evidence_base_url == "http://127.0.0.1:8080"


def test_a_file_path_and_the_webhook_secret_from_the_environment(tmp_path: Path) -> None:
    """A path is read as a file; the secret comes from OPSPLANE_WEBHOOK_SECRET."""
    path = tmp_path / "latency.json"
    document = {
        "targets": [{**TARGET, "method": "head", "source": "edge", "samples": 2}],
        "webhook_url": "https://hooks.example.com/a",
        "reminder_minutes": 0,
    }
    path.write_text(json.dumps(document))
    env = {"OPSPLANE_LATENCY_CONFIG": str(path), "OPSPLANE_WEBHOOK_SECRET": "s3cret"}
    config = load_config(env)
    assert config.targets[0].method == "HEAD"
    assert config.targets[0].source == "edge"
    assert (config.webhook_url, config.webhook_secret) == ("https://hooks.example.com/a", "s3cret")
    assert config.reminder_minutes == 0


def test_strictest_threshold_wins_per_source() -> None:
    """Two targets in one source: the source's SLO threshold is the lower one."""
    document = {"targets": [TARGET, {**TARGET, "name": "b", "source": "api", "slo_p95_ms": 120}]}
    assert load_config(env_with(document)).thresholds() == {"api": 120}


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        pytest.param({}, "is required", id="missing"),
        pytest.param({"OPSPLANE_LATENCY_CONFIG": "{nope"}, "not valid JSON", id="bad-json"),
        pytest.param({"OPSPLANE_LATENCY_CONFIG": "/no/such.json"}, "cannot read", id="no-file"),
        pytest.param(env_with({"targets": []}), "targets must be", id="no-targets"),
        pytest.param(env_with({"targets": [{**TARGET, "url": "ftp://x"}]}), "url", id="ftp"),
        pytest.param(env_with({"targets": [{**TARGET, "name": "a b"}]}), "name", id="bad-name"),
        pytest.param(
            env_with({"targets": [{k: v for k, v in TARGET.items() if k != "slo_p95_ms"}]}),
            "slo_p95_ms is required",
            id="no-threshold",
        ),
        pytest.param(env_with({"targets": [{**TARGET, "samples": 0}]}), "samples", id="samples"),
        pytest.param(
            env_with({"targets": [{**TARGET, "timeout_ms": "2s"}]}), "timeout_ms", id="timeout"
        ),
        pytest.param(env_with({"targets": [TARGET, TARGET]}), "unique", id="duplicate"),
        pytest.param(
            env_with({"targets": [TARGET], "slo_objective": 1}), "slo_objective", id="objective"
        ),
        pytest.param(
            env_with({"targets": [TARGET], "webhook_url": "https://h.example.com"}),
            "OPSPLANE_WEBHOOK_SECRET",
            id="webhook-without-secret",
        ),
    ],
)
def test_bad_configuration_names_the_variable_and_field(env: dict[str, str], fragment: str) -> None:
    """SettingsError says which variable and which field is wrong."""
    with pytest.raises(SettingsError) as caught:
        load_config(env)
    assert fragment in str(caught.value)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_lease_is_exclusive_until_it_expires_or_is_released() -> None:
    """Held while valid; taken over after expiry; released only by its holder."""
    store, clock = MemoryStore(), Clock()
    lock = LeaseLock(store, "latency/lock.json", ttl=timedelta(minutes=10), clock=clock)
    first = lock.acquire("run-1")
    assert isinstance(first, Lease)
    held = lock.acquire("run-2")
    assert held == Held("run-1", clock.now + timedelta(minutes=10))
    clock.now += timedelta(minutes=10)
    second = lock.acquire("run-2")
    assert isinstance(second, Lease)
    assert lock.release(first) is False  # the expired holder cannot drop run-2's lease
    assert isinstance(lock.acquire("run-3"), Held)
    assert lock.release(second) is True
    assert isinstance(lock.acquire("run-3"), Lease)


def test_an_unreadable_lock_object_is_taken_over() -> None:
    """A damaged lock object must not block every future run."""
    store = MemoryStore()
    store.put("latency/lock.json", b"garbage")
    lock = LeaseLock(store, "latency/lock.json", ttl=timedelta(minutes=1), clock=Clock())
    assert isinstance(lock.acquire("run"), Lease)
