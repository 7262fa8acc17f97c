"""The callbacks function: run events in, and replay of the ones that never arrived.

POST /callbacks          a run event, signed (HMAC) and/or with an OIDC ID token
                         200 {"applied", "duplicate", "status", ...}; 401 bad or
                         stale signature; 400 malformed event
POST /callbacks/replay   {"eventIds"?: [...], "since"?: ISO 8601, "dryRun"?: bool}
                         the same auth as /tasks; 200 when every letter landed,
                         207 with "failed" naming those that did not
"""

from __future__ import annotations

import functools
from typing import Any

from shared import runtime
from shared.auth import authenticate_tasks
from shared.callbacks import replay as replay_module
from shared.callbacks.config import CallbackSettings
from shared.callbacks.receiver import CallbackReceiver
from shared.callbacks.sender import CallbackSender
from shared.clock import parse_iso
from shared.http.edge import Request, Response, Router, http_function
from shared.http.errors import BadRequest, ServiceUnavailable
from shared.storage import ObjectStore

router = Router()


@functools.lru_cache(maxsize=4)
def _receiver(store: ObjectStore, settings: CallbackSettings) -> CallbackReceiver:
    # Cached per store and settings: the OIDC verifier keeps its certificates between requests.
    return CallbackReceiver(store, settings)


@router.route("POST", "/callbacks")
def receive(request: Request) -> Response:
    receiver = _receiver(runtime.store(), CallbackSettings.from_env())
    receipt = receiver.receive(request.body, request.headers, request.bearer_token())
    return Response(receipt.to_dict())


@router.route("POST", "/callbacks/replay")
def replay(request: Request) -> Response:
    authenticate_tasks(request)
    options = _replay_options(request)
    settings = CallbackSettings.from_env()
    if not settings.url:
        raise ServiceUnavailable(
            "WORKER_CALLBACK_URL is not set; there is nowhere to replay to",
            code="callbacks_not_configured",
            retry_after=60,
        )
    store = runtime.store()
    report = replay_module.replay(store, CallbackSender(store, settings), **options)
    return Response(report.to_dict(), 200 if report.ok else 207)


def _replay_options(request: Request) -> dict[str, Any]:
    doc = request.json_object() if request.body.strip() else {}
    unknown = set(doc) - {"eventIds", "since", "dryRun"}
    if unknown:
        raise BadRequest(f"unknown fields {sorted(unknown)}", code="unknown_field")
    event_ids = doc.get("eventIds")
    if event_ids is not None and (
        not isinstance(event_ids, list) or not all(isinstance(e, str) and e for e in event_ids)
    ):
        raise BadRequest("'eventIds' must be a list of event ids")
    since = doc.get("since")
    if since is not None:
        if not isinstance(since, str):
            raise BadRequest("'since' must be an ISO 8601 time")
        try:
            since = parse_iso(since)
        except ValueError:
            raise BadRequest("'since' must be an ISO 8601 time") from None
    dry_run = doc.get("dryRun", False)
    if not isinstance(dry_run, bool):
        raise BadRequest("'dryRun' must be true or false")
    return {"event_ids": event_ids, "since": since, "dry_run": dry_run}


callbacks_function = http_function(router)
