"""The sweeper: finds runs nothing will move any more, and moves them per policy.

* RUNNING with an expired lease (the worker died or hung): the attempt ends as
  ``lease_expired``; the policy re-queues the run (a new task) or fails it
  (dead letter) or escalates it.
* QUEUED whose task was due more than ``lost_task_after`` ago with no attempt
  started (the task was lost, or enqueueing failed): the attempt counts as
  ``lost``; the policy re-queues or fails it.

It lists ``runs/`` from a watermark kept at ``sweeper/watermark.json`` (every
run before it is final), so a sweep reads only unfinished runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta

from shared.clock import Clock
from shared.jobs import events
from shared.jobs.backpressure import scan_active
from shared.jobs.deadletters import write_dead_letter
from shared.jobs.events import NullNotifier, RunNotifier
from shared.jobs.models import Run, RunStatus
from shared.jobs.outcomes import expire_lease, record_lost_task
from shared.jobs.policy import Policies, load_policies
from shared.jobs.store import RunNotFound, RunStore, run_id_from_name
from shared.jobs.tasks import enqueue_next_attempt
from shared.queue.base import QueueError, TaskQueue
from shared.storage import ObjectStore


@dataclass(frozen=True)
class SweepReport:
    scanned: int
    running: int
    queued: int
    expired_leases: int
    lost_tasks: int
    requeued: int
    dead_lettered: int
    escalated: int
    stale_heartbeat_ratio: float

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def sweep(
    store: ObjectStore,
    queue: TaskQueue,
    clock: Clock,
    *,
    policies: Policies | None = None,
    lost_task_after_ms: int = 900_000,
    notifier: RunNotifier | None = None,
) -> SweepReport:
    """One pass over the unfinished runs; returns what it found and did."""
    policies = policies or load_policies(None)
    notifier = notifier or NullNotifier()
    runs = RunStore(store)
    watermark = runs.read_watermark()
    scan = scan_active(runs, watermark)
    now = clock()
    lost_after = timedelta(milliseconds=lost_task_after_ms)
    running = queued = expired = lost = requeued = dead = escalated = 0
    for info in scan.active:
        try:
            versioned = runs.get(run_id_from_name(info.name))
        except RunNotFound:
            continue
        run = versioned.run
        if run.status is RunStatus.RUNNING:
            running += 1
            if run.lease is None or run.lease.expired(now):
                expired += 1
                change: Callable[[Run], Run | None] = _expire_if_stale(policies, clock)
            else:
                continue
        elif run.status is RunStatus.QUEUED:
            queued += 1
            due = run.scheduled_at or run.updated_at
            if now - due < lost_after:
                continue
            lost += 1
            change = _lost_if_still_queued(policies, clock, lost_after)
        else:
            continue
        result, wrote = runs.update(run.run_id, change, current=versioned)
        if not wrote:
            continue
        new = result.run
        if new.status is RunStatus.QUEUED:
            try:
                enqueue_next_attempt(queue, new)
                requeued += 1
            except QueueError:
                pass  # still QUEUED and due: the next sweep tries again
        elif new.status is RunStatus.FAILED:
            write_dead_letter(store, new, clock)
            dead += 1
        elif new.status is RunStatus.WAITING_APPROVAL:
            escalated += 1
        events.notify(notifier, new)
    if scan.watermark and scan.watermark != watermark:
        runs.write_watermark(scan.watermark)
    return SweepReport(
        scanned=len(scan.active),
        running=running,
        queued=queued,
        expired_leases=expired,
        lost_tasks=lost,
        requeued=requeued,
        dead_lettered=dead,
        escalated=escalated,
        stale_heartbeat_ratio=round(expired / running, 3) if running else 0.0,
    )


def _expire_if_stale(policies: Policies, clock: Clock) -> Callable[[Run], Run | None]:
    def change(run: Run) -> Run | None:
        now = clock()
        if run.status is not RunStatus.RUNNING or (run.lease and not run.lease.expired(now)):
            return None
        return expire_lease(run, policies.for_job(run.job_type), now)

    return change


def _lost_if_still_queued(
    policies: Policies, clock: Clock, lost_after: timedelta
) -> Callable[[Run], Run | None]:
    def change(run: Run) -> Run | None:
        now = clock()
        if run.status is not RunStatus.QUEUED:
            return None
        if now - (run.scheduled_at or run.updated_at) < lost_after:
            return None
        return record_lost_task(run, policies.for_job(run.job_type), now)

    return change
