"""GET /health (liveness), GET /health/test (readiness: a store round trip), GET /openapi.json."""

from __future__ import annotations

from shared import __version__, health, openapi, runtime
from shared.http.edge import Request, Response, Router, http_function

router = Router()


@router.route("GET", "/health")
def liveness(_: Request) -> Response:
    return Response({"status": "ok", "version": __version__})


@router.route("GET", "/health/test")
def readiness(_: Request) -> Response:
    result = health.check_store(runtime.store)
    body: dict[str, object] = {
        "status": "ok" if result.ok else "unavailable",
        "version": __version__,
        "store": result.store_url,
        "latency_ms": result.latency_ms,
    }
    if result.ok:
        return Response(body)
    body.update(error="store_unavailable", message=result.reason)
    return Response(body, 503, {"Retry-After": "5"})


@router.route("GET", "/openapi.json")
def openapi_document(_: Request) -> Response:
    """The OpenAPI 3.1 description of every function (served here: no service of its own)."""
    return Response(openapi.document())


health_function = http_function(router)
