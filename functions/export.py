"""``POST /export/dashboard`` (Cloud Scheduler): one dashboard export.

Authenticated like task deliveries (the scheduler's OIDC token or
``TASKS_AUTH_TOKEN``). The optional JSON body ``{"datasets": [...]}`` limits
the run to some datasets; the upload command comes only from
``OPSPLANE_EXPORT_UPLOAD_COMMAND`` (never from a request). Answers the run:
``status`` ok or error, its sequence and each dataset's outcome.
"""

from __future__ import annotations

import os

from shared import runtime
from shared.auth import authenticate_tasks
from shared.exports import DATASET_NAMES, check_names, provenance_for, run_export
from shared.exports.job import UPLOAD_COMMAND_VARIABLE
from shared.http.edge import Request, Response, Router, http_function
from shared.http.errors import BadRequest
from shared.settings import env_optional

router = Router()


@router.route("POST", "/export/dashboard")
def export_dashboard(request: Request) -> Response:
    authenticate_tasks(request)
    datasets = _datasets(request)
    result = run_export(
        runtime.store(),
        datasets=datasets,
        provenance=provenance_for("POST /export/dashboard", datasets),
        upload_command=env_optional(os.environ, UPLOAD_COMMAND_VARIABLE),
    )
    return Response(result.to_json())


def _datasets(request: Request) -> tuple[str, ...]:
    if not request.body.strip():
        return DATASET_NAMES
    body = request.json_object()
    unknown = sorted(set(body) - {"datasets"})
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}", code="invalid_options")
    names = body.get("datasets")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise BadRequest("datasets must be a non-empty list of names", code="invalid_datasets")
    try:
        return check_names(names)
    except ValueError as exc:
        raise BadRequest(str(exc), code="unknown_dataset") from None


export_function = http_function(router)
