"""The callback sender: a RunNotifier that POSTs each run event to the callback URL.

Each event is sent as JSON, signed (HMAC, when secrets are configured) and/or
with an OIDC ID token for the configured audience. 5xx, 429, timeouts and
connection failures are retried with exponential backoff and jitter, waiting
at least a ``Retry-After`` the receiver asks for (capped at the maximum
backoff, so a hostile receiver cannot park the executor). Any other answer,
or the last failed try, turns the event into a dead letter
(``dlq/callbacks/<event_id>.json``) that a replay delivers later.

Sending happens in the executor's thread after the state change is stored: a
slow receiver delays the task's answer by at most the retry budget
(``max_attempts`` tries of ``timeout_ms`` plus the backoff between them). After
``breaker_failures`` undeliverable events in a row the sender stops trying for
``breaker_cooldown_ms`` and dead-letters events at once; the first event after
the cool-down is tried again (and one failure reopens the circuit).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared import logs
from shared.callbacks import deadletters
from shared.callbacks.config import CallbackSettings
from shared.callbacks.payload import CallbackEvent
from shared.clock import Clock, utcnow
from shared.http.retry_after import equal_jitter, exponential_delay, parse_retry_after
from shared.jobs.events import RunEvent
from shared.settings import Environ, SettingsError
from shared.signing import Signer
from shared.storage import ObjectStore

if TYPE_CHECKING:
    import httpx

TokenSource = Callable[[str], str]
"""Returns an OIDC ID token for an audience."""

_log = logs.get_logger("opsplane.callbacks.sender")
_RETRYABLE_STATUS = frozenset({408, 425, 429})


def google_id_token(audience: str) -> str:
    """An ID token for ``audience`` from the ambient Google credentials (metadata server)."""
    import google.auth.transport.requests
    import google.oauth2.id_token

    token: str = google.oauth2.id_token.fetch_id_token(  # type: ignore[no-untyped-call]
        google.auth.transport.requests.Request(), audience
    )
    return token


@dataclass(frozen=True)
class DeliveryResult:
    """How sending one event ended."""

    delivered: bool
    attempts: int
    status: int | None = None
    error: str = ""
    response: Any = None


class CallbackSender:
    """Sends run events to one callback URL; dead-letters what it cannot deliver."""

    def __init__(
        self,
        store: ObjectStore | Callable[[], ObjectStore],
        settings: CallbackSettings,
        *,
        clock: Clock = utcnow,
        http: httpx.Client | None = None,
        token_source: TokenSource | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not settings.url:
            raise SettingsError("WORKER_CALLBACK_URL", "is required to send callbacks")
        self.url = settings.url
        self.settings = settings
        self._store = store
        self._clock = clock
        self._http = http
        self._signer = (
            Signer(settings.scheme, settings.secrets, clock=clock) if settings.signing else None
        )
        self._token_source = token_source or google_id_token
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until: datetime | None = None

    @property
    def store(self) -> ObjectStore:
        return self._store if isinstance(self._store, ObjectStore) else self._store()

    # RunNotifier

    def notify(self, event: RunEvent) -> None:
        """Deliver one run event, or leave it as a dead letter."""
        self.deliver(CallbackEvent.from_run_event(event).to_dict())

    def deliver(self, payload: dict[str, Any]) -> DeliveryResult:
        """Send with retries; after the last failed try write the dead letter."""
        if self._breaker_open():
            result = DeliveryResult(
                False, 0, None, "not sent: the receiver failed repeatedly (circuit open)"
            )
        else:
            result = self.send(payload)
            self._record(result)
        if not result.delivered:
            written = deadletters.write(
                self.store,
                payload,
                url=self.url,
                attempts=result.attempts,
                error=result.error,
                status=result.status,
                now=self._clock(),
            )
            _log.warning(
                "callback undeliverable; dead letter written",
                extra={
                    "fields": {
                        "event_id": payload.get("eventId"),
                        "attempts": result.attempts,
                        "status": result.status,
                        "error": result.error,
                        "new_dead_letter": written,
                    }
                },
            )
        return result

    def send(self, payload: dict[str, Any], *, max_attempts: int | None = None) -> DeliveryResult:
        """POST ``payload`` until it is accepted, a try fails for good, or tries run out."""
        import httpx

        attempts = max_attempts or self.settings.max_attempts
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        client = self._http or httpx.Client(timeout=self.settings.timeout_ms / 1000)
        status: int | None = None
        error = ""
        try:
            for attempt in range(1, attempts + 1):
                retry_after: float | None = None
                try:
                    headers = self.headers_for(body, str(payload["eventId"]))
                    response = client.post(self.url, content=body, headers=headers)
                except httpx.TransportError as exc:  # timeouts, refused connections, resets
                    status, error = None, f"{type(exc).__name__}: {exc}"
                except Exception as exc:  # noqa: BLE001 - e.g. the ID token could not be fetched
                    return DeliveryResult(False, attempt, None, f"{type(exc).__name__}: {exc}")
                else:
                    status = response.status_code
                    if response.is_success:
                        return DeliveryResult(True, attempt, status, "", _json_or_text(response))
                    error = f"HTTP {status}: {response.text[:200]}"
                    if status < 500 and status not in _RETRYABLE_STATUS:
                        return DeliveryResult(False, attempt, status, error)
                    retry_after = _retry_after(response.headers.get("retry-after"), self._clock())
                if attempt < attempts:
                    self._sleep(self._backoff(attempt, retry_after))
        finally:
            if self._http is None:
                client.close()
        return DeliveryResult(False, attempts, status, error)

    def _breaker_open(self) -> bool:
        with self._lock:
            return self._open_until is not None and self._clock() < self._open_until

    def _record(self, result: DeliveryResult) -> None:
        # Only the receiver being unreachable or failing counts; a 4xx is about the event.
        receiver_failed = not result.delivered and (
            result.status is None or result.status >= 500 or result.status == 429
        )
        with self._lock:
            if not receiver_failed:
                self._failures, self._open_until = 0, None
                return
            self._failures += 1
            threshold = self.settings.breaker_failures
            if threshold and self._failures >= threshold:
                cooldown = timedelta(milliseconds=self.settings.breaker_cooldown_ms)
                self._open_until = self._clock() + cooldown

    def headers_for(self, body: bytes, event_id: str) -> dict[str, str]:
        """Content type, signature headers and the bearer ID token, as configured."""
        headers = {"Content-Type": "application/json", "User-Agent": "opsplane-callbacks"}
        if self._signer is not None:
            headers.update(self._signer.sign(body, message_id=event_id))
        if self.settings.oidc_audience:
            token = self._token_source(self.settings.oidc_audience)
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cap = self.settings.max_backoff_ms / 1000
        ceiling = exponential_delay(attempt, self.settings.backoff_ms / 1000, cap)
        delay = equal_jitter(ceiling, self._rng)
        if retry_after is not None:
            delay = max(delay, min(retry_after, cap))
        return delay


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date)."""
    return parse_retry_after(value, now)


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def sender_from_env(env: Environ | None = None) -> CallbackSender:
    """The sender the environment describes, on this process's object store."""
    from shared import runtime

    return CallbackSender(runtime.store, CallbackSettings.from_env(env))
