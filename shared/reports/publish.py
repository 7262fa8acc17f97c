"""Posting reports: a GitHub comment or issue, signed webhooks, or a dry-run outbox.

Every payload is validated against ``payload.schema.json`` before anything is
sent: an invalid payload raises :class:`PayloadInvalid` and nothing leaves.
Webhooks go through ``shared.webhooks`` (canonical JSON, ``X-OBS-Signature``,
retries on 5xx/429 with exponential backoff); a dry run stores the exact body
and signature under ``reports/outbox/`` instead of sending it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.clock import Clock, utcnow
from shared.redaction import redact_data, redact_text
from shared.reports.render_json import PayloadInvalid, validate_payload
from shared.reports.render_md import redact_keeping_run_ids
from shared.settings import SettingsError, env_float, env_int, env_optional
from shared.storage import ObjectStore, PreconditionFailed
from shared.webhooks import Delivery, WebhookPoster, canonical_json, sign

if TYPE_CHECKING:
    from shared.github import GitHubClient

SECRET_VARIABLE = "OPSPLANE_WEBHOOK_SECRET"  # noqa: S105 - a variable name, shared with latency
OUTBOX_PREFIX = "reports/outbox/"

__all__ = [
    "GitHubPost",
    "PayloadInvalid",
    "WebhookOptions",
    "post_github",
    "post_webhook",
    "store_dry_run",
]


@dataclass(frozen=True)
class WebhookOptions:
    """How reports are signed and retried (``OPSPLANE_REPORT_WEBHOOK_*``)."""

    secret: str
    max_retries: int = 3
    retry_wait_seconds: float = 1.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebhookOptions:
        environ = os.environ if env is None else env
        secret = env_optional(environ, SECRET_VARIABLE)
        if not secret:
            raise SettingsError(SECRET_VARIABLE, "is needed to sign report webhooks")
        return cls(
            secret=secret,
            max_retries=env_int(environ, "OPSPLANE_REPORT_WEBHOOK_MAX_RETRIES", 3, minimum=0),
            retry_wait_seconds=env_float(
                environ, "OPSPLANE_REPORT_WEBHOOK_RETRY_WAIT_S", 1.0, minimum=0.0
            ),
        )


def post_webhook(
    url: str,
    payload: Mapping[str, Any],
    options: WebhookOptions,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Clock = utcnow,
) -> Delivery:
    """Validate, redact, sign and post; raises PayloadInvalid or a WebhookError."""
    validate_payload(payload)
    poster = WebhookPoster(
        url,
        options.secret,
        max_retries=options.max_retries,
        retry_wait_seconds=options.retry_wait_seconds,
        sleep=sleep,
        clock=clock,
    )
    return poster.post(payload, headers={"X-OBS-Schema-Version": str(payload["schema_version"])})


def store_dry_run(
    store: ObjectStore,
    payload: Mapping[str, Any],
    *,
    now: datetime,
    url: str | None,
    secret: str | None,
    markdown: str | None = None,
) -> str:
    """Keep what would have been sent (body, signature, issue text); returns the object name."""
    validate_payload(payload)
    body = canonical_json(redact_data(dict(payload)))
    doc = {
        "url": redact_text(url) if url else None,
        "signature": sign(body, secret) if secret else None,
        "body": json.loads(body),
        "github_markdown": redact_keeping_run_ids(markdown) if markdown else None,
    }
    base = f"{OUTBOX_PREFIX}{payload['kind']}/{now:%Y%m%dT%H%M%S}Z"
    data = json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False).encode()
    for n in range(1, 101):
        name = f"{base}.json" if n == 1 else f"{base}-{n}.json"
        try:
            store.put(name, data, if_absent=True)
        except PreconditionFailed:
            continue
        return name
    raise RuntimeError(f"more than 100 dry runs for {base}")


@dataclass(frozen=True)
class GitHubPost:
    """Where a report landed on GitHub."""

    issue: int
    comment_id: int | None
    url: str


def post_github(
    client: GitHubClient, title: str, markdown: str, *, dashboard_issue: int | None
) -> GitHubPost:
    """Comment on ``dashboard_issue``, or open a new issue when there is none."""
    body = redact_keeping_run_ids(markdown)
    if dashboard_issue is not None:
        comment = client.comment(dashboard_issue, body)
        return GitHubPost(dashboard_issue, comment.id, comment.html_url)
    issue = client.create_issue(redact_text(title), body, labels=["opsplane-report"])
    return GitHubPost(issue.number, None, issue.html_url)
