"""The Cloud Tasks HTTP target: ``POST /tasks`` runs one attempt of a run.

Answers (Cloud Tasks retries anything but 2xx):

* 200: the attempt ran and its outcome is stored (success, a scheduled retry,
  or a failure dead-lettered), or there was nothing to do (finished, stale);
* 429 + Retry-After: this instance is full, the run is shedding, or another
  worker holds the run's live lease (come back when it expires);
* 400 / 401 / 404: a malformed task, a caller that is not the queue, an unknown run.

``GET /tasks/health`` reports in-flight, queued, running and waiting runs.
"""

from __future__ import annotations

from shared import runtime
from shared.auth import authenticate_api_or_tasks, authenticate_tasks
from shared.http.edge import Request, Response, Router, http_function
from shared.http.errors import BadRequest, NotFound, TooManyRequests
from shared.jobs import plane as jobs_plane
from shared.jobs import service
from shared.jobs.executor import Action, Executor
from shared.jobs.store import RunNotFound
from shared.jobs.tasks import InvalidTask, TaskBody

router = Router()


@router.route("POST", "/tasks")
def execute(request: Request) -> Response:
    authenticate_tasks(request)
    plane = jobs_plane.current()
    try:
        task = TaskBody.parse(request.json())
    except InvalidTask as exc:
        raise BadRequest(str(exc), code="invalid_task") from None
    if not plane.limiter.try_acquire():
        raise TooManyRequests(
            f"this instance already runs {plane.limiter.limit} tasks",
            code="worker_busy",
            retry_after=plane.settings.retry_after_s,
        )
    try:
        delivery = Executor(plane).execute(task.run_id, task.attempt)
    except RunNotFound:
        raise NotFound(f"no run {task.run_id!r}", code="run_not_found") from None
    finally:
        plane.limiter.release()
    run = delivery.run
    body = {
        "run_id": run.run_id,
        "action": delivery.action.value,
        "status": run.status.value,
        "attempt": len(run.attempts),
        "outcome": delivery.outcome,
    }
    if delivery.action is Action.BUSY:
        raise TooManyRequests(
            "another delivery of this run is in progress",
            code="run_in_progress",
            retry_after=delivery.retry_after_s,
            details={"run_id": run.run_id},
        )
    if delivery.action is Action.SHED:
        raise TooManyRequests(
            "shedding load: this job type's priority is below the current threshold",
            code="shed",
            retry_after=delivery.retry_after_s,
            details={"run_id": run.run_id},
        )
    return Response(body)


@router.route("GET", "/tasks/health")
def health(request: Request) -> Response:
    authenticate_api_or_tasks(request)
    return Response(service.queue_stats(jobs_plane.current()))


execute_task_function = http_function(
    router, max_body_bytes=lambda: runtime.settings().max_body_bytes
)
