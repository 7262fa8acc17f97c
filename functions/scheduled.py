"""The scheduled function: Cloud Scheduler runs the schedule runner through it.

    POST /schedule/run[?job=<name>][&force=true]   run what is due now (or one job)
    GET  /schedule/status                           configuration, state, next runs

``/schedule/run`` is authenticated like task deliveries (the scheduler's OIDC
token or ``TASKS_AUTH_TOKEN``); Cloud Scheduler calls it every minute, or once
per job with ``?job=``. A failing job is reported in the answer and in the run
log, not as an HTTP error, so the scheduler does not retry a period that ran.
"""

from __future__ import annotations

from typing import Any

from shared.auth import authenticate_api_or_tasks, authenticate_tasks
from shared.clock import Clock, isoformat, utcnow
from shared.http.edge import Request, Response, Router, http_function
from shared.http.errors import BadRequest, HttpError, NotFound
from shared.schedule import ScheduleConfigError, ScheduleRunner, UnknownJob, default_runner

router = Router()
clock: Clock = utcnow

_TRUE = {"1", "true", "yes"}
_FALSE = {"", "0", "false", "no"}


def _runner() -> ScheduleRunner:
    try:
        return default_runner(clock)
    except ScheduleConfigError as exc:
        raise HttpError(str(exc), code="misconfigured") from None


def _flag(request: Request, name: str) -> bool:
    value = request.query.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadRequest(f"query parameter {name!r} must be true or false, got {value!r}")


@router.route("POST", "/schedule/run")
def run(request: Request) -> Response:
    authenticate_tasks(request)
    force = _flag(request, "force")
    job = request.query.get("job") or None
    runner = _runner()
    now = clock()
    try:
        outcomes = runner.run_once(now, force=force, only=job)
    except UnknownJob as exc:
        raise NotFound(str(exc), code="unknown_job") from None
    body: dict[str, Any] = {
        "now": isoformat(now),
        "enabled": runner.config.enabled,
        "timezone": runner.config.timezone,
        "ran": [outcome.to_json() for outcome in outcomes],
    }
    return Response(body)


@router.route("GET", "/schedule/status")
def status(request: Request) -> Response:
    authenticate_api_or_tasks(request)
    runner = _runner()
    now = clock()
    return Response(
        {
            "now": isoformat(now),
            "enabled": runner.config.enabled,
            "timezone": runner.config.timezone,
            "source": runner.config.source,
            "dashboardIssue": runner.config.dashboard_issue,
            "jobs": [job.to_json() for job in runner.status(now)],
        }
    )


scheduled_function = http_function(router)
