"""What an attempt's end does to a run: pure decisions, no I/O.

The executor and the sweeper both end attempts (a handler's answer, a
timeout, an expired lease, a lost task) and both must apply the job type's
retry policy the same way, so the decision lives here once.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from shared.jobs.models import Attempt, AttemptOutcome, Run, RunStatus
from shared.jobs.policy import Escalation, RetryPolicy
from shared.redaction import redact_data, redact_text

MAX_RESULT_BYTES = 16_384
MAX_MESSAGE_CHARS = 2000


@dataclass(frozen=True)
class AttemptEnd:
    """How an attempt ended: success with a result, or a failure with a code."""

    outcome: AttemptOutcome
    result: Any = None
    error_code: str | None = None
    error_message: str | None = None
    retryable: bool | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome is AttemptOutcome.SUCCEEDED


def safe_message(message: str | None) -> str | None:
    """A message fit to store: redacted and bounded."""
    if message is None:
        return None
    return redact_text(message)[:MAX_MESSAGE_CHARS]


def safe_result(result: Any) -> Any:
    """A result fit to store: redacted, JSON-able, and bounded."""
    if result is None:
        return None
    redacted = redact_data(result)
    try:
        encoded = json.dumps(redacted)
    except (TypeError, ValueError):
        try:
            # Not plain JSON (dates, sets...): store what str() makes of those values.
            redacted = json.loads(json.dumps(redacted, default=str))
            encoded = json.dumps(redacted)
        except (TypeError, ValueError):
            return {"unserializable": True, "repr": redact_text(repr(result))[:200]}
    if len(encoded) > MAX_RESULT_BYTES:
        return {"truncated": True, "size": len(encoded)}
    return redacted


def conclude(
    run: Run,
    end: AttemptEnd,
    policy: RetryPolicy,
    now: datetime,
    rng: random.Random | None = None,
) -> Run:
    """The run after its current (last) attempt ended as ``end``.

    Success -> SUCCEEDED. A failure the policy retries, with attempts left ->
    QUEUED, due after the policy's delay. Otherwise -> WAITING_APPROVAL when
    the policy escalates, else FAILED (the caller writes the dead letter).
    """
    last = run.attempts[-1]
    message = safe_message(end.error_message)
    finished = last.finish(now, end.outcome, end.error_code, message)
    attempts = run.with_last_attempt(finished)
    if end.succeeded:
        return run.evolve(
            now,
            status=RunStatus.SUCCEEDED,
            attempts=attempts,
            lease=None,
            result=safe_result(end.result),
            error_code=None,
            error_message=None,
            finished_at=now,
        )
    code = end.error_code or end.outcome.value
    if policy.is_retryable(code, end.retryable) and policy.attempts_left(len(attempts)):
        delay = policy.delay_ms(len(attempts), rng)
        return run.evolve(
            now,
            status=RunStatus.QUEUED,
            attempts=attempts,
            lease=None,
            error_code=code,
            error_message=message,
            scheduled_at=now + timedelta(milliseconds=delay),
        )
    if policy.escalate_on_failure is Escalation.MANUAL_REVIEW:
        return run.evolve(
            now,
            status=RunStatus.WAITING_APPROVAL,
            attempts=attempts,
            lease=None,
            error_code=code,
            error_message=message,
            scheduled_at=None,
            extra={**run.extra, "escalated": Escalation.MANUAL_REVIEW.value},
        )
    return run.evolve(
        now,
        status=RunStatus.FAILED,
        attempts=attempts,
        lease=None,
        error_code=code,
        error_message=message,
        finished_at=now,
        scheduled_at=None,
    )


def record_lost_task(run: Run, policy: RetryPolicy, now: datetime) -> Run:
    """A QUEUED run whose task never arrived: the attempt counts as lost."""
    placeholder = Attempt(run.next_attempt, started_at=run.scheduled_at or run.updated_at)
    with_attempt = replace(run, attempts=(*run.attempts, placeholder))
    end = AttemptEnd(
        AttemptOutcome.LOST,
        error_code="task_lost",
        error_message="the task for this attempt never reached the worker",
    )
    concluded = conclude(with_attempt, end, policy, now)
    # A lost task is re-sent at once: the delay already passed while it was lost.
    if concluded.status is RunStatus.QUEUED:
        concluded = replace(concluded, scheduled_at=now)
    return concluded


def expire_lease(run: Run, policy: RetryPolicy, now: datetime) -> Run:
    """A RUNNING run whose lease expired: its attempt ends as ``lease_expired``."""
    end = AttemptEnd(
        AttemptOutcome.LEASE_EXPIRED,
        error_code="lease_expired",
        error_message="the worker stopped heartbeating before the attempt finished",
    )
    return conclude(run, end, policy, now)
