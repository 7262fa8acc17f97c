"""The runs API through functions-framework's test client."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from functions_framework import create_app

from shared.jobs.executor import Executor
from shared.jobs.models import RunStatus
from shared.jobs.plane import Plane
from tests.jobs_support import API_TOKEN, RecordingQueue, installed, make_plane

SOURCE = "functions/main.py"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def plane(monkeypatch: pytest.MonkeyPatch) -> Iterator[Plane]:
    hashed = hashlib.sha256(b"hashed-token").hexdigest()
    monkeypatch.setenv("OPSPLANE_API_TOKENS", f"alice={API_TOKEN}, bob=sha256:{hashed}")
    monkeypatch.setenv("OPSPLANE_MAX_BODY_BYTES", "4096")
    with installed(make_plane(max_params_bytes=1024)) as plane:
        yield plane


@pytest.fixture
def client(plane: Plane) -> Any:
    return create_app("runs", SOURCE).test_client()


def post(client: Any, path: str, body: Any = None, **headers: str) -> Any:
    return client.post(path, json=body, headers={**AUTH, **headers})


def test_submit_queues_a_run_owned_by_the_caller_and_enqueues_attempt_one(
    client: Any, plane: Plane
) -> None:
    """POST /runs -> 202 with the run id; the run is QUEUED, owned by alice, task a1 enqueued."""
    response = post(client, "/runs", {"job_type": "noop", "params": {}, "priority": 7})
    assert response.status_code == 202
    run_id = response.json["run_id"]
    assert response.json["status"] == "QUEUED"
    shown = client.get(f"/runs/{run_id}", headers=AUTH).json
    assert shown["owner"] == "alice"
    assert shown["priority"] == 7
    queue = plane.queue
    assert isinstance(queue, RecordingQueue)
    assert [task.name for task in queue.tasks] == [f"{run_id}-a1"]
    assert json.loads(queue.tasks[0].body) == {"run_id": run_id, "attempt": 1}


def test_the_api_shows_params_redacted_but_the_job_gets_them_whole(
    client: Any, plane: Plane
) -> None:
    """A credential in params is stored for the handler but never shown by the API."""
    params = {
        "url": "http://127.0.0.1:9/x",
        "headers": {"Authorization": "Bearer s3cr3t-t0ken-value"},
    }
    run_id = post(client, "/runs", {"job_type": "http", "params": params}).json["run_id"]
    shown = client.get(f"/runs/{run_id}", headers=AUTH).json
    assert "s3cr3t-t0ken-value" not in json.dumps(shown)
    listed = client.get("/runs", headers=AUTH).json
    assert "s3cr3t-t0ken-value" not in json.dumps(listed)
    assert plane.runs.get(run_id).run.params == params


def test_a_hashed_token_authenticates_under_its_name(client: Any) -> None:
    """A sha256: entry accepts the token whose hash it stores; the caller is its name."""
    response = client.post(
        "/runs", json={"job_type": "noop"}, headers={"Authorization": "Bearer hashed-token"}
    )
    assert response.status_code == 202
    run = client.get(f"/runs/{response.json['run_id']}", headers=AUTH).json
    assert run["owner"] == "bob"


def test_the_same_idempotency_key_returns_the_same_run(client: Any, plane: Plane) -> None:
    """A repeated submission with the same key and body returns the first run, enqueued once."""
    body = {"job_type": "sleep", "params": {"ms": 1}}
    first = post(client, "/runs", body, **{"Idempotency-Key": "k-1"})
    second = post(client, "/runs", body, **{"Idempotency-Key": "k-1"})
    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json["run_id"] == first.json["run_id"]
    assert second.json["created"] is False
    queue = plane.queue
    assert isinstance(queue, RecordingQueue)
    assert len(queue.tasks) == 1


def test_a_reused_idempotency_key_with_another_body_is_409(client: Any) -> None:
    """Same key, different params -> 409 idempotency_key_reused; nothing new is stored."""
    post(client, "/runs", {"job_type": "sleep", "params": {"ms": 1}}, **{"Idempotency-Key": "k"})
    response = post(
        client, "/runs", {"job_type": "sleep", "params": {"ms": 2}}, **{"Idempotency-Key": "k"}
    )
    assert response.status_code == 409
    assert response.json["error"] == "idempotency_key_reused"
    assert len(client.get("/runs", headers=AUTH).json["runs"]) == 1


def test_approval_gate_then_approve_enqueues(client: Any, plane: Plane) -> None:
    """requires_approval -> WAITING_APPROVAL with no task; approve -> QUEUED and a task."""
    run_id = post(client, "/runs", {"job_type": "noop", "requires_approval": True}).json["run_id"]
    queue = plane.queue
    assert isinstance(queue, RecordingQueue)
    assert client.get(f"/runs/{run_id}", headers=AUTH).json["status"] == "WAITING_APPROVAL"
    assert queue.tasks == []
    approved = post(client, f"/runs/{run_id}/approve")
    assert approved.status_code == 200
    assert approved.json["status"] == "QUEUED"
    assert approved.json["extra"]["approved_by"] == "alice"
    assert [task.name for task in queue.tasks] == [f"{run_id}-a1"]


def test_reject_cancels_a_waiting_run(client: Any) -> None:
    """Rejecting a run that waits for approval cancels it."""
    run_id = post(client, "/runs", {"job_type": "noop", "requires_approval": True}).json["run_id"]
    response = post(client, f"/runs/{run_id}/reject")
    assert response.status_code == 200
    assert response.json["status"] == "CANCELLED"
    assert response.json["error_code"] == "rejected"


def test_cancel_then_the_task_arrives_and_does_nothing(client: Any, plane: Plane) -> None:
    """A cancelled run's task delivery is a no-op; the run stays CANCELLED."""
    run_id = post(client, "/runs", {"job_type": "noop"}).json["run_id"]
    assert post(client, f"/runs/{run_id}/cancel").json["status"] == "CANCELLED"
    delivery = Executor(plane).execute(run_id, 1)
    assert delivery.run.status is RunStatus.CANCELLED
    assert plane.runs.get(run_id).run.attempts == ()


def test_listing_filters_and_paginates(client: Any) -> None:
    """GET /runs pages oldest first with a cursor and filters by status and job type."""
    ids = [post(client, "/runs", {"job_type": "noop"}).json["run_id"] for _ in range(5)]
    waiting = post(
        client, "/runs", {"job_type": "sleep", "params": {"ms": 1}, "requires_approval": True}
    )
    page1 = client.get("/runs?limit=2", headers=AUTH).json
    page2 = client.get(f"/runs?limit=2&cursor={page1['next_cursor']}", headers=AUTH).json
    assert [r["run_id"] for r in page1["runs"] + page2["runs"]] == ids[:4]
    by_status = client.get("/runs?status=waiting_approval", headers=AUTH).json["runs"]
    assert [r["run_id"] for r in by_status] == [waiting.json["run_id"]]
    by_type = client.get("/runs?job_type=noop&limit=200", headers=AUTH).json
    assert len(by_type["runs"]) == 5
    assert by_type["next_cursor"] is None


def test_since_lists_runs_created_at_or_after_a_time(client: Any) -> None:
    """since= skips runs created before the given time (ids are time-ordered)."""
    old = post(client, "/runs", {"job_type": "noop"}).json["run_id"]
    created = client.get(f"/runs/{old}", headers=AUTH).json["created_at"]
    new = post(client, "/runs", {"job_type": "noop"}).json["run_id"]
    listed = client.get("/runs", query_string={"since": created}, headers=AUTH).json["runs"]
    assert [r["run_id"] for r in listed] == [old, new]
    later = client.get("/runs", query_string={"since": "2999-01-01T00:00:00Z"}, headers=AUTH)
    assert later.json["runs"] == []


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "code"),
    [
        pytest.param("POST", "/runs", "{not json", AUTH, 400, "bad_request", id="malformed-json"),
        pytest.param("POST", "/runs", "[1, 2]", AUTH, 400, "bad_request", id="not-an-object"),
        pytest.param(
            "POST", "/runs", {"job_type": "nope"}, AUTH, 400, "unknown_job_type", id="unknown-job"
        ),
        pytest.param(
            "POST", "/runs", {"job_type": "noop", "x": 1}, AUTH, 400, "unknown_field", id="extra"
        ),
        pytest.param(
            "POST",
            "/runs",
            {"job_type": "http", "params": {"url": "ftp://x"}},
            AUTH,
            400,
            "invalid_params",
            id="bad-params",
        ),
        pytest.param(
            "POST",
            "/runs",
            {"job_type": "noop", "priority": 42},
            AUTH,
            400,
            "bad_request",
            id="bad-priority",
        ),
        pytest.param(
            "POST",
            "/runs",
            {"job_type": "noop", "params": {"p": "x" * 2000}},
            AUTH,
            413,
            "payload_too_large",
            id="params-too-large",
        ),
        pytest.param(
            "POST",
            "/runs",
            {"job_type": "noop", "params": {"p": "x" * 5000}},
            AUTH,
            413,
            "payload_too_large",
            id="body-too-large",
        ),
        pytest.param(
            "POST", "/runs", {"job_type": "noop"}, {}, 401, "missing_credentials", id="no-auth"
        ),
        pytest.param(
            "POST",
            "/runs",
            {"job_type": "noop"},
            {"Authorization": "Bearer wrong"},
            401,
            "invalid_credentials",
            id="wrong-token",
        ),
        pytest.param(
            "POST",
            "/runs",
            {"job_type": "noop"},
            {"Authorization": "Basic YWxpY2U6eA=="},
            401,
            "missing_credentials",
            id="basic-auth",
        ),
        pytest.param(
            "GET",
            "/runs/20990101T000000000000Z-none",
            None,
            AUTH,
            404,
            "run_not_found",
            id="unknown-run",
        ),
        pytest.param("GET", "/runs/..", None, AUTH, 404, "run_not_found", id="dot-dot-run"),
        pytest.param(
            "POST", "/runs/nope/approve", None, AUTH, 404, "run_not_found", id="approve-unknown"
        ),
        pytest.param("GET", "/runs?status=DONE", None, AUTH, 400, "bad_request", id="bad-status"),
        pytest.param("GET", "/runs?limit=0", None, AUTH, 400, "bad_request", id="bad-limit"),
        pytest.param(
            "GET", "/runs?since=yesterday", None, AUTH, 400, "bad_request", id="bad-since"
        ),
        pytest.param("DELETE", "/runs", None, AUTH, 405, "method_not_allowed", id="method"),
    ],
)
def test_bad_input_gets_the_right_4xx_with_a_json_body(
    client: Any,
    *,
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    """Client mistakes are 4xx JSON errors, never 500s, and store nothing."""
    data = body if isinstance(body, str) else json.dumps(body) if body is not None else None
    response = client.open(
        path, method=method, data=data, content_type="application/json", headers=headers
    )
    assert response.status_code == status
    assert response.json["error"] == code
    assert response.json["message"]
    assert client.get("/runs", headers=AUTH).json["runs"] == []


@pytest.mark.parametrize(
    ("action", "setup"),
    [
        pytest.param("approve", "queued", id="approve-queued"),
        pytest.param("reject", "queued", id="reject-queued"),
        pytest.param("cancel", "cancelled", id="cancel-cancelled"),
        pytest.param("approve", "succeeded", id="approve-succeeded"),
    ],
)
def test_illegal_transitions_are_409_and_change_nothing(
    client: Any, plane: Plane, action: str, setup: str
) -> None:
    """An action the run's status does not allow -> 409 illegal_transition with the status."""
    run_id = post(client, "/runs", {"job_type": "noop"}).json["run_id"]
    if setup == "cancelled":
        post(client, f"/runs/{run_id}/cancel")
    if setup == "succeeded":
        Executor(plane).execute(run_id, 1)
    before = plane.runs.get(run_id).generation
    response = post(client, f"/runs/{run_id}/{action}")
    assert response.status_code == 409
    assert response.json["error"] == "illegal_transition"
    assert response.json["status"] == plane.runs.get(run_id).run.status.value
    assert plane.runs.get(run_id).generation == before
