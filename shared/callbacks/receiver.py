"""Receiving callbacks: authenticate, record the event once, apply it by compare-and-swap.

Layout (one object per event and per run, never a hot object)::

    callbacks/events/<event_id>.json   create-only: the event and when it arrived
    callbacks/runs/<run_id>.json       the run as the callbacks told it: status,
                                       revision, and the events applied, in order

An event is applied only when its revision is newer than the run's applied
revision, so a late, replayed or out-of-order event never moves a run
backwards, and applying the same event twice changes nothing. A repeated
``eventId`` is answered ``duplicate: true``; it still re-runs the (idempotent)
apply, which completes an earlier delivery that stopped between the two writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.auth import verify_id_token
from shared.callbacks.config import CallbackSettings
from shared.callbacks.payload import CallbackEvent, InvalidEvent, parse_event
from shared.clock import Clock, isoformat, utcnow
from shared.http.errors import BadRequest, ServiceUnavailable, Unauthorized
from shared.oidc import OidcVerifier
from shared.signing import (
    WEBHOOK_ID,
    FutureTimestamp,
    MissingHeader,
    Scheme,
    SignatureError,
    Signer,
    StaleTimestamp,
)
from shared.storage import ObjectStore, PreconditionFailed

EVENTS_PREFIX = "callbacks/events/"
RUNS_PREFIX = "callbacks/runs/"
MAX_CAS_RETRIES = 20
APPLIED_HISTORY = 100  # applied event ids kept per run (a run has a handful of changes)


def event_name(event_id: str) -> str:
    return f"{EVENTS_PREFIX}{event_id}.json"


def run_view_name(run_id: str) -> str:
    return f"{RUNS_PREFIX}{run_id}.json"


@dataclass(frozen=True)
class Receipt:
    """What receiving one callback did."""

    event_id: str
    run_id: str
    duplicate: bool
    applied: bool
    status: str
    revision: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "eventId": self.event_id,
            "runId": self.run_id,
            "duplicate": self.duplicate,
            "applied": self.applied,
            "status": self.status,
            "revision": self.revision,
        }


class CallbackReceiver:
    """Verifies and applies callbacks against one object store."""

    def __init__(
        self,
        store: ObjectStore,
        settings: CallbackSettings,
        *,
        clock: Clock = utcnow,
        oidc: OidcVerifier | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self._clock = clock
        self._signer = (
            Signer(settings.scheme, settings.secrets, tolerance=settings.tolerance_sec, clock=clock)
            if settings.signing
            else None
        )
        self._oidc = oidc
        if self._oidc is None and settings.oidc_audience:
            from shared.oidc import GOOGLE_CERTS_URL

            self._oidc = OidcVerifier(
                settings.oidc_audience,
                settings.oidc_allowed_emails,
                certs_url=settings.certs_url or GOOGLE_CERTS_URL,
                clock=clock,
            )

    def receive(
        self, body: bytes, headers: Mapping[str, str], bearer: str | None = None
    ) -> Receipt:
        """Authenticate, then record and apply one callback; HttpError subclasses otherwise."""
        self.authenticate(body, headers, bearer)
        try:
            event = parse_event(body)
        except InvalidEvent as exc:
            raise BadRequest(str(exc), code="invalid_event") from None
        if self.settings.signing and self.settings.scheme is Scheme.STANDARD:
            signed_id = _header(headers, WEBHOOK_ID)
            if signed_id != event.event_id:
                raise BadRequest("the webhook-id header and the body's eventId differ")
        record = {"event": event.to_dict(), "received_at": isoformat(self._clock())}
        created = self.store.create(
            event_name(event.event_id),
            json.dumps(record, sort_keys=True).encode(),
            metadata={"run_id": event.run_id, "status": event.status.value},
        )
        applied, view = self.apply(event)
        return Receipt(
            event_id=event.event_id,
            run_id=event.run_id,
            duplicate=not created,
            applied=applied,
            status=str(view["status"]),
            revision=int(view["revision"]),
        )

    def authenticate(
        self, body: bytes, headers: Mapping[str, str], bearer: str | None = None
    ) -> None:
        """Check the signature and/or the ID token; Unauthorized (401) when either fails."""
        if self._signer is None and self._oidc is None:
            raise ServiceUnavailable(
                "callbacks are not configured: set WORKER_CALLBACK_SIGNING_SECRET "
                "and/or WORKER_CALLBACK_OIDC_AUDIENCE",
                code="callbacks_not_configured",
                retry_after=60,
            )
        if self._signer is not None:
            try:
                self._signer.verify(body, headers)
            except StaleTimestamp as exc:
                raise Unauthorized(str(exc), code="stale_signature") from None
            except FutureTimestamp as exc:
                raise Unauthorized(str(exc), code="future_signature") from None
            except MissingHeader as exc:
                raise Unauthorized(str(exc), code="missing_signature") from None
            except SignatureError as exc:
                raise Unauthorized(str(exc), code="invalid_signature") from None
        if self._oidc is not None:
            if not bearer:
                raise Unauthorized(
                    "send Authorization: Bearer <OIDC ID token>", code="missing_credentials"
                )
            verify_id_token(
                self._oidc, bearer, rejected="the ID token was rejected", code="invalid_token"
            )

    def apply(self, event: CallbackEvent) -> tuple[bool, dict[str, Any]]:
        """Move the run's view to ``event`` if it is newer; (applied, the view as stored)."""
        name = run_view_name(event.run_id)
        for _ in range(MAX_CAS_RETRIES):
            stored = self.store.get_or_none(name)
            view: dict[str, Any] | None = json.loads(stored.data) if stored else None
            if view is not None and int(view.get("revision", 0)) >= event.revision:
                return False, view
            applied = list(view.get("applied", [])) if view else []
            new_view = {
                "run_id": event.run_id,
                "job_type": event.job_type,
                "status": event.status.value,
                "revision": event.revision,
                "attempt": event.attempt,
                "event_id": event.event_id,
                "error_code": event.error_code,
                "occurred_at": isoformat(event.occurred_at),
                "applied_at": isoformat(self._clock()),
                "applied": [*applied, event.event_id][-APPLIED_HISTORY:],
            }
            data = json.dumps(new_view, sort_keys=True).encode()
            metadata = {"status": event.status.value}
            try:
                if stored is None:
                    self.store.put(name, data, if_absent=True, metadata=metadata)
                else:
                    self.store.put(name, data, if_generation=stored.generation, metadata=metadata)
            except PreconditionFailed:
                continue  # another event for this run landed first: re-read and re-decide
            return True, new_view
        raise ServiceUnavailable(
            f"the callback view of run {event.run_id} kept changing; retry", retry_after=1
        )


def read_view(store: ObjectStore, run_id: str) -> dict[str, Any] | None:
    """The run as the callbacks told it, or None when no event was applied."""
    stored = store.get_or_none(run_view_name(run_id))
    return json.loads(stored.data) if stored else None


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value.strip()
    return ""
