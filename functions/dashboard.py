"""``GET /dashboard`` (HTML) and ``GET /dashboard/data/<dataset>.json`` (or ``manifest.json``).

The page renders the exported datasets (a dataset not exported yet is built
for the request, not stored). Both routes are read-only operations data and
need no token: on the local stack they are open; in production the service
is deployed without public access, so Cloud Run IAM (``roles/run.invoker``)
decides who reaches it, e.g. through IAP or ``gcloud run services proxy``.
"""

from __future__ import annotations

from shared import runtime
from shared.clock import utcnow
from shared.exports.current import current_documents, read_exported
from shared.exports.page import CONTENT_SECURITY_POLICY, render_dashboard
from shared.http.edge import Request, Response, Router, http_function
from shared.http.errors import NotFound

router = Router()
_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@router.route("GET", "/dashboard")
def page(request: Request) -> Response:
    now = utcnow().replace(microsecond=0)
    current = current_documents(runtime.store(), now)
    html = render_dashboard(current.documents, subtitle=current.describe(now))
    headers = {**_NO_STORE, "Content-Security-Policy": CONTENT_SECURITY_POLICY}
    return Response(html, content_type="text/html; charset=utf-8", headers=headers)


@router.route("GET", "/dashboard/data/<file>")
def data(request: Request) -> Response:
    file = request.path_params["file"]
    name = file.removesuffix(".json")
    if name == file:
        raise NotFound(f"no such dataset file {file!r}; ask for <dataset>.json")
    try:
        exported = read_exported(runtime.store(), name)
    except ValueError as exc:
        raise NotFound(str(exc), code="unknown_dataset") from None
    if exported is None:
        raise NotFound(f"{name} has not been exported yet", code="not_exported")
    return Response(exported, content_type="application/json", headers=dict(_NO_STORE))


dashboard_function = http_function(router)
