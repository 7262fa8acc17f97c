"""The export and dashboard functions through functions-framework's test client."""

from __future__ import annotations

import json
import re

import pytest
from functions_framework import create_app

from shared import runtime
from shared.clock import utcnow
from shared.exports import MANIFEST_NAME, directory_reader, store_reader, verify_bundle
from shared.exports.page import daily_success
from tests.unit.test_exports_seed import seed

TOKEN = "tasks-token-for-export-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def export_client(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TASKS_AUTH_TOKEN", TOKEN)
    return create_app("export", "functions/main.py").test_client()


@pytest.fixture
def dashboard_client():
    return create_app("dashboard", "functions/main.py").test_client()


def test_post_export_writes_a_bundle_that_verifies(export_client) -> None:
    """An authenticated POST exports every dataset and answers the run."""
    seed(runtime.store(), utcnow())
    response = export_client.post("/export/dashboard", headers=AUTH)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["sequence"] == 1
    assert len(body["datasets"]) == 5
    assert verify_bundle(store_reader(runtime.store())) == []


def test_post_export_of_some_datasets(export_client) -> None:
    """{"datasets": [...]} exports only those."""
    response = export_client.post(
        "/export/dashboard", headers=AUTH, json={"datasets": ["slo_status", "dlq_summary"]}
    )
    assert response.status_code == 200
    assert [d["dataset"] for d in response.get_json()["datasets"]] == [
        "dlq_summary",
        "slo_status",
    ]


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        pytest.param({}, None, 401, "missing_credentials", id="no-token"),
        pytest.param(
            {"Authorization": "Bearer wrong"}, None, 401, "invalid_credentials", id="bad-token"
        ),
        pytest.param(AUTH, {"datasets": ["nope"]}, 400, "unknown_dataset", id="unknown-dataset"),
        pytest.param(AUTH, {"datasets": []}, 400, "invalid_datasets", id="empty-list"),
        pytest.param(AUTH, {"datasets": "run_history"}, 400, "invalid_datasets", id="not-list"),
        pytest.param(AUTH, {"upload": "rm -rf /"}, 400, "invalid_options", id="unknown-field"),
        pytest.param(AUTH, [1, 2], 400, "bad_request", id="not-an-object"),
    ],
)
def test_post_export_rejects_bad_requests(export_client, headers, body, status, code) -> None:
    """Bad credentials or bodies get a JSON 4xx and write nothing."""
    kwargs = {"json": body} if body is not None else {}
    response = export_client.post("/export/dashboard", headers=headers, **kwargs)
    assert response.status_code == status
    assert response.get_json()["error"] == code
    assert list(runtime.store().list("exports/")) == []


def test_dashboard_page_shows_the_exported_numbers(export_client, dashboard_client) -> None:
    """The HTML carries each day's success rate, each open-letter count and SLO state."""
    expected = seed(runtime.store(), utcnow())
    assert export_client.post("/export/dashboard", headers=AUTH).status_code == 200
    response = dashboard_client.get("/dashboard")
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    for day, (ok, failed) in expected.per_day.items():
        rate = ok / (ok + failed)
        assert f'data-day="{day}" data-success-rate="{rate:.4f}"' in html
        assert f"{rate * 100:.1f}%" in html
    for job_type, count in expected.open_letters.items():
        assert f'data-job-type="{job_type}" data-open="{count}"' in html
    for source, state in expected.slo_states.items():
        assert f'data-source="{source}" data-state="{state}"' in html
    for (source, hour), p95 in expected.p95_ms.items():
        assert f'data-source="{source}" data-hour="{hour}" data-p95-ms="{p95:.1f}"' in html
    assert "export sequence 1" in html
    assert not re.search(r"<script|src=\"http|href=\"http", html)


def test_dashboard_before_any_export_shows_live_data(dashboard_client) -> None:
    """With nothing exported the page is built live and says so; nothing is stored."""
    expected = seed(runtime.store(), utcnow())
    html = dashboard_client.get("/dashboard").get_data(as_text=True)
    assert "live (not exported yet)" in html
    for source, state in expected.slo_states.items():
        assert f'data-source="{source}" data-state="{state}"' in html
    assert runtime.store().get_or_none(MANIFEST_NAME) is None


def test_dataset_files_are_served_as_exported(export_client, dashboard_client) -> None:
    """GET /dashboard/data/<dataset>.json returns the exported bytes."""
    seed(runtime.store(), utcnow())
    export_client.post("/export/dashboard", headers=AUTH)
    response = dashboard_client.get("/dashboard/data/run_history.json")
    assert response.status_code == 200
    stored = runtime.store().get("exports/dashboard/run_history.json").data
    assert response.get_data() == stored
    rows = json.loads(stored)["rows"]
    assert daily_success(rows)  # the page's own summary of the same rows is not empty


@pytest.mark.parametrize(
    ("path", "code"),
    [
        pytest.param("/dashboard/data/secrets.json", "unknown_dataset", id="unknown"),
        pytest.param("/dashboard/data/run_history", "not_found", id="no-suffix"),
        pytest.param("/dashboard/data/slo_status.json", "not_exported", id="not-exported"),
        pytest.param("/dashboard/data/..%2Fmanifest.json", "not_found", id="traversal"),
    ],
)
def test_dataset_files_404_with_json(dashboard_client, path: str, code: str) -> None:
    """Unknown, malformed or not yet exported names answer a JSON 404."""
    response = dashboard_client.get(path)
    assert response.status_code == 404
    assert response.get_json()["error"] == code


def test_dashboard_is_read_only(dashboard_client) -> None:
    """POST on the page is 405 with the allowed methods."""
    response = dashboard_client.post("/dashboard")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


def test_a_bundle_downloaded_over_http_verifies(export_client, dashboard_client, tmp_path) -> None:
    """manifest.json and each dataset fetched from /dashboard/data/ verify as a directory."""
    seed(runtime.store(), utcnow())
    export_client.post("/export/dashboard", headers=AUTH)
    manifest = dashboard_client.get("/dashboard/data/manifest.json")
    assert manifest.status_code == 200
    (tmp_path / "manifest.json").write_bytes(manifest.get_data())
    for entry in manifest.get_json()["datasets"]:
        name = f"{entry['dataset']}.json"
        (tmp_path / name).write_bytes(dashboard_client.get(f"/dashboard/data/{name}").get_data())
    assert verify_bundle(directory_reader(tmp_path)) == []


def test_a_broken_schedule_file_leaves_the_rest_of_the_page(dashboard_client, monkeypatch) -> None:
    """An unreadable schedule config marks that dataset unavailable; the page still renders."""
    expected = seed(runtime.store(), utcnow())
    monkeypatch.setenv("OPSPLANE_SCHEDULE_CONFIG", "/nonexistent/schedule.json")
    response = dashboard_client.get("/dashboard")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "unavailable: schedule_status" in html
    for source, state in expected.slo_states.items():
        assert f'data-source="{source}" data-state="{state}"' in html
