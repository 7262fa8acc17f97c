"""Retrying a FAILED run: a new run with the same job, linked by ``retry_of_run_id``.

Only the run's owner may retry it, and only once it is FAILED; the original
run is never changed. An ``Idempotency-Key`` makes a repeated request return
the same new run.
"""

from __future__ import annotations

from shared.http.errors import Conflict, Forbidden
from shared.jobs import service
from shared.jobs.models import Run, RunStatus
from shared.jobs.plane import Plane


def retry_failed_run(
    plane: Plane, run_id: str, caller: str, idempotency_key: str | None = None
) -> tuple[Run, bool]:
    """Submit a new run retrying ``run_id``; (new run, created). 403 / 404 / 409 otherwise."""
    original = service.get_run(plane, run_id)
    if original.owner != caller:
        raise Forbidden("only the run's owner may retry it", code="not_owner")
    if original.status is not RunStatus.FAILED:
        raise Conflict(
            f"run {run_id} is {original.status.value}; only FAILED runs can be retried",
            code="not_failed",
            details={"status": original.status.value},
        )
    submission = service.Submission(
        job_type=original.job_type,
        params=original.params,
        priority=original.priority,
        requires_approval=original.requires_approval,
        retry_of_run_id=original.run_id,
    )
    return service.submit(plane, submission, caller, idempotency_key)
