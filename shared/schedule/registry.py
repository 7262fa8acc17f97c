"""The job registry: job name → the function the runner calls when it is due.

Features register their jobs when their module is imported::

    from shared.schedule.registry import JobContext, JobResult, register_job

    def daily_report(ctx: JobContext) -> JobResult:
        ...
        return JobResult(artefacts={"report.md": name, "report.sha256": digest})

    register_job("daily_observability_report", daily_report)

and add that module to ``JOB_MODULES`` so the runner imports it. A job returns
a :class:`JobResult` (or None for a plain success), raises :class:`JobFailed`
to fail with a code, attempts and artefacts, or raises anything else to fail
with the exception's name as the code. Every outcome lands in the run log.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared import logs
from shared.clock import Clock

if TYPE_CHECKING:
    from shared.schedule.config import JobConfig, ScheduleConfig
    from shared.storage import ObjectStore

# Modules that call register_job at import time; missing ones are skipped, so a
# feature can be listed before it lands.
JOB_MODULES: tuple[str, ...] = (
    "shared.schedule.builtin_jobs",
    "shared.latency.schedule_job",
    "shared.approvals.job",
    "shared.reports.jobs",
    "shared.exports.job",
)

_log = logs.get_logger("opsplane.schedule")


@dataclass(frozen=True)
class JobContext:
    """What a job function gets: its configuration, the period it runs for, the ports."""

    job: str
    period: str
    now: datetime
    forced: bool
    config: JobConfig
    schedule: ScheduleConfig
    store: ObjectStore
    clock: Clock
    attempt: int = 1

    def redact(self, text: str) -> str:
        """Redact with the shared patterns plus the schedule's own."""
        return self.schedule.redact(text)


@dataclass(frozen=True)
class JobResult:
    """A job's report to the runner: ``skipped`` when there was nothing to do."""

    skipped: bool = False
    message: str | None = None
    artefacts: Mapping[str, str] = field(default_factory=dict)
    alerts: Sequence[Mapping[str, Any]] = ()
    attempts: int = 1
    details: Mapping[str, Any] = field(default_factory=dict)


class JobFailed(Exception):
    """A job failure with a stable code (and what it managed to produce)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        attempts: int = 1,
        artefacts: Mapping[str, str] | None = None,
        alerts: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.attempts = attempts
        self.artefacts = dict(artefacts or {})
        self.alerts = list(alerts)


JobFunction = Callable[[JobContext], JobResult | None]

_JOBS: dict[str, JobFunction] = {}
_LOCK = threading.Lock()
_LOADED = False


def register_job(name: str, function: JobFunction, *, replace: bool = False) -> None:
    """Register the function run for job ``name``.

    Registering the same function again is harmless (modules can be re-imported);
    a different function for a taken name needs ``replace=True``.
    """
    with _LOCK:
        existing = _JOBS.get(name)
        if existing is not None and existing is not function and not replace:
            raise ValueError(f"job {name!r} is already registered to {existing!r}")
        _JOBS[name] = function


def unregister_job(name: str) -> None:
    """Forget a job (tests, or a feature switched off)."""
    with _LOCK:
        _JOBS.pop(name, None)


def registered_jobs() -> dict[str, JobFunction]:
    """Every registered job, after importing ``JOB_MODULES``."""
    load_job_modules()
    with _LOCK:
        return dict(_JOBS)


def load_job_modules() -> None:
    """Import the modules that register jobs (once per process)."""
    global _LOADED  # noqa: PLW0603 - a process-wide, import-once latch
    if _LOADED:
        return
    for module in JOB_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module.startswith(exc.name):
                continue  # the feature is not part of this build
            raise
    _LOADED = True
