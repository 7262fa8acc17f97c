"""The spec itself, written as data with a few helpers so each operation reads in a few lines.

Request schemas are as strict as the handlers (unknown fields are 400s);
response schemas name the fields a client relies on and let the others be,
so a new field is not a breaking change. Every operation lists the errors it
can answer, all in the one ``Error`` shape of ``shared.http.edge``.
"""

from __future__ import annotations

import re
from typing import Any

from shared import __version__

JSON = "application/json"
Schema = dict[str, Any]

_RUN_STATUSES = ["QUEUED", "WAITING_APPROVAL", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
Security = list[dict[str, list[str]]]
_API: Security = [{"apiToken": []}]
_TASKS: Security = [{"tasksToken": []}]
_EITHER: Security = [{"tasksToken": []}, {"apiToken": []}]
_REASONS = {
    "200": "OK",
    "202": "Accepted",
    "207": "Partly done",
    "400": "Malformed request",
    "401": "Missing or invalid credentials",
    "403": "Not allowed for this caller",
    "404": "Not found",
    "405": "Method not allowed",
    "409": "Conflicts with the current state",
    "413": "Body too large",
    "415": "Body is not JSON",
    "429": "Busy or full; retry after Retry-After seconds",
    "500": "Misconfigured service",
    "503": "A dependency is unavailable; retry after Retry-After seconds",
}
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}},
}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: Schema, required: tuple[str, ...] = (), *, closed: bool = False) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


def _nullable(kind: str) -> Schema:
    return {"type": [kind, "null"]}


_STR = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_TIME = {"type": "string", "description": "ISO 8601 time"}

SCHEMAS: dict[str, Schema] = {
    "Error": _obj({"error": _STR, "message": _STR}, ("error", "message")),
    "Run": _obj(
        {
            "run_id": _STR,
            "job_type": _STR,
            "params": {"type": "object"},
            "owner": _STR,
            "status": {"enum": _RUN_STATUSES},
            "created_at": _TIME,
            "updated_at": _TIME,
            "priority": _INT,
            "attempts": {"type": "array", "items": {"type": "object"}},
            "attempt_count": _INT,
            "revision": _INT,
            "requires_approval": _BOOL,
            "retry_of_run_id": _nullable("string"),
        },
        ("run_id", "job_type", "status", "owner", "created_at", "attempts", "revision"),
    ),
    "RunAccepted": _obj(
        {"run_id": _STR, "status": {"enum": _RUN_STATUSES}, "created": _BOOL},
        ("run_id", "status"),
    ),
    "RunSubmission": _obj(
        {
            "job_type": {"type": "string", "minLength": 1},
            "params": {"type": "object"},
            "priority": {"type": "integer", "minimum": 0, "maximum": 9},
            "requires_approval": _BOOL,
            "retry_of_run_id": _STR,
        },
        ("job_type",),
        closed=True,
    ),
    "TaskBody": _obj(
        {
            "run_id": {"type": "string", "minLength": 1, "maxLength": 200},
            "attempt": {"type": "integer", "minimum": 1},
        },
        ("run_id", "attempt"),
    ),
    "CallbackEvent": {
        "type": "object",
        "description": "A run event signed by the worker (HMAC) or carrying an OIDC ID token",
    },
    "CallbackReceipt": _obj(
        {
            "eventId": _STR,
            "runId": _STR,
            "duplicate": _BOOL,
            "applied": _BOOL,
            "status": _nullable("string"),
            "revision": {"type": ["integer", "null"]},
        },
        ("eventId", "runId", "duplicate", "applied"),
    ),
    "CallbackReplayRequest": _obj(
        {
            "eventIds": {
                "type": ["array", "null"],
                "items": {"type": "string", "minLength": 1},
            },
            "since": {"type": ["string", "null"], "description": "ISO 8601 time"},
            "dryRun": _BOOL,
        },
        closed=True,
    ),
    "CallbackReplayReport": _obj(
        {
            "dryRun": _BOOL,
            "selected": {"type": "array"},
            "replayed": {"type": "array"},
            "failed": {"type": "array"},
            "missing": {"type": "array"},
            "ok": _BOOL,
        },
        ("ok",),
    ),
    "DlqReplayRequest": _obj(
        {
            "ids": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "job_type": _STR,
            "code": _STR,
            "kind": _STR,
            "since": _TIME,
            "until": _TIME,
            "dry_run": _BOOL,
            "all": _BOOL,
            "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
        },
        closed=True,
    ),
    "DlqReplayReport": _obj(
        {
            "dry_run": _BOOL,
            "matched": _INT,
            "replayed": _INT,
            "error": _nullable("string"),
            "new_run_ids": {"type": "array", "items": _STR},
        },
        ("dry_run", "matched", "replayed"),
    ),
    "DlqTriage": _obj(
        {"generated_at": _TIME, "total": _INT, "filters": {"type": "object"}},
        ("generated_at", "total"),
    ),
    "LatencySampleOptions": _obj(
        {
            "dry_run_alert": _BOOL,
            "raw_retention_days": {"type": "integer", "minimum": 1, "maximum": 3650},
            "rollup_retention_days": {"type": "integer", "minimum": 1, "maximum": 3650},
        },
        closed=True,
    ),
}


def _response(code: str, schema: Schema | None = None, content_type: str = JSON) -> Schema:
    response: Schema = {"description": _REASONS[code]}
    if schema is not None:
        response["content"] = {content_type: {"schema": schema}}
    if code in ("429", "503"):
        response["headers"] = dict(_RETRY_AFTER)
    return response


def _operation(
    operation_id: str,
    summary: str,
    ok: Schema,
    *,
    security: Security | None = None,
    body: Schema | None = None,
    body_required: bool = True,
    parameters: list[Schema] | None = None,
    errors: tuple[str, ...] = (),
    extra: dict[str, Schema] | None = None,
) -> Schema:
    """One operation; 401 is implied by ``security``, 400/415 by a JSON ``body``."""
    codes = set(errors)
    if security:
        codes.add("401")
    if body is not None:
        codes.update(("400", "413", "415"))
    responses: dict[str, Schema] = {"200": ok, **(extra or {})}
    responses.update({code: _response(code, _ref("Error")) for code in sorted(codes)})
    op: Schema = {"operationId": operation_id, "summary": summary, "responses": responses}
    if security is not None:
        op["security"] = security
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = {"required": body_required, "content": {JSON: {"schema": body}}}
    return op


def _query(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {"name": name, "in": "query", "description": description, "schema": schema or _STR}


def _header(name: str, description: str) -> Schema:
    return {"name": name, "in": "header", "description": description, "schema": _STR}


_RUN_ID = {"name": "run_id", "in": "path", "required": True, "schema": _STR}
_IDEMPOTENCY = _header("Idempotency-Key", "1-255 characters; the same key returns the same run")


def _run_action(verb: str, summary: str) -> Schema:
    return {
        "post": _operation(
            f"{verb}Run",
            summary,
            _response("200", _ref("Run")),
            security=_API,
            parameters=[_RUN_ID],
            errors=("403", "404", "409", "503"),
        )
    }


def _paths() -> dict[str, Schema]:
    ok_object = _response("200", {"type": "object"})
    return {
        "/openapi.json": {
            "get": _operation("getOpenApi", "This document", ok_object),
        },
        "/health": {
            "get": _operation(
                "getLiveness",
                "Liveness",
                _response("200", _obj({"status": {"const": "ok"}, "version": _STR}, ("status",))),
            )
        },
        "/health/test": {
            "get": _operation(
                "getReadiness",
                "Readiness: one object-store round trip",
                _response("200", _obj({"status": _STR, "store": _STR}, ("status",))),
                extra={"503": _response("503", _obj({"status": _STR, "error": _STR}))},
            )
        },
        "/runs": {
            "post": _operation(
                "submitRun",
                "Submit a run",
                _response("200", _ref("RunAccepted")),
                security=_API,
                body=_ref("RunSubmission"),
                parameters=[_IDEMPOTENCY],
                errors=("409", "429", "503"),
                extra={"202": _response("202", _ref("RunAccepted"))},
            ),
            "get": _operation(
                "listRuns",
                "List runs, oldest first",
                _response(
                    "200",
                    _obj(
                        {
                            "runs": {"type": "array", "items": _ref("Run")},
                            "next_cursor": _nullable("string"),
                        },
                        ("runs", "next_cursor"),
                    ),
                ),
                security=_API,
                parameters=[
                    _query("status", "Run status", {"enum": _RUN_STATUSES}),
                    _query("job_type", "Job type"),
                    _query("since", "Created at or after (ISO 8601)"),
                    _query("cursor", "next_cursor of the previous page"),
                    _query("limit", "Page size", {"type": "integer", "minimum": 1, "maximum": 200}),
                ],
                errors=("400", "503"),
            ),
        },
        "/runs/{run_id}": {
            "get": _operation(
                "getRun",
                "One run (params redacted)",
                _response("200", _ref("Run")),
                security=_API,
                parameters=[_RUN_ID],
                errors=("404", "503"),
            )
        },
        "/runs/{run_id}/approve": _run_action("approve", "Approve a waiting run"),
        "/runs/{run_id}/reject": _run_action("reject", "Reject a waiting run"),
        "/runs/{run_id}/cancel": _run_action("cancel", "Cancel a run"),
        "/runs/{run_id}/retry": {
            "post": _operation(
                "retryRun",
                "Retry a FAILED run as a new run",
                _response("200", _ref("RunAccepted")),
                security=_API,
                parameters=[_RUN_ID, _IDEMPOTENCY],
                errors=("400", "403", "404", "409", "429", "503"),
                extra={"202": _response("202", _ref("RunAccepted"))},
            )
        },
        "/tasks": {
            "post": _operation(
                "executeTask",
                "Run one attempt of a run (Cloud Tasks target)",
                _response("200", _obj({"run_id": _STR, "action": _STR}, ("run_id", "action"))),
                security=_TASKS,
                body=_ref("TaskBody"),
                errors=("404", "429", "503"),
            )
        },
        "/tasks/health": {
            "get": _operation(
                "getQueueStats",
                "In-flight, queued, running and waiting runs",
                ok_object,
                security=_EITHER,
                errors=("503",),
            )
        },
        "/sweeper": {
            "post": _operation(
                "sweep",
                "Re-enqueue or dead-letter runs nothing will move",
                ok_object,
                security=_TASKS,
                errors=("503",),
            )
        },
        "/latency/sample": {
            "post": _operation(
                "sampleLatency",
                "Sample the configured targets, roll up, alert",
                ok_object,
                security=_TASKS,
                body=_ref("LatencySampleOptions"),
                body_required=False,
                errors=("503",),
            )
        },
        "/latency/rollups": {
            "get": _operation(
                "getLatencyRollups",
                "Hourly p50/p95 rollups, JSON or CSV for one source",
                {
                    "description": "OK",
                    "content": {
                        JSON: {"schema": _obj({"rollups": {"type": "array"}}, ("rollups",))},
                        "text/csv": {"schema": _STR},
                    },
                },
                security=_EITHER,
                parameters=[
                    _query("source", "One source", {"type": "string", "maxLength": 64}),
                    _query("since", "ISO 8601 time or an age such as 6h"),
                    _query("format", "json or csv", {"enum": ["json", "csv"]}),
                ],
                errors=("400", "503"),
            )
        },
        "/export/dashboard": {
            "post": _operation(
                "exportDashboard",
                "Export the dashboard datasets with a manifest and checksums",
                _response(
                    "200",
                    _obj(
                        {"sequence": _INT, "status": {"enum": ["ok", "error"]}},
                        ("sequence", "status", "datasets"),
                    ),
                ),
                security=_TASKS,
                body=_obj(
                    {"datasets": {"type": "array", "minItems": 1, "items": _STR}}, closed=True
                ),
                body_required=False,
                errors=("503",),
            )
        },
        "/dashboard": {
            "get": _operation(
                "getDashboard",
                "The dashboard page (HTML with inline SVG charts)",
                _response("200", _STR, "text/html"),
                errors=("503",),
            )
        },
        "/dashboard/data/{file}": {
            "get": _operation(
                "getDashboardDataset",
                "One exported dataset file (e.g. run_history.json) or manifest.json",
                _response("200", _obj({"dataset": _STR, "rows": {"type": "array"}})),
                parameters=[{"name": "file", "in": "path", "required": True, "schema": _STR}],
                errors=("404", "503"),
            )
        },
        "/schedule/run": {
            "post": _operation(
                "runSchedule",
                "Run what is due now, or one job",
                _response("200", _obj({"now": _TIME, "ran": {"type": "array"}}, ("now", "ran"))),
                security=_TASKS,
                parameters=[
                    _query("job", "Only this job"),
                    _query(
                        "force",
                        "Run even if not due",
                        {"enum": ["true", "false", "1", "0", "yes", "no", ""]},
                    ),
                ],
                errors=("400", "404", "503"),
            )
        },
        "/schedule/status": {
            "get": _operation(
                "getScheduleStatus",
                "Configuration, state and next runs",
                _response("200", _obj({"now": _TIME, "jobs": {"type": "array"}}, ("jobs",))),
                security=_EITHER,
                errors=("503",),
            )
        },
        "/callbacks": {
            "post": _operation(
                "receiveCallback",
                "A run event, signed and/or with an OIDC ID token",
                _response("200", _ref("CallbackReceipt")),
                body=_ref("CallbackEvent"),
                parameters=[
                    _header("x-worker-signature", "HMAC-SHA256 of the body (worker scheme)"),
                    _header("x-worker-timestamp", "Unix seconds (worker scheme)"),
                    _header("webhook-id", "Standard Webhooks message id"),
                    _header("webhook-timestamp", "Standard Webhooks timestamp"),
                    _header("webhook-signature", "Standard Webhooks signatures"),
                ],
                errors=("401", "409", "503"),
            )
        },
        "/callbacks/replay": {
            "post": _operation(
                "replayCallbacks",
                "Re-send dead-lettered callbacks",
                _response("200", _ref("CallbackReplayReport")),
                security=_TASKS,
                body=_ref("CallbackReplayRequest"),
                body_required=False,
                errors=("503",),
                extra={"207": _response("207", _ref("CallbackReplayReport"))},
            )
        },
        "/ops/metrics": {
            "get": _operation(
                "getMetrics",
                "Health figures and alert states (Prometheus text on Accept: text/plain)",
                {
                    "description": "OK",
                    "content": {
                        JSON: {"schema": _obj({"alerts": {"type": "object"}}, ("alerts",))},
                        "text/plain": {"schema": _STR},
                    },
                },
                security=_EITHER,
                errors=("503",),
            )
        },
        "/dlq/triage": {
            "get": _operation(
                "getDlqTriage",
                "Redacted summary of dead letters",
                _response("200", _ref("DlqTriage")),
                security=_API,
                parameters=[
                    _query("since", "ISO 8601 time"),
                    _query("until", "ISO 8601 time"),
                    _query("job_type", "Job type"),
                    _query("code", "Error code"),
                    _query("kind", "job or callback"),
                ],
                errors=("400", "503"),
            )
        },
        "/dlq/replay": {
            "post": _operation(
                "replayDeadLetters",
                "Replay dead letters as new runs",
                _response("200", _ref("DlqReplayReport")),
                security=_TASKS,
                body=_ref("DlqReplayRequest"),
                errors=("429", "503"),
                extra={"503": _response("503", _ref("DlqReplayReport"))},
            )
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (a fresh copy each call)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "opsplane",
            "version": __version__,
            "description": "Every HTTP function of opsplane, as served at one base URL "
            "by the local stack; in production each path prefix is its own Cloud Run service.",
        },
        "servers": [{"url": "http://127.0.0.1:8080", "description": "make run"}],
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "apiToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from OPSPLANE_API_TOKENS, or an allowed OIDC ID token",
                },
                "tasksToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "TASKS_AUTH_TOKEN, or the queue's/scheduler's OIDC ID token",
                },
            },
        },
    }


_TEMPLATE = re.compile(r"\{([a-z_]+)\}")


def to_router_pattern(path: str) -> str:
    """``/runs/{run_id}`` as the Router writes it: ``/runs/<run_id>``."""
    return _TEMPLATE.sub(r"<\1>", path)


def operations() -> list[tuple[str, str]]:
    """(METHOD, router pattern) of every operation in the document."""
    return [
        (method.upper(), to_router_pattern(path))
        for path, item in document()["paths"].items()
        for method in item
    ]
