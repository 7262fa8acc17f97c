"""``POST /sweeper`` (Cloud Scheduler): re-enqueue or dead-letter runs nothing will move.

Authenticated like task deliveries (the scheduler's OIDC token or
``TASKS_AUTH_TOKEN``). Answers the sweep report, including the stale-heartbeat ratio.
"""

from __future__ import annotations

from shared.auth import authenticate_tasks
from shared.http.edge import Request, Response, Router, http_function
from shared.jobs import plane as jobs_plane
from shared.jobs.sweeper import sweep

router = Router()


@router.route("POST", "/sweeper")
def run_sweep(request: Request) -> Response:
    authenticate_tasks(request)
    plane = jobs_plane.current()
    report = sweep(
        plane.store,
        plane.queue,
        plane.clock,
        policies=plane.policies,
        lost_task_after_ms=plane.settings.lost_task_after_ms,
        notifier=plane.notifier,
    )
    return Response(report.to_dict())


sweeper_function = http_function(router)
