"""``POST /latency/sample`` (Cloud Scheduler, every 15 minutes) and ``GET /latency/rollups``.

The sample endpoint is authenticated like task deliveries (the scheduler's
OIDC token or ``TASKS_AUTH_TOKEN``) and answers the run: ``status`` ok, skipped
(another run holds the lock) or error (alerts undeliverable), with the summary.
Its optional JSON body: ``{"dry_run_alert": bool, "raw_retention_days": int,
"rollup_retention_days": int}``.

The rollups endpoint (API or task credentials) answers JSON, or CSV with
``hour_utc,p50_ms,p95_ms,breach_flag`` for one ``source``; ``since`` is an ISO
8601 time or an age such as ``6h`` (default 24 hours).
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any

from shared import runtime
from shared.auth import authenticate_api_or_tasks, authenticate_tasks
from shared.clock import isoformat, utcnow
from shared.http.edge import Request, Response, Router, http_function
from shared.http.errors import BadRequest
from shared.latency import load_config, read_rollups, run_latency_job, to_csv
from shared.latency.rollup import parse_since

router = Router()
_SOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SAMPLE_OPTIONS = {"dry_run_alert", "raw_retention_days", "rollup_retention_days"}


@router.route("POST", "/latency/sample")
def sample(request: Request) -> Response:
    authenticate_tasks(request)
    options = _sample_options(request)
    config = load_config(os.environ, base_url=runtime.settings().base_url)
    run = run_latency_job(runtime.store(), config, **options)
    return Response(run.to_json())


@router.route("GET", "/latency/rollups")
def rollups(request: Request) -> Response:
    authenticate_api_or_tasks(request)
    source = request.query.get("source") or None
    if source is not None and not _SOURCE.match(source):
        raise BadRequest(f"invalid source {source!r}", code="invalid_source")
    now = utcnow()
    since_text = request.query.get("since")
    try:
        since = parse_since(since_text, now) if since_text else now - timedelta(hours=24)
    except ValueError as exc:
        raise BadRequest(str(exc), code="invalid_since") from None
    output = request.query.get("format", "json")
    if output not in ("json", "csv"):
        raise BadRequest("format must be json or csv", code="invalid_format")
    if output == "csv" and source is None:
        raise BadRequest("a CSV export is for one source: add ?source=", code="source_required")
    found = read_rollups(runtime.store(), source=source, since=since)
    if output == "csv":
        return Response(to_csv(found), content_type="text/csv; charset=utf-8")
    return Response(
        {"source": source, "since": isoformat(since), "rollups": [r.to_json() for r in found]}
    )


def _sample_options(request: Request) -> dict[str, Any]:
    if not request.body.strip():
        return {}
    body = request.json_object()
    unknown = sorted(set(body) - _SAMPLE_OPTIONS)
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}", code="invalid_options")
    options: dict[str, Any] = {}
    if "dry_run_alert" in body:
        if not isinstance(body["dry_run_alert"], bool):
            raise BadRequest("dry_run_alert must be true or false", code="invalid_options")
        options["dry_run_alert"] = body["dry_run_alert"]
    for key in ("raw_retention_days", "rollup_retention_days"):
        if key in body:
            value = body[key]
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
                raise BadRequest(f"{key} must be an integer from 1 to 3650", code="invalid_options")
            options[key] = value
    return options


latency_function = http_function(router)
