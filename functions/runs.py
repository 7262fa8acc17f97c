"""The runs API: submit, read, list, approve, reject and cancel runs.

    POST /runs                {"job_type", "params"?, "priority"?, "requires_approval"?}
    GET  /runs/<run_id>
    GET  /runs?status=&job_type=&since=&cursor=&limit=
    POST /runs/<run_id>/approve | /reject | /cancel | /retry

Every call needs ``Authorization: Bearer <token>``; the caller owns what it submits.
Any authenticated caller may read and act on every run (an operators' API);
parameters are shown redacted, since they may carry credentials for the job.
"""

from __future__ import annotations

from shared import runtime
from shared.auth import authenticate_api
from shared.http.edge import Request, Response, Router, http_function
from shared.jobs import plane as jobs_plane
from shared.jobs import service

router = Router()


@router.route("POST", "/runs")
def submit_run(request: Request) -> Response:
    caller = authenticate_api(request)
    plane = jobs_plane.current()
    submission = service.parse_submission(request.json_object(), plane)
    key = request.headers.get("idempotency-key")
    run, created = service.submit(plane, submission, caller.name, key)
    body = {"run_id": run.run_id, "status": run.status.value, "created": created}
    return Response(body, 202 if created else 200, {"Location": f"/runs/{run.run_id}"})


@router.route("GET", "/runs")
def list_runs(request: Request) -> Response:
    authenticate_api(request)
    return Response(service.list_runs(jobs_plane.current(), request.query))


@router.route("GET", "/runs/<run_id>")
def get_run(request: Request) -> Response:
    authenticate_api(request)
    run = service.get_run(jobs_plane.current(), request.path_params["run_id"])
    return Response(service.run_view(run))


@router.route("POST", "/runs/<run_id>/approve")
def approve_run(request: Request) -> Response:
    caller = authenticate_api(request)
    run = service.approve(jobs_plane.current(), request.path_params["run_id"], caller.name)
    return Response(service.run_view(run))


@router.route("POST", "/runs/<run_id>/reject")
def reject_run(request: Request) -> Response:
    caller = authenticate_api(request)
    run = service.reject(jobs_plane.current(), request.path_params["run_id"], caller.name)
    return Response(service.run_view(run))


@router.route("POST", "/runs/<run_id>/cancel")
def cancel_run(request: Request) -> Response:
    caller = authenticate_api(request)
    run = service.cancel(jobs_plane.current(), request.path_params["run_id"], caller.name)
    return Response(service.run_view(run))


@router.route("POST", "/runs/<run_id>/retry")
def retry_run(request: Request) -> Response:
    """A FAILED run, retried by its owner as a new run (403 / 409 otherwise)."""
    from shared.callbacks.retry import retry_failed_run

    caller = authenticate_api(request)
    key = request.headers.get("idempotency-key")
    run, created = retry_failed_run(
        jobs_plane.current(), request.path_params["run_id"], caller.name, key
    )
    body = {
        "run_id": run.run_id,
        "status": run.status.value,
        "retry_of_run_id": run.retry_of_run_id,
    }
    return Response(body, 202 if created else 200, {"Location": f"/runs/{run.run_id}"})


runs_function = http_function(router, max_body_bytes=lambda: runtime.settings().max_body_bytes)
