"""Alert states: a metric beyond its threshold for long enough fires.

Each rule's state is ``ok``, ``pending`` (breaching, not yet for the whole
duration), ``firing`` or ``no_data``. When a breach started is kept in one
small object per rule (``ops/alerts/<rule>.json``), written only when a breach
starts or ends, so the duration survives restarts and is shared by instances.

Thresholds and durations come from the environment (defaults from the issue):

    OPS_ALERT_STALE_RATIO 0.25            OPS_ALERT_STALE_FOR_MIN 5
    OPS_ALERT_CALLBACK_FAILED_RATIO 0.10  OPS_ALERT_CALLBACK_FAILED_FOR_MIN 10
    OPS_ALERT_RETRY_SUCCESS_MIN 0.70      OPS_ALERT_RETRY_SUCCESS_FOR_MIN 30
    OPS_ALERT_SUCCESS_RATE_MIN 0.90       OPS_ALERT_SUCCESS_RATE_FOR_MIN 30
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.clock import isoformat, parse_iso
from shared.settings import Environ, env_float, env_int
from shared.storage import ObjectStore, PreconditionFailed

PREFIX = "ops/alerts/"


class AlertState(enum.StrEnum):
    OK = "ok"
    PENDING = "pending"
    FIRING = "firing"
    NO_DATA = "no_data"


class Direction(enum.StrEnum):
    ABOVE = "above"  # breaching when the value is greater than the threshold
    BELOW = "below"  # breaching when the value is less than the threshold


@dataclass(frozen=True)
class AlertRule:
    name: str
    metric: str
    direction: Direction
    threshold: float
    duration: timedelta

    def breached(self, value: float) -> bool:
        if self.direction is Direction.ABOVE:
            return value > self.threshold
        return value < self.threshold


@dataclass(frozen=True)
class AlertStatus:
    rule: AlertRule
    state: AlertState
    value: float | None
    breaching_since: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "metric": self.rule.metric,
            "value": self.value,
            "threshold": self.rule.threshold,
            "direction": self.rule.direction.value,
            "for_minutes": self.rule.duration.total_seconds() / 60,
            "breaching_since": isoformat(self.breaching_since) if self.breaching_since else None,
        }


def rules_from_env(env: Environ | None = None) -> tuple[AlertRule, ...]:
    """The four rules, with thresholds and durations from the environment."""
    env = os.environ if env is None else env

    def rule(name: str, metric: str, direction: Direction, *spec: Any) -> AlertRule:
        var, threshold, minutes = spec
        return AlertRule(
            name,
            metric,
            direction,
            env_float(env, var, threshold, minimum=0.0),
            timedelta(minutes=env_int(env, f"{_prefix(var)}_FOR_MIN", minutes, minimum=0)),
        )

    return (
        rule("heartbeat_stale", "heartbeat_stale_ratio", Direction.ABOVE,
             "OPS_ALERT_STALE_RATIO", 0.25, 5),
        rule("callback_failures", "callback_failed_ratio", Direction.ABOVE,
             "OPS_ALERT_CALLBACK_FAILED_RATIO", 0.10, 10),
        rule("retry_success", "retry_success_rate", Direction.BELOW,
             "OPS_ALERT_RETRY_SUCCESS_MIN", 0.70, 30),
        rule("run_success", "run_success_rate", Direction.BELOW,
             "OPS_ALERT_SUCCESS_RATE_MIN", 0.90, 30),
    )  # fmt: skip


def _prefix(var: str) -> str:
    # OPS_ALERT_STALE_RATIO -> OPS_ALERT_STALE; OPS_ALERT_RETRY_SUCCESS_MIN -> ..._RETRY_SUCCESS
    return var.rsplit("_", 1)[0]


def evaluate(
    store: ObjectStore,
    rules: tuple[AlertRule, ...],
    values: Mapping[str, float | None],
    now: datetime,
) -> list[AlertStatus]:
    """Judge ``values`` against ``rules``, keeping when each breach started."""
    return [_evaluate_one(store, rule, values.get(rule.metric), now) for rule in rules]


def _evaluate_one(
    store: ObjectStore, rule: AlertRule, value: float | None, now: datetime
) -> AlertStatus:
    name = f"{PREFIX}{rule.name}.json"
    stored = store.get_or_none(name)
    since_text = json.loads(stored.data).get("breaching_since") if stored else None
    since = parse_iso(since_text) if since_text else None
    breaching = value is not None and rule.breached(value)
    wanted_since = (since or now) if breaching else None
    if wanted_since != since:
        data = json.dumps(
            {"breaching_since": isoformat(wanted_since) if wanted_since else None}
        ).encode()
        try:
            if stored is None:
                store.put(name, data, if_absent=True)
            else:
                store.put(name, data, if_generation=stored.generation)
        except PreconditionFailed:
            pass  # another instance recorded the same transition a moment ago
    if value is None:
        return AlertStatus(rule, AlertState.NO_DATA, None, None)
    if wanted_since is None:
        return AlertStatus(rule, AlertState.OK, value, None)
    state = AlertState.FIRING if now - wanted_since >= rule.duration else AlertState.PENDING
    return AlertStatus(rule, state, value, wanted_since)
