"""Time requests to each target with a monotonic clock.

A request that fails (timeout, refused connection, unexpected status) is an
*error sample*: it counts towards the error rate and the error budget but
never contributes a latency, so a fast ``connection refused`` cannot make a
broken endpoint look healthy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.clock import Clock, isoformat, parse_iso
from shared.latency.config import Target

if TYPE_CHECKING:
    import httpx

Monotonic = Callable[[], float]


@dataclass(frozen=True)
class Sample:
    """One timed request; ``latency_ms`` is None for an error sample."""

    timestamp_utc: datetime
    source: str
    target: str
    latency_ms: float | None
    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        return {
            "timestamp_utc": isoformat(self.timestamp_utc),
            "source": self.source,
            "target": self.target,
            "latency_ms": self.latency_ms,
            "status": self.status,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Sample:
        latency = data.get("latency_ms")
        status = data.get("status")
        return cls(
            timestamp_utc=parse_iso(str(data["timestamp_utc"])),
            source=str(data["source"]),
            target=str(data.get("target", "")),
            latency_ms=None if latency is None else float(latency),
            status=None if status is None else int(status),
            error=data.get("error"),
        )


def sample_target(
    client: httpx.Client,
    target: Target,
    *,
    clock: Clock,
    monotonic: Monotonic = time.monotonic,
) -> list[Sample]:
    """``target.samples`` sequential requests to one target."""
    import httpx

    samples: list[Sample] = []
    timeout = target.timeout_ms / 1000
    for _ in range(target.samples):
        at = clock()
        started = monotonic()
        try:
            response = client.request(target.method, target.url, timeout=timeout)
        except httpx.TimeoutException:
            samples.append(Sample(at, target.source, target.name, None, None, "timeout"))
            continue
        except httpx.HTTPError as exc:
            error = f"request_failed: {type(exc).__name__}"
            samples.append(Sample(at, target.source, target.name, None, None, error))
            continue
        elapsed_ms = round((monotonic() - started) * 1000, 3)
        if response.status_code != target.expected_status:
            error = f"unexpected_status: {response.status_code}"
            samples.append(
                Sample(at, target.source, target.name, None, response.status_code, error)
            )
            continue
        samples.append(Sample(at, target.source, target.name, elapsed_ms, response.status_code))
    return samples


def sample_all(
    targets: Iterable[Target],
    *,
    clock: Clock,
    client: httpx.Client | None = None,
    monotonic: Monotonic = time.monotonic,
) -> list[Sample]:
    """Sample every target; a client is built (and closed) when none is given."""
    import httpx

    own = client is None
    # No retries and no redirects: we measure the endpoint itself, once per sample.
    http = client or httpx.Client(follow_redirects=False)
    try:
        out: list[Sample] = []
        for target in targets:
            out.extend(sample_target(http, target, clock=clock, monotonic=monotonic))
        return out
    finally:
        if own:
            http.close()
