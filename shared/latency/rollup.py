"""Hourly rollups per source: count, percentiles, max, error rate, breach flag.

Percentiles use the **nearest-rank** method: the p-th percentile of n sorted
latencies is the value at 1-based rank ``ceil(p / 100 * n)``. It always
returns a latency that was actually observed, and equals
``numpy.percentile(values, p, method="inverted_cdf")``.

Error samples count in ``count`` and ``error_rate`` but never in the
percentiles. ``breach_flag`` is ``p95_ms > threshold_ms``; an hour in which
every request failed has no percentiles and is flagged as a breach too, since
an unreachable endpoint is not within its SLO.

Stored at ``latency/rollups/<source>/<YYYYMMDDHH>.json``; CSV exports carry
``hour_utc,p50_ms,p95_ms,breach_flag``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from shared.clock import isoformat, parse_iso
from shared.latency.raw import hour_of, read_hour_values
from shared.storage import ObjectStore
from shared.storage.errors import ObjectNotFound

ROLLUP_PREFIX = "latency/rollups/"
CSV_COLUMNS = ("hour_utc", "p50_ms", "p95_ms", "breach_flag")
_AGE = re.compile(r"^(\d{1,6})\s*([mhdw])$")
_AGE_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """An age such as ``90m``, ``6h``, ``7d``, ``2w`` before ``now``, or an ISO 8601 time.

    Raises ValueError with a message fit for the caller.
    """
    cleaned = text.strip()
    match = _AGE.match(cleaned)
    try:
        if match:
            amount, unit = match.groups()
            return now - timedelta(**{_AGE_UNITS[unit]: int(amount)})
        return parse_iso(cleaned)
    except (ValueError, OverflowError):
        raise ValueError(
            f"invalid time {text!r}: use an ISO 8601 time or an age like 90m, 6h, 7d, 2w"
        ) from None


def nearest_rank(ordered: Sequence[float], percent: float) -> float:
    """The nearest-rank percentile of already sorted values (0 < percent <= 100)."""
    if not ordered:
        raise ValueError("no values")
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], got {percent}")
    # Exact arithmetic: 95 * 20 / 100 must be rank 19, not 19.000000000000004 -> 20.
    rank = math.ceil(Fraction(str(percent)) * len(ordered) / 100)
    return ordered[max(rank, 1) - 1]


@dataclass(frozen=True)
class Rollup:
    """One source's figures for one UTC hour."""

    source: str
    hour: datetime
    count: int
    error_count: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    threshold_ms: float
    generated_at: datetime

    @property
    def error_rate(self) -> float:
        return self.error_count / self.count if self.count else 0.0

    @property
    def breach_flag(self) -> bool:
        if self.p95_ms is None:
            return self.count > 0
        return self.p95_ms > self.threshold_ms

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "hour_utc": isoformat(self.hour),
            "count": self.count,
            "error_count": self.error_count,
            "error_rate": round(self.error_rate, 6),
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "threshold_ms": self.threshold_ms,
            "breach_flag": self.breach_flag,
            "generated_at": isoformat(self.generated_at),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rollup:
        def number(key: str) -> float | None:
            value = data.get(key)
            return None if value is None else float(value)

        return cls(
            source=str(data["source"]),
            hour=parse_iso(str(data["hour_utc"])),
            count=int(data["count"]),
            error_count=int(data["error_count"]),
            p50_ms=number("p50_ms"),
            p95_ms=number("p95_ms"),
            p99_ms=number("p99_ms"),
            max_ms=number("max_ms"),
            threshold_ms=float(data["threshold_ms"]),
            generated_at=parse_iso(str(data["generated_at"])),
        )


def summarize(
    source: str,
    hour: datetime,
    latencies: Iterable[float],
    error_count: int,
    *,
    threshold_ms: float,
    generated_at: datetime,
) -> Rollup:
    """Compute one rollup from the successful latencies and the error count."""
    ordered = sorted(latencies)
    p50: float | None
    p95: float | None
    p99: float | None
    top: float | None
    if ordered:
        p50, p95, p99 = (nearest_rank(ordered, p) for p in (50, 95, 99))
        top = ordered[-1]
    else:
        p50 = p95 = p99 = top = None
    return Rollup(
        source=source,
        hour=hour_of(hour),
        count=len(ordered) + error_count,
        error_count=error_count,
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        max_ms=top,
        threshold_ms=threshold_ms,
        generated_at=generated_at,
    )


def rollup_name(source: str, hour: datetime) -> str:
    return f"{ROLLUP_PREFIX}{source}/{hour_of(hour):%Y%m%d%H}.json"


def build_rollup(
    store: ObjectStore,
    source: str,
    hour: datetime,
    *,
    threshold_ms: float,
    generated_at: datetime,
) -> Rollup:
    """Recompute one hour from its raw samples and store the rollup."""
    values, errors = read_hour_values(store, source, hour)
    rollup = summarize(
        source, hour, values, errors, threshold_ms=threshold_ms, generated_at=generated_at
    )
    store.put(rollup_name(source, hour), json.dumps(rollup.to_json(), sort_keys=True).encode())
    return rollup


def read_rollups(
    store: ObjectStore, *, source: str | None = None, since: datetime | None = None
) -> list[Rollup]:
    """Stored rollups (of one source, from ``since``'s hour on), by hour then source."""
    prefix = f"{ROLLUP_PREFIX}{source}/" if source else ROLLUP_PREFIX
    start_hour = hour_of(since) if since is not None else None
    start_after = f"{prefix}{start_hour:%Y%m%d%H}" if source and start_hour else None
    start_stamp = f"{start_hour:%Y%m%d%H}" if start_hour else ""
    out: list[Rollup] = []
    for info in store.list(prefix, start_after=start_after):
        if info.name.rsplit("/", 1)[-1] < start_stamp:
            continue  # older than asked for: decided by the name, never read
        try:
            rollup = Rollup.from_json(json.loads(store.get(info.name).data))
        except ObjectNotFound:
            continue
        except (ValueError, KeyError, TypeError):
            continue  # one damaged object must not hide the rest
        if start_hour is not None and rollup.hour < start_hour:
            continue
        out.append(rollup)
    out.sort(key=lambda r: (r.hour, r.source))
    return out


def to_csv(rollups: Iterable[Rollup]) -> str:
    """``hour_utc,p50_ms,p95_ms,breach_flag`` rows; empty cells when all requests failed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for rollup in rollups:
        writer.writerow(
            [
                isoformat(rollup.hour),
                "" if rollup.p50_ms is None else repr(rollup.p50_ms),
                "" if rollup.p95_ms is None else repr(rollup.p95_ms),
                "true" if rollup.breach_flag else "false",
            ]
        )
    return buffer.getvalue()
