"""The callback sender against a scripted loopback receiver: signing, retries, dead letters."""

from __future__ import annotations

import json
import random
import socket
from datetime import UTC, datetime, timedelta

import pytest

from shared.callbacks import deadletters
from shared.callbacks.config import CallbackSettings
from shared.callbacks.sender import CallbackSender, _retry_after
from shared.jobs.events import RunEvent, notifier_from_env
from shared.jobs.models import RunStatus
from shared.signing import Scheme, Signer
from shared.storage.memory import MemoryStore
from tests.callback_receiver import ScriptedReceiver

SECRET = "sender-secret"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def run_event(revision: int = 3, result: object = None) -> RunEvent:
    return RunEvent(
        event_id=f"run-1.{revision}",
        run_id="run-1",
        job_type="noop",
        status=RunStatus.SUCCEEDED,
        attempt=1,
        occurred_at=NOW,
        result_summary=result,
    )


def make_sender(url: str, store: MemoryStore, sleeps: list[float], **settings) -> CallbackSender:
    config = CallbackSettings(url=url, secrets=(SECRET,), **settings)
    return CallbackSender(
        store, config, clock=lambda: NOW, sleep=sleeps.append, rng=random.Random(7)
    )


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/callbacks"


def test_delivers_signed_json_after_retrying_5xx() -> None:
    """Two 503s then 200: delivered on the third try, signed so the receiver can verify it."""
    store, sleeps = MemoryStore(), []
    with ScriptedReceiver([(503, {}), (502, {}), (200, {})]) as receiver:
        sender = make_sender(receiver.url, store, sleeps, backoff_ms=100)
        sender.notify(run_event())
    assert len(receiver.requests) == 3
    _, headers, body = receiver.requests[-1]
    assert json.loads(body)["eventId"] == "run-1.3"
    assert json.loads(body)["revision"] == 3
    lowered = {k.lower(): v for k, v in headers.items()}
    Signer(Scheme.WORKER, SECRET, clock=lambda: NOW).verify(body, lowered)
    # Exponential with equal jitter: within [step/2, step] for steps 0.1 s and 0.2 s.
    assert 0.05 <= sleeps[0] <= 0.1
    assert 0.1 <= sleeps[1] <= 0.2
    assert deadletters.count(store) == 0


def test_retry_after_is_honoured_on_429() -> None:
    """A 429 with Retry-After: 7 waits at least 7 s (capped by the maximum backoff)."""
    store, sleeps = MemoryStore(), []
    with ScriptedReceiver([(429, {"Retry-After": "7"}), (200, {})]) as receiver:
        make_sender(receiver.url, store, sleeps, backoff_ms=10).notify(run_event())
    assert sleeps == [7.0]
    capped: list[float] = []
    with ScriptedReceiver([(503, {"Retry-After": "3600"}), (200, {})]) as receiver:
        make_sender(receiver.url, MemoryStore(), capped, backoff_ms=10, max_backoff_ms=2000).notify(
            run_event()
        )
    assert capped == [2.0]


def test_a_4xx_is_not_retried_and_becomes_a_dead_letter() -> None:
    """401 from the receiver: one try, then the dead letter with the status and error."""
    store, sleeps = MemoryStore(), []
    with ScriptedReceiver([(401, {})]) as receiver:
        make_sender(receiver.url, store, sleeps).notify(run_event())
    assert len(receiver.requests) == 1
    letter = deadletters.read(store, "run-1.3")
    assert letter is not None
    assert (letter.attempts, letter.last_status) == (1, 401)
    assert sleeps == []


def test_receiver_down_exhausts_retries_and_writes_a_redacted_dead_letter() -> None:
    """Connection refused on every try: max_attempts tries, one redacted dead letter."""
    store, sleeps = MemoryStore(), []
    sender = make_sender(closed_port_url(), store, sleeps, max_attempts=4)
    sender.notify(run_event(result={"password": "hunter2", "rows": 3}))
    sender.notify(run_event(result={"password": "hunter2", "rows": 3}))  # the same event again
    assert len(sleeps) == 6  # 3 waits per event
    assert deadletters.count(store) == 1
    letter = deadletters.read(store, "run-1.3")
    assert letter is not None
    assert letter.attempts == 4
    assert "ConnectError" in letter.last_error
    assert "hunter2" not in json.dumps(letter.payload)
    assert letter.payload["result"]["rows"] == 3
    assert (letter.payload["eventId"], letter.payload["runId"]) == ("run-1.3", "run-1")


def test_timeouts_are_retried() -> None:
    """A receiver slower than the timeout counts as a failed try and is retried."""
    store, sleeps = MemoryStore(), []
    with ScriptedReceiver([(200, {})], delay_s=0.5) as receiver:
        result = make_sender(receiver.url, store, sleeps, max_attempts=2, timeout_ms=100).send(
            {"eventId": "run-1.3"}
        )
    assert not result.delivered
    assert result.attempts == 2
    assert "Timeout" in result.error


def test_oidc_mode_sends_the_token_for_the_audience() -> None:
    """With an audience configured, each try carries a bearer ID token minted for it."""
    audiences: list[str] = []

    def token_source(audience: str) -> str:
        audiences.append(audience)
        return "id-token-for-" + audience

    config = CallbackSettings(url="", oidc_audience="https://cb")
    with ScriptedReceiver() as receiver:
        config = CallbackSettings(url=receiver.url, oidc_audience="https://cb")
        CallbackSender(MemoryStore(), config, token_source=token_source).notify(run_event())
    headers = {k.lower(): v for k, v in receiver.requests[0][1].items()}
    assert headers["authorization"] == "Bearer id-token-for-https://cb"
    assert "x-worker-signature" not in headers
    assert audiences == ["https://cb"]


def test_a_token_source_failure_becomes_a_dead_letter() -> None:
    """When no ID token can be had, nothing is sent and the event is kept as a dead letter."""

    def broken(audience: str) -> str:
        raise RuntimeError("metadata server unreachable")

    store = MemoryStore()
    with ScriptedReceiver() as receiver:
        config = CallbackSettings(url=receiver.url, oidc_audience="https://cb")
        CallbackSender(store, config, token_source=broken).notify(run_event())
    assert receiver.requests == []
    letter = deadletters.read(store, "run-1.3")
    assert letter is not None
    assert "metadata server unreachable" in letter.last_error


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        pytest.param("12", 12.0, id="delta-seconds"),
        pytest.param(
            (NOW + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT"),
            30.0,
            id="http-date",
        ),
        pytest.param("Wed, 01 Jan 2020 00:00:00 GMT", 0.0, id="date-in-the-past"),
        pytest.param("soon", None, id="garbage"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_retry_after_forms(value, seconds) -> None:
    """Retry-After as delta-seconds or an HTTP date; garbage is ignored."""
    assert _retry_after(value, NOW) == seconds


def test_the_environment_selects_the_sender(monkeypatch) -> None:
    """WORKER_CALLBACK_URL alone makes the executor's notifier the callback sender."""
    monkeypatch.setenv("WORKER_CALLBACK_URL", "https://example.test/callbacks")
    monkeypatch.setenv("WORKER_CALLBACK_SIGNING_SECRET", "a, b")
    notifier = notifier_from_env()
    assert isinstance(notifier, CallbackSender)
    assert notifier.settings.secrets == ("a", "b")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("WORKER_CALLBACK_URL", "ftp://x", id="url-scheme"),
        pytest.param("WORKER_CALLBACK_SIGNATURE_SCHEME", "v2", id="scheme"),
        pytest.param("WORKER_CALLBACK_MAX_ATTEMPTS", "0", id="attempts"),
        pytest.param("WORKER_CALLBACK_SIGNATURE_TOLERANCE_SEC", "soon", id="tolerance"),
        pytest.param("WORKER_CALLBACK_SIGNING_SECRET", "whsec_***", id="secret-not-base64"),
        pytest.param("WORKER_CALLBACK_BREAKER_FAILURES", "-1", id="breaker"),
    ],
)
def test_bad_settings_name_the_variable(monkeypatch, name: str, value: str) -> None:
    """A malformed callback setting fails with an error naming the variable."""
    from shared.settings import SettingsError

    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        CallbackSettings.from_env()


def test_circuit_opens_after_repeated_failures_and_recovers() -> None:
    """After 2 undeliverable events, events are dead-lettered untried until the cool-down ends."""
    store, sleeps = MemoryStore(), []
    moment = [NOW]
    with ScriptedReceiver([(503, {})]) as receiver:
        config = CallbackSettings(
            url=receiver.url,
            secrets=(SECRET,),
            max_attempts=2,
            breaker_failures=2,
            breaker_cooldown_ms=60_000,
        )
        sender = CallbackSender(store, config, clock=lambda: moment[0], sleep=sleeps.append)
        sender.notify(run_event(1))
        sender.notify(run_event(2))
        assert len(receiver.requests) == 4
        sender.notify(run_event(3))  # circuit open: not tried
        assert len(receiver.requests) == 4
        assert deadletters.read(store, "run-1.3").attempts == 0
        receiver.script = [(200, {})]
        moment[0] = NOW + timedelta(seconds=61)
        sender.notify(run_event(4))  # cool-down over: tried, delivered, circuit closed
        sender.notify(run_event(5))
    assert len(receiver.requests) == 6
    assert deadletters.count(store) == 3
