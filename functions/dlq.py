"""The dlq function: dead-letter triage and replay.

    GET  /dlq/triage?since=&until=&job_type=&code=&kind=   API token (like /runs)
    POST /dlq/replay   {"ids"?, "job_type"?, "code"?, "since"?, "until"?, "kind"?,
                        "dry_run"?, "limit"?, "all"?}     authenticated like /tasks

Triage answers the redacted summary; replay answers counts and ids.
"""

from __future__ import annotations

from shared.auth import authenticate_api, authenticate_tasks
from shared.dlq import replay, triage
from shared.dlq.replay import callback_sender_from_env
from shared.dlq.requests import replay_request, triage_filter
from shared.http.edge import Request, Response, Router, http_function
from shared.jobs import plane as jobs_plane

router = Router()


@router.route("GET", "/dlq/triage")
def get_triage(request: Request) -> Response:
    authenticate_api(request)
    selection = triage_filter(request.query)
    plane = jobs_plane.current()
    return Response(triage(plane.store, selection, clock=plane.clock).to_dict())


@router.route("POST", "/dlq/replay")
def post_replay(request: Request) -> Response:
    caller = authenticate_tasks(request)
    wanted = replay_request(request.json_object())
    plane = jobs_plane.current()
    report = replay(
        plane,
        wanted.selection,
        actor=caller.name,
        dry_run=wanted.dry_run,
        limit=wanted.limit,
        callback_sender=callback_sender_from_env(plane),
    )
    return Response(report.to_dict(), 200 if report.error is None else 503)


dlq_function = http_function(router)
