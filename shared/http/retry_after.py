"""Waiting between attempts: ``Retry-After`` parsing and exponential backoff.

Every client that retries an HTTP call (callbacks, webhooks, the local queue
dispatcher) reads the same header and grows its wait the same way; this is
the one place that does it.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(
    value: str | None,
    now: datetime,
    *,
    cap: float | None = None,
    any_number: bool = False,
) -> float | None:
    """Seconds a ``Retry-After`` header asks for; None when absent or unreadable.

    The value is delta-seconds or an HTTP date (a date in the past is 0).
    RFC 9110 delta-seconds are digits only; ``any_number`` also accepts any
    float spelling ("1.5", "-4" read as 0), for peers known to send those.
    ``cap`` bounds the answer so a misbehaving peer cannot park the caller.
    """
    if not value:
        return None
    value = value.strip()
    seconds = _number(value) if any_number else (float(value) if value.isdigit() else None)
    if seconds is None:
        seconds = _until(value, now)
    if seconds is None or math.isnan(seconds):
        return None
    seconds = max(seconds, 0.0)
    return seconds if cap is None else min(seconds, cap)


def exponential_delay(attempt: int, base_s: float, cap_s: float | None = None) -> float:
    """``base_s`` doubled for every attempt after the first, at most ``cap_s``."""
    delay = base_s * 2.0 ** (attempt - 1)
    return delay if cap_s is None else min(cap_s, delay)


def equal_jitter(delay_s: float, rng: random.Random) -> float:
    """A wait between half of ``delay_s`` and all of it.

    At least half the step is kept, so retries still back off, while the
    random half spreads clients that failed together.
    """
    return delay_s / 2 + rng.uniform(0, delay_s / 2)


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _until(value: str, now: datetime) -> float | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # "-0000": HTTP dates are always GMT
        moment = moment.replace(tzinfo=UTC)
    return (moment - now).total_seconds()
