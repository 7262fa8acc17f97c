"""The dlq function through functions-framework's test client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from functions_framework import create_app

from shared.jobs.plane import Plane
from tests.dlq_support import Seeded, seed_dead_letters
from tests.jobs_support import API_TOKEN, TASKS_TOKEN, RecordingQueue, installed, make_plane

SOURCE = "functions/main.py"
API = {"Authorization": f"Bearer {API_TOKEN}"}
TASKS = {"Authorization": f"Bearer {TASKS_TOKEN}"}


@pytest.fixture
def plane(monkeypatch: pytest.MonkeyPatch) -> Iterator[Plane]:
    monkeypatch.setenv("OPSPLANE_API_TOKENS", f"alice={API_TOKEN}")
    monkeypatch.setenv("TASKS_AUTH_TOKEN", TASKS_TOKEN)
    with installed(make_plane()) as plane:
        yield plane


@pytest.fixture
def seeded(plane: Plane) -> Seeded:
    return seed_dead_letters(plane.store, 40)


@pytest.fixture
def client(plane: Plane) -> Any:
    return create_app("dlq", SOURCE).test_client()


def test_triage_counts_and_redacts(client: Any, seeded: Seeded) -> None:
    """GET /dlq/triage: exact counts, and none of the planted secrets in the answer."""
    response = client.get("/dlq/triage", headers=API)
    assert response.status_code == 200
    assert response.json["total"] == 40
    assert response.json["by_code"] == dict(seeded.by_code)
    text = response.get_data(as_text=True)
    assert not [secret for secret in seeded.secrets if secret in text]


def test_triage_filters(client: Any, seeded: Seeded) -> None:
    """job_type, code and since narrow the summary."""
    response = client.get("/dlq/triage?job_type=http&code=timeout", headers=API)
    assert response.status_code == 200
    assert set(response.json["by_job_type"]) <= {"http"}
    assert set(response.json["by_code"]) <= {"timeout"}
    late = client.get("/dlq/triage?since=2026-11-01T00:30:00Z", headers=API)
    assert late.json["total"] == 10


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "code"),
    [
        pytest.param("GET", "/dlq/triage", {}, None, 401, "missing_credentials", id="no-token"),
        pytest.param(
            "GET",
            "/dlq/triage",
            TASKS,
            None,
            401,
            "invalid_credentials",
            id="tasks-token-on-triage",
        ),
        pytest.param(
            "GET", "/dlq/triage?since=yesterday", API, None, 400, "bad_request", id="bad-since"
        ),
        pytest.param(
            "GET",
            "/dlq/triage?sinse=2026-01-01",
            API,
            None,
            400,
            "unknown_parameter",
            id="unknown-param",
        ),
        pytest.param("GET", "/dlq/triage?kind=email", API, None, 400, "bad_request", id="bad-kind"),
        pytest.param(
            "POST",
            "/dlq/replay",
            API,
            {"all": True},
            401,
            "invalid_credentials",
            id="api-token-on-replay",
        ),
        pytest.param("POST", "/dlq/replay", TASKS, {}, 400, "no_filter", id="no-filter"),
        pytest.param(
            "POST",
            "/dlq/replay",
            TASKS,
            {"all": True, "bogus": 1},
            400,
            "unknown_field",
            id="unknown-field",
        ),
        pytest.param(
            "POST", "/dlq/replay", TASKS, {"ids": "abc"}, 400, "bad_request", id="ids-not-list"
        ),
        pytest.param(
            "POST",
            "/dlq/replay",
            TASKS,
            {"all": True, "limit": 0},
            400,
            "bad_request",
            id="limit-zero",
        ),
        pytest.param(
            "POST",
            "/dlq/replay",
            TASKS,
            {"all": True, "dry_run": "yes"},
            400,
            "bad_request",
            id="dry-run-not-bool",
        ),
        pytest.param(
            "POST",
            "/dlq/replay",
            TASKS,
            {"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
            400,
            "bad_request",
            id="since-after-until",
        ),
        pytest.param("POST", "/dlq/replay", TASKS, [1, 2], 400, "bad_request", id="not-object"),
    ],
)
def test_bad_requests(  # noqa: PLR0917 - fixtures and the table row, injected by pytest
    client: Any,
    plane: Plane,
    seeded: Seeded,
    method: str,
    path: str,
    headers: dict[str, str],
    body: Any,
    status: int,
    code: str,
) -> None:
    """Bad input and bad callers get their 4xx with a JSON error, and nothing is replayed."""
    response = client.open(path, method=method, json=body, headers=headers)
    assert response.status_code == status
    assert response.json["error"] == code
    assert plane.queue.tasks == []  # type: ignore[attr-defined]


def test_replay_dry_run_then_for_real_then_nothing_left(
    client: Any, plane: Plane, seeded: Seeded
) -> None:
    """POST /dlq/replay: a dry run counts, the real one enqueues, a repeat finds nothing."""
    body = {"job_type": "email"}
    dry = client.post("/dlq/replay", json={**body, "dry_run": True}, headers=TASKS)
    assert dry.status_code == 200
    assert (dry.json["would_replay"], dry.json["replayed"]) == (10, 0)
    real = client.post("/dlq/replay", json=body, headers=TASKS)
    assert real.status_code == 200
    assert real.json["replayed"] == 10
    assert sorted(real.json["replayed_ids"]) == sorted(dry.json["would_replay_ids"])
    queue = plane.queue
    assert isinstance(queue, RecordingQueue)
    assert sorted(json.loads(t.body)["run_id"] for t in queue.tasks) == sorted(
        real.json["new_run_ids"]
    )
    again = client.post("/dlq/replay", json=body, headers=TASKS)
    assert (again.json["matched"], again.json["replayed"]) == (0, 0)
    assert len(queue.tasks) == 10


def test_replay_by_ids_respects_the_limit(client: Any, plane: Plane, seeded: Seeded) -> None:
    """Replay by ids replays those letters, at most ``limit`` of them."""
    ids = seeded.run_ids[:5]
    response = client.post("/dlq/replay", json={"ids": ids, "limit": 3}, headers=TASKS)
    assert response.json["matched"] == 3
    assert set(response.json["replayed_ids"]) <= set(ids)


def test_callback_letters_are_delivered_again(
    client: Any, plane: Plane, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kind=callback: each callback letter is re-sent to WORKER_CALLBACK_URL once, then gone."""
    from shared.callbacks import deadletters as callback_deadletters
    from tests.dlq_support import START
    from tests.jobs_support import CountingTarget

    for revision in (2, 3):
        callback_deadletters.write(
            plane.store,
            {
                "eventId": f"run-1.{revision}",
                "runId": "run-1",
                "jobType": "http",
                "status": "RUNNING",
                "revision": revision,
            },
            url="http://unused.invalid/hook",
            attempts=5,
            error="HTTP 503",
            status=503,
            now=START,
        )
    with CountingTarget() as receiver:
        monkeypatch.setenv("WORKER_CALLBACK_URL", f"{receiver.url}/hook")
        monkeypatch.setenv("WORKER_CALLBACK_SIGNING_SECRET", "callback-secret")
        response = client.post("/dlq/replay", json={"kind": "callback"}, headers=TASKS)
        assert response.status_code == 200
        assert sorted(response.json["replayed_ids"]) == ["run-1.2", "run-1.3"]
        assert receiver.calls["/hook"] == 2
        again = client.post("/dlq/replay", json={"kind": "callback"}, headers=TASKS)
        assert again.json["matched"] == 0
        assert receiver.calls["/hook"] == 2


def test_callback_letters_without_a_url_are_skipped(client: Any, plane: Plane) -> None:
    """Without WORKER_CALLBACK_URL a callback letter is skipped with a reason, and kept."""
    from shared.callbacks import deadletters as callback_deadletters
    from tests.dlq_support import START

    callback_deadletters.write(
        plane.store,
        {"eventId": "run-2.2", "runId": "run-2", "jobType": "http"},
        url="http://unused.invalid/hook",
        attempts=5,
        error="HTTP 503",
        status=503,
        now=START,
    )
    response = client.post("/dlq/replay", json={"kind": "callback"}, headers=TASKS)
    assert response.json["skipped_items"] == [
        {"id": "run-2.2", "action": "skipped", "run_id": None, "reason": "no_callback_url"}
    ]
    assert plane.store.get_or_none("dlq/callbacks/run-2.2.json") is not None
