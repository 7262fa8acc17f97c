"""Hourly raw objects: appends, rotation past the size limit, retention pruning."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.latency import run_latency_job
from shared.latency.config import DEFAULT_ROTATION_BYTES, LatencyConfig, Target
from shared.latency.raw import prune, read_hour, write_samples
from shared.latency.rollup import ROLLUP_PREFIX, build_rollup, read_rollups
from shared.latency.sampler import Sample
from shared.storage import ObjectStore
from shared.storage.memory import MemoryStore
from tests.latency_servers import scripted_target

HOUR = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def batch(count: int, *, at: datetime = HOUR, source: str = "api", start: int = 0) -> list[Sample]:
    return [
        Sample(at + timedelta(seconds=i % 3600), source, "t", float(start + i), 200)
        for i in range(count)
    ]


@pytest.fixture
def store() -> ObjectStore:
    return MemoryStore()


def test_samples_land_in_one_object_per_source_and_hour(store: ObjectStore) -> None:
    """Two sources over two hours → four objects; appends keep earlier lines."""
    samples = [
        *batch(3, source="api"),
        *batch(2, source="db"),
        *batch(1, source="api", at=HOUR + timedelta(hours=1)),
    ]
    result = write_samples(store, samples, job_id="j1", rotation_bytes=DEFAULT_ROTATION_BYTES)
    write_samples(store, batch(2, source="db", start=10), job_id="j2", rotation_bytes=10**7)
    assert result.samples_written == 6
    assert [info.name for info in store.list("latency/raw/")] == [
        "latency/raw/2026/11/25/10/api.jsonl",
        "latency/raw/2026/11/25/10/db.jsonl",
        "latency/raw/2026/11/25/11/api.jsonl",
    ]
    assert [s.latency_ms for s in read_hour(store, "db", HOUR)] == [0.0, 1.0, 10.0, 11.0]


def test_an_object_past_the_limit_rotates_to_the_archive_and_nothing_is_lost(
    store: ObjectStore,
) -> None:
    """With a 2 KiB limit, the full object moves to latency/archive/YYYY/MM/<job_id>."""
    limit = 2048
    written = 0
    archived: list[str] = []
    for run in range(8):
        result = write_samples(
            store, batch(5, start=written), job_id=f"run{run}", rotation_bytes=limit
        )
        written += 5
        archived.extend(result.archived)
        current = store.get("latency/raw/2026/11/25/10/api.jsonl")
        assert len(current.data) <= limit
        assert result.next_rotation_bytes == limit - len(current.data)
    assert archived, "eight appends of ~5 x 100 bytes must pass 2 KiB"
    for name in archived:
        assert name.startswith("latency/archive/2026/11/run")
        assert name.endswith("/2026112510-api.jsonl")
        assert len(store.get(name).data) <= limit
    values = [s.latency_ms for s in read_hour(store, "api", HOUR)]
    assert values == [float(i) for i in range(written)]
    (rollup,) = [build_rollup(store, "api", HOUR, threshold_ms=1e9, generated_at=HOUR)]
    assert rollup.count == written


def test_rotation_at_the_real_10_mb_default(store: ObjectStore) -> None:
    """Appends stay under 10 MiB; the one that would pass it archives the object."""
    rotated_at = None
    for run in range(12):
        before = store.get_or_none("latency/raw/2026/11/25/10/api.jsonl")
        size_before = len(before.data) if before else 0
        result = write_samples(
            store,
            batch(20_000, start=run * 20_000),
            job_id=f"big{run}",
            rotation_bytes=DEFAULT_ROTATION_BYTES,
        )
        if result.archived:
            (name,) = result.archived
            assert len(store.get(name).data) == size_before <= DEFAULT_ROTATION_BYTES
            rotated_at = run
            break
    assert rotated_at is not None
    count = sum(1 for _ in read_hour(store, "api", HOUR))
    assert count == (rotated_at + 1) * 20_000


def test_retention_prunes_raw_archive_and_rollups_by_their_hour(store: ObjectStore) -> None:
    """14 days for raw and archived samples, 90 for rollups, measured from the clock."""
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    old_raw = now - timedelta(days=14, hours=1)  # ended exactly at the cutoff
    kept_raw = now - timedelta(days=14)  # ends an hour after it
    for hour in (old_raw, kept_raw):
        write_samples(store, batch(2, at=hour), job_id="j", rotation_bytes=10**7)
        build_rollup(store, "api", hour, threshold_ms=10, generated_at=now)
    write_samples(store, batch(60, at=old_raw), job_id="rot", rotation_bytes=2048)
    assert list(store.list("latency/archive/"))
    ancient = now - timedelta(days=90, hours=1)
    recent_rollup = now - timedelta(days=89)
    for hour in (ancient, recent_rollup):
        build_rollup(store, "api", hour, threshold_ms=10, generated_at=now)
    result = prune(
        store,
        now=now,
        raw_retention_days=14,
        rollup_retention_days=90,
        rollup_prefix=ROLLUP_PREFIX,
    )
    assert (result.raw, result.rollups) == (1, 1)
    assert result.archive >= 1
    assert [i.name for i in store.list("latency/raw/")] == [
        f"latency/raw/{kept_raw:%Y/%m/%d/%H}/api.jsonl"
    ]
    assert list(store.list("latency/archive/")) == []
    assert [r.hour for r in read_rollups(store, source="api")] == [
        recent_rollup,
        old_raw,
        kept_raw,
    ]


def test_the_run_applies_retention_overrides(store: ObjectStore) -> None:
    """raw_retention_days=1 / rollup_retention_days=2 prune what the defaults would keep."""
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    day_and_a_half_ago = now - timedelta(days=1, hours=12)
    write_samples(store, batch(2, at=day_and_a_half_ago), job_id="j", rotation_bytes=10**7)
    build_rollup(store, "api", day_and_a_half_ago, threshold_ms=10, generated_at=now)
    build_rollup(store, "api", now - timedelta(days=3), threshold_ms=10, generated_at=now)
    with scripted_target() as target:
        config = LatencyConfig(targets=(Target("api-health", target.url, 100, "api", samples=1),))
        run = run_latency_job(
            store,
            config,
            clock=lambda: now,
            raw_retention_days=1,
            rollup_retention_days=2,
        )
    assert run.pruned is not None
    assert (run.pruned.raw, run.pruned.rollups) == (1, 1)
    assert [r.hour for r in read_rollups(store, source="api")] == [day_and_a_half_ago, now]
    body = json.loads(store.get("latency/raw/2026/11/25/12/api.jsonl").data.splitlines()[0])
    assert body["source"] == "api"


@pytest.mark.parametrize(
    ("raw_days", "rollup_days"),
    [pytest.param(0, None, id="raw-zero"), pytest.param(None, -1, id="rollup-negative")],
)
def test_retention_below_one_day_is_refused(
    store: ObjectStore, raw_days: int | None, rollup_days: int | None
) -> None:
    """Zero or negative retention would delete the run's own samples."""
    config = LatencyConfig(targets=(Target("t", "http://127.0.0.1:9/", 100, "api"),))
    with pytest.raises(ValueError, match="retention"):
        run_latency_job(
            store, config, raw_retention_days=raw_days, rollup_retention_days=rollup_days
        )
    assert list(store.list("")) == []
