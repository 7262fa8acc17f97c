"""The sampler: monotonic timing, and failures as error samples."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx

from shared.latency.config import Target
from shared.latency.sampler import Sample, sample_all, sample_target
from tests.latency_servers import scripted_target

WALL = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def ticks(*values: float) -> Iterator[float]:
    yield from values


def test_latency_comes_from_the_monotonic_clock_not_the_wall_clock() -> None:
    """A wall clock that jumps back an hour changes nothing; the monotonic delta is the latency."""
    walls = iter([WALL, WALL - timedelta(hours=1)])
    monotonic = ticks(100.0, 100.25, 200.0, 200.0125)
    with scripted_target(default_ms=1) as target, httpx.Client() as client:
        samples = sample_target(
            client,
            Target("t", target.url, 100, "api", samples=2),
            clock=lambda: next(walls),
            monotonic=lambda: next(monotonic),
        )
    assert [s.latency_ms for s in samples] == [250.0, 12.5]
    assert [s.timestamp_utc for s in samples] == [WALL, WALL - timedelta(hours=1)]
    assert all(s.ok and s.status == 200 for s in samples)


def test_a_timeout_is_an_error_sample() -> None:
    """A target slower than timeout_ms gives no latency, error 'timeout'."""
    with scripted_target(default_ms=300) as slow:
        (sample,) = sample_all(
            [Target("slow", slow.url, 100, "api", samples=1, timeout_ms=50)], clock=lambda: WALL
        )
    assert (sample.latency_ms, sample.status, sample.error) == (None, None, "timeout")
    assert not sample.ok


def test_an_unexpected_status_is_an_error_sample_with_its_status() -> None:
    """expected_status 204 but the target answers 200: an error, status kept."""
    with scripted_target(default_ms=1) as target:
        (sample,) = sample_all(
            [Target("t", target.url, 100, "api", samples=1, expected_status=204)],
            clock=lambda: WALL,
        )
    assert (sample.latency_ms, sample.status) == (None, 200)
    assert sample.error == "unexpected_status: 200"


def test_the_configured_method_is_used() -> None:
    """HEAD targets are probed with HEAD."""
    with scripted_target(default_ms=1) as target:
        (sample,) = sample_all(
            [Target("t", target.url, 100, "api", samples=1, method="HEAD")], clock=lambda: WALL
        )
    assert sample.ok
    assert target.methods == ["HEAD"]


def test_samples_round_trip_through_json() -> None:
    """What is written is what is read back."""
    sample = Sample(WALL, "api", "t", None, 503, "unexpected_status: 503")
    assert Sample.from_json(sample.to_json()) == sample
    assert set(sample.to_json()) >= {"timestamp_utc", "source", "latency_ms", "status"}
