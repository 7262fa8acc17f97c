"""The signed webhook poster: canonical body, signature, retries, redaction."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from shared.webhooks import (
    SIGNATURE_HEADER,
    WebhookPoster,
    WebhookRejected,
    WebhookUnavailable,
    canonical_json,
    retry_after_seconds,
    sign,
    verify,
)
from tests.latency_servers import scripted_target, webhook_receiver

SECRET = "whsec-test-0123456789"
GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.mark.parametrize(
    ("secret", "body", "expected"),
    [
        pytest.param(
            "key",
            b"The quick brown fox jumps over the lazy dog",
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
            id="wikipedia-vector",
        ),
        pytest.param(
            "",
            b"",
            "sha256=b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad",
            id="empty-key-empty-body",
        ),
    ],
)
def test_signature_matches_published_hmac_sha256_vectors(
    secret: str, body: bytes, expected: str
) -> None:
    """The header value is sha256= and the hex HMAC-SHA256 of the body."""
    assert sign(body, secret) == expected


def test_canonical_json_sorts_keys_and_uses_compact_separators() -> None:
    """Key order in the payload does not change the signed bytes."""
    assert canonical_json({"b": 1, "a": {"d": [1, 2], "c": "é"}}) == (
        '{"a":{"c":"é","d":[1,2]},"b":1}'.encode()
    )
    assert canonical_json({"x": 1, "y": 2}) == canonical_json({"y": 2, "x": 1})


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("sha1=abc", id="wrong-scheme"),
        pytest.param("sha256=zz-not-hex", id="not-hex"),
        pytest.param("sha256=" + "0" * 64, id="wrong-digest"),
        pytest.param("sha256=é", id="non-ascii"),
    ],
)
def test_verify_rejects_malformed_or_wrong_signatures(header: str | None) -> None:
    """Every bad header is simply not valid; none raises."""
    assert verify(b"{}", header, SECRET) is False


def test_verify_accepts_the_signature_of_the_body() -> None:
    """A signature made with the same secret verifies; another secret does not."""
    body = canonical_json({"a": 1})
    assert verify(body, sign(body, SECRET), SECRET)
    assert not verify(body, sign(body, "other"), SECRET)


def test_post_delivers_a_signed_redacted_canonical_body() -> None:
    """The receiver verifies the signature and never sees the token in the payload."""
    with webhook_receiver(SECRET) as receiver:
        poster = WebhookPoster(receiver.url, SECRET, sleep=Sleeps())
        delivery = poster.post({"message": f"token {GITHUB_TOKEN}", "z": 1, "a": 2})
    assert (delivery.status, delivery.attempts) == (200, 1)
    (got,) = receiver.received
    assert got.signature_ok
    assert got.headers["content-type"] == "application/json"
    assert GITHUB_TOKEN not in got.body.decode()
    assert got.body == canonical_json(json.loads(got.body))
    assert list(got.payload) == ["a", "message", "z"]


def test_5xx_is_retried_with_exponential_backoff() -> None:
    """Two 503s then 200: three attempts, waits 0.5 then 1.0 seconds."""
    sleeps = Sleeps()
    with webhook_receiver(SECRET) as receiver:
        receiver.responses.extend([(503, {}), (502, {})])
        poster = WebhookPoster(
            receiver.url, SECRET, max_retries=3, retry_wait_seconds=0.5, sleep=sleeps
        )
        delivery = poster.post({"n": 1})
    assert delivery.attempts == 3
    assert sleeps == [0.5, 1.0]
    assert len(receiver.received) == 3
    assert len({r.body for r in receiver.received}) == 1


@pytest.mark.parametrize(
    ("retry_after", "expected_wait"),
    [
        pytest.param("7", 7.0, id="seconds"),
        pytest.param(format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0, id="date"),
        pytest.param("soon", 0.25, id="unreadable-falls-back-to-backoff"),
    ],
)
def test_429_honours_retry_after(retry_after: str, expected_wait: float) -> None:
    """A 429's Retry-After replaces the computed backoff."""
    sleeps = Sleeps()
    with webhook_receiver(SECRET) as receiver:
        receiver.responses.append((429, {"Retry-After": retry_after}))
        poster = WebhookPoster(
            receiver.url, SECRET, retry_wait_seconds=0.25, sleep=sleeps, clock=lambda: NOW
        )
        assert poster.post({"n": 1}).attempts == 2
    assert sleeps == [expected_wait]


def test_retry_after_is_capped() -> None:
    """A huge Retry-After cannot stall the caller past max_wait_seconds."""
    sleeps = Sleeps()
    with webhook_receiver(SECRET) as receiver:
        receiver.responses.append((503, {"Retry-After": "86400"}))
        WebhookPoster(receiver.url, SECRET, max_wait_seconds=5, sleep=sleeps).post({})
    assert sleeps == [5]


def test_a_4xx_is_final() -> None:
    """400 is not retried: the receiver rejected the payload."""
    sleeps = Sleeps()
    with webhook_receiver(SECRET) as receiver:
        receiver.responses.append((400, {}))
        poster = WebhookPoster(receiver.url, SECRET, sleep=sleeps)
        with pytest.raises(WebhookRejected) as caught:
            poster.post({"n": 1})
    assert (caught.value.attempts, caught.value.status) == (1, 400)
    assert sleeps == []


def test_a_wrong_secret_is_rejected_by_the_receiver() -> None:
    """The receiver's signature check fails closed: 401, not retried."""
    with webhook_receiver(SECRET) as receiver:
        poster = WebhookPoster(receiver.url, "not-the-secret", sleep=Sleeps())
        with pytest.raises(WebhookRejected):
            poster.post({"n": 1})
    assert [r.signature_ok for r in receiver.received] == [False]


def test_exhausted_retries_report_every_attempt() -> None:
    """max_retries=2 makes three attempts, then WebhookUnavailable."""
    with webhook_receiver(SECRET) as receiver:
        receiver.responses.extend([(500, {})] * 5)
        poster = WebhookPoster(receiver.url, SECRET, max_retries=2, sleep=Sleeps())
        with pytest.raises(WebhookUnavailable) as caught:
            poster.post({"n": 1})
    assert caught.value.attempts == 3
    assert len(receiver.received) == 3


def test_timeouts_are_retried() -> None:
    """A receiver slower than the timeout counts as a retryable failure."""
    sleeps = Sleeps()
    with scripted_target(default_ms=300) as slow:
        poster = WebhookPoster(slow.url, SECRET, max_retries=1, timeout_seconds=0.05, sleep=sleeps)
        with pytest.raises(WebhookUnavailable, match="Timeout") as caught:
            poster.post({"n": 1})
    assert caught.value.attempts == 2
    assert len(sleeps) == 1


def test_refused_connections_are_retried() -> None:
    """Nobody listening is retryable too."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    poster = WebhookPoster(f"http://127.0.0.1:{port}/hook", SECRET, max_retries=1, sleep=Sleeps())
    with pytest.raises(WebhookUnavailable) as caught:
        poster.post({})
    assert caught.value.attempts == 2


def test_retry_after_parsing() -> None:
    """Seconds, dates in the past (0) and garbage (None)."""
    assert retry_after_seconds("12", NOW) == 12.0
    assert retry_after_seconds(format_datetime(NOW - timedelta(hours=1), usegmt=True), NOW) == 0.0
    assert retry_after_seconds("later", NOW) is None
    assert retry_after_seconds(None, NOW) is None


def test_a_secret_is_required() -> None:
    """An unsigned poster cannot be built."""
    with pytest.raises(ValueError, match="secret"):
        WebhookPoster("http://127.0.0.1:1/hook", "")


def test_signature_header_name() -> None:
    """Receivers look for X-OBS-Signature."""
    body = b"{}"
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert SIGNATURE_HEADER == "X-OBS-Signature"
    assert sign(body, SECRET) == expected
