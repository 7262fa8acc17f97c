"""`opsplane verify-deployment` against real loopback servers."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from shared import verify_deployment as vd
from shared.cli import main as cli_main
from shared.http.edge import Response, Router


def _serve_function(target: str) -> tuple[str, Any]:
    """A real functions-framework app for a target of functions/main.py, on loopback."""
    import functions_framework
    from werkzeug.serving import make_server

    app = functions_framework.create_app(target, "functions/main.py")  # type: ignore[no-untyped-call]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return f"http://127.0.0.1:{server.server_port}", server


@pytest.fixture
def health_url() -> Iterator[str]:
    url, server = _serve_function("health")
    yield url
    server.shutdown()


@pytest.fixture
def runs_url() -> Iterator[str]:
    url, server = _serve_function("runs")
    yield url
    server.shutdown()


class Scripted:
    """A loopback server answering each path with a scripted (status, body, headers, delay)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, dict[str, str], float]] = {}
        self.seen_headers: list[dict[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.seen_headers.append(dict(self.headers.items()))
                status, body, headers, delay = owner.routes.get(
                    self.path, (404, b"not found", {"Content-Type": "text/plain"}, 0.0)
                )
                time.sleep(delay)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def json(
        self, path: str, status: int, body: Any, *, edge: bool = True, delay: float = 0.0
    ) -> None:
        headers = {"Content-Type": "application/json"}
        if edge:
            headers["X-Request-Id"] = "req-1"
        self.routes[path] = (status, json.dumps(body).encode(), headers, delay)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    server = Scripted()
    yield server
    server.close()


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_healthy_function_passes_both_checks(
    health_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real health function: /health and /health/test are OK and the exit code is 0."""
    code = cli_main(["verify-deployment", "--service", f"health={health_url}"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "GET /health " in out
    assert "GET /health/test" in out
    assert out.count("OK") >= 2
    assert "1 service(s), 2 check(s): all healthy" in out


def test_function_without_health_route_is_serving(
    runs_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real function with no health route answers through the edge: SERVING, exit 0."""
    code = cli_main(["verify-deployment", "--service", f"runs={runs_url}", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [(row["service"], row["path"], row["result"]) for row in rows] == [
        ("runs", "/runs", "serving")
    ]
    assert 400 <= rows[0]["status"] < 500


def test_base_url_checks_every_target(scripted: Scripted) -> None:
    """With one base URL every target of functions/main.py is probed there."""
    targets, routers = vd.load_routers()
    services = vd.select_services(targets, base_url=scripted.url)
    assert set(services) == set(targets)
    probes = vd.plan_probes(services, routers, targets)
    assert {probe.service for probe in probes} == set(targets)
    paths = {(probe.service, probe.path, probe.declared) for probe in probes}
    assert ("health", "/health", True) in paths
    assert ("health", "/health/test", True) in paths
    # Without a health route, a function is asked on its own prefix, never on
    # /health, which one base URL would send to the health function instead.
    assert ("runs", "/runs", False) in paths


@pytest.mark.parametrize(
    ("status", "body", "edge", "expected", "detail"),
    [
        pytest.param(200, {"status": "ok"}, True, vd.Outcome.OK, "", id="ok"),
        pytest.param(
            503,
            {"status": "unavailable", "error": "store_unavailable", "message": "bucket gone"},
            True,
            vd.Outcome.FAILED,
            "HTTP 503: bucket gone",
            id="readiness-503",
        ),
        pytest.param(200, {"status": "degraded"}, True, vd.Outcome.FAILED, "status", id="not-ok"),
        pytest.param(
            500, {"error": "internal", "message": "boom"}, True, vd.Outcome.FAILED, "500", id="500"
        ),
        pytest.param(
            403, {"error": "x"}, False, vd.Outcome.FAILED, "Cloud Run IAM", id="iam-refused"
        ),
        pytest.param(
            404, {"error": "not_found"}, True, vd.Outcome.FAILED, "HTTP 404", id="declared-404"
        ),
    ],
)
def test_declared_health_route_outcomes(
    scripted: Scripted,
    *,
    status: int,
    body: dict[str, str],
    edge: bool,
    expected: vd.Outcome,
    detail: str,
) -> None:
    """Each answer to a declared health route is judged as the operator would."""
    scripted.json("/health", status, body, edge=edge)
    probe = vd.Probe("health", scripted.url, "/health", declared=True)
    [result] = vd.verify([probe], timeout_s=5)
    assert result.outcome is expected
    assert detail in result.detail
    assert result.status == status


def test_non_json_answer_fails(scripted: Scripted) -> None:
    """An HTML page (a proxy's, say) on a health route is not a healthy function."""
    scripted.routes["/health"] = (200, b"<html>hi</html>", {"Content-Type": "text/html"}, 0.0)
    [result] = vd.verify([vd.Probe("health", scripted.url, "/health", declared=True)])
    assert result.outcome is vd.Outcome.FAILED
    assert "not a JSON answer" in result.detail


def test_html_page_from_the_edge_is_serving(scripted: Scripted) -> None:
    """A function whose prefix serves HTML (the dashboard) is up when the edge answers."""
    scripted.routes["/dashboard"] = (
        200,
        b"<html>dashboard</html>",
        {"Content-Type": "text/html", "X-Request-Id": "req-2"},
        0.0,
    )
    [result] = vd.verify([vd.Probe("dashboard", scripted.url, "/dashboard", declared=False)])
    assert result.outcome is vd.Outcome.SERVING


def test_404_from_something_else_is_not_serving(scripted: Scripted) -> None:
    """A 404 without the edge's request id (wrong URL, another app) fails, even undeclared."""
    [result] = vd.verify([vd.Probe("runs", scripted.url, "/runs", declared=False)])
    assert result.outcome is vd.Outcome.FAILED


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param(401, vd.Outcome.SERVING, id="401-needs-token"),
        pytest.param(405, vd.Outcome.SERVING, id="405-post-only"),
        pytest.param(503, vd.Outcome.FAILED, id="503"),
    ],
)
def test_function_without_health_route_is_judged_by_its_own_answer(
    scripted: Scripted, status: int, expected: vd.Outcome
) -> None:
    """Below 500 from the function's edge means serving; a 5xx is a failure."""
    scripted.json("/sweeper", status, {"error": "x", "message": "y"})
    [result] = vd.verify([vd.Probe("sweeper", scripted.url, "/sweeper", declared=False)])
    assert result.outcome is expected


def test_unreachable_and_slow_services_fail(
    scripted: Scripted, capsys: pytest.CaptureFixture[str]
) -> None:
    """Connection refused and a timeout are failures with a reason; the exit code is 1."""
    scripted.json("/health", 200, {"status": "ok"}, delay=2.0)
    scripted.json("/health/test", 200, {"status": "ok"}, delay=2.0)
    code = cli_main(
        [
            "verify-deployment",
            "--service",
            f"health={scripted.url}",
            "--service",
            f"runs={_closed_port_url()}",
            "--timeout",
            "0.5",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "timed out" in out
    assert "ConnectError" in out
    assert "3 check(s) failed" in out


def test_tokens_are_sent_but_never_printed(
    scripted: Scripted, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ID token goes in Cloud Run's IAM header, the API token in Authorization; none shows."""
    token = "eyJhbGciOiJSUzI1NiJ9.secret-part.signature"
    monkeypatch.setenv("MY_ID_TOKEN", token)
    monkeypatch.setenv("MY_API_TOKEN", "api-secret-value")
    scripted.json("/health", 200, {"status": "ok", "version": "1.2.3"})
    scripted.json("/health/test", 200, {"status": "ok", "version": "1.2.3"})
    code = cli_main(
        [
            "verify-deployment",
            "--service",
            f"health={scripted.url}",
            "--token-env",
            "MY_ID_TOKEN",
            "--api-token-env",
            "MY_API_TOKEN",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert {h.get("X-Serverless-Authorization") for h in scripted.seen_headers} == {
        f"Bearer {token}"
    }
    assert {h.get("Authorization") for h in scripted.seen_headers} == {"Bearer api-secret-value"}
    assert token not in out
    assert "api-secret-value" not in out
    assert "1.2.3" in out


def test_queue_health_needs_the_api_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real execute_task: /tasks/health fails without an API token and passes with one."""
    monkeypatch.setenv("OPSPLANE_API_TOKENS", "ops=verify-token-123")
    url, server = _serve_function("execute_task")
    try:
        assert cli_main(["verify-deployment", "--service", f"execute_task={url}"]) == 1
        assert "wants credentials" in capsys.readouterr().out
        monkeypatch.setenv("OPSPLANE_API_TOKEN", "verify-token-123")
        assert cli_main(["verify-deployment", "--service", f"execute_task={url}"]) == 0
        out = capsys.readouterr().out
        assert "GET /tasks/health" in out
        assert "all healthy" in out
    finally:
        server.shutdown()


def test_services_json_from_terraform_output(
    tmp_path: Path, scripted: Scripted, capsys: pytest.CaptureFixture[str]
) -> None:
    """`terraform output -json` (whole or service_urls alone) names the service URLs."""
    scripted.json("/health", 200, {"status": "ok"})
    scripted.json("/health/test", 200, {"status": "ok"})
    whole = tmp_path / "outputs.json"
    whole.write_text(json.dumps({"service_urls": {"value": {"health": scripted.url}}}))
    assert cli_main(["verify-deployment", "--services-json", str(whole)]) == 0
    alone = tmp_path / "urls.json"
    alone.write_text(json.dumps({"health": scripted.url}))
    assert cli_main(["verify-deployment", "--services-json", str(alone), "--json"]) == 0
    assert "all healthy" in capsys.readouterr().out


def test_services_json_from_stdin(
    scripted: Scripted, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--services-json -` reads the map from a pipe (terraform output | opsplane ...)."""
    import io

    scripted.json("/health", 200, {"status": "ok"})
    scripted.json("/health/test", 200, {"status": "ok"})
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"health": scripted.url})))
    assert cli_main(["verify-deployment", "--services-json", "-"]) == 0
    assert "all healthy" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param([], "nothing to check", id="nothing"),
        pytest.param(["--service", "health"], "NAME=URL", id="no-equals"),
        pytest.param(["--service", "nope=http://127.0.0.1:9"], "unknown service", id="unknown"),
        pytest.param(["--service", "health=ftp://x"], "not an http(s) URL", id="bad-scheme"),
        pytest.param(["--base-url", "localhost:8080"], "not an http(s) URL", id="no-scheme"),
        pytest.param(["--services-json", "/nonexistent/urls.json"], "cannot read", id="no-file"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mistake in naming the services is a usage error (exit 2), said plainly."""
    assert cli_main(["verify-deployment", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("not json", id="not-json"),
        pytest.param("[1, 2]", id="list"),
        pytest.param('{"health": 3}', id="non-string-url"),
    ],
)
def test_malformed_services_json_is_rejected(text: str) -> None:
    """The services file must be a name → URL object."""
    with pytest.raises(vd.DeploymentSpecError):
        vd.parse_services_json(text)


def test_health_paths_are_read_from_the_router() -> None:
    """Parameter-free GET routes named health (or health/test) are the checks."""
    router = Router()
    for method, pattern in [
        ("GET", "/tasks/health"),
        ("GET", "/tasks/<run_id>/health"),
        ("POST", "/tasks/health"),
        ("GET", "/tasks/healthy"),
        ("GET", "/health/test"),
    ]:
        router.route(method, pattern)(lambda _: Response())
    assert vd.health_paths(router) == ("/tasks/health", "/health/test")
