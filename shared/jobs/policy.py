"""Retry policies per job type, from built-in defaults and ``OPSPLANE_JOB_POLICIES``.

``OPSPLANE_JOB_POLICIES`` is a JSON object (inline, or a path to a JSON file)
mapping a job type to the fields it overrides, for example::

    {"http": {"max_retries": 5, "backoff": "exponential", "base_delay_ms": 2000},
     "reports.build": {"max_retries": 0, "escalate_on_failure": "manual_review"}}

``max_retries`` counts tries after the first, so a run gets at most
``max_retries + 1`` attempts.
"""

from __future__ import annotations

import enum
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from shared.jobs.models import DEFAULT_PRIORITY, MAX_PRIORITY, MIN_PRIORITY
from shared.settings import SettingsError

POLICIES_VARIABLE = "OPSPLANE_JOB_POLICIES"

# Codes a handler reports for failures that may pass by themselves.
RETRYABLE_CODES = frozenset(
    {
        "timeout",
        "rate_limit",
        "temporary_failure",
        "unavailable",
        "circuit_open",
        "lease_expired",
        "task_lost",
        "shed",
    }
)


class Backoff(enum.StrEnum):
    EXPONENTIAL = "exponential"
    LINEAR = "linear"
    IMMEDIATE = "immediate"


class Escalation(enum.StrEnum):
    MANUAL_REVIEW = "manual_review"


@dataclass(frozen=True)
class RetryPolicy:
    """How one job type is retried, and how important it is under load."""

    max_retries: int = 3
    backoff: Backoff = Backoff.EXPONENTIAL
    base_delay_ms: int = 1000
    max_delay_ms: int = 60_000
    jitter: float = 0.0
    retry_on: frozenset[str] = field(default_factory=frozenset)
    no_retry: frozenset[str] = field(default_factory=frozenset)
    escalate_on_failure: Escalation | None = None
    priority: int = DEFAULT_PRIORITY

    def is_retryable(self, code: str, retryable_hint: bool | None) -> bool:
        """Whether a failure with ``code`` deserves another attempt (budget aside).

        ``no_retry`` wins; a non-empty ``retry_on`` is the complete list;
        otherwise the handler's hint decides, then the built-in retryable codes.
        """
        if code in self.no_retry:
            return False
        if self.retry_on:
            return code in self.retry_on
        if retryable_hint is not None:
            return retryable_hint
        return code in RETRYABLE_CODES

    def attempts_left(self, attempts_made: int) -> bool:
        return attempts_made < self.max_retries + 1

    def delay_ms(self, retry: int, rng: random.Random | None = None) -> int:
        """The wait before retry number ``retry`` (1 = the first retry)."""
        if self.backoff is Backoff.IMMEDIATE:
            delay = 0.0
        elif self.backoff is Backoff.LINEAR:
            delay = float(self.base_delay_ms * retry)
        else:
            delay = float(self.base_delay_ms * 2 ** min(retry - 1, 40))
        delay = min(delay, float(self.max_delay_ms))
        if self.jitter and delay:
            # Jitter only shortens the delay, so max_delay_ms stays a true ceiling.
            delay *= 1 - self.jitter * (rng or random).random()
        return int(delay)


BUILTIN_POLICIES: dict[str, RetryPolicy] = {
    "http": RetryPolicy(max_retries=3, base_delay_ms=1000, max_delay_ms=60_000, jitter=0.2),
    "sleep": RetryPolicy(max_retries=1, base_delay_ms=1000),
    "fail": RetryPolicy(max_retries=2, base_delay_ms=500, max_delay_ms=5000, priority=1),
    "noop": RetryPolicy(max_retries=0),
}
DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True)
class Policies:
    """The policy of every job type; unknown types get the default policy."""

    by_job_type: Mapping[str, RetryPolicy]
    default: RetryPolicy = DEFAULT_POLICY

    def for_job(self, job_type: str) -> RetryPolicy:
        return self.by_job_type.get(job_type, self.default)


def load_policies(raw: str | None) -> Policies:
    """Built-in policies overlaid with ``OPSPLANE_JOB_POLICIES`` (JSON or a file path)."""
    merged = dict(BUILTIN_POLICIES)
    default = DEFAULT_POLICY
    if not raw:
        return Policies(merged, default)
    text = raw.strip()
    if not text.startswith("{"):
        try:
            text = Path(text).read_text()
        except OSError as exc:
            raise SettingsError(POLICIES_VARIABLE, f"cannot read {raw!r}: {exc}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(POLICIES_VARIABLE, f"is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise SettingsError(POLICIES_VARIABLE, "must be a JSON object of job type -> policy")
    for job_type, overrides in doc.items():
        base = default if job_type == "*" else merged.get(job_type, default)
        policy = _apply(job_type, base, overrides)
        if job_type == "*":
            default = policy
        else:
            merged[job_type] = policy
    return Policies(merged, default)


_FIELDS = {f.name for f in fields(RetryPolicy)}


def _apply(job_type: str, base: RetryPolicy, overrides: Any) -> RetryPolicy:
    where = f"{POLICIES_VARIABLE}[{job_type!r}]"
    if not isinstance(overrides, dict):
        raise SettingsError(where, "must be a JSON object")
    unknown = set(overrides) - _FIELDS
    if unknown:
        raise SettingsError(where, f"unknown fields {sorted(unknown)}; known: {sorted(_FIELDS)}")
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        try:
            changes[key] = _coerce(key, value)
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"{where}.{key}", str(exc)) from None
    return replace(base, **changes)


def _coerce(key: str, value: Any) -> Any:
    if key in ("max_retries", "base_delay_ms", "max_delay_ms"):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"must be a non-negative integer, got {value!r}")
        return value
    if key == "priority":
        if not isinstance(value, int) or not MIN_PRIORITY <= value <= MAX_PRIORITY:
            raise ValueError(f"must be an integer {MIN_PRIORITY}..{MAX_PRIORITY}, got {value!r}")
        return value
    if key == "jitter":
        if not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValueError(f"must be a number between 0 and 1, got {value!r}")
        return float(value)
    if key == "backoff":
        return Backoff(value)
    if key == "escalate_on_failure":
        return Escalation(value) if value else None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"must be a list of error codes, got {value!r}")
    return frozenset(value)
