"""Seeding helpers for the report tests: runs driven through the real RunStore API.

Every run is created and moved through its states with ``RunStore.create``
and ``RunStore.update`` (compare-and-swap, transition checks) at times given
by an injected clock. What the seeder did is kept in ``seeded`` so tests
compute the expected counts on their own, without the code under test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.jobs.models import Attempt, AttemptOutcome, Run, RunStatus, new_run_id
from shared.jobs.store import RunStore
from shared.storage import ObjectStore


@dataclass(frozen=True)
class Seeded:
    """What the test knows about one seeded run."""

    run_id: str
    job_type: str
    created_at: datetime
    status: RunStatus
    duration_ms: float | None = None
    code: str | None = None
    message: str | None = None
    attempts: int = 0
    finished_at: datetime | None = None


class ManualClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Seeder:
    """Creates runs at the clock's time and plays their attempts."""

    def __init__(self, store: ObjectStore, clock: ManualClock) -> None:
        self.runs = RunStore(store)
        self.clock = clock
        self.seeded: list[Seeded] = []

    def _create(self, job_type: str, status: RunStatus) -> Run:
        now = self.clock()
        run = Run(
            run_id=new_run_id(now),
            job_type=job_type,
            params={"n": len(self.seeded)},
            owner="tests",
            status=status,
            created_at=now,
            updated_at=now,
            requires_approval=status is RunStatus.WAITING_APPROVAL,
        )
        self.runs.create(run)
        return run

    def waiting(self, job_type: str, at: datetime) -> str:
        """A run waiting for approval, created at ``at``."""
        self.clock.now = at
        run = self._create(job_type, RunStatus.WAITING_APPROVAL)
        self.seeded.append(Seeded(run.run_id, job_type, at, RunStatus.WAITING_APPROVAL))
        return run.run_id

    def queued(self, job_type: str, at: datetime) -> str:
        """A queued run that has not started, created at ``at``."""
        self.clock.now = at
        run = self._create(job_type, RunStatus.QUEUED)
        self.seeded.append(Seeded(run.run_id, job_type, at, RunStatus.QUEUED))
        return run.run_id

    def play(
        self,
        job_type: str,
        at: datetime,
        attempts: list[tuple[float, str | None]],
        *,
        message: str = "boom",
        gap_s: float = 1.0,
    ) -> Seeded:
        """Create a run at ``at`` and play ``attempts`` of (seconds, error code or None).

        A None code succeeds; failures retry while attempts remain, the last one fails
        the run. Attempts are ``gap_s`` apart.
        """
        self.clock.now = at
        run = self._create(job_type, RunStatus.QUEUED)
        first_start = None
        final = RunStatus.QUEUED
        code = None
        for index, (seconds, error) in enumerate(attempts, start=1):
            self.clock.now += timedelta(seconds=gap_s)
            started = self.clock()
            first_start = first_start or started

            def start(r: Run, number: int = index, t: datetime = started) -> Run:
                return r.evolve(
                    t,
                    status=RunStatus.RUNNING,
                    attempts=(*r.attempts, Attempt(number, t, worker="seed")),
                )

            self.runs.update(run.run_id, start)
            self.clock.now += timedelta(seconds=seconds)
            ended = self.clock()
            last = index == len(attempts)
            if error is None:
                final, code = RunStatus.SUCCEEDED, None
            elif last:
                final, code = RunStatus.FAILED, error
            else:
                final, code = RunStatus.QUEUED, error

            def finish(
                r: Run, t: datetime = ended, e: str | None = error, s: RunStatus = final
            ) -> Run:
                outcome = AttemptOutcome.SUCCEEDED if e is None else AttemptOutcome.FAILED
                attempt = r.attempts[-1].finish(t, outcome, e, message if e else None)
                return r.evolve(
                    t,
                    status=s,
                    attempts=r.with_last_attempt(attempt),
                    error_code=e if s is RunStatus.FAILED else None,
                    error_message=message if s is RunStatus.FAILED else None,
                    finished_at=t if s.final else None,
                )

            self.runs.update(run.run_id, finish)
            if error is None:
                break
        finished = self.clock() if final.final else None
        duration = (
            (finished - first_start).total_seconds() * 1000
            if finished is not None and first_start is not None
            else None
        )
        seeded = Seeded(
            run.run_id,
            job_type,
            at,
            final,
            duration,
            code if final is RunStatus.FAILED else None,
            message if final is RunStatus.FAILED else None,
            len(attempts),
            finished,
        )
        self.seeded.append(seeded)
        return seeded


def nearest_rank(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1]
