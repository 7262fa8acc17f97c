"""The HTTP edge: JSON errors with the right status, body limits, request ids."""

from __future__ import annotations

import io
import logging

import flask
import pytest

from shared import logs
from shared.http.edge import Request, Response, Router, http_function
from shared.http.errors import Conflict, TooManyRequests
from shared.storage import StoreUnavailable

SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def _app(limit: int = 64) -> flask.testing.FlaskClient:
    router = Router()

    @router.route("POST", "/echo")
    def echo(request: Request) -> Response:
        return Response({"got": request.json_object()})

    @router.route("GET", "/items/<item_id>")
    def item(request: Request) -> Response:
        return Response({"id": request.path_params["item_id"]})

    @router.route("POST", "/conflict")
    def conflict(_: Request) -> Response:
        raise Conflict("already approved", code="illegal_transition")

    @router.route("POST", "/busy")
    def busy(_: Request) -> Response:
        raise TooManyRequests("queue full", retry_after=7)

    @router.route("GET", "/store-down")
    def store_down(_: Request) -> Response:
        raise StoreUnavailable("connection refused")

    @router.route("GET", "/bug")
    def bug(_: Request) -> Response:
        raise RuntimeError(f"internal detail with {SECRET}")

    app = flask.Flask(__name__)
    function = http_function(router, max_body_bytes=limit)
    app.add_url_rule(
        "/<path:path>", "f", lambda path: function(flask.request), methods=["GET", "POST", "HEAD"]
    )
    return app.test_client()


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        pytest.param(
            "POST",
            "/echo",
            {"data": "{nope", "content_type": "application/json"},
            400,
            "bad_request",
            id="malformed-json",
        ),
        pytest.param(
            "POST",
            "/echo",
            {"data": "[1]", "content_type": "application/json"},
            400,
            "bad_request",
            id="not-an-object",
        ),
        pytest.param(
            "POST",
            "/echo",
            {"data": "", "content_type": "application/json"},
            400,
            "bad_request",
            id="empty-body",
        ),
        pytest.param(
            "POST",
            "/echo",
            {"data": "a=1", "content_type": "text/plain"},
            415,
            "unsupported_media_type",
            id="wrong-type",
        ),
        pytest.param(
            "POST",
            "/echo",
            {"data": "x" * 65, "content_type": "application/json"},
            413,
            "payload_too_large",
            id="oversized",
        ),
        pytest.param("GET", "/echo", {}, 405, "method_not_allowed", id="wrong-method"),
        pytest.param("GET", "/missing", {}, 404, "not_found", id="unknown-path"),
        pytest.param("POST", "/conflict", {}, 409, "illegal_transition", id="typed-conflict"),
        pytest.param("GET", "/store-down", {}, 503, "unavailable", id="store-unavailable"),
    ],
)
def test_client_mistakes_get_json_errors(method, path, kwargs, status, code) -> None:
    """Every error is a JSON body {error, message} with the right status."""
    response = _app().open(path, method=method, **kwargs)
    assert response.status_code == status
    body = response.get_json()
    assert body["error"] == code
    assert body["message"]
    assert response.headers["X-Request-Id"]


def test_path_parameters_and_json_round_trip() -> None:
    """Routes bind path segments, and a good body reaches the handler."""
    client = _app()
    assert client.get("/items/r-42").get_json() == {"id": "r-42"}
    assert client.post("/echo", json={"a": 1}).get_json() == {"got": {"a": 1}}


def test_retry_after_is_sent_with_429() -> None:
    """Backpressure answers carry Retry-After."""
    response = _app().post("/busy")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


def test_unexpected_errors_are_opaque_500s() -> None:
    """A bug answers 500 JSON without internals, and its log line is redacted."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.CloudLoggingFormatter())
    logs.get_logger("opsplane.http").addHandler(handler)
    try:
        response = _app().get("/bug")
    finally:
        logs.get_logger("opsplane.http").removeHandler(handler)
    assert response.status_code == 500
    body = response.get_json()
    assert body["error"] == "internal"
    assert "internal detail" not in response.get_data(as_text=True)
    written = stream.getvalue()
    assert "internal detail" in written
    assert SECRET not in written


def test_request_id_is_echoed() -> None:
    """A caller's X-Request-Id comes back on the response."""
    response = _app().get("/items/1", headers={"X-Request-Id": "req-123"})
    assert response.headers["X-Request-Id"] == "req-123"
