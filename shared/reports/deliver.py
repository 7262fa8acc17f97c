"""Keep a report in history and post it where asked: what the jobs and the CLI share."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.clock import Clock, utcnow
from shared.reports.build import ReportBundle
from shared.reports.history import RETENTION, prune_history, write_history
from shared.reports.publish import (
    SECRET_VARIABLE,
    PayloadInvalid,
    WebhookOptions,
    post_github,
    post_webhook,
    store_dry_run,
)
from shared.settings import env_optional
from shared.storage import ObjectStore
from shared.webhooks import WebhookError


class DeliveryFailed(Exception):
    """Posting failed after the report was kept; carries what was produced."""

    def __init__(
        self, code: str, message: str, *, attempts: int = 1, artefacts: dict[str, str]
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.attempts = attempts
        self.artefacts = artefacts


@dataclass(frozen=True)
class Target:
    """Where a report goes besides history."""

    github: bool = False
    dashboard_issue: int | None = None
    webhook: str | None = None
    dry_run: bool = False


@dataclass
class Delivered:
    """What delivery produced: run-log artefacts, webhook attempts, details."""

    artefacts: dict[str, str] = field(default_factory=dict)
    attempts: int = 1
    details: dict[str, Any] = field(default_factory=dict)


def deliver(
    store: ObjectStore,
    bundle: ReportBundle,
    target: Target,
    *,
    now: datetime,
    sleep: Callable[[float], None] = time.sleep,
    clock: Clock = utcnow,
) -> Delivered:
    """History first (with retention), then GitHub and the webhook, or the dry-run outbox."""
    kind = bundle.report.kind.value
    secret = env_optional(os.environ, SECRET_VARIABLE)
    entry = write_history(store, kind, bundle.report.period_end, bundle.files(), secret=secret)
    result = Delivered(artefacts=entry.artefacts())
    result.details["history_pruned"] = prune_history(store, now, keep=RETENTION, kind=kind)
    if target.dry_run:
        if target.github or target.webhook:
            result.artefacts["dry_run"] = store_dry_run(
                store,
                bundle.payload,
                now=now,
                url=target.webhook,
                secret=secret,
                markdown=bundle.markdown if target.github else None,
            )
        return result
    if target.github:
        from shared.github import GitHubClient, GitHubError

        try:
            with GitHubClient(clock=clock, sleep=sleep) as client:
                posted = post_github(
                    client, bundle.title, bundle.markdown, dashboard_issue=target.dashboard_issue
                )
        except GitHubError as exc:
            raise DeliveryFailed(
                "github_post_failed", str(exc), artefacts=result.artefacts
            ) from None
        result.artefacts["github"] = posted.url or f"issue #{posted.issue}"
        result.details["github_issue"] = posted.issue
    if target.webhook:
        try:
            delivery = post_webhook(
                target.webhook, bundle.payload, WebhookOptions.from_env(), sleep=sleep, clock=clock
            )
        except PayloadInvalid as exc:
            raise DeliveryFailed("payload_invalid", str(exc), artefacts=result.artefacts) from None
        except WebhookError as exc:
            raise DeliveryFailed(
                "webhook_undelivered", str(exc), attempts=exc.attempts, artefacts=result.artefacts
            ) from None
        result.attempts = delivery.attempts
        result.details["webhook_status"] = delivery.status
    return result
