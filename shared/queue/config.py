"""Queue settings resolved from the environment, shared by both adapters."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from shared.settings import (
    Environ,
    SettingsError,
    env_float,
    env_int,
    env_optional,
    env_str,
)

# Cloud Tasks accepts task and queue ids of letters, digits, '-' and '_' (at most 500).
_ID = re.compile(r"^[A-Za-z0-9_-]{1,500}$")


def check_task_name(name: str) -> str:
    """Reject a task name Cloud Tasks would refuse; returns the name."""
    if not _ID.match(name):
        raise ValueError(f"invalid task name {name!r}: use 1-500 of [A-Za-z0-9_-]")
    return name


@dataclass(frozen=True)
class QueueSettings:
    """How tasks are retried, paced and delivered; one set for both adapters.

    Variables (defaults mirror the Cloud Tasks queue the Terraform creates):

    * ``TASKS_QUEUE_NAME`` (``opsplane-tasks``): the queue id sent in
      ``X-CloudTasks-QueueName`` by the local dispatcher.
    * ``TASKS_MIN_BACKOFF_MS`` (1000) / ``TASKS_MAX_BACKOFF_MS`` (60000): the
      first retry delay and the ceiling of every retry delay.
    * ``TASKS_MAX_DOUBLINGS`` (5): how many times the delay doubles before it
      grows linearly (Cloud Tasks' ``max_doublings``).
    * ``TASKS_MAX_ATTEMPTS`` (100, Cloud Tasks' default; -1 = unlimited):
      attempts before a task is dropped. The worker schedules its own retries
      per job type, so queue retries only cover transport failures, 5xx and
      backpressure; a generous cap keeps a busy worker from losing tasks.
    * ``TASKS_MAX_DISPATCHES_PER_SECOND`` (50): the rate limit of dispatches.
    * ``TASKS_MAX_CONCURRENT_DISPATCHES`` (10): deliveries in flight at once.
    * ``TASKS_DISPATCH_DEADLINE_MS`` (600000, Cloud Tasks' default): how long
      one delivery may take; a local lease lasts this long plus a margin.
    * ``TASKS_AUTH_TOKEN``: a bearer token sent with each delivery (the local
      dispatcher, and Cloud Tasks when no OIDC service account is set).
    * ``TASKS_TARGET_BASE_URL`` (``OPSPLANE_BASE_URL``): where Cloud Tasks
      delivers; the task's path is appended.
    * ``TASKS_OIDC_SERVICE_ACCOUNT`` / ``TASKS_OIDC_AUDIENCE``: Cloud Tasks
      signs each delivery with an OIDC token for this account and audience.
    * ``CLOUD_TASKS_EMULATOR_HOST`` (``host:port``): talk to the emulator over
      an insecure gRPC channel instead of Google's endpoint.
    """

    queue_name: str = "opsplane-tasks"
    min_backoff_ms: int = 1000
    max_backoff_ms: int = 60_000
    max_doublings: int = 5
    max_attempts: int = 100
    max_dispatches_per_second: float = 50.0
    max_concurrent_dispatches: int = 10
    dispatch_deadline_ms: int = 600_000
    auth_token: str | None = None
    target_base_url: str = "http://127.0.0.1:8080"
    oidc_service_account: str | None = None
    oidc_audience: str | None = None
    emulator_host: str | None = None

    def __post_init__(self) -> None:
        if self.max_backoff_ms < self.min_backoff_ms:
            raise SettingsError(
                "TASKS_MAX_BACKOFF_MS",
                f"must be >= TASKS_MIN_BACKOFF_MS ({self.min_backoff_ms}), "
                f"got {self.max_backoff_ms}",
            )
        if not _ID.match(self.queue_name):
            raise SettingsError("TASKS_QUEUE_NAME", f"use [A-Za-z0-9_-], got {self.queue_name!r}")

    @classmethod
    def from_env(cls, env: Environ | None = None) -> QueueSettings:
        """Resolve and validate; raises SettingsError naming the bad variable."""
        env = os.environ if env is None else env
        port = env_int(env, "OPSPLANE_PORT", 8080, minimum=1, maximum=65535)
        base_url = env_str(env, "OPSPLANE_BASE_URL", f"http://127.0.0.1:{port}")
        max_attempts = env_int(env, "TASKS_MAX_ATTEMPTS", 100, minimum=-1)
        if max_attempts == 0:
            raise SettingsError("TASKS_MAX_ATTEMPTS", "must be -1 (unlimited) or >= 1, got 0")
        return cls(
            queue_name=env_str(env, "TASKS_QUEUE_NAME", "opsplane-tasks"),
            min_backoff_ms=env_int(env, "TASKS_MIN_BACKOFF_MS", 1000, minimum=0),
            max_backoff_ms=env_int(env, "TASKS_MAX_BACKOFF_MS", 60_000, minimum=0),
            max_doublings=env_int(env, "TASKS_MAX_DOUBLINGS", 5, minimum=0, maximum=30),
            max_attempts=max_attempts,
            max_dispatches_per_second=env_float(
                env, "TASKS_MAX_DISPATCHES_PER_SECOND", 50.0, minimum=0.001
            ),
            max_concurrent_dispatches=env_int(
                env, "TASKS_MAX_CONCURRENT_DISPATCHES", 10, minimum=1, maximum=1000
            ),
            dispatch_deadline_ms=env_int(
                env, "TASKS_DISPATCH_DEADLINE_MS", 600_000, minimum=100, maximum=1_800_000
            ),
            auth_token=env_optional(env, "TASKS_AUTH_TOKEN"),
            target_base_url=env_str(env, "TASKS_TARGET_BASE_URL", base_url).rstrip("/"),
            oidc_service_account=env_optional(env, "TASKS_OIDC_SERVICE_ACCOUNT"),
            oidc_audience=env_optional(env, "TASKS_OIDC_AUDIENCE"),
            emulator_host=env_optional(env, "CLOUD_TASKS_EMULATOR_HOST"),
        )

    def retry_delay_ms(self, failed_attempts: int) -> int:
        """The delay before the next try after ``failed_attempts`` failures (Cloud Tasks' rule).

        The delay starts at min_backoff, doubles ``max_doublings`` times, then
        grows by the last doubled step each retry, never above max_backoff:
        10s, 20s, 40s, 80s, 160s, 240s, 300s, 300s ... for 10s/300s/3 doublings.
        """
        retry = max(failed_attempts, 1) - 1
        if retry <= self.max_doublings:
            delay = self.min_backoff_ms * (1 << retry)
        else:
            step = self.min_backoff_ms * (1 << self.max_doublings)
            delay = step * (retry - self.max_doublings + 1)
        return min(delay, self.max_backoff_ms)

    def attempts_exhausted(self, attempts: int) -> bool:
        """True once ``attempts`` deliveries failed and no more are allowed."""
        return self.max_attempts != -1 and attempts >= self.max_attempts
