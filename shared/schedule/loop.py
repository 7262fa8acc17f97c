"""``run_loop``: tick the schedule runner every minute until told to stop.

``opsplane schedule loop`` runs it in the foreground; the local stack runs it
in a thread. Each tick builds a fresh runner, so a changed configuration file
takes effect on the next minute, and a bad one is logged instead of ending
the loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from shared import logs
from shared.clock import Clock, utcnow
from shared.schedule.runner import JobOutcome, ScheduleRunner, default_runner

TICK_SECONDS = 60.0
_log = logs.get_logger("opsplane.schedule")


def run_loop(
    stop_event: threading.Event,
    clock: Clock = utcnow,
    *,
    interval_seconds: float = TICK_SECONDS,
    runner_factory: Callable[[Clock], ScheduleRunner] = default_runner,
    on_tick: Callable[[list[JobOutcome]], None] | None = None,
) -> int:
    """Run due jobs at every interval boundary until ``stop_event`` is set; returns ticks."""
    ticks = 0
    while not stop_event.is_set():
        now = clock()
        try:
            outcomes = runner_factory(clock).run_once(now)
        except Exception as exc:  # noqa: BLE001 - one bad tick must not stop the schedule
            _log.error(
                "schedule tick failed",
                extra={"fields": {"error": f"{type(exc).__name__}: {exc}"}},
            )
            outcomes = []
        ticks += 1
        if on_tick is not None:
            on_tick(outcomes)
        # Sleep to the next boundary (minute by default), not a fixed interval, so
        # ticks stay aligned with the wall clock however long the jobs took.
        elapsed_in_interval = clock().timestamp() % interval_seconds
        stop_event.wait(max(0.01, interval_seconds - elapsed_in_interval))
    return ticks
