"""The schedule configuration: a JSON file validated by ``schema.json``.

``OPSPLANE_SCHEDULE_CONFIG`` names the file; without it the built-in defaults
apply (``enabled`` false: scheduling is opt-in). A file overrides the defaults
key by key, so a file that only says ``{"enabled": true}`` switches on the
default jobs; a file with ``jobs`` lists every job it wants, and a listed
default job inherits its default fields.

Every problem is reported with the dotted path of the key it concerns, e.g.
``jobs.daily_observability_report.cadence: 'hourly' is not one of ...``.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.redaction import redact_text

CONFIG_ENV = "OPSPLANE_SCHEDULE_CONFIG"
SCHEMA_PATH = Path(__file__).with_name("schema.json")
_DOW_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

DEFAULTS: dict[str, Any] = {
    "enabled": False,
    "timezone": "Asia/Tokyo",
    "stateLocation": "schedule",
    "dashboardIssue": None,
    "jobs": {
        "daily_observability_report": {"cadence": "daily", "at": "09:00"},
        "weekly_observability_report": {"cadence": "weekly", "dow": "mon", "at": "09:00"},
        "weekly_improvement_digest": {"cadence": "weekly", "dow": "mon", "at": "09:30"},
        "sweeper": {"cadence": "every", "everyMinutes": 5},
        "latency": {"cadence": "every", "everyMinutes": 15},
    },
    "redaction": {"patterns": [], "placeholder": "[REDACTED]"},
}


class ScheduleConfigError(ValueError):
    """The configuration is invalid; ``problems`` lists one message per key."""

    def __init__(self, problems: list[str], source: str = "schedule config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: " + "; ".join(problems))


class Cadence(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    EVERY = "every"


@dataclass(frozen=True)
class JobConfig:
    """One job's schedule: when it runs and where its results go."""

    name: str
    cadence: Cadence
    enabled: bool = True
    at: time = time(0, 0)
    dow: int = 1  # ISO weekday, 1 = Monday
    every_minutes: int = 0
    post_to_issue: bool = False
    webhook: str | None = None

    def describe(self) -> str:
        """``daily at 09:00``, ``weekly on mon at 09:00``, ``every 15 min``."""
        if self.cadence is Cadence.EVERY:
            return f"every {self.every_minutes} min"
        if self.cadence is Cadence.WEEKLY:
            return f"weekly on {_DOW_NAMES[self.dow - 1]} at {self.at:%H:%M}"
        return f"daily at {self.at:%H:%M}"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"enabled": self.enabled, "cadence": self.cadence.value}
        if self.cadence is Cadence.EVERY:
            data["everyMinutes"] = self.every_minutes
        else:
            data["at"] = f"{self.at:%H:%M}"
        if self.cadence is Cadence.WEEKLY:
            data["dow"] = _DOW_NAMES[self.dow - 1]
        data["postToIssue"] = self.post_to_issue
        data["webhook"] = redact_text(self.webhook) if self.webhook else None
        return data


@dataclass(frozen=True)
class ScheduleConfig:
    """The whole schedule, validated."""

    enabled: bool
    timezone: str
    state_location: str
    dashboard_issue: int | None
    jobs: Mapping[str, JobConfig]
    redaction_patterns: tuple[re.Pattern[str], ...] = ()
    redaction_placeholder: str = "[REDACTED]"
    source: str = "defaults"
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", ZoneInfo(self.timezone))

    def redact(self, text: str) -> str:
        """The shared redactor, then this configuration's own patterns."""
        text = redact_text(text)
        for pattern in self.redaction_patterns:
            text = pattern.sub(self.redaction_placeholder, text)
        return text

    def state_prefix(self) -> str:
        """The object prefix job state and markers live under, ending in '/'."""
        return self.state_location.rstrip("/") + "/"


@functools.cache
def _validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _schema_problems(data: Any) -> list[str]:
    problems = []
    for error in _validator().iter_errors(data):
        where = _path(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = set(error.schema.get("properties", {}))
            for key in sorted(set(error.instance) - allowed):
                known = ", ".join(sorted(allowed))
                prefix = "" if where == "(top level)" else f"{where}."
                problems.append(f"{prefix}{key}: unknown key (known keys: {known})")
        elif "propertyNames" in error.absolute_schema_path:
            problems.append(
                f"{where}.{error.instance}: invalid job name; "
                "use lowercase letters, digits and '_', starting with a letter"
            )
        elif error.validator == "oneOf" and error.absolute_path and error.path[-1] == "dow":
            problems.append(f"{where}: {error.instance!r} is not mon..sun or 1..7")
        elif error.validator == "pattern" and where.endswith(".at"):
            problems.append(f"{where}: {error.instance!r} is not a time HH:MM (00:00-23:59)")
        else:
            problems.append(f"{where}: {error.message}")
    return sorted(set(problems))


def _merge(defaults: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Override the defaults key by key; a ``jobs`` given replaces the default set.

    A job named like a default job inherits that job's fields unless it changes
    the cadence, so ``{"jobs": {"sweeper": {"everyMinutes": 10}}}`` is enough.
    """
    merged = copy.deepcopy(dict(defaults))
    for key, value in override.items():
        if key == "jobs" and isinstance(value, dict):
            default_jobs = defaults.get("jobs", {})
            jobs = {}
            for name, job in value.items():
                base = copy.deepcopy(default_jobs.get(name, {}))
                if "cadence" in job and job["cadence"] != base.get("cadence"):
                    base = {}  # a new cadence does not inherit the old one's fields
                jobs[name] = {**base, **job}
            merged["jobs"] = jobs
        elif key == "redaction" and isinstance(value, dict):
            merged["redaction"] = {**merged.get("redaction", {}), **value}
        else:
            merged[key] = value
    return merged


def _job(name: str, raw: Mapping[str, Any], problems: list[str]) -> JobConfig | None:
    where = f"jobs.{name}"
    if "cadence" not in raw:
        problems.append(f"{where}.cadence: required (daily, weekly or every)")
        return None
    cadence = Cadence(raw["cadence"])
    if cadence is Cadence.EVERY:
        if "everyMinutes" not in raw:
            problems.append(f"{where}.everyMinutes: required when cadence is 'every'")
        for key in ("at", "dow"):
            if key in raw:
                problems.append(f"{where}.{key}: not used when cadence is 'every'")
    else:
        if "everyMinutes" in raw:
            problems.append(f"{where}.everyMinutes: only used when cadence is 'every'")
        if cadence is Cadence.DAILY and "dow" in raw:
            problems.append(f"{where}.dow: only used when cadence is 'weekly'")
    hours, minutes = (int(x) for x in str(raw.get("at", "00:00")).split(":"))
    dow = raw.get("dow", 1)
    return JobConfig(
        name=name,
        cadence=cadence,
        enabled=bool(raw.get("enabled", True)),
        at=time(hours, minutes),
        dow=_DOW_NAMES.index(dow) + 1 if isinstance(dow, str) else int(dow),
        every_minutes=int(raw.get("everyMinutes", 0)),
        post_to_issue=bool(raw.get("postToIssue", False)),
        webhook=raw.get("webhook"),
    )


def parse_config(data: Any, *, source: str = "schedule config") -> ScheduleConfig:
    """Validate a configuration document (merged over the defaults)."""
    if not isinstance(data, dict):
        raise ScheduleConfigError(["(top level): must be a JSON object"], source)
    problems = _schema_problems(data)
    if problems:
        raise ScheduleConfigError(problems, source)
    merged = _merge(DEFAULTS, data)
    timezone = merged["timezone"]
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"timezone: {timezone!r} is not an IANA time zone (e.g. Asia/Tokyo)")
    patterns = []
    for index, text in enumerate(merged["redaction"].get("patterns", [])):
        try:
            patterns.append(re.compile(text))
        except re.error as exc:
            problems.append(f"redaction.patterns[{index}]: not a valid regular expression: {exc}")
    jobs = {}
    for name, raw in sorted(merged["jobs"].items()):
        job = _job(name, raw, problems)
        if job is not None:
            jobs[name] = job
    if problems:
        raise ScheduleConfigError(problems, source)
    return ScheduleConfig(
        enabled=bool(merged["enabled"]),
        timezone=timezone,
        state_location=merged["stateLocation"].rstrip("/"),
        dashboard_issue=merged["dashboardIssue"],
        jobs=jobs,
        redaction_patterns=tuple(patterns),
        redaction_placeholder=merged["redaction"].get("placeholder", "[REDACTED]"),
        source=source,
    )


def load_config(env: Mapping[str, str] | None = None) -> ScheduleConfig:
    """The configuration named by ``OPSPLANE_SCHEDULE_CONFIG``, else the defaults."""
    environ = os.environ if env is None else env
    location = environ.get(CONFIG_ENV, "").strip()
    if not location:
        return parse_config({}, source="defaults")
    path = Path(location)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScheduleConfigError(
            [f"cannot read the file: {exc.strerror or exc}"], f"{CONFIG_ENV}={location}"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScheduleConfigError(
            [f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"],
            f"{CONFIG_ENV}={location}",
        ) from None
    return parse_config(data, source=f"{CONFIG_ENV}={location}")
