"""The executor: claims, outcomes, retries by policy, timeouts, leases, dead letters."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.jobs import service
from shared.jobs.deadletters import read_dead_letter
from shared.jobs.events import RecordingNotifier
from shared.jobs.executor import Action, Executor
from shared.jobs.models import AttemptOutcome, RunStatus
from shared.jobs.plane import Plane
from shared.jobs.service import Submission
from shared.jobs.tasks import TaskBody
from shared.storage.counting import CountingStore
from shared.storage.memory import MemoryStore
from tests.jobs_support import RecordingQueue, make_plane

POLICIES = json.dumps(
    {
        "fail": {"max_retries": 2, "backoff": "immediate", "base_delay_ms": 0},
        "sleep": {"max_retries": 1, "backoff": "immediate"},
        "flaky": {"max_retries": 4, "backoff": "linear", "base_delay_ms": 1},
        "escalating": {
            "max_retries": 1,
            "backoff": "immediate",
            "escalate_on_failure": "manual_review",
        },
    }
)


def submit(plane: Plane, job_type: str, params: dict[str, Any] | None = None) -> str:
    run, _ = service.submit(plane, Submission(job_type, params or {}), "tester")
    return run.run_id


def drain(plane: Plane, limit: int = 100) -> list[Action]:
    """Deliver every queued task (and the tasks they enqueue) once each."""
    queue = plane.queue
    assert isinstance(queue, RecordingQueue)
    actions = []
    for _ in range(limit):
        tasks = queue.pop_all()
        if not tasks:
            return actions
        for task in tasks:
            body = TaskBody.parse(json.loads(task.body))
            actions.append(Executor(plane).execute(body.run_id, body.attempt).action)
    raise AssertionError("the queue never drained")


def test_a_successful_run_costs_at_most_four_writes_and_two_reads() -> None:
    """Submit, claim and finish a no-op run: store writes <= 4 and reads <= 2."""
    store = CountingStore(MemoryStore())
    plane = make_plane(store)
    plane.depth.counts()  # the queue-depth cache is warm on a serving instance
    store.ops.clear()
    run_id = submit(plane, "noop")
    drain(plane)
    assert plane.runs.get(run_id).run.status is RunStatus.SUCCEEDED
    assert store.ops["put"] <= 4
    assert store.ops["get"] <= 2 + 1  # + the assertion's own read
    assert store.ops["delete"] == 0


@pytest.mark.parametrize(
    ("job_type", "params", "status", "attempts", "dead_letter"),
    [
        pytest.param("noop", {}, RunStatus.SUCCEEDED, 1, False, id="success"),
        pytest.param(
            "fail",
            {"code": "temporary_failure"},
            RunStatus.FAILED,
            3,
            True,
            id="retryable-exhausted",
        ),
        pytest.param(
            "fail",
            {"code": "temporary_failure", "succeed_on_attempt": 2},
            RunStatus.SUCCEEDED,
            2,
            False,
            id="retryable-then-success",
        ),
        pytest.param(
            "fail",
            {"code": "bad_request", "retryable": False},
            RunStatus.FAILED,
            1,
            True,
            id="permanent",
        ),
        pytest.param(
            "fail", {"code": "auth"}, RunStatus.FAILED, 1, True, id="unknown-code-not-retried"
        ),
        pytest.param("sleep", {"ms": 2000}, RunStatus.FAILED, 2, True, id="timeout-twice"),
    ],
)
def test_runs_end_with_the_attempts_their_policy_allows(
    job_type: str, params: dict[str, Any], status: RunStatus, attempts: int, dead_letter: bool
) -> None:
    """Each run reaches its final state after exactly the attempts its policy grants."""
    plane = make_plane(policies=POLICIES, task_timeout_ms=100)
    run_id = submit(plane, job_type, params)
    drain(plane)
    run = plane.runs.get(run_id).run
    assert run.status is status
    assert len(run.attempts) == attempts
    assert (read_dead_letter(plane.store, run_id) is not None) is dead_letter
    if job_type == "sleep":
        assert {a.outcome for a in run.attempts} == {AttemptOutcome.TIMEOUT}
        assert run.error_code == "timeout"


def test_retries_are_scheduled_with_the_policy_delay() -> None:
    """A linear policy schedules retry n at now + n * base delay."""
    plane = make_plane(policies=POLICIES)
    run_id = submit(plane, "fail", {"code": "temporary_failure"})
    linear = json.dumps({"fail": {"max_retries": 3, "backoff": "linear", "base_delay_ms": 1000}})
    plane = make_plane(plane.store, policies=linear)
    queue = plane.queue
    assert isinstance(queue, RecordingQueue)
    Executor(plane).execute(run_id, 1)
    (task,) = queue.pop_all()
    run = plane.runs.get(run_id).run
    assert task.name == f"{run_id}-a2"
    assert task.schedule_time == run.scheduled_at
    ended = run.attempts[0].ended_at
    assert ended is not None
    assert run.scheduled_at is not None
    assert run.scheduled_at - ended == timedelta(milliseconds=1000)


def test_escalation_parks_the_run_for_manual_review_without_a_dead_letter() -> None:
    """escalate_on_failure=manual_review: exhausted runs wait for approval instead of failing."""
    from shared.jobs.handlers import JobType, fail

    plane = make_plane(policies=POLICIES)
    plane.registry.register(JobType("escalating", fail))
    run_id = submit(plane, "escalating", {"code": "temporary_failure"})
    drain(plane)
    run = plane.runs.get(run_id).run
    assert run.status is RunStatus.WAITING_APPROVAL
    assert len(run.attempts) == 2
    assert read_dead_letter(plane.store, run_id) is None
    approved = service.approve(plane, run_id, "reviewer")
    assert approved.status is RunStatus.QUEUED
    drain(plane)
    assert len(plane.runs.get(run_id).run.attempts) == 3


def test_dead_letters_are_redacted() -> None:
    """The dead letter keeps params and errors with secrets removed."""
    plane = make_plane(policies=POLICIES)
    secret = "ghp_" + "a" * 36
    run_id = submit(
        plane,
        "fail",
        {"code": "auth", "retryable": False, "message": f"token {secret} refused", "api_key": "k"},
    )
    drain(plane)
    letter = read_dead_letter(plane.store, run_id)
    assert letter is not None
    text = json.dumps(letter)
    assert secret not in text
    assert letter["params"]["api_key"] == "[REDACTED]"
    assert letter["error_code"] == "auth"
    assert letter["status"] == "open"
    assert len(letter["attempts"]) == 1


def test_a_duplicate_delivery_of_a_finished_run_is_a_no_op() -> None:
    """Redelivering a finished attempt runs nothing and changes nothing."""
    plane = make_plane()
    run_id = submit(plane, "noop")
    drain(plane)
    before = plane.runs.get(run_id)
    assert Executor(plane).execute(run_id, 1).action is Action.FINISHED
    assert plane.runs.get(run_id).generation == before.generation


def test_a_delivery_for_an_older_attempt_is_stale() -> None:
    """After attempt 1 failed and attempt 2 is queued, attempt 1's redelivery does nothing."""
    plane = make_plane(policies=POLICIES)
    run_id = submit(plane, "fail", {"code": "temporary_failure"})
    Executor(plane).execute(run_id, 1)
    delivery = Executor(plane).execute(run_id, 1)
    assert delivery.action is Action.STALE
    assert len(plane.runs.get(run_id).run.attempts) == 1


def test_a_running_run_with_a_live_lease_is_busy() -> None:
    """A second delivery while the first runs gets BUSY with the lease's remaining time."""
    plane = make_plane(lease_ms=5000, heartbeat_ms=1000)
    run_id = submit(plane, "sleep", {"ms": 500})
    results: list[Action] = []
    worker = threading.Thread(
        target=lambda: results.append(Executor(plane).execute(run_id, 1).action)
    )
    worker.start()
    deadline = time.monotonic() + 5
    while plane.runs.get(run_id).run.status is not RunStatus.RUNNING:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    busy = Executor(plane).execute(run_id, 1)
    worker.join()
    assert busy.action is Action.BUSY
    assert busy.retry_after_s is not None
    assert 1 <= busy.retry_after_s <= 5
    assert results == [Action.EXECUTED]


def test_heartbeats_keep_a_long_attempt_leased() -> None:
    """A handler running past several lease lengths is never reclaimed while heartbeating."""
    plane = make_plane(lease_ms=600, heartbeat_ms=100)
    run_id = submit(plane, "sleep", {"ms": 1500})
    worker = threading.Thread(target=Executor(plane).execute, args=(run_id, 1))
    worker.start()
    while plane.runs.get(run_id).run.status is not RunStatus.RUNNING:
        time.sleep(0.01)
    busy = []
    while worker.is_alive():
        delivery = Executor(plane).execute(run_id, 1)
        busy.append(delivery.action)
        time.sleep(0.05)
    worker.join()
    run = plane.runs.get(run_id).run
    assert run.status is RunStatus.SUCCEEDED
    assert len(run.attempts) == 1
    assert set(busy) <= {Action.BUSY, Action.FINISHED}


def test_an_expired_lease_is_reclaimed_as_the_next_attempt() -> None:
    """A run whose worker vanished is reclaimed by the next delivery as a new attempt."""
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    plane = make_plane(policies=POLICIES, lease_ms=1000)
    plane.clock = lambda: now[0]
    run_id = submit(plane, "fail", {"code": "temporary_failure", "succeed_on_attempt": 2})
    versioned = plane.runs.get(run_id)
    claimed = Executor(plane)._claim(versioned.run, "dead-worker", now[0])
    plane.runs.replace(versioned, claimed)
    assert Executor(plane).execute(run_id, 1).action is Action.BUSY
    now[0] += timedelta(seconds=2)
    delivery = Executor(plane).execute(run_id, 1)
    run = plane.runs.get(run_id).run
    assert delivery.action is Action.EXECUTED
    assert run.status is RunStatus.SUCCEEDED
    assert [a.outcome for a in run.attempts] == [
        AttemptOutcome.LEASE_EXPIRED,
        AttemptOutcome.SUCCEEDED,
    ]


def test_cancelling_a_running_run_drops_its_result() -> None:
    """A run cancelled mid-attempt stays CANCELLED; the attempt's result is not stored."""
    plane = make_plane(lease_ms=2000, heartbeat_ms=50)
    run_id = submit(plane, "sleep", {"ms": 300})
    results = []
    worker = threading.Thread(target=lambda: results.append(Executor(plane).execute(run_id, 1)))
    worker.start()
    while plane.runs.get(run_id).run.status is not RunStatus.RUNNING:
        time.sleep(0.01)
    service.cancel(plane, run_id, "operator")
    worker.join()
    run = plane.runs.get(run_id).run
    assert run.status is RunStatus.CANCELLED
    assert run.result is None
    assert results[0].action is Action.LOST_LEASE


def test_every_state_change_notifies_once_with_unique_event_ids() -> None:
    """Queued, running, retry, running, failed: one event each, ids unique."""
    plane = make_plane(policies=json.dumps({"fail": {"max_retries": 1, "backoff": "immediate"}}))
    run_id = submit(plane, "fail", {"code": "temporary_failure"})
    drain(plane)
    notifier = plane.notifier
    assert isinstance(notifier, RecordingNotifier)
    statuses = [event.status for event in notifier.events if event.run_id == run_id]
    assert statuses == [
        RunStatus.QUEUED,
        RunStatus.RUNNING,
        RunStatus.QUEUED,
        RunStatus.RUNNING,
        RunStatus.FAILED,
    ]
    ids = [event.event_id for event in notifier.events]
    assert len(ids) == len(set(ids))
    assert notifier.events[-1].error_code == "temporary_failure"


def test_a_handler_crash_is_a_non_retryable_failure_with_a_redacted_message() -> None:
    """An unexpected exception in a user handler fails the run as handler_error."""
    from shared.jobs.handlers import JobType

    def explode(context: Any, params: Mapping[str, Any]) -> Any:
        raise RuntimeError("password=hunter2 Bearer abcdefghijklmnop")

    plane = make_plane()
    plane.registry.register(JobType("explode", explode))
    run_id = submit(plane, "explode")
    drain(plane)
    run = plane.runs.get(run_id).run
    assert run.status is RunStatus.FAILED
    assert run.error_code == "handler_error"
    assert "abcdefghijklmnop" not in (run.error_message or "")


def test_shedding_turns_low_priority_job_types_away_first() -> None:
    """Over the queue-depth limit, a priority-1 job type is shed while priority-5 runs."""
    plane = make_plane(shed_queue_depth=3, queue_count_ttl_ms=0)
    for _ in range(3):
        submit(plane, "noop")  # noop has the default priority 5
    low = submit(plane, "fail", {"code": "bad_request"})  # fail's policy priority is 1
    shed = Executor(plane).execute(low, 1)
    assert shed.action is Action.SHED
    assert plane.runs.get(low).run.status is RunStatus.QUEUED
    # The queue redelivers the shed task after the noops; by then the depth has dropped.
    assert drain(plane) == [Action.EXECUTED] * 4
    assert plane.runs.get(low).run.status is RunStatus.FAILED


def test_queue_full_refuses_submissions() -> None:
    """WORKER_MAX_QUEUE_SIZE queued runs: the next submission is a 429 with Retry-After."""
    from shared.http.errors import TooManyRequests

    plane = make_plane(max_queue_size=2, queue_count_ttl_ms=60_000)
    submit(plane, "noop")
    submit(plane, "noop")
    with pytest.raises(TooManyRequests) as caught:
        submit(plane, "noop")
    assert caught.value.code == "queue_full"
    assert caught.value.retry_after == 5


def test_a_full_queue_still_answers_a_retried_idempotent_submission() -> None:
    """A retry under an Idempotency-Key whose run exists gets that run, not a 429."""
    from shared.http.errors import Conflict, TooManyRequests

    plane = make_plane(max_queue_size=1, queue_count_ttl_ms=60_000)
    first, created = service.submit(plane, Submission("noop", {}), "tester", "key-1")
    assert created
    again, created = service.submit(plane, Submission("noop", {}), "tester", "key-1")
    assert (again.run_id, created) == (first.run_id, False)
    with pytest.raises(Conflict):
        service.submit(plane, Submission("noop", {"x": 1}), "tester", "key-1")
    with pytest.raises(TooManyRequests):
        service.submit(plane, Submission("noop", {}), "tester", "key-2")


def test_rejecting_an_escalated_run_fails_it_into_the_dead_letters() -> None:
    """A run parked for manual review and then rejected is FAILED with a dead letter."""
    from shared.jobs.handlers import JobType, fail

    plane = make_plane(policies=POLICIES)
    plane.registry.register(JobType("escalating", fail))
    run_id = submit(plane, "escalating", {"code": "temporary_failure"})
    drain(plane)
    rejected = service.reject(plane, run_id, "reviewer")
    assert rejected.status is RunStatus.FAILED
    assert rejected.error_code == "temporary_failure"
    letter = read_dead_letter(plane.store, run_id)
    assert letter is not None
    assert len(letter["attempts"]) == 2
