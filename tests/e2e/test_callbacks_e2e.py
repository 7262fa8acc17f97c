"""End to end over loopback: executor -> signed or OIDC callbacks -> the callbacks function.

The callbacks function is served by a real HTTP server on 127.0.0.1; the
executor's notifier is the real sender. With the receiver down, every event
becomes a dead letter; replay by the CLI and by HTTP then brings every run's
callback view to the run's true final state, each change applied once.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from functions_framework import create_app
from werkzeug.serving import make_server

from shared import cli, runtime
from shared.callbacks import deadletters
from shared.callbacks.config import CallbackSettings
from shared.callbacks.receiver import EVENTS_PREFIX, read_view
from shared.callbacks.sender import CallbackSender
from shared.jobs import service
from shared.jobs.executor import Executor
from shared.jobs.plane import Plane
from shared.signing import Scheme
from tests.jobs_support import RecordingQueue, make_plane
from tests.oidc_server import OidcTestServer

pytestmark = pytest.mark.integration

SECRET = "e2e-callback-secret"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
AUDIENCE = "https://callbacks.e2e"
CALLER = "executor@e2e.iam.gserviceaccount.com"
TASKS_TOKEN = "e2e-tasks-token"

JOBS = [
    ("noop", {}),
    ("fail", {"code": "broken", "retryable": False}),
    ("fail", {"code": "flaky", "succeed_on_attempt": 2}),
    ("noop", {}),
]


@dataclass(frozen=True)
class Mode:
    name: str
    env: dict[str, str]
    oidc: bool = False


MODES = [
    pytest.param(Mode("worker", {"WORKER_CALLBACK_SIGNING_SECRET": SECRET}), id="hmac-worker"),
    pytest.param(
        Mode(
            "standard",
            {
                "WORKER_CALLBACK_SIGNING_SECRET": WHSEC,
                "WORKER_CALLBACK_SIGNATURE_SCHEME": Scheme.STANDARD.value,
            },
        ),
        id="hmac-standard-webhooks",
    ),
    pytest.param(Mode("oidc", {}, oidc=True), id="oidc"),
]


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcTestServer]:
    with OidcTestServer() as server:
        yield server


class ServedFunction:
    """The callbacks target behind a real loopback HTTP server."""

    def __init__(self) -> None:
        app = create_app("callbacks", "functions/main.py")
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def configure(monkeypatch, issuer):
    """Apply a mode's environment to both ends; OIDC tokens come from the local issuer."""

    def apply(mode: Mode, url: str) -> None:
        monkeypatch.setenv("WORKER_CALLBACK_URL", url)
        monkeypatch.setenv("WORKER_CALLBACK_MAX_ATTEMPTS", "2")
        monkeypatch.setenv("WORKER_CALLBACK_BACKOFF_MS", "1")
        monkeypatch.setenv("TASKS_AUTH_TOKEN", TASKS_TOKEN)
        for key, value in mode.env.items():
            monkeypatch.setenv(key, value)
        if mode.oidc:
            monkeypatch.setenv("WORKER_CALLBACK_OIDC_AUDIENCE", AUDIENCE)
            monkeypatch.setenv("WORKER_CALLBACK_OIDC_ALLOWED_EMAILS", CALLER)
            monkeypatch.setenv("OPSPLANE_OIDC_CERTS_URL", issuer.certs_url)
            # Production fetches the token from the metadata server; here the local issuer mints it.
            monkeypatch.setattr(
                "shared.callbacks.sender.google_id_token",
                lambda audience: issuer.mint(audience=audience, email=CALLER),
            )

    return apply


def run_jobs(plane: Plane) -> list[str]:
    """Submit the job mix and execute every task until the queue is empty."""
    run_ids = []
    for job_type, params in JOBS:
        submission = service.Submission(job_type, params)
        run, _ = service.submit(plane, submission, "alice")
        run_ids.append(run.run_id)
    queue = plane.queue
    assert isinstance(queue, RecordingQueue)
    executor = Executor(plane)
    for _ in range(20):
        tasks = queue.pop_all()
        if not tasks:
            break
        for task in tasks:
            body = json.loads(task.body)
            executor.execute(body["run_id"], body["attempt"])
    return run_ids


def make_sender_plane() -> Plane:
    plane = make_plane(store=runtime.store())
    plane.notifier = CallbackSender(runtime.store, CallbackSettings.from_env())
    return plane


def assert_views_match_runs(plane: Plane, run_ids: list[str]) -> None:
    """Each run's callback view is its true final state; no change was applied twice."""
    store = runtime.store()
    for run_id in run_ids:
        run = plane.runs.get(run_id).run
        assert run.status.final, run
        view = read_view(store, run_id)
        assert view is not None, run_id
        assert (view["status"], view["revision"]) == (run.status.value, run.revision)
        applied = view["applied"]
        revisions = [int(event_id.rsplit(".", 1)[1]) for event_id in applied]
        assert revisions == sorted(set(revisions)), applied  # strictly increasing: once each


@pytest.mark.parametrize("mode", MODES)
def test_executor_to_callbacks_function(mode: Mode, configure) -> None:
    """Receiver up: every state change arrives verified and each run's view ends final."""
    served = ServedFunction()
    try:
        configure(mode, served.url + "/callbacks")
        plane = make_sender_plane()
        run_ids = run_jobs(plane)
        assert_views_match_runs(plane, run_ids)
        assert deadletters.count(runtime.store()) == 0
        statuses = {plane.runs.get(r).run.status.value for r in run_ids}
        assert statuses == {"SUCCEEDED", "FAILED"}
    finally:
        served.stop()


@pytest.mark.parametrize("mode", [MODES[0], MODES[2]])
def test_receiver_down_then_replay_by_cli_and_http(mode: Mode, configure, monkeypatch) -> None:
    """Receiver down: all events dead-lettered; CLI + HTTP replay bring every run to its end."""
    configure(mode, f"http://127.0.0.1:{closed_port()}/callbacks")
    plane = make_sender_plane()
    run_ids = run_jobs(plane)
    store = runtime.store()
    letters = [letter.event_id for letter in deadletters.list_letters(store)]
    assert len(letters) >= 3 * len(run_ids)  # at least QUEUED, RUNNING and an end per run
    assert not any(True for _ in store.list(EVENTS_PREFIX))

    served = ServedFunction()
    try:
        monkeypatch.setenv("WORKER_CALLBACK_URL", served.url + "/callbacks")
        # The CLI replays the first two runs' events...
        cli_ids = [eid for eid in letters if eid.rsplit(".", 1)[0] in run_ids[:2]]
        argv = ["callbacks", "replay"]
        for event_id in cli_ids:
            argv += ["--event-id", event_id]
        assert cli.main(argv) == 0
        remaining = {letter.event_id for letter in deadletters.list_letters(store)}
        assert remaining == set(letters) - set(cli_ids)
        # ...and HTTP replays the rest.
        response = httpx.post(
            served.url + "/callbacks/replay",
            json={},
            headers={"Authorization": f"Bearer {TASKS_TOKEN}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        assert sorted(response.json()["replayed"]) == sorted(remaining)
        assert deadletters.count(store) == 0
        assert_views_match_runs(plane, run_ids)
        # Delivering the whole history again changes nothing: every event is a duplicate.
        before = {run_id: read_view(store, run_id) for run_id in run_ids}
        sender = CallbackSender(store, CallbackSettings.from_env())
        for event_id in letters:
            record = json.loads(store.get(f"{EVENTS_PREFIX}{event_id}.json").data)
            result = sender.send(record["event"])
            assert result.delivered
            assert result.response["duplicate"] is True
        assert {run_id: read_view(store, run_id) for run_id in run_ids} == before
    finally:
        served.stop()


def test_partial_replay_failure_names_the_failures(configure, monkeypatch, capsys) -> None:
    """One letter the receiver rejects: the others land and go, the failure is named and kept."""
    configure(MODES[0].values[0], f"http://127.0.0.1:{closed_port()}/callbacks")
    run_jobs(make_sender_plane())
    store = runtime.store()
    letters = list(deadletters.list_letters(store))
    broken = letters[0]
    doc = json.loads(broken.to_json())
    doc["payload"]["status"] = "EXPLODED"  # the receiver will answer 400
    store.put(deadletters.letter_name(broken.event_id), json.dumps(doc).encode())
    served = ServedFunction()
    try:
        monkeypatch.setenv("WORKER_CALLBACK_URL", served.url + "/callbacks")
        code = cli.main(["callbacks", "replay"])
    finally:
        served.stop()
    captured = capsys.readouterr()
    report: dict[str, Any] = json.loads(captured.out)
    assert code == 1
    assert [(f["eventId"], f["status"]) for f in report["failed"]] == [(broken.event_id, 400)]
    assert len(report["replayed"]) == len(letters) - 1
    assert f"failed: {broken.event_id}" in captured.err
    kept = deadletters.read(store, broken.event_id)
    assert kept is not None
    assert kept.attempts == broken.attempts + 1
    assert kept.last_status == 400
    assert deadletters.count(store) == 1
