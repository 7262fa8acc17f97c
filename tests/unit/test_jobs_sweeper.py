"""The sweeper: expired leases and lost tasks re-queued or dead-lettered per policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from functions_framework import create_app

from shared.jobs import service
from shared.jobs.deadletters import read_dead_letter
from shared.jobs.executor import Executor
from shared.jobs.models import AttemptOutcome, RunStatus
from shared.jobs.plane import Plane
from shared.jobs.service import Submission
from shared.jobs.sweeper import sweep
from tests.jobs_support import TASKS_TOKEN, RecordingQueue, installed, make_plane

POLICIES = json.dumps({"noop": {"max_retries": 1}, "sleep": {"max_retries": 0}})


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def setup(**settings: Any) -> tuple[Plane, Clock, RecordingQueue]:
    plane = make_plane(policies=POLICIES, **settings)
    clock = Clock()
    plane.clock = clock
    queue = plane.queue
    assert isinstance(queue, RecordingQueue)
    return plane, clock, queue


def run_sweep(plane: Plane, lost_after_ms: int = 60_000) -> Any:
    return sweep(
        plane.store,
        plane.queue,
        plane.clock,
        policies=plane.policies,
        lost_task_after_ms=lost_after_ms,
    )


def claim_and_abandon(plane: Plane, run_id: str) -> None:
    """Leave the run RUNNING under a lease nobody will renew (a dead worker)."""
    versioned = plane.runs.get(run_id)
    plane.runs.replace(versioned, Executor(plane)._claim(versioned.run, "dead", plane.clock()))


def test_an_expired_lease_is_requeued_as_the_next_attempt() -> None:
    """RUNNING past its lease -> attempt ends lease_expired, run QUEUED, task a2 enqueued."""
    plane, clock, queue = setup(lease_ms=1000)
    run_id = service.submit(plane, Submission("noop", {}), "t")[0].run_id
    queue.pop_all()
    claim_and_abandon(plane, run_id)
    assert run_sweep(plane).expired_leases == 0  # lease still live
    clock.now += timedelta(seconds=2)
    report = run_sweep(plane)
    assert (report.running, report.expired_leases, report.requeued) == (1, 1, 1)
    assert report.stale_heartbeat_ratio == 1.0
    assert [task.name for task in queue.pop_all()] == [f"{run_id}-a2"]
    run = plane.runs.get(run_id).run
    assert run.status is RunStatus.QUEUED
    assert run.attempts[0].outcome is AttemptOutcome.LEASE_EXPIRED
    Executor(plane).execute(run_id, 2)
    assert plane.runs.get(run_id).run.status is RunStatus.SUCCEEDED


def test_an_expired_lease_without_retries_left_is_dead_lettered() -> None:
    """With max_retries 0 the expired attempt fails the run and writes its dead letter."""
    plane, clock, _ = setup(lease_ms=1000)
    run_id = service.submit(plane, Submission("sleep", {"ms": 1}), "t")[0].run_id
    claim_and_abandon(plane, run_id)
    clock.now += timedelta(seconds=2)
    report = run_sweep(plane)
    assert report.dead_lettered == 1
    assert plane.runs.get(run_id).run.status is RunStatus.FAILED
    letter = read_dead_letter(plane.store, run_id)
    assert letter is not None
    assert letter["error_code"] == "lease_expired"


def test_a_lost_task_is_counted_as_an_attempt_and_resent() -> None:
    """QUEUED long past its due time -> attempt 1 'lost', task a2 enqueued at once."""
    plane, clock, queue = setup()
    run_id = service.submit(plane, Submission("noop", {}), "t")[0].run_id
    queue.pop_all()  # the task vanishes
    clock.now += timedelta(seconds=30)
    assert run_sweep(plane).lost_tasks == 0  # not yet overdue
    clock.now += timedelta(seconds=60)
    report = run_sweep(plane)
    assert (report.lost_tasks, report.requeued) == (1, 1)
    (task,) = queue.pop_all()
    assert task.name == f"{run_id}-a2"
    run = plane.runs.get(run_id).run
    assert [a.outcome for a in run.attempts] == [AttemptOutcome.LOST]
    assert run.scheduled_at == clock.now
    # A late delivery of the lost task is stale; the new one runs.
    assert Executor(plane).execute(run_id, 1).action.value == "stale"
    Executor(plane).execute(run_id, 2)
    assert plane.runs.get(run_id).run.status is RunStatus.SUCCEEDED


def test_finished_runs_are_skipped_by_the_watermark() -> None:
    """After a sweep, runs that were all final before the first active one are not listed again."""
    plane, clock, _ = setup()

    def submit() -> str:
        clock.now += timedelta(milliseconds=1)  # ids are time-ordered
        return service.submit(plane, Submission("noop", {}), "t")[0].run_id

    done = [submit() for _ in range(3)]
    for run_id in done:
        Executor(plane).execute(run_id, 1)
    active = submit()
    first = run_sweep(plane)
    assert first.scanned == 1
    assert run_sweep(plane).scanned == 1
    watermark = json.loads(plane.store.get("sweeper/watermark.json").data)["after"]
    assert watermark == done[-1]
    assert active > watermark


def test_the_sweeper_function_reports_and_requires_the_tasks_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """POST /sweeper with the tasks token answers the report; without it, 401."""
    monkeypatch.setenv("TASKS_AUTH_TOKEN", TASKS_TOKEN)
    plane, _, _ = setup()
    with installed(plane):
        client = create_app("sweeper", "functions/main.py").test_client()
        assert client.post("/sweeper").status_code == 401
        response = client.post("/sweeper", headers={"Authorization": f"Bearer {TASKS_TOKEN}"})
    assert response.status_code == 200
    assert response.json["stale_heartbeat_ratio"] == 0.0
    assert response.json["scanned"] == 0


def test_a_new_instance_counts_queue_depth_from_the_recorded_watermark() -> None:
    """Queue-depth counting on a fresh instance skips the finished prefix the sweeper recorded."""
    from shared.jobs.backpressure import QueueDepth

    plane, clock, _ = setup()
    ids = []
    for _ in range(4):
        clock.now += timedelta(milliseconds=1)
        ids.append(service.submit(plane, Submission("noop", {}), "t")[0].run_id)
    for run_id in ids[:3]:
        Executor(plane).execute(run_id, 1)
    run_sweep(plane)
    assert plane.runs.read_watermark() == ids[2]
    listed: list[str | None] = []
    original = plane.store.list_page

    def spy(prefix: str, **kwargs: Any) -> Any:
        listed.append(kwargs.get("start_after"))
        return original(prefix, **kwargs)

    plane.store.list_page = spy  # type: ignore[method-assign]
    depth = QueueDepth(plane.runs, ttl_ms=0)
    assert depth.queued() == 1
    assert listed == [f"runs/{ids[2]}.json"]
