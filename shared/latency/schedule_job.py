"""The latency run as a schedule-runner job named ``latency``.

In production Cloud Scheduler calls ``POST /latency/sample`` directly; this
job is how the local stack's schedule loop (or a deployment that prefers the
schedule runner) samples instead. List it in the schedule file::

    "jobs": {"latency": {"cadence": "every", "everyMinutes": 15}}

The runner writes the run-log record, so the run itself does not. Without
``OPSPLANE_LATENCY_CONFIG`` the job is skipped, not failed: latency sampling
is opt-in.
"""

from __future__ import annotations

import os

from shared.latency.config import CONFIG_VARIABLE, load_config
from shared.latency.job import JOB_NAME, run_latency_job
from shared.runlog import RunStatus
from shared.schedule.registry import JobContext, JobFailed, JobResult, register_job
from shared.settings import env_optional


def latency_job(ctx: JobContext) -> JobResult:
    """One latency run for the schedule runner."""
    if env_optional(os.environ, CONFIG_VARIABLE) is None:
        return JobResult(skipped=True, message=f"{CONFIG_VARIABLE} is not set")
    base_url = env_optional(os.environ, "OPSPLANE_BASE_URL") or ""
    config = load_config(base_url=base_url)
    run = run_latency_job(ctx.store, config, clock=ctx.clock, record_run=False)
    artefacts = {"heartbeat": "latency/heartbeat.json"}
    if run.alerts_object:
        artefacts["alerts"] = run.alerts_object
    if run.status is RunStatus.ERROR:
        raise JobFailed(
            "alert_delivery_failed",
            run.message or "alerts could not be delivered",
            artefacts=artefacts,
            alerts=run.alerts,
        )
    return JobResult(
        skipped=run.status is RunStatus.SKIPPED,
        message=run.message,
        artefacts=artefacts if run.status is RunStatus.OK else {},
        alerts=run.alerts,
        details={"job_id": run.job_id, **run.summary.to_json()},
    )


register_job(JOB_NAME, latency_job)
