"""POST /callbacks and POST /callbacks/replay through functions-framework's test client."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from functions_framework import create_app

from shared import runtime
from shared.callbacks import deadletters
from shared.callbacks.receiver import EVENTS_PREFIX, read_view
from shared.signing import Scheme, Signer
from tests.oidc_server import OidcTestServer

SOURCE = "functions/main.py"
SECRET = "callback-secret"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
AUDIENCE = "https://callbacks.test"
CALLER = "executor@project.iam.gserviceaccount.com"
TASKS_TOKEN = "tasks-token"


def event(revision: int = 2, status: str = "RUNNING", run_id: str = "run-1", **extra: Any) -> bytes:
    doc = {
        "eventId": f"{run_id}.{revision}",
        "runId": run_id,
        "jobType": "noop",
        "status": status,
        "attempt": 1,
        "revision": revision,
        "occurredAt": "2026-01-01T00:00:00Z",
        "errorCode": None,
        "result": None,
        **extra,
    }
    return json.dumps(doc).encode()


def signed(
    body: bytes, *, scheme: Scheme = Scheme.WORKER, secret: str = SECRET, at: int | None = None
) -> dict[str, str]:
    message_id = json.loads(body).get("eventId") if scheme is Scheme.STANDARD else None
    headers = Signer(scheme, secret).sign(body, timestamp=at, message_id=message_id)
    return {**headers, "Content-Type": "application/json"}


@pytest.fixture
def hmac_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_CALLBACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("TASKS_AUTH_TOKEN", TASKS_TOKEN)


@pytest.fixture
def client() -> Any:
    return create_app("callbacks", SOURCE).test_client()


def post(client: Any, body: bytes, headers: dict[str, str]) -> Any:
    return client.post("/callbacks", data=body, headers=headers)


def event_count() -> int:
    return sum(1 for _ in runtime.store().list(EVENTS_PREFIX))


@pytest.mark.usefixtures("hmac_env")
def test_signed_event_is_applied(client: Any) -> None:
    """A worker-signed event is recorded and moves the run's view to its status."""
    response = post(client, event(2, "RUNNING"), signed(event(2, "RUNNING")))
    assert response.status_code == 200, response.json
    assert response.json == {
        "eventId": "run-1.2",
        "runId": "run-1",
        "duplicate": False,
        "applied": True,
        "status": "RUNNING",
        "revision": 2,
    }
    assert read_view(runtime.store(), "run-1")["applied"] == ["run-1.2"]


@pytest.mark.usefixtures("hmac_env")
def test_repeated_event_id_is_a_duplicate_without_second_effect(client: Any) -> None:
    """The same eventId twice: 200 duplicate, one event object, the view untouched."""
    body = event(2)
    post(client, body, signed(body))
    view_before = runtime.store().get("callbacks/runs/run-1.json")
    again = post(client, body, signed(body))
    assert again.status_code == 200
    assert again.json["duplicate"] is True
    assert again.json["applied"] is False
    assert event_count() == 1
    assert runtime.store().get("callbacks/runs/run-1.json").generation == view_before.generation


@pytest.mark.usefixtures("hmac_env")
def test_out_of_order_event_never_moves_a_run_backwards(client: Any) -> None:
    """SUCCEEDED (revision 3) then a late RUNNING (revision 2): the run stays SUCCEEDED."""
    final, late = event(3, "SUCCEEDED"), event(2, "RUNNING")
    assert post(client, final, signed(final)).json["applied"] is True
    response = post(client, late, signed(late))
    assert response.status_code == 200
    assert response.json["applied"] is False
    assert response.json["status"] == "SUCCEEDED"
    view = read_view(runtime.store(), "run-1")
    assert (view["status"], view["revision"], view["applied"]) == ("SUCCEEDED", 3, ["run-1.3"])


@pytest.mark.usefixtures("hmac_env")
@pytest.mark.parametrize(
    ("make_headers", "code"),
    [
        pytest.param(lambda b: signed(b, at=int(time.time()) - 301), "stale_signature", id="stale"),
        pytest.param(
            lambda b: signed(b, at=int(time.time()) + 301), "future_signature", id="future"
        ),
        pytest.param(lambda b: signed(b, secret="wrong"), "invalid_signature", id="wrong-secret"),
        pytest.param(lambda b: signed(b + b" "), "invalid_signature", id="signed-another-body"),
        pytest.param(
            lambda b: {"Content-Type": "application/json"}, "missing_signature", id="unsigned"
        ),
        pytest.param(
            lambda b: {**signed(b), "x-worker-signature": "zz"}, "invalid_signature", id="garbage"
        ),
    ],
)
def test_bad_signatures_are_401_and_write_nothing(client: Any, make_headers, code: str) -> None:
    """Stale, future, forged or missing signatures: 401 with the reason, nothing stored."""
    body = event()
    response = post(client, body, make_headers(body))
    assert response.status_code == 401
    assert response.json["error"] == code
    assert event_count() == 0
    assert read_view(runtime.store(), "run-1") is None


@pytest.mark.usefixtures("hmac_env")
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[]", id="not-object"),
        pytest.param(event(status="EXPLODED"), id="unknown-status"),
        pytest.param(event(revision=-1), id="negative-revision"),
        pytest.param(event(run_id="../etc"), id="path-in-run-id"),
        pytest.param(event(occurredAt="yesterday"), id="bad-time"),
        pytest.param(json.dumps({"eventId": "e1"}).encode(), id="missing-fields"),
    ],
)
def test_malformed_signed_events_are_400(client: Any, body: bytes) -> None:
    """A correctly signed body that is not a valid event is a 400, and nothing is stored."""
    response = post(client, body, signed(body))
    assert response.status_code == 400
    assert response.json["error"] == "invalid_event"
    assert event_count() == 0


def test_standard_webhooks_scheme_and_id_binding(client: Any, monkeypatch) -> None:
    """Standard Webhooks signatures verify; a webhook-id that differs from eventId is 400."""
    monkeypatch.setenv("WORKER_CALLBACK_SIGNING_SECRET", WHSEC)
    monkeypatch.setenv("WORKER_CALLBACK_SIGNATURE_SCHEME", "standard")
    body = event()
    assert post(client, body, signed(body, scheme=Scheme.STANDARD, secret=WHSEC)).status_code == 200
    other = event(5)
    headers = signed(other, scheme=Scheme.STANDARD, secret=WHSEC)
    headers |= Signer(Scheme.STANDARD, WHSEC).sign(other, message_id="run-1.9")
    response = post(client, other, headers)
    assert response.status_code == 400


def test_unconfigured_callbacks_refuse_everything(client: Any) -> None:
    """With neither a secret nor an OIDC audience, callbacks are refused (503), not accepted."""
    response = post(client, event(), {"Content-Type": "application/json"})
    assert response.status_code == 503
    assert response.json["error"] == "callbacks_not_configured"


@pytest.fixture(scope="module")
def issuer():
    with OidcTestServer() as server:
        yield server


@pytest.fixture
def oidc_env(monkeypatch, issuer) -> None:
    monkeypatch.setenv("WORKER_CALLBACK_OIDC_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("WORKER_CALLBACK_OIDC_ALLOWED_EMAILS", CALLER)
    monkeypatch.setenv("OPSPLANE_OIDC_CERTS_URL", issuer.certs_url)


@pytest.mark.usefixtures("oidc_env")
@pytest.mark.parametrize(
    ("token", "status"),
    [
        pytest.param(lambda s: s.mint(audience=AUDIENCE, email=CALLER), 200, id="valid"),
        pytest.param(lambda s: s.mint(audience="https://else", email=CALLER), 401, id="audience"),
        pytest.param(lambda s: s.mint(audience=AUDIENCE, email="x@y.z"), 401, id="email"),
        pytest.param(lambda s: None, 401, id="missing"),
    ],
)
def test_oidc_mode(client: Any, issuer, token, status: int) -> None:
    """In OIDC mode the bearer ID token decides: right audience and allowed email, or 401."""
    minted = token(issuer)
    headers = {"Content-Type": "application/json"}
    if minted:
        headers["Authorization"] = f"Bearer {minted}"
    assert post(client, event(), headers).status_code == status


@pytest.mark.usefixtures("oidc_env", "hmac_env")
def test_both_modes_on_require_both(client: Any, issuer) -> None:
    """With a secret and an audience configured, a token alone or a signature alone is 401."""
    body = event()
    bearer = {"Authorization": f"Bearer {issuer.mint(audience=AUDIENCE, email=CALLER)}"}
    assert post(client, body, signed(body)).status_code == 401
    assert post(client, body, {"Content-Type": "application/json", **bearer}).status_code == 401
    assert post(client, body, {**signed(body), **bearer}).status_code == 200


def write_letter(event_id: str = "run-9.2") -> None:
    from datetime import UTC, datetime

    payload = json.loads(event(2, run_id=event_id.split(".", maxsplit=1)[0]))
    deadletters.write(
        runtime.store(),
        payload,
        url="http://127.0.0.1:9/callbacks",
        attempts=5,
        error="ConnectError",
        status=None,
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )


@pytest.mark.usefixtures("hmac_env")
@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        pytest.param({}, b"{}", 401, id="no-token"),
        pytest.param({"Authorization": "Bearer nope"}, b"{}", 401, id="wrong-token"),
        pytest.param(None, b'{"eventIds": "run-9.2"}', 400, id="ids-not-list"),
        pytest.param(None, b'{"since": "soon"}', 400, id="bad-since"),
        pytest.param(None, b'{"dryRun": "yes"}', 400, id="bad-dry-run"),
        pytest.param(None, b'{"everything": true}', 400, id="unknown-field"),
    ],
)
def test_replay_rejects_bad_callers_and_bodies(client: Any, headers, body, status) -> None:
    """POST /callbacks/replay needs the tasks credentials and a well-formed body."""
    write_letter()
    sent = {"Authorization": f"Bearer {TASKS_TOKEN}"} if headers is None else headers
    response = client.post(
        "/callbacks/replay", data=body, headers={**sent, "Content-Type": "application/json"}
    )
    assert response.status_code == status
    assert deadletters.count(runtime.store()) == 1


@pytest.mark.usefixtures("hmac_env")
def test_replay_dry_run_lists_and_keeps_letters(client: Any, monkeypatch) -> None:
    """dryRun selects letters (and names unknown ids) without sending or deleting anything."""
    monkeypatch.setenv("WORKER_CALLBACK_URL", "http://127.0.0.1:9/callbacks")
    write_letter("run-9.2")
    write_letter("run-8.2")
    response = client.post(
        "/callbacks/replay",
        json={"dryRun": True, "eventIds": ["run-9.2", "run-7.1"]},
        headers={"Authorization": f"Bearer {TASKS_TOKEN}"},
    )
    assert response.status_code == 207
    assert response.json["selected"] == ["run-9.2"]
    assert response.json["missing"] == ["run-7.1"]
    assert deadletters.count(runtime.store()) == 2
