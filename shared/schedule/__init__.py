"""Scheduled ops jobs: configuration, job registry, the runner and its loop.

    from shared.schedule import register_job, run_once

    register_job("daily_observability_report", daily_report)   # at import time
    run_once(now)                                               # runs what is due

See ``config`` (the JSON file and its schema), ``periods`` (daily, weekly,
every-N-minutes slots in local time), ``state`` (per-job state and create-only
markers), ``runner`` and ``loop``.
"""

from __future__ import annotations

from shared.schedule.config import (
    Cadence,
    JobConfig,
    ScheduleConfig,
    ScheduleConfigError,
    load_config,
    parse_config,
)
from shared.schedule.registry import (
    JOB_MODULES,
    JobContext,
    JobFailed,
    JobFunction,
    JobResult,
    register_job,
    registered_jobs,
    unregister_job,
)
from shared.schedule.runner import (
    JobOutcome,
    JobStatus,
    OutcomeStatus,
    ScheduleRunner,
    UnknownJob,
    default_runner,
    run_once,
)

__all__ = [
    "JOB_MODULES",
    "Cadence",
    "JobConfig",
    "JobContext",
    "JobFailed",
    "JobFunction",
    "JobOutcome",
    "JobResult",
    "JobStatus",
    "OutcomeStatus",
    "ScheduleConfig",
    "ScheduleConfigError",
    "ScheduleRunner",
    "UnknownJob",
    "default_runner",
    "load_config",
    "parse_config",
    "register_job",
    "registered_jobs",
    "run_once",
    "unregister_job",
]
