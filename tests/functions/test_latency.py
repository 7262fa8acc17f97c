"""The latency function through functions-framework's test client."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from functions_framework import create_app

from shared import runtime
from shared.clock import utcnow
from shared.latency.job import LOCK_NAME
from shared.latency.lock import LeaseLock
from tests.latency_servers import ScriptedTarget, scripted_target

TOKEN = "tasks-token-for-latency-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def target() -> Iterator[ScriptedTarget]:
    with scripted_target(default_ms=2) as served:
        yield served


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, target: ScriptedTarget):
    probe = {"name": "api-health", "url": target.url, "slo_p95_ms": 1, "source": "api"}
    config = {"targets": [{**probe, "samples": 3}]}
    monkeypatch.setenv("TASKS_AUTH_TOKEN", TOKEN)
    # A store of our own: memory:// stores live for the process, keyed by URL.
    monkeypatch.setenv("OPSPLANE_STORE", f"memory://latency-{uuid.uuid4().hex}")
    runtime.reset()
    monkeypatch.setenv("OPSPLANE_LATENCY_CONFIG", json.dumps(config))
    return create_app("latency", "functions/main.py").test_client()


def latency_objects() -> list[str]:
    return [info.name for info in runtime.store().list("latency")]


def test_sample_runs_the_job_and_rollups_show_it(client, target: ScriptedTarget) -> None:
    """POST /latency/sample samples the target; GET /latency/rollups returns the hour."""
    response = client.post("/latency/sample", headers=AUTH)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["summary"]["samples_written"] == 3
    assert body["summary"]["rollups_written"] == 1
    assert body["summary"]["breach_count"] == 1  # a 1 ms threshold is always breached
    assert target.hits == 3
    rollups = client.get("/latency/rollups?source=api", headers=AUTH)
    assert rollups.status_code == 200
    (rollup,) = rollups.get_json()["rollups"]
    assert rollup["count"] == 3
    assert rollup["p95_ms"] == body["rollups"][0]["p95_ms"]


def test_rollups_export_csv_with_the_documented_columns(client) -> None:
    """format=csv → text/csv with hour_utc,p50_ms,p95_ms,breach_flag."""
    client.post("/latency/sample", headers=AUTH)
    response = client.get("/latency/rollups?source=api&format=csv&since=2h", headers=AUTH)
    assert response.status_code == 200
    assert response.content_type.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["hour_utc", "p50_ms", "p95_ms", "breach_flag"]
    assert len(rows) == 2
    assert rows[1][3] == "true"
    assert float(rows[1][1]) <= float(rows[1][2])


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        pytest.param("POST", "/latency/sample", {}, id="sample-no-token"),
        pytest.param(
            "POST", "/latency/sample", {"Authorization": "Bearer wrong"}, id="sample-bad-token"
        ),
        pytest.param("GET", "/latency/rollups", {}, id="rollups-no-token"),
    ],
)
def test_callers_must_authenticate(client, target: ScriptedTarget, method, path, headers) -> None:
    """No or a wrong bearer → 401 JSON, and nothing is sampled or written."""
    response = client.open(path, method=method, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] in {"missing_credentials", "invalid_credentials"}
    assert target.hits == 0
    assert latency_objects() == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(b"{nope", "bad_request", id="not-json"),
        pytest.param(b"[1]", "bad_request", id="not-an-object"),
        pytest.param(b'{"dry_run": true}', "invalid_options", id="unknown-field"),
        pytest.param(b'{"dry_run_alert": "yes"}', "invalid_options", id="dry-run-not-bool"),
        pytest.param(b'{"raw_retention_days": 0}', "invalid_options", id="raw-zero"),
        pytest.param(b'{"rollup_retention_days": "9"}', "invalid_options", id="rollup-string"),
    ],
)
def test_bad_sample_options_are_400_and_write_nothing(
    client, target: ScriptedTarget, body: bytes, code: str
) -> None:
    """A malformed body is the caller's mistake: 400 with a code, no sampling, no state."""
    response = client.post(
        "/latency/sample", data=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == code
    assert target.hits == 0
    assert latency_objects() == []


@pytest.mark.parametrize(
    ("query", "code"),
    [
        pytest.param("source=../etc", "invalid_source", id="bad-source"),
        pytest.param("since=yesterday", "invalid_since", id="bad-since"),
        pytest.param("since=999999w", "invalid_since", id="since-before-year-one"),
        pytest.param("format=xml", "invalid_format", id="bad-format"),
        pytest.param("format=csv", "source_required", id="csv-without-source"),
    ],
)
def test_bad_rollup_queries_are_400(client, query: str, code: str) -> None:
    """Each bad query parameter gets its own error code."""
    response = client.get(f"/latency/rollups?{query}", headers=AUTH)
    assert response.status_code == 400
    assert response.get_json()["error"] == code


def test_dry_run_alert_from_the_body(client) -> None:
    """{"dry_run_alert": true}: the page alert is stored under latency_alerts/<job_id>.json."""
    response = client.post("/latency/sample", json={"dry_run_alert": True}, headers=AUTH)
    body = response.get_json()
    assert body["alerts_object"] == f"latency_alerts/{body['job_id']}.json"
    stored = json.loads(runtime.store().get(body["alerts_object"]).data)
    assert [a["state"] for a in stored["alerts"]] == ["page"]


def test_a_held_lock_answers_skipped(client, target: ScriptedTarget) -> None:
    """Another run's lease → 200 with status skipped, and no request is made."""
    lock = LeaseLock(runtime.store(), LOCK_NAME, ttl=timedelta(minutes=10), clock=utcnow)
    lock.acquire("another-run")
    response = client.post("/latency/sample", headers=AUTH)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "skipped"
    assert "another-run" in body["message"]
    assert target.hits == 0


def test_missing_configuration_is_a_clean_error(client, monkeypatch) -> None:
    """No OPSPLANE_LATENCY_CONFIG: a JSON 'misconfigured' answer, never a crash page."""
    monkeypatch.delenv("OPSPLANE_LATENCY_CONFIG")
    response = client.post("/latency/sample", headers=AUTH)
    assert response.status_code == 500
    assert response.get_json()["error"] == "misconfigured"
