"""execute_task through functions-framework: auth, backpressure, the http job, exactly-once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from functions_framework import create_app

from shared.jobs import service
from shared.jobs.breaker import BreakerState
from shared.jobs.models import RunStatus
from shared.jobs.plane import Plane
from shared.jobs.service import Submission
from shared.jobs.tasks import TaskBody
from tests.jobs_support import (
    API_TOKEN,
    TASKS_TOKEN,
    CountingTarget,
    RecordingQueue,
    installed,
    make_plane,
    served,
)

SOURCE = "functions/main.py"
TASK_AUTH = {"Authorization": f"Bearer {TASKS_TOKEN}"}
POLICIES = json.dumps(
    {"http": {"max_retries": 2, "backoff": "immediate"}, "sleep": {"max_retries": 0}}
)


@pytest.fixture
def plane(monkeypatch: pytest.MonkeyPatch) -> Iterator[Plane]:
    monkeypatch.setenv("OPSPLANE_API_TOKENS", f"alice={API_TOKEN}")
    monkeypatch.setenv("TASKS_AUTH_TOKEN", TASKS_TOKEN)
    with installed(make_plane(policies=POLICIES, breaker_failures=3)) as plane:
        yield plane


@pytest.fixture
def client(plane: Plane) -> Any:
    return create_app("execute_task", SOURCE).test_client()


def submit(plane: Plane, job_type: str, params: dict[str, Any]) -> str:
    return service.submit(plane, Submission(job_type, params), "alice")[0].run_id


def deliver_all(client: Any, plane: Plane, rounds: int = 20) -> list[int]:
    """Deliver queued tasks through POST /tasks until none are left; the statuses seen."""
    queue = plane.queue
    assert isinstance(queue, RecordingQueue)
    statuses = []
    for _ in range(rounds):
        tasks = queue.pop_all()
        if not tasks:
            return statuses
        for task in tasks:
            response = client.post(
                "/tasks", data=task.body, content_type="application/json", headers=TASK_AUTH
            )
            statuses.append(response.status_code)
    raise AssertionError("tasks kept coming")


def test_a_delivery_runs_the_attempt_and_answers_200(client: Any, plane: Plane) -> None:
    """POST /tasks with the tasks token executes the run and reports its outcome."""
    run_id = submit(plane, "noop", {})
    body = TaskBody(run_id, 1).encode()
    response = client.post("/tasks", data=body, content_type="application/json", headers=TASK_AUTH)
    assert response.status_code == 200
    assert response.json == {
        "run_id": run_id,
        "action": "executed",
        "status": "SUCCEEDED",
        "attempt": 1,
        "outcome": "succeeded",
    }


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        pytest.param("{oops", TASK_AUTH, 400, "bad_request", id="malformed-json"),
        pytest.param('{"run_id": "x"}', TASK_AUTH, 400, "invalid_task", id="no-attempt"),
        pytest.param(
            '{"run_id": "x", "attempt": 0}', TASK_AUTH, 400, "invalid_task", id="attempt-zero"
        ),
        pytest.param(
            '{"run_id": "20990101T000000000000Z-x", "attempt": 1}',
            TASK_AUTH,
            404,
            "run_not_found",
            id="unknown-run",
        ),
        pytest.param('{"run_id": "x", "attempt": 1}', {}, 401, "missing_credentials", id="no-auth"),
        pytest.param(
            '{"run_id": "x", "attempt": 1}',
            {"Authorization": f"Bearer {API_TOKEN}"},
            401,
            "invalid_credentials",
            id="api-token-is-not-a-tasks-token",
        ),
        pytest.param(
            '{"run_id": "x", "attempt": 1}',
            {"X-CloudTasks-QueueName": "opsplane-tasks", "X-CloudTasks-TaskName": "t"},
            401,
            "missing_credentials",
            id="task-headers-are-not-identity",
        ),
        pytest.param("x" * 2_000_000, TASK_AUTH, 413, "payload_too_large", id="oversized-body"),
    ],
)
def test_bad_deliveries_get_the_right_4xx(
    client: Any, body: str, headers: dict[str, str], status: int, code: str
) -> None:
    """Malformed, unauthenticated or unknown deliveries are JSON 4xx answers, never 500s."""
    response = client.post("/tasks", data=body, content_type="application/json", headers=headers)
    assert response.status_code == status
    assert response.json["error"] == code


def test_a_full_instance_answers_429_with_retry_after(client: Any, plane: Plane) -> None:
    """With every in-flight slot taken, a delivery is 429 worker_busy with Retry-After."""
    run_id = submit(plane, "noop", {})
    for _ in range(plane.limiter.limit):
        assert plane.limiter.try_acquire()
    response = client.post(
        "/tasks",
        data=TaskBody(run_id, 1).encode(),
        content_type="application/json",
        headers=TASK_AUTH,
    )
    assert response.status_code == 429
    assert response.json["error"] == "worker_busy"
    assert response.headers["Retry-After"] == "5"
    assert plane.runs.get(run_id).run.status is RunStatus.QUEUED


def test_health_reports_queue_stats(client: Any, plane: Plane) -> None:
    """GET /tasks/health: in flight, queued, running, waiting approval and utilization."""
    plane.depth.ttl = 0  # no caching: the counts must reflect the two runs just stored
    submit(plane, "noop", {})
    service.submit(plane, Submission("noop", {}, requires_approval=True), "alice")
    plane.limiter.try_acquire()
    stats = client.get("/tasks/health", headers={"Authorization": f"Bearer {API_TOKEN}"}).json
    assert stats["in_flight"] == 1
    assert stats["utilization_pct"] == 10.0
    assert stats["queued"] == 1
    assert stats["waiting_approval"] == 1
    assert stats["running"] == 0
    assert client.get("/tasks/health").status_code == 401


@pytest.mark.parametrize(
    ("script", "status", "attempts", "calls"),
    [
        pytest.param([200], RunStatus.SUCCEEDED, 1, 1, id="ok"),
        pytest.param([503, 500, 200], RunStatus.SUCCEEDED, 3, 3, id="5xx-then-ok"),
        pytest.param([429, 200], RunStatus.SUCCEEDED, 2, 2, id="429-then-ok"),
        pytest.param([503], RunStatus.FAILED, 3, 3, id="5xx-exhausted"),
        pytest.param([404], RunStatus.FAILED, 1, 1, id="404-not-retried"),
        pytest.param([400], RunStatus.FAILED, 1, 1, id="400-not-retried"),
    ],
)
def test_the_http_job_against_a_loopback_server(
    client: Any,
    plane: Plane,
    *,
    script: list[int],
    status: RunStatus,
    attempts: int,
    calls: int,
) -> None:
    """5xx and 429 are retried per policy; other 4xx fail at once; the target sees each try."""
    with CountingTarget() as target:
        target.script["/hook"] = script
        run_id = submit(plane, "http", {"url": f"{target.url}/hook", "method": "POST"})
        deliver_all(client, plane)
        run = plane.runs.get(run_id).run
        assert run.status is status
        assert len(run.attempts) == attempts
        assert target.calls["/hook"] == calls


def test_the_http_job_times_out_as_timeout(client: Any, plane: Plane) -> None:
    """A target slower than timeout_ms fails the attempt with the retryable code timeout."""
    with CountingTarget(delay_s=0.5) as target:
        run_id = submit(plane, "http", {"url": f"{target.url}/slow", "timeout_ms": 100})
        deliver_all(client, plane)
    run = plane.runs.get(run_id).run
    assert [a.error_code for a in run.attempts] == ["timeout"] * 3


def test_the_breaker_opens_after_repeated_failures_and_fails_fast(
    client: Any, plane: Plane
) -> None:
    """Three 5xx answers open the host's breaker; the next run fails fast without a call."""
    with CountingTarget() as target:
        target.script["/down"] = [503]
        first = submit(plane, "http", {"url": f"{target.url}/down"})
        deliver_all(client, plane)
        assert target.calls["/down"] == 3
        assert plane.breaker_for(target.url.removeprefix("http://")).state() is BreakerState.OPEN
        second = submit(plane, "http", {"url": f"{target.url}/down"})
        deliver_all(client, plane)
        assert target.calls["/down"] == 3
    assert plane.runs.get(first).run.status is RunStatus.FAILED
    run = plane.runs.get(second).run
    assert {a.error_code for a in run.attempts} == {"circuit_open"}


def test_fifty_concurrent_deliveries_have_the_side_effect_exactly_once(plane: Plane) -> None:
    """A storm of 50 simultaneous deliveries of one task over real HTTP calls the target once."""
    plane.limiter.limit = 100
    app = create_app("execute_task", SOURCE)
    with CountingTarget(delay_s=0.3) as target, served(app) as base_url:
        run_id = submit(plane, "http", {"url": f"{target.url}/effect", "method": "POST"})
        body = TaskBody(run_id, 1).encode()
        start = threading.Barrier(50)

        def deliver() -> int:
            start.wait()
            response = httpx.post(
                f"{base_url}/tasks",
                content=body,
                headers={**TASK_AUTH, "Content-Type": "application/json"},
                timeout=30,
            )
            return response.status_code

        with ThreadPoolExecutor(max_workers=50) as pool:
            statuses = list(pool.map(lambda _: deliver(), range(50)))
        # The queue redelivers everything that was not 2xx: all of it is now a no-op.
        again = httpx.post(
            f"{base_url}/tasks",
            content=body,
            headers={**TASK_AUTH, "Content-Type": "application/json"},
        )
        assert target.calls["/effect"] == 1
    assert set(statuses) <= {200, 429}
    assert statuses.count(200) >= 1
    assert again.status_code == 200
    assert again.json()["action"] == "finished"
    run = plane.runs.get(run_id).run
    assert run.status is RunStatus.SUCCEEDED
    assert len(run.attempts) == 1
