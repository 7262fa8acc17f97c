"""Check that a deployment answers: each function's health endpoints, in one table.

For every deployed function the check asks the routes its own router
declares as health checks (``GET /health``, ``GET /health/test``,
``GET /tasks/health``...). A function without one is asked ``GET`` on the
first path it owns: if opsplane's HTTP edge answers below 500 (with its
``X-Request-Id``; a 401, 404 or 405 is fine there), the function is serving
but has no health route, which is reported as ``serving``, not as a failure.
Anything else (no answer, a 5xx, a 503 from a readiness check, Cloud Run's
own 401/403) fails the check.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import Any

import httpx

from shared.http.edge import Router
from shared.redaction import redact_text


class Outcome(Enum):
    """How one probe went."""

    OK = "ok"
    SERVING = "serving"
    FAILED = "failed"


@dataclass(frozen=True)
class Probe:
    """One request to make: ``GET url + path`` for a service."""

    service: str
    url: str
    path: str
    declared: bool  # the function's router declares this health route


@dataclass(frozen=True)
class ProbeResult:
    """What one probe found."""

    probe: Probe
    outcome: Outcome
    status: int | None
    latency_ms: float
    version: str | None
    detail: str


class DeploymentSpecError(ValueError):
    """The services to check were named wrongly (unknown target, bad URL...)."""


def health_paths(router: Router) -> tuple[str, ...]:
    """The parameter-free GET routes of a router that are health checks."""
    paths = []
    for method, pattern in router.patterns:
        if method != "GET" or "<" in pattern:
            continue
        segments = pattern.rstrip("/").split("/")
        if segments[-1] == "health" or pattern.rstrip("/").endswith("/health/test"):
            paths.append(pattern)
    return tuple(paths)


def load_routers() -> tuple[dict[str, tuple[str, ...]], dict[str, Router]]:
    """The deployable targets (``functions/main.py``) and each one's Router."""
    from functions import main

    routers: dict[str, Router] = {}
    for target in main.TARGETS:
        function = getattr(main, target, None)
        for cell in getattr(function, "__closure__", None) or ():
            if isinstance(cell.cell_contents, Router):
                routers[target] = cell.cell_contents
    return dict(main.TARGETS), routers


def _check_url(name: str, url: str) -> str:
    parsed = httpx.URL(url)
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise DeploymentSpecError(f"{name}: {url!r} is not an http(s) URL")
    return url.rstrip("/")


def select_services(
    targets: Mapping[str, tuple[str, ...]],
    *,
    base_url: str | None = None,
    services: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Which services to check at which URL.

    ``base_url`` puts every target behind one URL (the local stack, or a load
    balancer); ``services`` names per-service URLs and wins over it.
    """
    chosen: dict[str, str] = {}
    if base_url:
        base = _check_url("--base-url", base_url)
        chosen = dict.fromkeys(targets, base)
    for name, url in (services or {}).items():
        if name not in targets:
            known = ", ".join(sorted(targets))
            raise DeploymentSpecError(f"unknown service {name!r}; the targets are: {known}")
        chosen[name] = _check_url(name, url)
    if not chosen:
        raise DeploymentSpecError("nothing to check: give --base-url or --service NAME=URL")
    return chosen


def plan_probes(
    services: Mapping[str, str],
    routers: Mapping[str, Router],
    targets: Mapping[str, tuple[str, ...]] | None = None,
) -> list[Probe]:
    """The requests that check each service, in a stable order.

    A function without a health route is asked ``GET`` on the first path
    prefix it owns (``/runs``, ``/sweeper``...): whatever it answers there
    comes from that function, even when every function shares one base URL.
    """
    probes: list[Probe] = []
    for name in sorted(services):
        router = routers.get(name)
        declared = health_paths(router) if router is not None else ()
        prefixes = (targets or {}).get(name) or ("/health",)
        paths = declared or (prefixes[0],)
        probes.extend(Probe(name, services[name], path, bool(declared)) for path in paths)
    return probes


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _judge(probe: Probe, response: httpx.Response) -> tuple[Outcome, str]:
    body = _json(response)
    status = response.status_code
    # opsplane's edge stamps every answer, JSON or HTML, with X-Request-Id;
    # Cloud Run's own refusals and foreign servers do not.
    from_our_edge = "x-request-id" in response.headers
    if not probe.declared and from_our_edge and status < 500:
        return Outcome.SERVING, "the function answers; it has no health route"
    if status == 200 and body is not None:
        state = str(body.get("status", "ok"))
        if state == "ok":
            return Outcome.OK, ""
        return Outcome.FAILED, f"status {state!r}"
    if status in {401, 403} and not from_our_edge:
        return Outcome.FAILED, "refused by Cloud Run IAM: pass an ID token (--token-env)"
    if status in {401, 403}:
        return Outcome.FAILED, "the function wants credentials: pass an API token (--api-token-env)"
    if body is not None:
        message = body.get("message") or body.get("error") or ""
        return Outcome.FAILED, f"HTTP {status}: {message}"
    return Outcome.FAILED, f"HTTP {status}: not a JSON answer"


def run_probe(client: httpx.Client, probe: Probe, clock: Callable[[], float]) -> ProbeResult:
    """Make one probe; every failure becomes a FAILED result, never an exception."""
    started = clock()
    try:
        response = client.get(probe.url + probe.path)
    except httpx.TimeoutException:
        return ProbeResult(probe, Outcome.FAILED, None, _ms(clock, started), None, "timed out")
    except httpx.HTTPError as exc:
        detail = redact_text(f"{type(exc).__name__}: {exc}")
        return ProbeResult(probe, Outcome.FAILED, None, _ms(clock, started), None, detail)
    latency = _ms(clock, started)
    outcome, detail = _judge(probe, response)
    body = _json(response) or {}
    version = body.get("version")
    return ProbeResult(
        probe,
        outcome,
        response.status_code,
        latency,
        str(version) if version is not None else None,
        redact_text(detail),
    )


def _ms(clock: Callable[[], float], started: float) -> float:
    return round((clock() - started) * 1000, 1)


def verify(
    probes: Sequence[Probe],
    *,
    token: str | None = None,
    api_token: str | None = None,
    timeout_s: float = 10.0,
    client: httpx.Client | None = None,
    clock: Callable[[], float] = time.perf_counter,
    max_workers: int = 8,
) -> list[ProbeResult]:
    """Run the probes concurrently; results come back in the probes' order.

    ``token`` is a Google ID token for Cloud Run's IAM check, sent as
    ``X-Serverless-Authorization`` so that ``Authorization`` stays free for
    ``api_token``, which the functions themselves check (``/tasks/health``).
    """
    headers = {"User-Agent": "opsplane-verify-deployment"}
    if token:
        headers["X-Serverless-Authorization"] = f"Bearer {token}"
    if api_token:
        headers["Authorization"] = f"Bearer {api_token}"
    own_client = client is None
    http = client or httpx.Client(timeout=timeout_s, follow_redirects=False)
    http.headers.update(headers)
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(probes)))) as pool:
            return list(pool.map(lambda probe: run_probe(http, probe, clock), probes))
    finally:
        if own_client:
            http.close()


def all_passed(results: Iterable[ProbeResult]) -> bool:
    """True when no probe failed (``serving`` counts as up)."""
    return all(result.outcome is not Outcome.FAILED for result in results)


def render_table(results: Sequence[ProbeResult]) -> str:
    """A plain-text table, one row per probe, and a summary line."""
    header = ("SERVICE", "CHECK", "RESULT", "HTTP", "LATENCY", "VERSION", "DETAIL")
    rows = [header]
    for result in results:
        rows.append(
            (
                result.probe.service,
                f"GET {result.probe.path}",
                result.outcome.value.upper(),
                str(result.status) if result.status is not None else "-",
                f"{result.latency_ms:.0f} ms",
                result.version or "-",
                result.detail or "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True))
        + ("  " + row[-1] if row[-1] else "")
        for row in rows
    ]
    failed = sum(result.outcome is Outcome.FAILED for result in results)
    services = len({result.probe.service for result in results})
    verdict = "all healthy" if not failed else f"{failed} check(s) failed"
    lines.append(f"{services} service(s), {len(results)} check(s): {verdict}")
    return "\n".join(line.rstrip() for line in lines)


def results_as_json(results: Sequence[ProbeResult]) -> list[dict[str, Any]]:
    """The results as plain data (for ``--json``)."""
    return [
        {
            "service": result.probe.service,
            "url": result.probe.url,
            "path": result.probe.path,
            "result": result.outcome.value,
            "status": result.status,
            "latency_ms": result.latency_ms,
            "version": result.version,
            "detail": result.detail,
        }
        for result in results
    ]


def parse_services_json(text: str) -> dict[str, str]:
    """``terraform output -json service_urls`` (or the whole ``terraform output -json``)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DeploymentSpecError(f"the services file is not JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("service_urls"), dict):
        data = data["service_urls"]
    if isinstance(data, dict) and "value" in data and isinstance(data["value"], dict):
        data = data["value"]
    if not isinstance(data, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in data.items()
    ):
        raise DeploymentSpecError("the services file must map service names to URLs")
    return dict(data)
