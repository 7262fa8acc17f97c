"""Liveness and readiness checks."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from shared.storage import ObjectStore, StoreError


@dataclass(frozen=True)
class ReadinessResult:
    ok: bool
    store_url: str
    latency_ms: float
    reason: str | None = None


def check_store(open_store: Callable[[], ObjectStore]) -> ReadinessResult:
    """A real write, read and delete round trip under ``health/``.

    Takes the opener rather than the store, so a store that cannot even be
    opened (bad bucket, missing credentials) is reported, not raised.
    """
    name = f"health/probe-{uuid.uuid4().hex}"
    payload = uuid.uuid4().bytes
    started = time.perf_counter()
    try:
        store = open_store()
    except StoreError as exc:
        return ReadinessResult(False, "", _ms(started), f"{type(exc).__name__}: {exc}")
    try:
        generation = store.put(
            name, payload, if_absent=True, content_type="application/octet-stream"
        )
        read = store.get(name)
        if read.data != payload:
            return ReadinessResult(
                False, _safe_url(store), _ms(started), "read back different bytes"
            )
        store.delete(name, if_generation=generation)
    except StoreError as exc:
        return ReadinessResult(
            False, _safe_url(store), _ms(started), f"{type(exc).__name__}: {exc}"
        )
    return ReadinessResult(True, _safe_url(store), _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _safe_url(store: ObjectStore) -> str:
    # Only the scheme and bucket: a file path or endpoint is nobody else's business.
    scheme, _, rest = store.url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}" if scheme in {"gs", "s3"} else f"{scheme}://"
