"""GET /ops/metrics: the plane's health figures and alert states.

JSON by default; Prometheus text when the ``Accept`` header asks for
``text/plain`` (a scraper). Either API or tasks credentials may read it.
``OPS_METRICS_WINDOW_MIN`` (60) is the window the rates cover.
"""

from __future__ import annotations

import os
from datetime import timedelta

from shared import runtime
from shared.auth import authenticate_api_or_tasks
from shared.clock import utcnow
from shared.http.edge import Request, Response, Router, http_function
from shared.ops import alerts, metrics, prometheus
from shared.settings import env_int

router = Router()


@router.route("GET", "/ops/metrics")
def get_metrics(request: Request) -> Response:
    authenticate_api_or_tasks(request)
    window = timedelta(minutes=env_int(os.environ, "OPS_METRICS_WINDOW_MIN", 60, minimum=1))
    store = runtime.store()
    now = utcnow()
    snapshot = metrics.collect(store, now, window)
    states = alerts.evaluate(store, alerts.rules_from_env(), snapshot.ratios(), now)
    accept = request.headers.get("accept", "")
    if "text/plain" in accept and "application/json" not in accept:
        return Response(prometheus.render(snapshot, states), content_type=prometheus.CONTENT_TYPE)
    body = snapshot.to_dict()
    body["alerts"] = {status.rule.name: status.to_dict() for status in states}
    return Response(body)


ops_function = http_function(router)
