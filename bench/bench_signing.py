"""Verifications per second: both HMAC schemes and OIDC with cached certificates,
next to the bare ``hmac.new(...).digest()`` + ``compare_digest`` cost measured in the same run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

from bench.harness import Results, section
from shared.callbacks.config import CallbackSettings
from shared.callbacks.receiver import CallbackReceiver
from shared.oidc import OidcVerifier
from shared.signing import Scheme, Signer
from shared.storage.memory import MemoryStore
from tests.oidc_server import OidcTestServer

SECONDS = 1.0
BODY = json.dumps({"eventId": "evt_0123456789", "runId": "run_42", "status": "SUCCEEDED"}).encode()


def per_second(fn: Callable[[], object], seconds: float = SECONDS) -> float:
    """Calls per second of ``fn`` over about ``seconds`` of wall time."""
    for _ in range(50):
        fn()
    calls = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(100):
            fn()
        calls += 100
        if time.perf_counter() >= deadline:
            return calls / (time.perf_counter() - started)


def run(results: Results) -> None:
    now = 1_700_000_000
    clock = lambda: datetime.fromtimestamp(now, UTC)  # noqa: E731
    key = b"bench-secret-32-bytes-long......."
    message = f"{now}.".encode() + BODY
    expected = hmac.new(key, message, hashlib.sha256).digest()

    def bare() -> bool:
        return hmac.compare_digest(hmac.new(key, message, hashlib.sha256).digest(), expected)

    worker = Signer(Scheme.WORKER, key, clock=clock)
    worker_headers = worker.sign(BODY)
    standard = Signer(Scheme.STANDARD, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", clock=clock)
    standard_headers = standard.sign(BODY, message_id="evt_0123456789")
    rotating = Signer(
        Scheme.STANDARD,
        ["whsec_" + "QUFBQUFBQUFBQUFBQUFBQQ==", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        clock=clock,
    )

    with section("signing: verifications per second"):
        baseline = per_second(bare)
        results.add("signing: bare hmac.new + compare_digest", baseline, "ops/s")
        results.add(
            "signing: worker scheme verify",
            per_second(lambda: worker.verify(BODY, worker_headers)),
            "ops/s",
            baseline=baseline,
        )
        results.add(
            "signing: standard webhooks verify",
            per_second(lambda: standard.verify(BODY, standard_headers)),
            "ops/s",
            baseline=baseline,
        )
        results.add(
            "signing: standard webhooks verify, 2nd of 2 secrets",
            per_second(lambda: rotating.verify(BODY, standard_headers)),
            "ops/s",
            baseline=baseline,
        )
        with OidcTestServer() as issuer:
            token = issuer.mint(audience="https://bench", email="sa@bench.example")
            verifier = OidcVerifier("https://bench", ["sa@bench.example"], issuer.certs_url)
            results.add(
                "signing: OIDC ID token verify (RS256, cached certs)",
                per_second(lambda: verifier.verify(token)),
                "ops/s",
                baseline=baseline,
            )
            results.add("signing: OIDC certificate fetches during the run", issuer.requests, "n")
        results.add(
            "callbacks: receive (verify + event + CAS view, memory store)",
            receive_rate(clock),
            "ops/s",
            baseline=baseline,
        )


def receive_rate(clock: Callable[[], datetime], count: int = 2000) -> float:
    """Callbacks received per second: verify, create-only event object, CAS of the run view."""
    settings = CallbackSettings(secrets=("bench-secret",))
    receiver = CallbackReceiver(MemoryStore(), settings, clock=clock)
    signer = Signer(Scheme.WORKER, "bench-secret", clock=clock)
    requests = []
    for n in range(count):
        body = json.dumps(
            {
                "eventId": f"run-{n % 100}.{n}",
                "runId": f"run-{n % 100}",
                "jobType": "noop",
                "status": "RUNNING",
                "attempt": 1,
                "revision": n,
                "occurredAt": "2026-01-01T00:00:00Z",
            }
        ).encode()
        requests.append((body, signer.sign(body)))
    started = time.perf_counter()
    for body, headers in requests:
        receiver.receive(body, headers)
    return count / (time.perf_counter() - started)
