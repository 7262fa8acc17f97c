"""Jobs that ship with the runner: the sweeper of the execution plane."""

from __future__ import annotations

from shared.schedule.registry import JobContext, JobResult, register_job


def sweeper_job(ctx: JobContext) -> JobResult:
    """One sweep of unfinished runs (the same pass ``POST /sweeper`` makes)."""
    from shared.jobs import plane as jobs_plane
    from shared.jobs.sweeper import sweep

    plane = jobs_plane.current()
    report = sweep(
        plane.store,
        plane.queue,
        ctx.clock,
        policies=plane.policies,
        lost_task_after_ms=plane.settings.lost_task_after_ms,
        notifier=plane.notifier,
    )
    return JobResult(details=report.to_dict())


register_job("sweeper", sweeper_job)
