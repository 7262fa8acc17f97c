"""Retry-After parsing and backoff steps shared by every retrying client."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from shared.http.retry_after import equal_jitter, exponential_delay, parse_retry_after

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        pytest.param("12", {}, 12.0, id="delta-seconds"),
        pytest.param(" 7 ", {}, 7.0, id="whitespace"),
        pytest.param("1.5", {}, None, id="fraction-refused-by-default"),
        pytest.param("-4", {}, None, id="negative-refused-by-default"),
        pytest.param("1.5", {"any_number": True}, 1.5, id="fraction-any-number"),
        pytest.param("-4", {"any_number": True}, 0.0, id="negative-clamped"),
        pytest.param("nan", {"any_number": True}, None, id="nan"),
        pytest.param("999999", {"cap": 3600.0}, 3600.0, id="capped"),
        pytest.param("Wed, 04 Mar 2026 05:06:37 GMT", {}, 30.0, id="http-date"),
        pytest.param("Wed, 04 Mar 2026 05:06:37 -0000", {}, 30.0, id="zone-less-date-is-gmt"),
        pytest.param("Wed, 01 Jan 2020 00:00:00 GMT", {}, 0.0, id="date-in-the-past"),
        pytest.param("soon", {}, None, id="garbage"),
        pytest.param("", {}, None, id="empty"),
        pytest.param(None, {}, None, id="absent"),
    ],
)
def test_parse_retry_after(value: str | None, kwargs: dict[str, object], expected: float) -> None:
    """Delta-seconds or an HTTP date, clamped at 0 and capped; junk is None."""
    assert parse_retry_after(value, NOW, **kwargs) == expected  # type: ignore[arg-type]


def test_exponential_delay_doubles_up_to_the_cap() -> None:
    """Each attempt doubles the base step until the cap holds it."""
    assert [exponential_delay(n, 0.5) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert [exponential_delay(n, 0.5, 1.5) for n in (1, 2, 3)] == [0.5, 1.0, 1.5]


def test_equal_jitter_keeps_at_least_half_the_step() -> None:
    """Jittered waits fall in [delay/2, delay] and are not all the same."""
    rng = random.Random(3)
    waits = [equal_jitter(4.0, rng) for _ in range(200)]
    assert all(2.0 <= w <= 4.0 for w in waits)
    assert len(set(waits)) > 100
