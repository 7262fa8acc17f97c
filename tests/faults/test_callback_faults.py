"""Callback receiver faults over loopback: answering 500, hanging, or seeing a skewed clock.

Runs execute with the real sender; the receiver is a real HTTP server that
fails in one way. Every event ends as a dead letter (nothing applied, nothing
lost); once the receiver is the healthy callbacks function again, POST
/callbacks/replay delivers them all and each run's view reaches its final state.
The receiver being closed altogether is covered by tests/e2e/test_callbacks_e2e.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from shared import runtime
from shared.callbacks import deadletters
from shared.callbacks.config import CallbackSettings
from shared.callbacks.receiver import EVENTS_PREFIX
from shared.callbacks.sender import CallbackSender
from shared.clock import utcnow
from tests.e2e.test_callbacks_e2e import (
    ServedFunction,
    assert_views_match_runs,
    run_jobs,
)
from tests.jobs_support import make_plane

pytestmark = pytest.mark.integration

SECRET = "faults-callback-secret"
TASKS_TOKEN = "faults-tasks-token"


class FaultyReceiver:
    """A loopback receiver that answers 500 or holds every request open past the timeout."""

    def __init__(self, fault: str, hang_s: float = 2.0) -> None:
        self.requests = 0
        self.stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if fault == "hang":
                    receiver.stopping.wait(hang_s)
                    return  # the client gave up long ago
                body = json.dumps({"error": "internal", "message": "boom"}).encode()
                self.send_response(500)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}/callbacks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def callback_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_CALLBACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("WORKER_CALLBACK_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("WORKER_CALLBACK_BACKOFF_MS", "1")
    monkeypatch.setenv("WORKER_CALLBACK_TIMEOUT_MS", "250")
    monkeypatch.setenv("TASKS_AUTH_TOKEN", TASKS_TOKEN)


@pytest.fixture
def healthy() -> Iterator[ServedFunction]:
    served = ServedFunction()
    yield served
    served.stop()


def _replay_over_http(served: ServedFunction, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("WORKER_CALLBACK_URL", served.url + "/callbacks")
    response = httpx.post(
        served.url + "/callbacks/replay",
        json={},
        headers={"Authorization": f"Bearer {TASKS_TOKEN}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.parametrize(
    "fault", [pytest.param("500", id="answers-500"), pytest.param("hang", id="hangs")]
)
@pytest.mark.usefixtures("callback_env")
def test_faulty_receiver_dead_letters_then_replay_delivers(
    fault: str, healthy: ServedFunction, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every event is dead-lettered while the receiver fails; replay then lands each once."""
    receiver = FaultyReceiver(fault)
    try:
        monkeypatch.setenv("WORKER_CALLBACK_URL", receiver.url)
        plane = make_plane(store=runtime.store())
        plane.notifier = CallbackSender(runtime.store, CallbackSettings.from_env())
        started = time.monotonic()
        run_ids = run_jobs(plane)
        elapsed = time.monotonic() - started
    finally:
        receiver.stop()
    store = runtime.store()
    letters = {letter.event_id for letter in deadletters.list_letters(store)}
    assert len(letters) >= 3 * len(run_ids), letters
    assert not any(True for _ in store.list(EVENTS_PREFIX)), "a failed delivery was applied"
    assert receiver.requests >= 1
    if fault == "hang":
        # The circuit breaker stops paying the timeout for every event once it opens.
        assert elapsed < len(letters) * 2 * 0.25, elapsed

    report = _replay_over_http(healthy, monkeypatch)
    assert sorted(report["replayed"]) == sorted(letters)
    assert deadletters.count(store) == 0
    assert_views_match_runs(plane, run_ids)


@pytest.mark.usefixtures("callback_env")
def test_sender_clock_skew_is_refused_then_replayed(
    healthy: ServedFunction, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sender whose clock runs 10 minutes ahead gets 401s (not retried) and dead letters;
    replay from a correct clock delivers them."""
    monkeypatch.setenv("WORKER_CALLBACK_URL", healthy.url + "/callbacks")
    plane = make_plane(store=runtime.store())
    skewed = CallbackSender(
        runtime.store, CallbackSettings.from_env(), clock=lambda: utcnow() + timedelta(minutes=10)
    )
    plane.notifier = skewed
    run_ids = run_jobs(plane)
    store = runtime.store()
    letters = list(deadletters.list_letters(store))
    assert letters
    # 401s, then (once the circuit opens) letters written without a try.
    assert 401 in {letter.last_status for letter in letters}
    assert {letter.last_status for letter in letters} <= {401, None}
    assert all(letter.attempts <= 1 for letter in letters), "a 401 was retried"
    assert not any(True for _ in store.list(EVENTS_PREFIX))

    report = _replay_over_http(healthy, monkeypatch)
    assert sorted(report["replayed"]) == sorted(letter.event_id for letter in letters)
    assert_views_match_runs(plane, run_ids)


@pytest.mark.parametrize(
    ("skew_s", "accepted"),
    [
        pytest.param(-299, True, id="299s-behind"),
        pytest.param(299, True, id="299s-ahead"),
        pytest.param(-301, False, id="301s-behind"),
        pytest.param(301, False, id="301s-ahead"),
    ],
)
@pytest.mark.usefixtures("callback_env")
def test_skew_tolerance_boundary_over_http(
    skew_s: int, accepted: bool, healthy: ServedFunction, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within the 300 s tolerance a callback lands; beyond it the receiver answers 401 JSON."""
    monkeypatch.setenv("WORKER_CALLBACK_URL", healthy.url + "/callbacks")
    sender = CallbackSender(
        runtime.store,
        CallbackSettings.from_env(),
        clock=lambda: utcnow() + timedelta(seconds=skew_s),
    )
    payload = {
        "eventId": "skew-run.2",
        "runId": "skew-run",
        "jobType": "noop",
        "status": "RUNNING",
        "attempt": 1,
        "revision": 2,
        "occurredAt": "2026-01-01T00:00:00Z",
        "errorCode": None,
        "result": None,
    }
    result = sender.send(payload, max_attempts=1)
    assert result.delivered is accepted, result
    if not accepted:
        assert result.status == 401
        assert "signature" in result.error
