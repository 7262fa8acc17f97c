"""The execution plane's collaborators, bundled once per process.

Functions take the plane from :func:`current`; tests and embedders build one
with their own store, queue, clock or notifier and :func:`install` it.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import uuid
from dataclasses import dataclass, field

from shared.clock import Clock, utcnow
from shared.jobs.backpressure import ErrorRate, InFlightLimiter, QueueDepth
from shared.jobs.breaker import CircuitBreaker
from shared.jobs.events import RunNotifier, notifier_from_env
from shared.jobs.handlers import HandlerRegistry, load_registry
from shared.jobs.policy import Policies, load_policies
from shared.jobs.settings import WorkerSettings
from shared.jobs.store import RunStore
from shared.queue.base import TaskQueue
from shared.storage import ObjectStore


@dataclass
class Plane:
    """Everything the runs API, the executor and the sweeper share."""

    store: ObjectStore
    queue: TaskQueue
    settings: WorkerSettings = field(default_factory=WorkerSettings)
    policies: Policies = field(default_factory=lambda: load_policies(None))
    registry: HandlerRegistry = field(default_factory=lambda: load_registry(None))
    notifier: RunNotifier = field(default_factory=notifier_from_env)
    clock: Clock = utcnow
    rng: random.Random = field(default_factory=random.Random)
    worker_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    )

    def __post_init__(self) -> None:
        self.runs = RunStore(self.store)
        self.limiter = InFlightLimiter(self.settings.max_concurrent_tasks)
        self.depth = QueueDepth(self.runs, self.settings.queue_count_ttl_ms)
        self.error_rate = ErrorRate(float(self.settings.shed_window_s))

    def breaker_for(self, downstream: str) -> CircuitBreaker:
        return CircuitBreaker(
            self.store,
            downstream,
            failure_threshold=self.settings.breaker_failures,
            recovery_ms=self.settings.breaker_recovery_ms,
            clock=self.clock,
        )

    @classmethod
    def from_env(cls) -> Plane:
        """The plane the environment describes (store, queue, settings, policies)."""
        from shared import runtime
        from shared.queue import open_queue

        settings = WorkerSettings.from_env()
        store = runtime.store()
        queue = open_queue(runtime.settings().queue_url, store)
        return cls(
            store=store,
            queue=queue,
            settings=settings,
            policies=load_policies(settings.job_policies),
            registry=load_registry(settings.job_handlers),
            notifier=notifier_from_env(),
        )


_lock = threading.Lock()
_plane: Plane | None = None
_installed = False


def current() -> Plane:
    """This process's plane, built from the environment on first use.

    A plane built from the environment follows ``shared.runtime``: when the
    runtime was reset (new settings, new store), the plane is rebuilt too.
    """
    global _plane  # noqa: PLW0603 - the one process-wide cache, like shared.runtime
    from shared import runtime

    with _lock:
        if _plane is None or (not _installed and _plane.store is not runtime.store()):
            _plane = Plane.from_env()
        return _plane


def install(plane: Plane | None) -> None:
    """Use ``plane`` from now on (None: rebuild from the environment on next use)."""
    global _plane, _installed  # noqa: PLW0603 - see current()
    with _lock:
        _plane = plane
        _installed = plane is not None
