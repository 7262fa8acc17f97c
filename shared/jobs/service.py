"""The runs API's operations: submit, read, list, approve, reject, cancel, stats.

Errors are the HTTP tree's, so the function module only maps requests to
these calls. Illegal transitions are 409s; bad input is a 400 before any write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.clock import isoformat, parse_iso
from shared.http.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
)
from shared.jobs import events
from shared.jobs.deadletters import write_dead_letter
from shared.jobs.handlers import InvalidParams
from shared.jobs.models import (
    DEFAULT_PRIORITY,
    MAX_PRIORITY,
    MIN_PRIORITY,
    AttemptOutcome,
    IllegalTransition,
    Run,
    RunStatus,
    new_run_id,
    run_id_floor,
)
from shared.jobs.plane import Plane
from shared.jobs.store import (
    IdempotencyConflict,
    RunNotFound,
    VersionedRun,
    request_fingerprint,
)
from shared.jobs.tasks import enqueue_next_attempt
from shared.queue.base import QueueError
from shared.redaction import redact_data
from shared.storage import PreconditionFailed

MAX_PAGE = 200
_SUBMIT_FIELDS = {"job_type", "params", "priority", "requires_approval", "retry_of_run_id"}


@dataclass(frozen=True)
class Submission:
    """A validated ``POST /runs`` body."""

    job_type: str
    params: dict[str, Any]
    priority: int = DEFAULT_PRIORITY
    requires_approval: bool = False
    retry_of_run_id: str | None = None

    def fingerprint(self) -> str:
        return request_fingerprint(
            self.job_type,
            self.params,
            {
                "priority": self.priority,
                "requires_approval": self.requires_approval,
                "retry_of_run_id": self.retry_of_run_id,
            },
        )


def parse_submission(doc: Mapping[str, Any], plane: Plane) -> Submission:
    """Validate a submission against the known job types; BadRequest otherwise."""
    unknown = set(doc) - _SUBMIT_FIELDS
    if unknown:
        raise BadRequest(f"unknown fields {sorted(unknown)}", code="unknown_field")
    job_type = doc.get("job_type")
    if not isinstance(job_type, str) or not job_type:
        raise BadRequest("'job_type' is required and must be a string")
    if job_type not in plane.registry:
        raise BadRequest(
            f"unknown job type {job_type!r}",
            code="unknown_job_type",
            details={"known_job_types": plane.registry.names},
        )
    params = doc.get("params", {})
    if not isinstance(params, dict):
        raise BadRequest("'params' must be a JSON object")
    size = len(json.dumps(params))
    if size > plane.settings.max_params_bytes:
        raise PayloadTooLarge(
            f"'params' is {size} bytes; the limit is {plane.settings.max_params_bytes}"
        )
    try:
        plane.registry.validate(job_type, params)
    except InvalidParams as exc:
        raise BadRequest(str(exc), code="invalid_params") from None
    priority = doc.get("priority", DEFAULT_PRIORITY)
    if (
        not isinstance(priority, int)
        or isinstance(priority, bool)
        or not MIN_PRIORITY <= priority <= MAX_PRIORITY
    ):
        raise BadRequest(f"'priority' must be an integer {MIN_PRIORITY}..{MAX_PRIORITY}")
    requires_approval = doc.get("requires_approval", False)
    if not isinstance(requires_approval, bool):
        raise BadRequest("'requires_approval' must be true or false")
    retry_of = doc.get("retry_of_run_id")
    if retry_of is not None and not isinstance(retry_of, str):
        raise BadRequest("'retry_of_run_id' must be a string")
    return Submission(job_type, params, priority, requires_approval, retry_of)


def submit(
    plane: Plane, submission: Submission, owner: str, idempotency_key: str | None = None
) -> tuple[Run, bool]:
    """Create a run and enqueue its first attempt; (run, created).

    With an idempotency key, the same owner and key return the same run;
    a different body under the same key is a 409.
    """
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
        raise BadRequest("Idempotency-Key must be 1-255 characters")
    if plane.depth.queued() >= plane.settings.max_queue_size:
        # A retry of a submission that already made its run gets that run, not a 429.
        if idempotency_key is not None:
            try:
                earlier = plane.runs.run_for_idempotency_key(
                    owner, idempotency_key, submission.fingerprint()
                )
            except IdempotencyConflict as exc:
                raise Conflict(str(exc), code="idempotency_key_reused") from None
            if earlier is not None:
                return earlier, False
        raise TooManyRequests(
            f"the queue holds {plane.settings.max_queue_size} or more runs; retry later",
            code="queue_full",
            retry_after=plane.settings.retry_after_s,
        )
    now = plane.clock()
    run_id = new_run_id(now)
    if idempotency_key is not None:
        try:
            run_id = plane.runs.claim_idempotency_key(
                owner, idempotency_key, run_id, submission.fingerprint()
            )
        except IdempotencyConflict as exc:
            raise Conflict(str(exc), code="idempotency_key_reused") from None
    status = RunStatus.WAITING_APPROVAL if submission.requires_approval else RunStatus.QUEUED
    run = Run(
        run_id=run_id,
        job_type=submission.job_type,
        params=submission.params,
        owner=owner,
        status=status,
        created_at=now,
        updated_at=now,
        priority=submission.priority,
        idempotency_key=idempotency_key,
        retry_of_run_id=submission.retry_of_run_id,
        requires_approval=submission.requires_approval,
        scheduled_at=now if status is RunStatus.QUEUED else None,
    )
    try:
        plane.runs.create(run)
    except PreconditionFailed:
        # The key was bound to this id by an earlier request: that run is the answer.
        return plane.runs.get(run_id).run, False
    if status is RunStatus.QUEUED:
        plane.depth.note_created()
        _enqueue(plane, run)
    events.notify(plane.notifier, run)
    return run, True


def _enqueue(plane: Plane, run: Run) -> None:
    try:
        enqueue_next_attempt(plane.queue, run)
    except QueueError:
        # The run is stored; the sweeper re-sends a task that never arrived.
        from shared import logs

        logs.get_logger("opsplane.jobs").warning(
            "enqueue failed; the sweeper will retry", extra={"fields": {"run_id": run.run_id}}
        )


def get_run(plane: Plane, run_id: str) -> Run:
    try:
        return plane.runs.get(run_id).run
    except RunNotFound:
        raise NotFound(f"no run {run_id!r}", code="run_not_found") from None


def list_runs(plane: Plane, query: Mapping[str, str]) -> dict[str, Any]:
    """``GET /runs?status=&job_type=&since=&cursor=&limit=``, oldest first."""
    status = None
    if query.get("status"):
        try:
            status = RunStatus(query["status"].upper())
        except ValueError:
            raise BadRequest(
                f"unknown status {query['status']!r}; use one of {[s.value for s in RunStatus]}"
            ) from None
    try:
        limit = int(query.get("limit", "50"))
    except ValueError:
        raise BadRequest("'limit' must be an integer") from None
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"'limit' must be 1..{MAX_PAGE}")
    floor = None
    if query.get("since"):
        try:
            since: datetime = parse_iso(query["since"])
        except ValueError:
            raise BadRequest("'since' must be an ISO 8601 time") from None
        floor = run_id_floor(since)  # ids sort by creation time, so listing starts there
    runs, cursor = plane.runs.list(
        status=status,
        job_type=query.get("job_type") or None,
        start_after=query.get("cursor") or None,
        id_floor=floor,
        limit=limit,
    )
    return {"runs": [run_view(run) for run in runs], "next_cursor": cursor}


def approve(plane: Plane, run_id: str, caller: str) -> Run:
    """WAITING_APPROVAL -> QUEUED, and enqueue the next attempt."""
    now = plane.clock()

    def change(run: Run) -> Run:
        _require(run, {RunStatus.WAITING_APPROVAL}, RunStatus.QUEUED)
        return run.evolve(
            now,
            status=RunStatus.QUEUED,
            scheduled_at=now,
            extra={**run.extra, "approved_by": caller, "approved_at": isoformat(now)},
        )

    run = _update(plane, run_id, change)
    plane.depth.note_created()
    _enqueue(plane, run)
    events.notify(plane.notifier, run)
    return run


def reject(plane: Plane, run_id: str, caller: str) -> Run:
    """WAITING_APPROVAL -> CANCELLED; an escalated run (it has attempts) -> FAILED."""
    now = plane.clock()

    def change(run: Run) -> Run:
        escalated = bool(run.attempts)
        wanted = RunStatus.FAILED if escalated else RunStatus.CANCELLED
        _require(run, {RunStatus.WAITING_APPROVAL}, wanted)
        return run.evolve(
            now,
            status=wanted,
            finished_at=now,
            error_code=run.error_code if escalated else "rejected",
            extra={**run.extra, "rejected_by": caller, "rejected_at": isoformat(now)},
        )

    run = _update(plane, run_id, change)
    if run.status is RunStatus.FAILED:
        write_dead_letter(plane.store, run, plane.clock)
    events.notify(plane.notifier, run)
    return run


def cancel(plane: Plane, run_id: str, caller: str) -> Run:
    """Any unfinished run -> CANCELLED; a running attempt's result is then dropped."""
    now = plane.clock()

    def change(run: Run) -> Run:
        _require(
            run,
            {RunStatus.QUEUED, RunStatus.WAITING_APPROVAL, RunStatus.RUNNING},
            RunStatus.CANCELLED,
        )
        attempts = run.attempts
        current = run.current_attempt
        if current is not None:
            attempts = run.with_last_attempt(current.finish(now, AttemptOutcome.CANCELLED))
        return run.evolve(
            now,
            status=RunStatus.CANCELLED,
            attempts=attempts,
            lease=None,
            finished_at=now,
            error_code="cancelled",
            extra={**run.extra, "cancelled_by": caller},
        )

    run = _update(plane, run_id, change)
    events.notify(plane.notifier, run)
    return run


def _require(run: Run, allowed: set[RunStatus], wanted: RunStatus) -> None:
    if run.status not in allowed:
        raise IllegalTransition(run.run_id, run.status, wanted)


def _update(plane: Plane, run_id: str, change: Any) -> Run:
    try:
        stored: VersionedRun
        stored, _ = plane.runs.update(run_id, change)
    except RunNotFound:
        raise NotFound(f"no run {run_id!r}", code="run_not_found") from None
    except IllegalTransition as exc:
        raise Conflict(
            str(exc),
            code="illegal_transition",
            details={"status": exc.current.value},
        ) from None
    return stored.run


def queue_stats(plane: Plane) -> dict[str, Any]:
    """In flight here, and queued / running / waiting overall (cached, see backpressure)."""
    counts = plane.depth.counts()
    limit = plane.settings.max_concurrent_tasks
    in_flight = plane.limiter.in_flight
    return {
        "in_flight": in_flight,
        "max_concurrent_tasks": limit,
        "utilization_pct": round(100 * in_flight / limit, 1),
        "queued": counts[RunStatus.QUEUED],
        "running": counts[RunStatus.RUNNING],
        "waiting_approval": counts[RunStatus.WAITING_APPROVAL],
        "max_queue_size": plane.settings.max_queue_size,
        "queue_utilization_pct": round(
            100 * counts[RunStatus.QUEUED] / plane.settings.max_queue_size, 1
        ),
        "error_rate": round(plane.error_rate.ratio(), 3),
    }


def run_view(run: Run) -> dict[str, Any]:
    """A run as the API shows it: params redacted (they may carry credentials for the job)."""
    doc = run.to_dict()
    doc["params"] = redact_data(run.params)
    doc["attempt_count"] = len(run.attempts)
    return doc
