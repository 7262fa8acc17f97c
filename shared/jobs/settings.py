"""The execution plane's settings (``WORKER_*`` and the job configuration).

* ``WORKER_MAX_CONCURRENT_TASKS`` (10): tasks one instance runs at once; more
  are answered 429 with Retry-After (match Cloud Run's concurrency).
* ``WORKER_MAX_QUEUE_SIZE`` (10000): queued runs overall; ``POST /runs`` is
  answered 429 beyond it.
* ``WORKER_TASK_TIMEOUT_MS`` (300000): how long one attempt may run; well under
  the 600 s Cloud Tasks dispatch deadline so the answer always arrives.
* ``WORKER_LEASE_MS`` (60000) / ``WORKER_HEARTBEAT_MS`` (lease / 3): the claim
  on a running attempt and how often it is renewed while the handler runs.
* ``WORKER_LOST_TASK_AFTER_MS`` (900000): a QUEUED run whose task was due this
  long ago without an attempt starting counts as lost (the sweeper acts).
* ``WORKER_QUEUE_COUNT_TTL_MS`` (2000): how long a queue-depth count is reused.
* ``WORKER_RETRY_AFTER_S`` (5): the Retry-After of a 429.
* ``WORKER_SHED_QUEUE_DEPTH`` (0 = off) / ``WORKER_SHED_ERROR_RATE`` (0 = off):
  load shedding starts above this many queued runs, or this failure ratio
  over the last ``WORKER_SHED_WINDOW_S`` (60) seconds (at least 20 outcomes).
* ``WORKER_SHED_BELOW_PRIORITY`` (5): while shedding, job types whose policy
  priority is below this are turned away first; past twice a limit, every job
  type below the top priority is.
* ``WORKER_BREAKER_FAILURES`` (5) / ``WORKER_BREAKER_RECOVERY_MS`` (30000).
* ``WORKER_MAX_PARAMS_BYTES`` (65536): the largest ``params`` a run accepts.
* ``OPSPLANE_JOB_POLICIES`` and ``OPSPLANE_JOB_HANDLERS``: see policy.py and handlers.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from shared.settings import Environ, env_float, env_int, env_optional


@dataclass(frozen=True)
class WorkerSettings:
    max_concurrent_tasks: int = 10
    max_queue_size: int = 10_000
    task_timeout_ms: int = 300_000
    lease_ms: int = 60_000
    heartbeat_ms: int = 20_000
    lost_task_after_ms: int = 900_000
    queue_count_ttl_ms: int = 2000
    retry_after_s: int = 5
    shed_queue_depth: int = 0
    shed_error_rate: float = 0.0
    shed_window_s: int = 60
    shed_below_priority: int = 5
    breaker_failures: int = 5
    breaker_recovery_ms: int = 30_000
    max_params_bytes: int = 65_536
    job_policies: str | None = None
    job_handlers: str | None = None

    @classmethod
    def from_env(cls, env: Environ | None = None) -> WorkerSettings:
        """Resolve and validate; raises SettingsError naming the bad variable."""
        env = os.environ if env is None else env
        lease_ms = env_int(env, "WORKER_LEASE_MS", 60_000, minimum=100)
        return cls(
            max_concurrent_tasks=env_int(env, "WORKER_MAX_CONCURRENT_TASKS", 10, minimum=1),
            max_queue_size=env_int(env, "WORKER_MAX_QUEUE_SIZE", 10_000, minimum=1),
            task_timeout_ms=env_int(
                env, "WORKER_TASK_TIMEOUT_MS", 300_000, minimum=10, maximum=1_800_000
            ),
            lease_ms=lease_ms,
            heartbeat_ms=env_int(
                env, "WORKER_HEARTBEAT_MS", max(lease_ms // 3, 10), minimum=10, maximum=lease_ms
            ),
            lost_task_after_ms=env_int(env, "WORKER_LOST_TASK_AFTER_MS", 900_000, minimum=0),
            queue_count_ttl_ms=env_int(env, "WORKER_QUEUE_COUNT_TTL_MS", 2000, minimum=0),
            retry_after_s=env_int(env, "WORKER_RETRY_AFTER_S", 5, minimum=1),
            shed_queue_depth=env_int(env, "WORKER_SHED_QUEUE_DEPTH", 0, minimum=0),
            shed_error_rate=env_float(env, "WORKER_SHED_ERROR_RATE", 0.0, minimum=0.0),
            shed_window_s=env_int(env, "WORKER_SHED_WINDOW_S", 60, minimum=1),
            shed_below_priority=env_int(
                env, "WORKER_SHED_BELOW_PRIORITY", 5, minimum=0, maximum=10
            ),
            breaker_failures=env_int(env, "WORKER_BREAKER_FAILURES", 5, minimum=1),
            breaker_recovery_ms=env_int(env, "WORKER_BREAKER_RECOVERY_MS", 30_000, minimum=0),
            max_params_bytes=env_int(env, "WORKER_MAX_PARAMS_BYTES", 65_536, minimum=2),
            job_policies=env_optional(env, "OPSPLANE_JOB_POLICIES"),
            job_handlers=env_optional(env, "OPSPLANE_JOB_HANDLERS"),
        )
