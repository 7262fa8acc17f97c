"""Nearest-rank percentiles, rollup figures and the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.latency.raw import write_samples
from shared.latency.rollup import (
    CSV_COLUMNS,
    build_rollup,
    nearest_rank,
    parse_since,
    read_rollups,
    summarize,
    to_csv,
)
from shared.latency.sampler import Sample
from shared.storage.memory import MemoryStore

HOUR = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def by_definition(values: list[float], p: float) -> float:
    """Smallest observed value with at least p% of the values at or below it."""
    n = len(values)
    return min(v for v in values if sum(1 for x in values if x <= v) * 100 >= p * n)


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        pytest.param([15, 20, 35, 40, 50], 30, 20, id="wikipedia-30th"),
        pytest.param([15, 20, 35, 40, 50], 40, 20, id="wikipedia-40th"),
        pytest.param([15, 20, 35, 40, 50], 50, 35, id="wikipedia-50th"),
        pytest.param([15, 20, 35, 40, 50], 100, 50, id="wikipedia-100th"),
        pytest.param(list(range(1, 21)), 95, 19, id="exact-rank-no-float-drift"),
        pytest.param(list(range(1, 101)), 99, 99, id="p99-of-100"),
        pytest.param([7.5], 50, 7.5, id="single"),
    ],
)
def test_nearest_rank_vectors(values: list[float], p: float, expected: float) -> None:
    """Published nearest-rank examples, and ranks where float arithmetic would round up."""
    assert nearest_rank(sorted(values), p) == expected


@given(
    st.lists(st.floats(min_value=0, max_value=10_000, allow_nan=False), min_size=1, max_size=200),
    st.sampled_from([50, 95, 99, 99.9]),
)
def test_nearest_rank_matches_the_definition(values: list[float], p: float) -> None:
    """For any data, the percentile is the definition's value (computed without ranks)."""
    assert nearest_rank(sorted(values), p) == by_definition(values, p)


@pytest.mark.parametrize("p", [0, -1, 100.5])
def test_percent_out_of_range_is_refused(p: float) -> None:
    """Only (0, 100] makes sense for nearest rank."""
    with pytest.raises(ValueError, match="percent"):
        nearest_rank([1.0], p)


def test_summarize_counts_errors_apart_from_latencies() -> None:
    """Errors raise count and error rate; percentiles come from latencies only."""
    rollup = summarize(
        "api", HOUR + timedelta(minutes=42), [5, 1, 3, 4, 2], 5, threshold_ms=4, generated_at=HOUR
    )
    assert rollup.hour == HOUR
    assert (rollup.count, rollup.error_count, rollup.error_rate) == (10, 5, 0.5)
    assert (rollup.p50_ms, rollup.p95_ms, rollup.p99_ms, rollup.max_ms) == (3, 5, 5, 5)
    assert rollup.breach_flag is True


def test_an_hour_of_only_errors_is_a_breach_without_percentiles() -> None:
    """Nothing answered: no p95 to compare, but certainly not within the SLO."""
    rollup = summarize("api", HOUR, [], 3, threshold_ms=100, generated_at=HOUR)
    assert rollup.p95_ms is None
    assert rollup.breach_flag is True
    assert to_csv([rollup]).splitlines()[1] == "2026-11-25T10:00:00Z,,,true"


def test_p95_equal_to_the_threshold_is_not_a_breach() -> None:
    """The flag means p95 strictly over the threshold."""
    rollup = summarize("api", HOUR, [10.0] * 20, 0, threshold_ms=10.0, generated_at=HOUR)
    assert rollup.breach_flag is False


def test_csv_has_the_documented_columns_and_round_trips_values() -> None:
    """hour_utc,p50_ms,p95_ms,breach_flag with full-precision floats."""
    rollups = [
        summarize("api", HOUR, [1.25, 2.5, 300.125], 0, threshold_ms=100, generated_at=HOUR),
        summarize("api", HOUR + timedelta(hours=1), [1.0], 0, threshold_ms=100, generated_at=HOUR),
    ]
    rows = list(csv.reader(io.StringIO(to_csv(rollups))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1] == ["2026-11-25T10:00:00Z", "2.5", "300.125", "true"]
    assert rows[2] == ["2026-11-25T11:00:00Z", "1.0", "1.0", "false"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("90m", HOUR - timedelta(minutes=90), id="minutes"),
        pytest.param("6h", HOUR - timedelta(hours=6), id="hours"),
        pytest.param("7d", HOUR - timedelta(days=7), id="days"),
        pytest.param("2w", HOUR - timedelta(weeks=2), id="weeks"),
        pytest.param("2026-11-24T08:00:00Z", HOUR - timedelta(hours=26), id="iso"),
    ],
)
def test_parse_since(text: str, expected: datetime) -> None:
    """Ages count back from the given now; ISO times are taken as they are."""
    assert parse_since(text, HOUR) == expected


def test_parse_since_rejects_garbage() -> None:
    """A clear message, as a ValueError the edges turn into 400 or exit 2."""
    for text in ("last tuesday", "999999w", "2026-13-01"):
        with pytest.raises(ValueError, match="ISO 8601"):
            parse_since(text, HOUR)


def test_read_rollups_filters_by_source_and_since() -> None:
    """Sorted by hour then source; hours before ``since`` are left out."""
    store = MemoryStore()
    for offset in range(3):
        hour = HOUR + timedelta(hours=offset)
        for source in ("web", "api"):
            write_samples(
                store, [Sample(hour, source, "t", 10.0, 200)], job_id="j", rotation_bytes=10**6
            )
            build_rollup(store, source, hour, threshold_ms=5, generated_at=hour)
    since = HOUR + timedelta(hours=1, minutes=30)
    got = [(r.source, r.hour.hour) for r in read_rollups(store, since=since)]
    assert got == [("api", 11), ("web", 11), ("api", 12), ("web", 12)]
    assert [r.hour.hour for r in read_rollups(store, source="web", since=since)] == [11, 12]
    assert len(read_rollups(store)) == 6
