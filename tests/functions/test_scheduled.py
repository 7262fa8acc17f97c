"""The scheduled function (POST /schedule/run, GET /schedule/status) via functions-framework."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

import functions.scheduled as scheduled_module
from shared import runtime
from shared.runlog import RunLog, RunStatus
from shared.schedule import JobContext, JobResult, register_job, unregister_job

TOKEN = "scheduler-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def calls() -> Iterator[list[str]]:
    seen: list[str] = []

    def tick(ctx: JobContext) -> JobResult:
        seen.append(ctx.period)
        return JobResult(details={"period": ctx.period})

    def boom(_: JobContext) -> None:
        raise RuntimeError("database password=hunter2hunter2 refused")

    register_job("test_tick", tick, replace=True)
    register_job("test_boom", boom, replace=True)
    yield seen
    unregister_job("test_tick")
    unregister_job("test_boom")


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "schedule.json"
    path.write_text(
        json.dumps(
            {
                "enabled": True,
                "timezone": "Asia/Tokyo",
                "jobs": {
                    "test_tick": {"cadence": "every", "everyMinutes": 1},
                    "test_boom": {"cadence": "daily", "at": "21:00", "enabled": False},
                },
            }
        )
    )
    monkeypatch.setenv("OPSPLANE_SCHEDULE_CONFIG", str(path))
    monkeypatch.setenv("TASKS_AUTH_TOKEN", TOKEN)
    return path


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(scheduled_module, "clock", fake)
    return fake


@pytest.fixture
def client(config_file: Path, calls: list[str], clock: Clock) -> Any:
    return create_app("scheduled", "functions/main.py").test_client()


def test_run_runs_what_is_due_once(client: Any, calls: list[str], clock: Clock) -> None:
    """POST /schedule/run runs the due job; a second call in the same minute runs nothing."""
    first = client.post("/schedule/run", headers=AUTH)
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert [(r["job"], r["status"], r["period"]) for r in body["ran"]] == [
        ("test_tick", "ok", "20260601T1200Z")
    ]
    assert body["enabled"] is True
    again = client.post("/schedule/run", headers=AUTH)
    assert again.get_json()["ran"] == []
    clock.now = datetime(2026, 6, 1, 12, 1, tzinfo=UTC)
    assert [r["period"] for r in client.post("/schedule/run", headers=AUTH).get_json()["ran"]] == [
        "20260601T1201Z"
    ]
    assert calls == ["20260601T1200Z", "20260601T1201Z"]
    records = list(RunLog(runtime.store()).read(job="test_tick"))
    assert [r.status for r in records] == [RunStatus.OK, RunStatus.OK]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"Authorization": "Bearer wrong"}, id="wrong-token"),
        pytest.param({"Authorization": f"Basic {TOKEN}"}, id="wrong-scheme"),
    ],
)
def test_run_needs_the_scheduler_token(
    client: Any, calls: list[str], headers: dict[str, str]
) -> None:
    """Without a valid bearer token → 401 JSON and nothing runs."""
    response = client.post("/schedule/run", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] in ("missing_credentials", "invalid_credentials")
    assert calls == []


def test_one_target_per_job_with_force(client: Any) -> None:
    """?job=X&force=true runs that one job even when it is disabled; its failure is reported."""
    response = client.post("/schedule/run?job=test_boom&force=true", headers=AUTH)
    assert response.status_code == 200
    [outcome] = response.get_json()["ran"]
    assert (outcome["job"], outcome["status"], outcome["forced"]) == ("test_boom", "error", True)
    assert outcome["errorCode"] == "RuntimeError"
    assert "hunter2" not in json.dumps(response.get_json())
    [record] = RunLog(runtime.store()).read(job="test_boom")
    assert record.status is RunStatus.ERROR
    assert "hunter2" not in (record.error_message or "")


def test_job_parameter_without_force_runs_only_that_job(client: Any) -> None:
    """?job=test_boom (disabled) runs nothing, and the due test_tick is not run either."""
    response = client.post("/schedule/run?job=test_boom", headers=AUTH)
    assert response.status_code == 200
    assert response.get_json()["ran"] == []


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        pytest.param("?job=nope", 404, "unknown_job", id="unknown-job"),
        pytest.param("?force=maybe", 400, "bad_request", id="bad-force"),
    ],
)
def test_bad_parameters_are_4xx(client: Any, query: str, status: int, code: str) -> None:
    """Client mistakes get a 4xx JSON error, never a 500."""
    response = client.post(f"/schedule/run{query}", headers=AUTH)
    assert response.status_code == status
    assert response.get_json()["error"] == code


def test_invalid_configuration_is_reported_by_key(client: Any, config_file: Path) -> None:
    """A broken schedule file → 500 misconfigured naming the bad key; nothing runs."""
    config_file.write_text(json.dumps({"enabled": True, "timezone": "Mars/Base"}))
    response = client.post("/schedule/run", headers=AUTH)
    assert response.status_code == 500
    body = response.get_json()
    assert body["error"] == "misconfigured"
    assert "timezone: 'Mars/Base'" in body["message"]


def test_status_lists_jobs_with_state(client: Any) -> None:
    """GET /schedule/status shows each job's schedule, state and next run."""
    client.post("/schedule/run", headers=AUTH)
    response = client.get("/schedule/status", headers=AUTH)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["enabled"], body["timezone"]) == (True, "Asia/Tokyo")
    jobs = {job["job"]: job for job in body["jobs"]}
    assert jobs["test_tick"]["state"]["runCount"] == 1
    assert jobs["test_tick"]["nextRunAt"] == "2026-06-01T12:01:00Z"
    assert jobs["test_boom"]["nextRunAt"] is None
    assert jobs["test_boom"]["schedule"] == "daily at 21:00"


def test_status_needs_a_token(client: Any) -> None:
    """GET /schedule/status without credentials → 401."""
    assert client.get("/schedule/status").status_code == 401


def test_wrong_method_is_405(client: Any) -> None:
    """GET /schedule/run is 405 with Allow: POST."""
    response = client.get("/schedule/run", headers=AUTH)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
