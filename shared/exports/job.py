"""The schedule runner's ``dashboard_export`` job (the runner writes its run-log record).

List it in the schedule file, e.g. ``"dashboard_export": {"cadence": "every",
"everyMinutes": 60}``. ``OPSPLANE_EXPORT_UPLOAD_COMMAND``, when set, is run on
each bundle.
"""

from __future__ import annotations

import os

from shared.exports.datasets import DATASET_NAMES
from shared.exports.export import JOB_NAME, artefacts_of, provenance_for, run_export
from shared.runlog import RunStatus
from shared.schedule.registry import JobContext, JobFailed, JobResult, register_job
from shared.settings import env_optional

UPLOAD_COMMAND_VARIABLE = "OPSPLANE_EXPORT_UPLOAD_COMMAND"


def dashboard_export_job(ctx: JobContext) -> JobResult:
    """One export of every dataset."""
    result = run_export(
        ctx.store,
        provenance=provenance_for(f"schedule:{JOB_NAME}", DATASET_NAMES, store=ctx.store),
        upload_command=env_optional(os.environ, UPLOAD_COMMAND_VARIABLE),
        clock=ctx.clock,
        record_run=False,
    )
    if result.status is RunStatus.ERROR:
        raise JobFailed("export_failed", "; ".join(result.errors), artefacts=artefacts_of(result))
    return JobResult(artefacts=artefacts_of(result), details={"sequence": result.sequence})


register_job(JOB_NAME, dashboard_export_job)
