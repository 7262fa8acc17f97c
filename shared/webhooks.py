"""A signed webhook poster that alerts and reports share.

The body is canonical JSON (sorted keys, compact separators), so a receiver
that re-serialises the same document gets the same bytes, and the header

    X-OBS-Signature: sha256=<hex HMAC-SHA256 of the body with the shared secret>

proves it came from us. Everything is redacted before it is signed and sent.
Timeouts, connection failures, 429 and 5xx are retried with exponential
backoff; a ``Retry-After`` header (seconds or an HTTP date) replaces the
computed wait. Other 4xx answers are final: the receiver rejected the payload.

    WebhookError
    ├── WebhookRejected     the receiver answered a non-retryable 4xx
    └── WebhookUnavailable  retries exhausted (5xx, 429, timeouts, refused)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared import logs
from shared.clock import Clock, utcnow
from shared.http.retry_after import exponential_delay, parse_retry_after
from shared.redaction import redact_data

if TYPE_CHECKING:
    import httpx

SIGNATURE_HEADER = "X-OBS-Signature"
_SIGNATURE_PREFIX = "sha256="
_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_log = logs.get_logger("opsplane.webhooks")


class WebhookError(Exception):
    """A webhook was not delivered; ``attempts`` says how many posts were made."""

    def __init__(self, message: str, *, attempts: int, status: int | None = None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.status = status


class WebhookRejected(WebhookError):
    """The receiver answered a 4xx other than 429; retrying will not help."""


class WebhookUnavailable(WebhookError):
    """Every attempt failed with a retryable error."""


@dataclass(frozen=True)
class Delivery:
    """A delivered webhook: the receiver's status and the attempts it took."""

    status: int
    attempts: int


def canonical_json(payload: Any) -> bytes:
    """The one byte form a payload is signed and sent in."""
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def sign(body: bytes, secret: str) -> str:
    """The ``X-OBS-Signature`` value for ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"{_SIGNATURE_PREFIX}{digest}"


def verify(body: bytes, header: str | None, secret: str) -> bool:
    """Whether ``header`` is the signature of ``body``; any malformed header is False."""
    if not header or not header.startswith(_SIGNATURE_PREFIX):
        return False
    return hmac.compare_digest(sign(body, secret).encode(), header.strip().encode())


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A ``Retry-After`` value in seconds, or None when absent or unreadable."""
    return parse_retry_after(value, now)


class WebhookPoster:
    """Posts signed JSON to one URL with bounded retries."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        max_retries: int = 3,
        retry_wait_seconds: float = 1.0,
        max_wait_seconds: float = 60.0,
        timeout_seconds: float = 10.0,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = utcnow,
    ) -> None:
        if not secret:
            raise ValueError("a webhook secret is required to sign payloads")
        if max_retries < 0 or retry_wait_seconds < 0:
            raise ValueError("max_retries and retry_wait_seconds must be >= 0")
        self.url = url
        self._secret = secret
        self.max_retries = max_retries
        self.retry_wait_seconds = retry_wait_seconds
        self.max_wait_seconds = max_wait_seconds
        self._timeout = timeout_seconds
        self._client = client
        self._sleep = sleep
        self._clock = clock

    def post(
        self, payload: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> Delivery:
        """Redact, sign and post ``payload``; raises WebhookError when undelivered."""
        import httpx

        body = canonical_json(redact_data(dict(payload)))
        request_headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, self._secret),
            **dict(headers or {}),
        }
        client = self._client or httpx.Client(timeout=self._timeout)
        try:
            return self._post_with_retries(client, body, request_headers)
        finally:
            if self._client is None:
                client.close()

    def _post_with_retries(
        self, client: httpx.Client, body: bytes, headers: Mapping[str, str]
    ) -> Delivery:
        import httpx

        attempts = 0
        while True:
            attempts += 1
            status: int | None = None
            retry_after: float | None = None
            try:
                response = client.post(self.url, content=body, headers=dict(headers))
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status < 300:
                    return Delivery(status, attempts)
                if status not in _RETRYABLE_STATUS:
                    raise WebhookRejected(
                        f"webhook rejected with HTTP {status}", attempts=attempts, status=status
                    )
                problem = f"HTTP {status}"
                retry_after = retry_after_seconds(
                    response.headers.get("Retry-After"), self._clock()
                )
            if attempts > self.max_retries:
                raise WebhookUnavailable(
                    f"webhook undelivered after {attempts} attempts: {problem}",
                    attempts=attempts,
                    status=status,
                )
            wait = exponential_delay(attempts, self.retry_wait_seconds)
            if retry_after is not None:
                wait = retry_after
            wait = min(wait, self.max_wait_seconds)
            _log.warning(
                "webhook attempt failed; retrying",
                extra={"fields": {"attempt": attempts, "problem": problem, "wait_s": wait}},
            )
            self._sleep(wait)
