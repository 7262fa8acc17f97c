"""Job handlers: a registry by job type, the built-ins, and user handlers by dotted path.

A handler is ``handler(context, params) -> result`` where the result is any
JSON value (kept, redacted, on the run). It fails by raising :class:`JobError`
with a code (``timeout``, ``rate_limit``, ``temporary_failure``, ``auth``,
``not_found``, ``bad_request``, ...) and, optionally, whether it is worth a
retry; any other exception counts as ``handler_error`` (not retryable).

Each handler may come with a ``validate(params)`` that rejects bad parameters
at submit time (a 400), so a run that can never work is never queued.

User handlers: ``OPSPLANE_JOB_HANDLERS="report.build=mypkg.reports:build,..."``;
a callable may carry a ``validate`` attribute.
"""

from __future__ import annotations

import functools
import importlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from shared.jobs.breaker import CircuitBreaker, CircuitOpen
from shared.settings import SettingsError

if TYPE_CHECKING:
    import httpx

HANDLERS_VARIABLE = "OPSPLANE_JOB_HANDLERS"


class JobError(Exception):
    """A handler failure with a machine-readable code."""

    def __init__(self, code: str, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


class InvalidParams(ValueError):
    """A run's parameters can never work for its job type."""


@dataclass
class HandlerContext:
    """What a handler may use besides its parameters."""

    run_id: str
    job_type: str
    attempt: int
    deadline: datetime
    breaker_for: Callable[[str], CircuitBreaker] | None = None
    # Set when the executor stops waiting (timeout); long handlers should check it.
    cancelled: threading.Event = field(default_factory=threading.Event)
    # The attempt's time limit on the monotonic clock (the wall clock may be injected).
    timeout_s: float = 300.0
    started: float = field(default_factory=time.monotonic)

    def remaining_s(self) -> float:
        """Seconds left before the executor stops waiting for this attempt."""
        return self.timeout_s - (time.monotonic() - self.started)


class Handler(Protocol):
    def __call__(self, context: HandlerContext, params: dict[str, Any]) -> Any: ...


@dataclass(frozen=True)
class JobType:
    name: str
    handler: Handler
    validate: Callable[[dict[str, Any]], None] | None = None


# Built-in handlers


def noop(context: HandlerContext, params: dict[str, Any]) -> Any:
    """Does nothing and succeeds (benchmarks, smoke tests)."""
    return {"ok": True}


def sleep(context: HandlerContext, params: dict[str, Any]) -> Any:
    """Sleeps ``ms`` milliseconds (drills for timeouts and leases)."""
    ms = int(params["ms"])
    context.cancelled.wait(ms / 1000)
    return {"slept_ms": ms}


def _validate_sleep(params: dict[str, Any]) -> None:
    ms = params.get("ms")
    if not isinstance(ms, int) or isinstance(ms, bool) or not 0 <= ms <= 3_600_000:
        raise InvalidParams("sleep needs 'ms': an integer between 0 and 3600000")


def fail(context: HandlerContext, params: dict[str, Any]) -> Any:
    """Fails with ``code`` (drills); ``succeed_on_attempt`` makes a later attempt succeed."""
    succeed_on = params.get("succeed_on_attempt")
    if isinstance(succeed_on, int) and context.attempt >= succeed_on:
        return {"succeeded_on_attempt": context.attempt}
    raise JobError(
        str(params.get("code", "temporary_failure")),
        str(params.get("message", "failure requested by the fail job")),
        retryable=params.get("retryable"),
    )


def _validate_fail(params: dict[str, Any]) -> None:
    if not isinstance(params.get("code", "x"), str):
        raise InvalidParams("fail: 'code' must be a string")
    if not isinstance(params.get("retryable", True), bool):
        raise InvalidParams("fail: 'retryable' must be true or false")
    succeed_on = params.get("succeed_on_attempt", 1)
    if not isinstance(succeed_on, int) or isinstance(succeed_on, bool) or succeed_on < 1:
        raise InvalidParams("fail: 'succeed_on_attempt' must be an integer >= 1")


_HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}


def _validate_http(params: dict[str, Any]) -> None:
    url = params.get("url")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        raise InvalidParams("http needs 'url': an http:// or https:// URL")
    if not urlsplit(url).hostname:
        raise InvalidParams("http: 'url' has no host")
    if str(params.get("method", "GET")).upper() not in _HTTP_METHODS:
        raise InvalidParams(f"http: 'method' must be one of {sorted(_HTTP_METHODS)}")
    headers = params.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise InvalidParams("http: 'headers' must be an object of strings")
    timeout = params.get("timeout_ms", 10_000)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= 600_000:
        raise InvalidParams("http: 'timeout_ms' must be an integer 1..600000")
    expect = params.get("expect_status")
    if expect is not None and not (
        isinstance(expect, int)
        or (isinstance(expect, list) and all(isinstance(s, int) for s in expect))
    ):
        raise InvalidParams("http: 'expect_status' must be a status code or a list of them")


def http(context: HandlerContext, params: dict[str, Any]) -> Any:
    """Calls ``url``: 5xx, 429 and timeouts are retryable, other 4xx are not.

    Calls go through the downstream host's circuit breaker: an open breaker
    fails fast with the retryable ``circuit_open``.
    """
    import httpx

    url = params["url"]
    method = str(params.get("method", "GET")).upper()
    timeout = max(0.05, min(params.get("timeout_ms", 10_000) / 1000, context.remaining_s()))
    expect = params.get("expect_status")
    expected = {expect} if isinstance(expect, int) else set(expect or ())
    body = params.get("body")
    breaker = context.breaker_for(urlsplit(url).netloc) if context.breaker_for else None
    if breaker is not None:
        try:
            breaker.before_call()
        except CircuitOpen as exc:
            raise JobError("circuit_open", str(exc), retryable=True) from None
    try:
        response = _http_client().request(
            method,
            url,
            headers={
                "Idempotency-Key": f"{context.run_id}",
                **params.get("headers", {}),
            },
            json=body if isinstance(body, dict | list) else None,
            content=body if isinstance(body, str) else None,
            timeout=timeout,
        )
    except httpx.TimeoutException as exc:
        if breaker is not None:
            breaker.record_failure()
        raise JobError("timeout", f"{method} {url} timed out: {exc}", retryable=True) from None
    except httpx.HTTPError as exc:
        if breaker is not None:
            breaker.record_failure()
        raise JobError(
            "temporary_failure", f"{method} {url} failed: {exc}", retryable=True
        ) from None
    status = response.status_code
    if breaker is not None:
        # Only the downstream's own trouble opens the breaker, not our bad requests.
        if status >= 500 or status == 429:
            breaker.record_failure()
        else:
            breaker.record_success()
    if (expected and status in expected) or (not expected and status < 400):
        return {"status": status, "body": response.text[:2000]}
    message = f"{method} {url} answered {status}: {response.text[:300]}"
    if status == 429:
        raise JobError("rate_limit", message, retryable=True)
    if status >= 500:
        raise JobError("temporary_failure", message, retryable=True)
    code = {401: "auth", 403: "auth", 404: "not_found", 409: "conflict"}.get(status, "bad_request")
    raise JobError(code, message, retryable=False)


@functools.cache
def _http_client() -> httpx.Client:
    # One pooled client per process: building one per call costs an SSL context each time.
    import httpx

    return httpx.Client(follow_redirects=False)


BUILTIN_JOB_TYPES: dict[str, JobType] = {
    "http": JobType("http", http, _validate_http),
    "sleep": JobType("sleep", sleep, _validate_sleep),
    "fail": JobType("fail", fail, _validate_fail),
    "noop": JobType("noop", noop),
}


class HandlerRegistry:
    """The job types a deployment knows: built-ins plus configured ones."""

    def __init__(self, job_types: Mapping[str, JobType]) -> None:
        self._job_types = dict(job_types)

    def __contains__(self, job_type: object) -> bool:
        return job_type in self._job_types

    @property
    def names(self) -> list[str]:
        return sorted(self._job_types)

    def get(self, job_type: str) -> JobType:
        return self._job_types[job_type]

    def register(self, job_type: JobType) -> None:
        self._job_types[job_type.name] = job_type

    def validate(self, job_type: str, params: dict[str, Any]) -> None:
        """Raise InvalidParams when ``params`` can never work for ``job_type``."""
        validator = self._job_types[job_type].validate
        if validator is not None:
            validator(params)


def load_registry(raw: str | None) -> HandlerRegistry:
    """Built-ins plus ``OPSPLANE_JOB_HANDLERS`` entries ``type=module:function``."""
    registry = HandlerRegistry(BUILTIN_JOB_TYPES)
    for entry in (part.strip() for part in (raw or "").split(",")):
        if not entry:
            continue
        name, sep, ref = entry.partition("=")
        module_name, colon, attr = ref.strip().partition(":")
        if not sep or not colon or not name.strip() or not attr:
            raise SettingsError(HANDLERS_VARIABLE, f"expected type=module:function, got {entry!r}")
        try:
            target = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise SettingsError(HANDLERS_VARIABLE, f"cannot load {ref!r}: {exc}") from None
        if not callable(target):
            raise SettingsError(HANDLERS_VARIABLE, f"{ref!r} is not callable")
        registry.register(JobType(name.strip(), target, getattr(target, "validate", None)))
    return registry
