"""Fixed log-spaced duration buckets: mergeable, small, good enough for p50/p95.

A duration of ``ms`` milliseconds falls in bucket ``ceil(log(ms) / log(GROWTH))``
(bucket 0 holds everything up to 1 ms). Every bucket spans a factor of
``GROWTH``, so a percentile read back as its bucket's upper bound is at most
4 % above the exact value, whatever the range. Buckets are the same
everywhere, so hourly histograms merge by adding counts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

GROWTH = 1.04
_LOG_GROWTH = math.log(GROWTH)


def bucket_of(ms: float) -> int:
    """The bucket a duration falls in."""
    if ms <= 1:
        return 0
    return math.ceil(math.log(ms) / _LOG_GROWTH - 1e-9)


def bucket_upper(index: int) -> float:
    """The largest duration bucket ``index`` holds, in ms."""
    return 1.0 if index <= 0 else GROWTH**index


class Histogram:
    """Counts of durations per bucket."""

    __slots__ = ("counts",)

    def __init__(self, counts: Mapping[int, int] | None = None) -> None:
        self.counts: Counter[int] = Counter(counts or {})

    def add(self, ms: float) -> None:
        self.counts[bucket_of(ms)] += 1

    def merge(self, other: Histogram) -> None:
        self.counts.update(other.counts)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def percentile(self, percent: float) -> float | None:
        """Nearest-rank percentile as its bucket's upper bound (None when empty)."""
        total = self.total
        if total == 0:
            return None
        rank = max(1, math.ceil(percent / 100 * total))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return round(bucket_upper(index), 1)
        return round(bucket_upper(max(self.counts)), 1)  # pragma: no cover - rank <= total

    def to_json(self) -> dict[str, int]:
        return {str(index): count for index, count in sorted(self.counts.items()) if count}

    @classmethod
    def from_json(cls, data: Mapping[str, int]) -> Histogram:
        return cls({int(index): int(count) for index, count in data.items()})

    @classmethod
    def merged(cls, histograms: Iterable[Histogram]) -> Histogram:
        result = cls()
        for histogram in histograms:
            result.merge(histogram)
        return result
