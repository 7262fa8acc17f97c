"""POST /runs/<id>/retry and ``opsplane runs retry`` against the runs function."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from functions_framework import create_app

from shared.jobs.executor import Executor
from shared.jobs.models import RunStatus
from shared.jobs.plane import Plane
from tests.jobs_support import installed, make_plane

ALICE = {"Authorization": "Bearer alice-token"}
BOB = {"Authorization": "Bearer bob-token"}


@pytest.fixture
def plane(monkeypatch: pytest.MonkeyPatch) -> Iterator[Plane]:
    monkeypatch.setenv("OPSPLANE_API_TOKENS", "alice=alice-token,bob=bob-token")
    with installed(make_plane()) as plane:
        yield plane


@pytest.fixture
def client(plane: Plane) -> Any:
    return create_app("runs", "functions/main.py").test_client()


def finished_run(client: Any, plane: Plane, params: dict[str, Any]) -> str:
    job = "fail" if "code" in params else "noop"
    run_id = client.post("/runs", json={"job_type": job, "params": params}, headers=ALICE).json[
        "run_id"
    ]
    Executor(plane).execute(run_id, 1)
    return str(run_id)


def test_owner_retries_a_failed_run_as_a_linked_new_run(client: Any, plane: Plane) -> None:
    """FAILED run + owner: 202, a new QUEUED run with retry_of_run_id; the original unchanged."""
    failed = finished_run(client, plane, {"code": "boom", "retryable": False})
    before = plane.runs.get(failed)
    assert before.run.status is RunStatus.FAILED
    response = client.post(f"/runs/{failed}/retry", headers=ALICE)
    assert response.status_code == 202, response.json
    new_id = response.json["run_id"]
    assert new_id != failed
    new = plane.runs.get(new_id).run
    assert (new.retry_of_run_id, new.status, new.owner) == (failed, RunStatus.QUEUED, "alice")
    assert (new.job_type, new.params) == (before.run.job_type, before.run.params)
    assert plane.runs.get(failed).generation == before.generation


def test_idempotency_key_returns_the_same_retry(client: Any, plane: Plane) -> None:
    """The same Idempotency-Key twice yields one new run (202 then 200)."""
    failed = finished_run(client, plane, {"code": "boom", "retryable": False})
    headers = {**ALICE, "Idempotency-Key": "retry-1"}
    first = client.post(f"/runs/{failed}/retry", headers=headers)
    second = client.post(f"/runs/{failed}/retry", headers=headers)
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json["run_id"] == second.json["run_id"]


@pytest.mark.parametrize(
    ("params", "headers", "expected"),
    [
        pytest.param({"code": "x", "retryable": False}, BOB, (403, "not_owner"), id="not-owner"),
        pytest.param({}, ALICE, (409, "not_failed"), id="succeeded"),
        pytest.param(None, ALICE, (409, "not_failed"), id="queued"),
        pytest.param(
            {"code": "x", "retryable": False}, {}, (401, "missing_credentials"), id="anon"
        ),
    ],
)
def test_retry_refusals(client: Any, plane: Plane, params, headers, expected) -> None:
    """Not the owner: 403; not FAILED: 409; no token: 401; and no new run either way."""
    if params is None:
        run_id = client.post("/runs", json={"job_type": "noop"}, headers=ALICE).json["run_id"]
    else:
        run_id = finished_run(client, plane, params)
    count = len(plane.runs.list(limit=100)[0])
    response = client.post(f"/runs/{run_id}/retry", headers=headers)
    assert (response.status_code, response.json["error"]) == expected
    assert len(plane.runs.list(limit=100)[0]) == count


def test_unknown_run_is_404(client: Any) -> None:
    """Retrying a run that does not exist is a 404."""
    response = client.post("/runs/20260101T000000000000Z-nope/retry", headers=ALICE)
    assert response.status_code == 404


def test_cli_runs_retry(client: Any, plane: Plane, capsys) -> None:
    """``opsplane runs retry ID`` calls the API over HTTP and prints the new run."""
    import threading

    from werkzeug.serving import make_server

    from shared import cli

    failed = finished_run(client, plane, {"code": "boom", "retryable": False})
    server = make_server("127.0.0.1", 0, create_app("runs", "functions/main.py"), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        code = cli.main(["runs", "retry", failed, "--url", url, "--token", "alice-token"])
        refused = cli.main(["runs", "retry", failed, "--url", url, "--token", "bob-token"])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    out = capsys.readouterr().out
    assert (code, refused) == (0, 1)
    assert json.loads(out)["retry_of_run_id"] == failed
