"""Alert payloads and their delivery through the signed webhook poster.

Payload (canonical JSON, signed with ``X-OBS-Signature``)::

    {"id", "severity", "message", "evidence_url", "notified_channels",
     "source", "state", "kind", "reminder", "job_id", "created_at", "evidence"}

``id`` is stable for one state change of one source in one run, so a receiver
can drop the duplicate a retried delivery may cause. With ``dry_run`` the
payloads are stored under ``latency_alerts/<job_id>.json`` instead of being
sent; payloads that could not be delivered are stored there too (with
``"undelivered": true``), so an alert is never lost silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from shared import logs
from shared.clock import isoformat
from shared.latency.config import LatencyConfig
from shared.latency.raw import hour_of
from shared.latency.slo import AlertEvent
from shared.redaction import redact_data
from shared.storage import ObjectStore
from shared.webhooks import WebhookError, WebhookPoster

ALERTS_PREFIX = "latency_alerts/"
_EVIDENCE_SPAN = timedelta(hours=6)
_log = logs.get_logger("opsplane.latency.alerts")

PosterFactory = Callable[[LatencyConfig], WebhookPoster]


@dataclass(frozen=True)
class AlertDelivery:
    """What happened to one run's alerts."""

    payloads: tuple[dict[str, Any], ...]
    sent: int
    stored_at: str | None
    attempts: int
    error: str | None = None


def build_payload(
    event: AlertEvent,
    *,
    job_id: str,
    created_at: datetime,
    config: LatencyConfig,
    channels: Sequence[str],
) -> dict[str, Any]:
    """The JSON an operator's webhook receives for one alert event."""
    since = hour_of(created_at - _EVIDENCE_SPAN)
    query = urlencode({"source": event.source, "since": isoformat(since)})
    return {
        "id": f"{job_id}:{event.source}:{event.kind}:{event.state}",
        "severity": event.severity,
        "message": event.message,
        "evidence_url": f"{config.evidence_base_url}/latency/rollups?{query}",
        "notified_channels": list(channels),
        "source": event.source,
        "state": event.state,
        "kind": event.kind,
        "reminder": event.reminder,
        "job_id": job_id,
        "created_at": isoformat(created_at),
        "evidence": dict(event.evidence),
    }


def alerts_name(job_id: str) -> str:
    return f"{ALERTS_PREFIX}{job_id}.json"


def default_poster(config: LatencyConfig) -> WebhookPoster:
    """The webhook poster the configuration describes."""
    if config.webhook_url is None or not config.webhook_secret:
        raise ValueError("no webhook is configured")
    return WebhookPoster(
        config.webhook_url,
        config.webhook_secret,
        max_retries=config.webhook_max_retries,
        retry_wait_seconds=config.webhook_retry_wait_seconds,
    )


def deliver(
    events: Sequence[AlertEvent],
    *,
    store: ObjectStore,
    config: LatencyConfig,
    job_id: str,
    now: datetime,
    dry_run: bool,
    poster_factory: PosterFactory = default_poster,
) -> AlertDelivery:
    """Send (or, with ``dry_run``, store) one run's alerts."""
    if not events:
        return AlertDelivery((), 0, None, 0)
    sending = not dry_run and config.webhook_url is not None
    channels = config.notified_channels if sending else ()

    def payloads_for(selected: Sequence[AlertEvent]) -> list[dict[str, Any]]:
        return [
            build_payload(e, job_id=job_id, created_at=now, config=config, channels=channels)
            for e in selected
        ]

    payloads = payloads_for(events)
    if dry_run:
        name = _store(store, job_id, payloads, undelivered=False)
        return AlertDelivery(tuple(payloads), 0, name, 0)
    if not sending:
        _log.warning(
            "latency alerts raised but no webhook is configured",
            extra={"fields": {"job_id": job_id, "alerts": [p["id"] for p in payloads]}},
        )
        return AlertDelivery(tuple(payloads), 0, None, 0)
    poster = poster_factory(config)
    sent = attempts = 0
    failed: list[dict[str, Any]] = []
    problems: list[str] = []
    for payload in payloads:
        try:
            delivery = poster.post(payload)
        except WebhookError as exc:
            attempts += exc.attempts
            failed.append({**payload, "undelivered": True, "delivery_error": str(exc)})
            problems.append(str(exc))
            continue
        attempts += delivery.attempts
        sent += 1
    if not failed:
        return AlertDelivery(tuple(payloads), sent, None, attempts)
    name = _store(store, job_id, failed, undelivered=True)
    _log.error(
        "latency alerts undelivered; stored for replay",
        extra={"fields": {"job_id": job_id, "object": name, "problems": problems}},
    )
    return AlertDelivery(tuple(payloads), sent, name, attempts, "; ".join(problems))


def _store(
    store: ObjectStore, job_id: str, payloads: list[dict[str, Any]], *, undelivered: bool
) -> str:
    name = alerts_name(job_id)
    document = {"job_id": job_id, "undelivered": undelivered, "alerts": payloads}
    store.put(name, json.dumps(redact_data(document), sort_keys=True).encode())
    return name
