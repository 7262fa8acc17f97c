"""Execute one delivered attempt: claim, run under a timeout with heartbeats, record.

Exactly-once in effect rests on the claim: a compare-and-swap from QUEUED to
RUNNING with a lease. Of any number of concurrent deliveries of one task, one
write wins; the others re-read, see RUNNING under a live lease and get a
retryable BUSY (they will find the run finished next time, a no-op).

Store cost of a successful attempt: one read (the claim's) and two writes
(claim, finish), plus one write per heartbeat for handlers that outlive a
heartbeat interval.
"""

from __future__ import annotations

import enum
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from shared import logs
from shared.jobs import events
from shared.jobs.backpressure import shed_threshold
from shared.jobs.deadletters import write_dead_letter
from shared.jobs.handlers import HandlerContext, JobError
from shared.jobs.models import Attempt, AttemptOutcome, Lease, Run, RunStatus
from shared.jobs.outcomes import AttemptEnd, conclude, expire_lease, safe_message
from shared.jobs.plane import Plane
from shared.jobs.store import VersionedRun
from shared.jobs.tasks import enqueue_next_attempt
from shared.storage import PreconditionFailed

_log = logs.get_logger("opsplane.jobs.executor")


class Action(enum.StrEnum):
    EXECUTED = "executed"  # an attempt ran here and its outcome is stored
    FINISHED = "finished"  # the run had already finished: nothing to do
    STALE = "stale"  # a delivery for an attempt that is over
    NOT_RUNNABLE = "not_runnable"  # waiting for approval, or cancelled meanwhile
    BUSY = "busy"  # another worker holds a live lease: retry later
    LOST_LEASE = "lost_lease"  # the run changed under us (cancelled, reclaimed)
    SHED = "shed"  # load shedding turned this job type away for now: retry later


@dataclass(frozen=True)
class Delivery:
    """What happened to one delivery, for the HTTP answer."""

    action: Action
    run: Run
    retry_after_s: float | None = None

    @property
    def outcome(self) -> str | None:
        last = self.run.last_attempt
        return last.outcome.value if last and last.outcome else None


class Executor:
    """Runs deliveries against one plane (store, queue, policies, handlers)."""

    def __init__(self, plane: Plane) -> None:
        self.plane = plane

    def execute(self, run_id: str, attempt: int) -> Delivery:
        """Handle one delivery of ``run_id``'s attempt ``attempt``.

        Raises RunNotFound for an unknown run; the caller maps it to 404.
        """
        plane = self.plane
        holder = f"{plane.worker_id}:{uuid.uuid4().hex[:8]}"
        versioned = plane.runs.get(run_id)
        min_priority = self._shed_threshold()
        while True:
            run = versioned.run
            decision = self._decide(run, attempt, holder, min_priority)
            if isinstance(decision, Delivery):
                return decision
            try:
                versioned = plane.runs.replace(versioned, decision)
                break
            except PreconditionFailed:
                versioned = plane.runs.get(run_id)  # write first, then branch on what won
        claimed = versioned.run
        if claimed.status is not RunStatus.RUNNING:
            # The claim found an expired lease and the policy ended the run instead.
            self._after_write(claimed)
            return Delivery(Action.EXECUTED, claimed)
        events.notify(plane.notifier, claimed)
        return self._run_attempt(versioned, holder)

    # Claim

    def _shed_threshold(self) -> int:
        """The lowest job-type priority served now (0: no shedding)."""
        settings = self.plane.settings
        if not settings.shed_queue_depth and not settings.shed_error_rate:
            return 0  # shedding off: no queue-depth scan on the hot path
        queued = self.plane.depth.queued() if settings.shed_queue_depth else 0
        return shed_threshold(
            queued,
            self.plane.error_rate.ratio(),
            queue_limit=settings.shed_queue_depth,
            error_limit=settings.shed_error_rate,
            shed_below=settings.shed_below_priority,
        )

    def _decide(self, run: Run, attempt: int, holder: str, min_priority: int) -> Run | Delivery:
        plane = self.plane
        now = plane.clock()
        if run.status.final:
            if run.status is RunStatus.FAILED:
                # Heals a crash between the FAILED write and its dead letter.
                write_dead_letter(plane.store, run, plane.clock)
            return Delivery(Action.FINISHED, run)
        if run.status is RunStatus.WAITING_APPROVAL:
            return Delivery(Action.NOT_RUNNABLE, run)
        if run.status is RunStatus.QUEUED:
            if attempt < run.next_attempt:
                if attempt == run.next_attempt - 1:
                    # Heals a crash between storing a retry and enqueueing its task.
                    enqueue_next_attempt(plane.queue, run)
                return Delivery(Action.STALE, run)
            if plane.policies.for_job(run.job_type).priority < min_priority:
                retry_after = float(plane.settings.retry_after_s)
                return Delivery(Action.SHED, run, retry_after_s=retry_after)
            return self._claim(run, holder, now)
        current = run.current_attempt
        lease = run.lease
        if current is not None and attempt < current.number:
            return Delivery(Action.STALE, run)
        if lease is not None and not lease.expired(now):
            remaining = (lease.expires_at - now).total_seconds()
            return Delivery(Action.BUSY, run, retry_after_s=max(1.0, remaining))
        # The holder stopped heartbeating: end its attempt, then maybe start the next.
        expired = expire_lease(run, plane.policies.for_job(run.job_type), now)
        if expired.status is RunStatus.QUEUED:
            return self._claim(expired, holder, now)
        return expired

    def _claim(self, run: Run, holder: str, now: Any) -> Run:
        lease = Lease(holder, now + timedelta(milliseconds=self.plane.settings.lease_ms))
        attempt = Attempt(run.next_attempt, started_at=now, worker=self.plane.worker_id)
        return run.evolve(
            now,
            status=RunStatus.RUNNING,
            attempts=(*run.attempts, attempt),
            lease=lease,
            scheduled_at=None,
        )

    # Run the handler

    def _run_attempt(self, versioned: VersionedRun, holder: str) -> Delivery:
        plane = self.plane
        run = versioned.run
        attempt = run.attempts[-1]
        timeout_s = plane.settings.task_timeout_ms / 1000
        context = HandlerContext(
            run_id=run.run_id,
            job_type=run.job_type,
            attempt=attempt.number,
            deadline=plane.clock() + timedelta(seconds=timeout_s),
            breaker_for=plane.breaker_for,
            timeout_s=timeout_s,
        )
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                job = plane.registry.get(run.job_type)
                box["result"] = job.handler(context, dict(run.params))
            except BaseException as exc:  # noqa: BLE001 - reported as the attempt's outcome
                box["error"] = exc

        started = time.monotonic()
        done = _THREADS.run(target)
        heartbeat_s = plane.settings.heartbeat_ms / 1000
        while True:
            left = timeout_s - (time.monotonic() - started)
            if done.wait(max(0.0, min(heartbeat_s, left))):
                break
            if time.monotonic() - started >= timeout_s:
                context.cancelled.set()
                box["timeout"] = True
                break
            heartbeat = self._heartbeat(versioned, holder)
            if heartbeat is None:
                context.cancelled.set()
                latest = plane.runs.get(run.run_id).run
                return Delivery(Action.LOST_LEASE, latest)
            versioned = heartbeat
        end = _attempt_end(box, timeout_s)
        plane.error_rate.record(end.succeeded)
        return self._finish(versioned, holder, end)

    def _heartbeat(self, versioned: VersionedRun, holder: str) -> VersionedRun | None:
        """Extend our lease; None when the run is no longer ours."""
        plane = self.plane

        def extend(run: Run) -> Run | None:
            if not _still_ours(run, holder):
                return None
            now = plane.clock()
            lease = Lease(holder, now + timedelta(milliseconds=plane.settings.lease_ms))
            return replace(run, lease=lease, updated_at=now, revision=run.revision + 1)

        stored, wrote = plane.runs.update(versioned.run.run_id, extend, current=versioned)
        return stored if wrote else None

    def _finish(self, versioned: VersionedRun, holder: str, end: AttemptEnd) -> Delivery:
        plane = self.plane
        policy = plane.policies.for_job(versioned.run.job_type)

        def record(run: Run) -> Run | None:
            if not _still_ours(run, holder):
                return None
            return conclude(run, end, policy, plane.clock(), plane.rng)

        stored, wrote = plane.runs.update(versioned.run.run_id, record, current=versioned)
        if not wrote:
            _log.warning(
                "attempt result dropped: the run changed while it ran",
                extra={"fields": {"run_id": stored.run.run_id, "status": stored.run.status}},
            )
            return Delivery(Action.LOST_LEASE, stored.run)
        self._after_write(stored.run)
        return Delivery(Action.EXECUTED, stored.run)

    def _after_write(self, run: Run) -> None:
        """Follow-ups of a stored outcome: next task, dead letter, event."""
        if run.status is RunStatus.QUEUED:
            enqueue_next_attempt(self.plane.queue, run)
        elif run.status is RunStatus.FAILED:
            write_dead_letter(self.plane.store, run, self.plane.clock)
        events.notify(self.plane.notifier, run)


class HandlerThreads:
    """Runs handlers on reused threads; never blocks waiting for a free one.

    A handler gets its own thread so the executor can stop waiting at the
    timeout (Python cannot kill a thread). Starting a thread per attempt costs
    more than a no-op job, so idle threads are kept for ``idle_s`` and reused;
    a handler that hangs keeps its thread and the next attempt gets a new one.
    """

    def __init__(self, idle_s: float = 60.0) -> None:
        self.idle_s = idle_s
        self._lock = threading.Lock()
        self._idle: list[_HandlerThread] = []

    def run(self, fn: Callable[[], None]) -> threading.Event:
        """Start ``fn`` on an idle or new thread; the event is set when it returns."""
        done = threading.Event()
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is None:
            worker = _HandlerThread(self)
            worker.start()
        worker.jobs.put((fn, done))
        return done

    def _park(self, worker: _HandlerThread) -> None:
        with self._lock:
            self._idle.append(worker)

    def _retire(self, worker: _HandlerThread) -> bool:
        """Leave the idle list; False when a caller just took this thread."""
        with self._lock:
            if worker in self._idle:
                self._idle.remove(worker)
                return True
            return False


class _HandlerThread(threading.Thread):
    def __init__(self, pool: HandlerThreads) -> None:
        super().__init__(name="opsplane-job", daemon=True)
        self.pool = pool
        self.jobs: queue.SimpleQueue[tuple[Callable[[], None], threading.Event]] = (
            queue.SimpleQueue()
        )

    def run(self) -> None:
        while True:
            try:
                fn, done = self.jobs.get(timeout=self.pool.idle_s)
            except queue.Empty:
                if self.pool._retire(self):
                    return
                continue  # taken just now: its job is on the way
            try:
                fn()
            finally:
                done.set()
            self.pool._park(self)


_THREADS = HandlerThreads()


def _still_ours(run: Run, holder: str) -> bool:
    return run.status is RunStatus.RUNNING and run.lease is not None and run.lease.holder == holder


def _attempt_end(box: dict[str, Any], timeout_s: float) -> AttemptEnd:
    if box.get("timeout"):
        return AttemptEnd(
            AttemptOutcome.TIMEOUT,
            error_code="timeout",
            error_message=f"the attempt did not finish within {timeout_s:g}s",
            retryable=True,
        )
    error = box.get("error")
    if isinstance(error, JobError):
        return AttemptEnd(
            AttemptOutcome.FAILED,
            error_code=error.code,
            error_message=safe_message(error.message),
            retryable=error.retryable,
        )
    if error is not None:
        return AttemptEnd(
            AttemptOutcome.FAILED,
            error_code="handler_error",
            error_message=safe_message(f"{type(error).__name__}: {error}"),
            retryable=False,
        )
    return AttemptEnd(AttemptOutcome.SUCCEEDED, result=box.get("result"))
