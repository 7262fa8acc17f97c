"""The health function, driven through functions-framework's test client."""

from __future__ import annotations

import pytest
from functions_framework import create_app

from shared import __version__


@pytest.fixture
def client():
    return create_app("health", "functions/main.py").test_client()


def test_liveness_reports_version(client) -> None:
    """GET /health answers 200 with the version."""
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "version": __version__}
    assert response.headers["X-Request-Id"]


def test_readiness_round_trips_the_store(client) -> None:
    """GET /health/test writes, reads and deletes a probe object."""
    response = client.get("/health/test")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "ok"


def test_readiness_is_503_when_the_store_fails(client, monkeypatch, tmp_path) -> None:
    """A store that cannot be written makes readiness answer 503 with the reason."""
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a directory should be")
    monkeypatch.setenv("OPSPLANE_STORE", f"file://{blocked}")
    from shared import runtime

    runtime.reset()
    response = client.get("/health/test")
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "store_unavailable"
    assert body["message"]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        pytest.param("GET", "/nope", 404, "not_found", id="unknown-path"),
        pytest.param("POST", "/health", 405, "method_not_allowed", id="wrong-method"),
    ],
)
def test_routing_errors_are_json(client, method, path, status, code) -> None:
    """Unknown paths and methods get a JSON error, not an HTML page."""
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.get_json()["error"] == code
