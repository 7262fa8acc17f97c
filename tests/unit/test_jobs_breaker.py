"""The circuit breaker: closed, open, half-open, with its state shared through the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.jobs.breaker import BreakerState, CircuitBreaker, CircuitOpen
from shared.storage.memory import MemoryStore


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def breakers(count: int) -> tuple[list[CircuitBreaker], Clock]:
    """``count`` breakers for one downstream on one store, like instances of one service."""
    store, clock = MemoryStore(), Clock()
    return [
        CircuitBreaker(
            store, "api.example.com", failure_threshold=3, recovery_ms=10_000, clock=clock
        )
        for _ in range(count)
    ], clock


def test_failures_counted_across_instances_open_the_breaker_for_all() -> None:
    """Three failures recorded by different instances open the breaker everywhere."""
    (a, b, c), _ = breakers(3)
    a.record_failure()
    b.record_failure()
    c.before_call()  # still closed after two failures
    c.record_failure()
    for breaker in (a, b, c):
        assert breaker.state() is BreakerState.OPEN
        with pytest.raises(CircuitOpen):
            breaker.before_call()


def test_a_success_resets_the_failure_count() -> None:
    """Failures must be consecutive: a success in between starts the count again."""
    (breaker,), _ = breakers(1)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state() is BreakerState.CLOSED


def test_after_recovery_exactly_one_caller_probes() -> None:
    """Once the recovery time passed, one caller gets the half-open probe; others fail fast."""
    (a, b), clock = breakers(2)
    for _ in range(3):
        a.record_failure()
    clock.now += timedelta(seconds=11)
    a.before_call()  # the probe
    assert b.state() is BreakerState.HALF_OPEN
    with pytest.raises(CircuitOpen):
        b.before_call()


@pytest.mark.parametrize(
    ("probe_ok", "state"),
    [
        pytest.param(True, BreakerState.CLOSED, id="probe-succeeds"),
        pytest.param(False, BreakerState.OPEN, id="probe-fails"),
    ],
)
def test_the_probe_decides(probe_ok: bool, state: BreakerState) -> None:
    """A successful probe closes the breaker; a failed one opens it for another recovery."""
    (breaker,), clock = breakers(1)
    for _ in range(3):
        breaker.record_failure()
    clock.now += timedelta(seconds=11)
    breaker.before_call()
    if probe_ok:
        breaker.record_success()
    else:
        breaker.record_failure()
    assert breaker.state() is state
    if not probe_ok:
        with pytest.raises(CircuitOpen) as caught:
            breaker.before_call()
        assert 9 <= caught.value.retry_after_s <= 10


def test_a_probe_whose_caller_vanished_is_retried_after_a_recovery() -> None:
    """A half-open breaker whose probe never reported lets a new probe through later."""
    (a, b), clock = breakers(2)
    for _ in range(3):
        a.record_failure()
    clock.now += timedelta(seconds=11)
    a.before_call()  # a dies without reporting
    clock.now += timedelta(seconds=11)
    b.before_call()
    b.record_success()
    assert a.state() is BreakerState.CLOSED


def test_a_healthy_downstream_costs_no_writes() -> None:
    """Successes in the closed state never write the breaker object."""
    (breaker,), _ = breakers(1)
    for _ in range(5):
        breaker.before_call()
        breaker.record_success()
    assert list(breaker.store.list("breakers/")) == []
