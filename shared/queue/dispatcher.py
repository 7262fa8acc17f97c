"""The local dispatcher: delivers ``local://`` tasks over HTTP the way Cloud Tasks does.

Each pass lists the stored tasks, takes the due ones in due order, leases
each with a compare-and-swap (so two dispatchers never deliver one task at
the same time) and POSTs it from a thread pool, with the headers Cloud Tasks
sends. A 2xx deletes the task; anything else reschedules it by the queue's
backoff (or the answer's ``Retry-After`` on 429/503) until ``max_attempts``,
after which the task is moved to ``queue/local/dropped/``.

All state is in the store: a dispatcher that dies mid-delivery leaves a lease
that expires after the dispatch deadline, and the task is due again.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared import redaction
from shared.clock import Clock, utcnow
from shared.http import retry_after as retry_after_header
from shared.logs import get_logger
from shared.queue.config import QueueSettings
from shared.queue.local import (
    DROPPED_PREFIX,
    TASKS_PREFIX,
    TaskRecord,
    dropped_object_name,
    to_millis,
)
from shared.settings import SettingsError
from shared.storage import ObjectNotFound, ObjectStore, PreconditionFailed, StoreError

if TYPE_CHECKING:
    import httpx

log = get_logger("queue.dispatcher")

USER_AGENT = "Google-Cloud-Tasks"
DEFAULT_LEASE_MARGIN = timedelta(seconds=5)
# A Retry-After beyond this is treated as a misbehaving worker, not a plan.
MAX_RETRY_AFTER_S = 3600.0
_ERROR_TEXT_LIMIT = 300


class RateLimiter:
    """A token bucket: ``rate`` dispatches per second, at most ``burst`` at once."""

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._burst = float(max(burst, 1))
        self._tokens = self._burst
        self._monotonic = monotonic
        self._stamp = monotonic()
        self._lock = threading.Lock()

    def try_acquire(self) -> float:
        """Take a token and return 0, or return the seconds until one is available."""
        with self._lock:
            now = self._monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self._rate

    def refund(self) -> None:
        """Give back a token that was not used (the task went to another dispatcher)."""
        with self._lock:
            self._tokens = min(self._burst, self._tokens + 1.0)


class Dispatcher:
    """Deliver due local tasks to ``base_url`` + each task's path.

    ``run(stop_event)`` is the background loop the local stack starts;
    ``run_once()`` delivers what is due now and waits for it (for tests and tools).
    """

    def __init__(
        self,
        store: ObjectStore,
        base_url: str,
        config: QueueSettings,
        clock: Clock = utcnow,
        *,
        http: httpx.Client | None = None,
        holder: str | None = None,
        poll_interval: float = 0.15,
        lease_margin: timedelta | None = None,
        burst: int = 1,
    ) -> None:
        self.store = store
        self.base_url = base_url.rstrip("/")
        self.config = config
        self.holder = holder or f"dispatcher-{uuid.uuid4().hex[:12]}"
        self.poll_interval = poll_interval
        self._clock = clock
        deadline = timedelta(milliseconds=config.dispatch_deadline_ms)
        # The HTTP timeout is the deadline; the margin covers recording the
        # outcome afterwards, so a dead dispatcher's tasks come back soon.
        if lease_margin is None:
            lease_margin = min(DEFAULT_LEASE_MARGIN, deadline)
        self._lease = deadline + lease_margin
        self._limiter = RateLimiter(config.max_dispatches_per_second, burst)
        self._slots = threading.BoundedSemaphore(config.max_concurrent_dispatches)
        self._pool = ThreadPoolExecutor(
            max_workers=config.max_concurrent_dispatches, thread_name_prefix="opsplane-dispatch"
        )
        self._owns_http = http is None
        self._http = http if http is not None else _default_client(config)

    # The loop.

    def run(self, stop: threading.Event) -> None:
        """Deliver tasks until ``stop`` is set, then wait for deliveries in flight."""
        log.info(
            "dispatcher started",
            extra={"fields": {"holder": self.holder, "base_url": self.base_url}},
        )
        try:
            while not stop.is_set():
                try:
                    for future in self._dispatch_pass(stop):
                        future.add_done_callback(_log_unexpected)
                except StoreError as exc:
                    # The store may come back; the loop must outlive a bad moment.
                    log.warning("dispatcher pass failed: %s", exc)
                except Exception:  # a bug in one pass must not stop delivery for good
                    log.exception("dispatcher pass crashed")
                stop.wait(self.poll_interval)
        finally:
            self.close()
            log.info("dispatcher stopped", extra={"fields": {"holder": self.holder}})

    def run_once(self) -> int:
        """Deliver every task due now, wait for the deliveries, and return how many."""
        futures = self._dispatch_pass(None)
        wait(futures)
        for future in futures:
            future.result()  # a delivery bug surfaces here instead of vanishing
        return len(futures)

    def close(self) -> None:
        """Wait for deliveries in flight and release the HTTP client."""
        self._pool.shutdown(wait=True)
        if self._owns_http:
            self._http.close()

    # One pass.

    def _dispatch_pass(self, stop: threading.Event | None) -> list[Future[None]]:
        futures: list[Future[None]] = []
        for name in self._due_candidates():
            if not self._wait_for(self._take_slot, stop):
                break
            if not self._wait_for(self._limiter.try_acquire, stop):
                self._slots.release()
                break
            claimed = self._claim(name)
            if claimed is None:
                self._limiter.refund()
                self._slots.release()
                continue
            record, generation = claimed
            futures.append(self._pool.submit(self._deliver_and_release, record, generation))
        return futures

    def _take_slot(self) -> float:
        return 0.0 if self._slots.acquire(blocking=False) else 0.02

    @staticmethod
    def _wait_for(attempt: Callable[[], float], stop: threading.Event | None) -> bool:
        """Retry ``attempt`` (0 = got it, else seconds to wait) until it succeeds or stop."""
        while True:
            delay = attempt()
            if delay <= 0:
                return True
            if stop is None:
                time.sleep(delay)
            elif stop.wait(delay):
                return False

    def _due_candidates(self) -> list[str]:
        """Names of tasks that look due, earliest first, from listing hints where present."""
        now_ms = to_millis(self._clock())
        due: list[tuple[int, str]] = []
        for info in self.store.list(TASKS_PREFIX):
            hint_due = info.metadata.get("due_at")
            if hint_due is None:
                due.append((0, info.name))  # no hint: read it to find out
                continue
            if int(info.metadata.get("lease_until", "0")) > now_ms or int(hint_due) > now_ms:
                continue
            due.append((int(hint_due), info.name))
        due.sort()
        return [name for _, name in due]

    def _claim(self, object_name: str) -> tuple[TaskRecord, str] | None:
        """Lease a due task by compare-and-swap; None when it is not due or another won."""
        stored = self.store.get_or_none(object_name)
        if stored is None:
            return None
        try:
            record = TaskRecord.from_json(stored.data)
        except (ValueError, KeyError, TypeError) as exc:
            self._quarantine(object_name, stored.data, stored.generation, exc)
            return None
        now = self._clock()
        if not record.is_due(now):
            return None
        leased = record.leased(self.holder, now + self._lease)
        try:
            generation = self.store.put(
                object_name,
                leased.to_json(),
                if_generation=stored.generation,
                metadata=leased.metadata(),
            )
        except PreconditionFailed:
            return None
        return leased, generation

    def _quarantine(self, object_name: str, data: bytes, generation: str, exc: Exception) -> None:
        """Move an unreadable task aside so it cannot stall every pass."""
        target = DROPPED_PREFIX + object_name.removeprefix(TASKS_PREFIX)
        self.store.put(target, data, content_type="application/octet-stream")
        try:
            self.store.delete(object_name, if_generation=generation)
        except (PreconditionFailed, ObjectNotFound):
            return
        log.error(
            "unreadable task moved aside",
            extra={"fields": {"object": object_name, "moved_to": target, "error": str(exc)}},
        )

    # One delivery.

    def _deliver_and_release(self, record: TaskRecord, generation: str) -> None:
        try:
            self._deliver(record, generation)
        except StoreError as exc:
            # The lease expires and the task is delivered again; nothing is lost.
            log.warning("could not record delivery of task %s: %s", record.name, exc)
        finally:
            self._slots.release()

    def _deliver(self, record: TaskRecord, generation: str) -> None:
        import httpx

        object_name = f"{TASKS_PREFIX}{record.name}.json"
        started = self._clock()
        status: int | None = None
        retry_after: float | None = None
        try:
            response = self._http.post(
                self.base_url + record.path,
                content=record.body,
                headers=self.headers_for(record),
            )
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        else:
            status = response.status_code
            if 200 <= status < 300:
                self._finish(object_name, generation, record)
                return
            error = f"HTTP {status}: {response.text[:_ERROR_TEXT_LIMIT]}"
            if status in (429, 503):
                retry_after = parse_retry_after(response.headers.get("Retry-After"), started)
        self._fail(
            object_name,
            generation,
            record,
            started=started,
            status=status,
            error=error,
            retry_after=retry_after,
        )

    def headers_for(self, record: TaskRecord) -> dict[str, str]:
        """The headers Cloud Tasks would send with this delivery."""
        headers = {"Content-Type": "application/json", **dict(record.headers)}
        headers.update(
            {
                "User-Agent": USER_AGENT,
                "X-CloudTasks-QueueName": self.config.queue_name,
                "X-CloudTasks-TaskName": record.name,
                "X-CloudTasks-TaskRetryCount": str(record.attempts),
                "X-CloudTasks-TaskExecutionCount": str(record.responses),
                "X-CloudTasks-TaskETA": f"{record.schedule_time.timestamp():.6f}",
            }
        )
        if record.attempts and record.last_status is not None:
            headers["X-CloudTasks-TaskPreviousResponse"] = str(record.last_status)
        if self.config.auth_token:
            headers["Authorization"] = f"Bearer {self.config.auth_token}"
        return headers

    def _finish(self, object_name: str, generation: str, record: TaskRecord) -> None:
        try:
            self.store.delete(object_name, if_generation=generation)
        except (PreconditionFailed, ObjectNotFound):
            # Our lease ran out during a long delivery and another dispatcher took over.
            log.warning("task %s was delivered after its lease expired", record.name)
            return
        log.debug(
            "task delivered",
            extra={"fields": {"task": record.name, "attempts": record.attempts + 1}},
        )

    def _fail(
        self,
        object_name: str,
        generation: str,
        record: TaskRecord,
        *,
        started: datetime,
        status: int | None,
        error: str,
        retry_after: float | None,
    ) -> None:
        attempts = record.attempts + 1
        failed = replace(
            record,
            attempts=attempts,
            responses=record.responses + (status is not None and status != 503),
            first_attempt=record.first_attempt or started,
            last_status=status,
            last_error=redaction.redact_text(error),
            lease_holder=None,
            lease_until=None,
        )
        fields = {"task": record.name, "attempts": attempts, "status": status}
        if self.config.attempts_exhausted(attempts):
            self._drop(object_name, generation, failed)
            log.error("task dropped after its last attempt", extra={"fields": fields})
            return
        delay_s = self.config.retry_delay_ms(attempts) / 1000
        if retry_after is not None:
            delay_s = retry_after
        rescheduled = replace(failed, schedule_time=self._clock() + timedelta(seconds=delay_s))
        try:
            self.store.put(
                object_name,
                rescheduled.to_json(),
                if_generation=generation,
                metadata=rescheduled.metadata(),
            )
        except PreconditionFailed:
            log.warning("task %s changed while it was being delivered", record.name)
            return
        log.warning(
            "task delivery failed; retrying",
            extra={"fields": {**fields, "retry_in_s": round(delay_s, 3)}},
        )

    def _drop(self, object_name: str, generation: str, record: TaskRecord) -> None:
        # Keep the evidence first: a crash between the two writes leaves the
        # task pending (delivered again), never lost.
        self.store.put(dropped_object_name(record.name), record.to_json())
        try:
            self.store.delete(object_name, if_generation=generation)
        except (PreconditionFailed, ObjectNotFound):
            log.warning("task %s changed while it was being dropped", record.name)


def _log_unexpected(future: Future[None]) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("task delivery crashed", exc_info=exc)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None if absent/bad."""
    # Workers are ours and may answer fractional seconds; any number is read.
    return retry_after_header.parse_retry_after(value, now, cap=MAX_RETRY_AFTER_S, any_number=True)


def _default_client(config: QueueSettings) -> httpx.Client:
    import httpx

    timeout = config.dispatch_deadline_ms / 1000
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        limits=httpx.Limits(
            max_connections=config.max_concurrent_dispatches,
            max_keepalive_connections=config.max_concurrent_dispatches,
        ),
        follow_redirects=False,
    )


def serve(stop: threading.Event) -> bool:
    """The local stack's background service: deliver ``local://`` tasks until stopped.

    Returns False at once when the queue is not ``local://`` or the dispatcher
    cannot start (the reason is logged).
    """
    from shared import runtime

    try:
        settings = runtime.settings()
        if not settings.queue_url.startswith("local:"):
            log.info("queue is %s; the local dispatcher is not needed", settings.queue_url)
            return False
        config = QueueSettings.from_env()
        store = runtime.store()
    except (SettingsError, StoreError):
        log.exception("the local dispatcher cannot start")
        return False
    Dispatcher(store, settings.base_url, config).run(stop)
    return True


def main() -> int:
    """``python -m shared.queue.dispatcher``: run the dispatcher alone until SIGINT or SIGTERM."""
    import signal

    from shared.signals import stop_on

    stop = threading.Event()
    with stop_on(stop, signal.SIGINT, signal.SIGTERM):
        return 0 if serve(stop) else 1


if __name__ == "__main__":
    raise SystemExit(main())
