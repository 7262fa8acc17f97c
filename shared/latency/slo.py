"""SLO evaluation per source: consecutive breaching runs and burn rates.

Two independent signals, each alerting once per state change:

* **Consecutive runs.** A run breaches when its p95 exceeds the source's
  threshold (or every request failed). 2 breaching runs in a row → warning,
  3 → critical; the first run that does not breach → resolved. While a
  warning or critical state lasts, a reminder is sent every
  ``reminder_minutes`` (0 turns reminders off).
* **Multi-window, multi-burn-rate** on an objective over 30 days (Google SRE
  workbook, chapter 5). A bad event is an error sample or a latency above the
  threshold; the burn rate of a window is its bad fraction divided by the
  error budget ``1 - objective``. Page when 1 h and 5 m both burn faster than
  14.4x, or 6 h and 30 m faster than 6x; open a ticket when 1 d and 2 h burn
  faster than 3x, or 3 d and 6 h faster than 1x. With a run every 15 minutes
  the 5 m window holds the latest run only, so a run whose requests all fail
  pages as soon as the 1 h window agrees (a quarter of its requests bad).

State lives in ``latency/slo/<source>.json`` and is updated by compare-and-swap,
with the per-run counts of the last 3 days that the burn windows need.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.clock import isoformat, parse_iso
from shared.storage import ObjectStore
from shared.storage.errors import PreconditionFailed

SLO_PREFIX = "latency/slo/"
_MAX_ROUNDS = 10


class SloState(StrEnum):
    """The consecutive-breach state of a source."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"


class BurnLevel(StrEnum):
    """The highest burn-rate alert currently firing."""

    NONE = "none"
    TICKET = "ticket"
    PAGE = "page"


_BURN_RANK = {BurnLevel.NONE: 0, BurnLevel.TICKET: 1, BurnLevel.PAGE: 2}


@dataclass(frozen=True)
class BurnRule:
    """Both windows must burn faster than ``factor`` for the rule to fire."""

    long: timedelta
    short: timedelta
    factor: float
    level: BurnLevel


BURN_RULES: tuple[BurnRule, ...] = (
    BurnRule(timedelta(hours=1), timedelta(minutes=5), 14.4, BurnLevel.PAGE),
    BurnRule(timedelta(hours=6), timedelta(minutes=30), 6.0, BurnLevel.PAGE),
    BurnRule(timedelta(days=1), timedelta(hours=2), 3.0, BurnLevel.TICKET),
    BurnRule(timedelta(days=3), timedelta(hours=6), 1.0, BurnLevel.TICKET),
)
HISTORY_SPAN = max(rule.long for rule in BURN_RULES)


@dataclass(frozen=True)
class RunObservation:
    """What one run saw for one source."""

    at: datetime
    total: int
    errors: int
    bad: int  # errors plus latencies above the threshold
    p95_ms: float | None
    threshold_ms: float

    @property
    def breached(self) -> bool:
        if self.p95_ms is None:
            return self.total > 0
        return self.p95_ms > self.threshold_ms


@dataclass(frozen=True)
class AlertEvent:
    """A state change (or reminder) that must be sent to the operators."""

    source: str
    kind: str  # "consecutive" or "burn_rate"
    state: str  # warning | critical | resolved | page | ticket
    severity: str  # warning | critical | info | page | ticket
    message: str
    evidence: Mapping[str, Any]
    reminder: bool = False


@dataclass(frozen=True)
class SourceSlo:
    """The stored SLO state of one source."""

    source: str
    state: SloState = SloState.OK
    consecutive_breaches: int = 0
    last_alert_at: datetime | None = None
    last_breach_at: datetime | None = None
    burn_level: BurnLevel = BurnLevel.NONE
    burn_alert_at: datetime | None = None
    history: tuple[tuple[datetime, int, int], ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "state": self.state.value,
            "consecutive_breaches": self.consecutive_breaches,
            "last_alert_at": _iso(self.last_alert_at),
            "last_breach_at": _iso(self.last_breach_at),
            "burn_level": self.burn_level.value,
            "burn_alert_at": _iso(self.burn_alert_at),
            "history": [[isoformat(at), total, bad] for at, total, bad in self.history],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SourceSlo:
        return cls(
            source=str(data["source"]),
            state=SloState(data.get("state", "ok")),
            consecutive_breaches=int(data.get("consecutive_breaches", 0)),
            last_alert_at=_parse(data.get("last_alert_at")),
            last_breach_at=_parse(data.get("last_breach_at")),
            burn_level=BurnLevel(data.get("burn_level", "none")),
            burn_alert_at=_parse(data.get("burn_alert_at")),
            history=tuple(
                (parse_iso(str(at)), int(total), int(bad))
                for at, total, bad in data.get("history", [])
            ),
        )


def burn_rate(
    history: tuple[tuple[datetime, int, int], ...],
    now: datetime,
    window: timedelta,
    objective: float,
) -> float:
    """Bad fraction of the runs inside ``(now - window, now]`` over the error budget."""
    total = bad = 0
    for at, run_total, run_bad in history:
        if now - window < at <= now:
            total += run_total
            bad += run_bad
    if total == 0:
        return 0.0
    return (bad / total) / (1 - objective)


def evaluate(
    current: SourceSlo,
    observation: RunObservation,
    *,
    objective: float,
    reminder: timedelta | None,
) -> tuple[SourceSlo, list[AlertEvent]]:
    """The next state of a source after one run, and the alerts it calls for."""
    now = observation.at
    alerts: list[AlertEvent] = []
    streak = current.consecutive_breaches + 1 if observation.breached else 0
    if streak >= 3:
        state = SloState.CRITICAL
    elif streak == 2:
        state = SloState.WARNING
    else:
        # A calm run, or a first breach after one: a warning needs two in a row.
        state = SloState.OK
    evidence = {
        "consecutive_breaches": streak,
        "p95_ms": observation.p95_ms,
        "threshold_ms": observation.threshold_ms,
        "samples": observation.total,
        "errors": observation.errors,
    }
    last_alert_at = current.last_alert_at
    if state is not current.state:
        alerts.append(_consecutive_alert(current.source, state, evidence, streak))
        last_alert_at = now
    elif state is not SloState.OK and _due(last_alert_at, now, reminder):
        alerts.append(_consecutive_alert(current.source, state, evidence, streak, reminder=True))
        last_alert_at = now
    recent = tuple(entry for entry in current.history if entry[0] > now - HISTORY_SPAN)
    history = (*recent, (now, observation.total, observation.bad))
    rates = {
        _window_label(window): round(burn_rate(history, now, window, objective), 3)
        for window in sorted({w for rule in BURN_RULES for w in (rule.long, rule.short)})
    }
    level = BurnLevel.NONE
    for rule in BURN_RULES:
        if (
            rates[_window_label(rule.long)] > rule.factor
            and rates[_window_label(rule.short)] > rule.factor
            and _BURN_RANK[rule.level] > _BURN_RANK[level]
        ):
            level = rule.level
    burn_alert_at = current.burn_alert_at
    burn_evidence = {"objective": objective, "burn_rates": rates}
    if level is not current.burn_level:
        alerts.append(_burn_alert(current.source, level, burn_evidence))
        burn_alert_at = now
    elif level is not BurnLevel.NONE and _due(burn_alert_at, now, reminder):
        alerts.append(_burn_alert(current.source, level, burn_evidence, reminder=True))
        burn_alert_at = now
    updated = replace(
        current,
        state=state,
        consecutive_breaches=streak,
        last_alert_at=last_alert_at,
        last_breach_at=now if observation.breached else current.last_breach_at,
        burn_level=level,
        burn_alert_at=burn_alert_at,
        history=history,
    )
    return updated, alerts


def _due(last: datetime | None, now: datetime, reminder: timedelta | None) -> bool:
    return reminder is not None and last is not None and now - last >= reminder


def _consecutive_alert(
    source: str,
    state: SloState,
    evidence: Mapping[str, Any],
    streak: int,
    *,
    reminder: bool = False,
) -> AlertEvent:
    if state is SloState.OK:
        return AlertEvent(
            source,
            "consecutive",
            "resolved",
            "info",
            f"{source}: p95 latency is back within its threshold",
            evidence,
        )
    prefix = "still " if reminder else ""
    return AlertEvent(
        source,
        "consecutive",
        state.value,
        state.value,
        f"{source}: {prefix}{streak} consecutive runs with p95 latency "
        f"{evidence['p95_ms']} ms over the {evidence['threshold_ms']} ms threshold",
        evidence,
        reminder,
    )


def _burn_alert(
    source: str, level: BurnLevel, evidence: Mapping[str, Any], *, reminder: bool = False
) -> AlertEvent:
    if level is BurnLevel.NONE:
        return AlertEvent(
            source,
            "burn_rate",
            "resolved",
            "info",
            f"{source}: error budget burn rate is back under every alerting threshold",
            evidence,
        )
    action = "page" if level is BurnLevel.PAGE else "ticket"
    return AlertEvent(
        source,
        "burn_rate",
        level.value,
        level.value,
        f"{source}: latency SLO error budget burning fast enough to {action} "
        f"(objective {evidence['objective']})",
        evidence,
        reminder,
    )


def _window_label(window: timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def _iso(moment: datetime | None) -> str | None:
    return isoformat(moment) if moment is not None else None


def _parse(value: Any) -> datetime | None:
    return parse_iso(str(value)) if value else None


def slo_name(source: str) -> str:
    return f"{SLO_PREFIX}{source}.json"


def load(store: ObjectStore, source: str) -> SourceSlo:
    """The stored state of a source (a fresh OK state when there is none)."""
    current = store.get_or_none(slo_name(source))
    if current is None:
        return SourceSlo(source)
    return SourceSlo.from_json(json.loads(current.data))


def record_run(
    store: ObjectStore,
    source: str,
    observation: RunObservation,
    *,
    objective: float,
    reminder: timedelta | None,
) -> tuple[SourceSlo, list[AlertEvent]]:
    """Evaluate one run and store the new state by compare-and-swap."""
    name = slo_name(source)
    for _ in range(_MAX_ROUNDS):
        stored = store.get_or_none(name)
        current = (
            SourceSlo(source) if stored is None else SourceSlo.from_json(json.loads(stored.data))
        )
        updated, alerts = evaluate(current, observation, objective=objective, reminder=reminder)
        body = json.dumps(updated.to_json(), sort_keys=True).encode()
        try:
            if stored is None:
                store.put(name, body, if_absent=True)
            else:
                store.put(name, body, if_generation=stored.generation)
        except PreconditionFailed:
            continue
        return updated, alerts
    raise PreconditionFailed(f"{name}: too many concurrent writers")


def all_sources(store: ObjectStore) -> list[SourceSlo]:
    """The stored SLO state of every source, by name (what reports show)."""
    out: list[SourceSlo] = []
    for info in store.list(SLO_PREFIX):
        stored = store.get_or_none(info.name)
        if stored is None:
            continue
        try:
            out.append(SourceSlo.from_json(json.loads(stored.data)))
        except (ValueError, KeyError, TypeError):
            continue  # one damaged state must not hide the others
    return out
