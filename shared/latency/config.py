"""Latency targets and job options, read from ``OPSPLANE_LATENCY_CONFIG``.

The variable holds either inline JSON (it starts with ``{``) or the path of a
JSON file::

    {
      "targets": [
        {"name": "api-health", "url": "https://api.example.com/health",
         "method": "GET", "expected_status": 200, "timeout_ms": 2000,
         "samples": 5, "slo_p95_ms": 300, "source": "api"}
      ],
      "webhook_url": "https://hooks.example.com/latency",
      "reminder_minutes": 60,
      "raw_retention_days": 14,
      "rollup_retention_days": 90,
      "slo_objective": 0.99
    }

The webhook secret is a secret, so it comes from ``OPSPLANE_WEBHOOK_SECRET``
(a Secret Manager mount) rather than the JSON document; ``OPSPLANE_LATENCY_WEBHOOK_URL``
overrides ``webhook_url``. Every problem raises SettingsError naming the variable
and the offending field.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from shared.settings import Environ, SettingsError, env_optional

CONFIG_VARIABLE = "OPSPLANE_LATENCY_CONFIG"
SECRET_VARIABLE = "OPSPLANE_WEBHOOK_SECRET"  # noqa: S105 - a variable name, shared with reports
URL_VARIABLE = "OPSPLANE_LATENCY_WEBHOOK_URL"
DEFAULT_ROTATION_BYTES = 10 * 1024 * 1024
_SOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "OPTIONS"})


@dataclass(frozen=True)
class Target:
    """One endpoint to sample; ``source`` groups targets in rollups and SLOs."""

    name: str
    url: str
    slo_p95_ms: float
    source: str
    method: str = "GET"
    expected_status: int = 200
    timeout_ms: int = 2000
    samples: int = 5


@dataclass(frozen=True)
class LatencyConfig:
    """Everything one latency run needs besides the store and the clock."""

    targets: tuple[Target, ...]
    webhook_url: str | None = None
    webhook_secret: str | None = None
    notified_channels: tuple[str, ...] = ("webhook",)
    reminder_minutes: int = 60
    interval_minutes: int = 15
    lock_ttl_seconds: int = 600
    raw_retention_days: int = 14
    rollup_retention_days: int = 90
    rotation_bytes: int = DEFAULT_ROTATION_BYTES
    slo_objective: float = 0.99
    webhook_max_retries: int = 3
    webhook_retry_wait_seconds: float = 1.0
    evidence_base_url: str = ""

    def thresholds(self) -> dict[str, float]:
        """The p95 threshold of each source (the strictest of its targets)."""
        out: dict[str, float] = {}
        for target in self.targets:
            current = out.get(target.source)
            out[target.source] = (
                target.slo_p95_ms if current is None else min(current, target.slo_p95_ms)
            )
        return out


def load_config(env: Environ | None = None, *, base_url: str = "") -> LatencyConfig:
    """Resolve the latency configuration; raises SettingsError when it is unusable."""
    env = os.environ if env is None else env
    raw = env_optional(env, CONFIG_VARIABLE)
    if raw is None:
        raise SettingsError(CONFIG_VARIABLE, "is required: inline JSON or a JSON file path")
    if raw.startswith("{"):
        text = raw
    else:
        try:
            text = Path(raw).read_text()
        except OSError as exc:
            raise SettingsError(CONFIG_VARIABLE, f"cannot read {raw!r}: {exc.strerror}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(CONFIG_VARIABLE, f"is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise SettingsError(CONFIG_VARIABLE, "must be a JSON object")
    return parse_config(
        document,
        webhook_secret=env_optional(env, SECRET_VARIABLE),
        webhook_url=env_optional(env, URL_VARIABLE),
        base_url=base_url,
    )


def parse_config(
    document: Mapping[str, Any],
    *,
    webhook_secret: str | None = None,
    webhook_url: str | None = None,
    base_url: str = "",
) -> LatencyConfig:
    """Validate a configuration document (see the module docstring)."""
    targets_doc = document.get("targets")
    if not isinstance(targets_doc, list) or not targets_doc:
        _fail("targets", "must be a non-empty list")
    targets = tuple(_target(i, item) for i, item in enumerate(targets_doc))
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        _fail("targets", "target names must be unique")
    url = webhook_url or _optional_str(document, "webhook_url")
    if url is not None:
        _check_url("webhook_url", url)
        if not webhook_secret:
            raise SettingsError(SECRET_VARIABLE, "is required when a webhook URL is configured")
    channels = document.get("notified_channels", ["webhook"])
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        _fail("notified_channels", "must be a list of strings")
    objective = _number(document, "slo_objective", 0.99)
    if not 0 < objective < 1:
        _fail("slo_objective", f"must be between 0 and 1 (exclusive), got {objective}")
    return LatencyConfig(
        targets=targets,
        webhook_url=url,
        webhook_secret=webhook_secret,
        notified_channels=tuple(channels),
        reminder_minutes=_int(document, "reminder_minutes", 60, minimum=0),
        interval_minutes=_int(document, "interval_minutes", 15, minimum=1),
        lock_ttl_seconds=_int(document, "lock_ttl_seconds", 600, minimum=1),
        raw_retention_days=_int(document, "raw_retention_days", 14, minimum=1),
        rollup_retention_days=_int(document, "rollup_retention_days", 90, minimum=1),
        rotation_bytes=_int(document, "rotation_bytes", DEFAULT_ROTATION_BYTES, minimum=1024),
        slo_objective=objective,
        webhook_max_retries=_int(document, "webhook_max_retries", 3, minimum=0),
        webhook_retry_wait_seconds=_number(document, "webhook_retry_wait_seconds", 1.0),
        evidence_base_url=str(document.get("evidence_base_url") or base_url).rstrip("/"),
    )


def _target(index: int, item: Any) -> Target:
    where = f"targets[{index}]"
    if not isinstance(item, dict):
        _fail(where, "must be an object")
    name = _optional_str(item, "name", where)
    if name is None or not _SOURCE.match(name):
        _fail(f"{where}.name", "is required: letters, digits, '_', '.', '-' (max 64)")
    url = _optional_str(item, "url", where)
    if url is None:
        _fail(f"{where}.url", "is required")
    _check_url(f"{where}.url", url)
    source = _optional_str(item, "source", where) or name
    if not _SOURCE.match(source):
        _fail(f"{where}.source", "use letters, digits, '_', '.', '-' (max 64)")
    method = (_optional_str(item, "method", where) or "GET").upper()
    if method not in _METHODS:
        _fail(f"{where}.method", f"must be one of {', '.join(sorted(_METHODS))}")
    if "slo_p95_ms" not in item:
        _fail(f"{where}.slo_p95_ms", "is required")
    threshold = _number(item, "slo_p95_ms", 0.0, where)
    if threshold <= 0:
        _fail(f"{where}.slo_p95_ms", "must be > 0")
    return Target(
        name=name,
        url=url,
        slo_p95_ms=threshold,
        source=source,
        method=method,
        expected_status=_int(item, "expected_status", 200, minimum=100, maximum=599, where=where),
        timeout_ms=_int(item, "timeout_ms", 2000, minimum=1, maximum=120_000, where=where),
        samples=_int(item, "samples", 5, minimum=1, maximum=1000, where=where),
    )


def _fail(field: str, problem: str) -> NoReturn:
    raise SettingsError(CONFIG_VARIABLE, f"{field} {problem}")


def _check_url(field: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        _fail(field, f"must be an http(s) URL, got {url!r}")


def _optional_str(doc: Mapping[str, Any], key: str, where: str = "") -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        _fail(f"{where}.{key}" if where else key, "must be a string")
    return value.strip() or None


def _int(
    doc: Mapping[str, Any],
    key: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    where: str = "",
) -> int:
    field = f"{where}.{key}" if where else key
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(field, f"must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        _fail(field, f"must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        _fail(field, f"must be <= {maximum}, got {value}")
    return int(value)


def _number(doc: Mapping[str, Any], key: str, default: float, where: str = "") -> float:
    field = f"{where}.{key}" if where else key
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(field, f"must be a number, got {value!r}")
    if value < 0:
        _fail(field, f"must be >= 0, got {value}")
    return float(value)
