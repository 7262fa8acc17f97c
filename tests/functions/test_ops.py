"""GET /ops/metrics (JSON and Prometheus text) and the alert state machine."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from functions_framework import create_app

from shared import runtime
from shared.callbacks import deadletters
from shared.callbacks.receiver import event_name
from shared.clock import utcnow
from shared.jobs.models import Attempt, AttemptOutcome, Lease, Run, RunStatus, new_run_id
from shared.jobs.store import RunStore
from shared.ops import alerts
from shared.storage.memory import MemoryStore

AUTH = {"Authorization": "Bearer ops-token"}


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("OPSPLANE_API_TOKENS", "ops=ops-token")
    return create_app("ops", "functions/main.py").test_client()


def add_run(status: RunStatus, *, attempts: int = 1, lease_s: float | None = None) -> None:
    now = utcnow()
    tries = tuple(
        Attempt(n, now, None if status is RunStatus.RUNNING and n == attempts else now,
                None if status is RunStatus.RUNNING and n == attempts else AttemptOutcome.FAILED)
        for n in range(1, attempts + 1)
    )  # fmt: skip
    lease = Lease("w", now + timedelta(seconds=lease_s)) if lease_s is not None else None
    run = Run(new_run_id(now), "noop", {}, "alice", status, now, now, attempts=tries, lease=lease)
    RunStore(runtime.store()).create(run)


@pytest.fixture
def populated() -> None:
    """Two RUNNING (one stale), three finished (two retried), one QUEUED; callbacks 1 of 4 lost."""
    add_run(RunStatus.RUNNING, lease_s=-30)
    add_run(RunStatus.RUNNING, lease_s=60)
    add_run(RunStatus.SUCCEEDED)
    add_run(RunStatus.SUCCEEDED, attempts=2)
    add_run(RunStatus.FAILED, attempts=3)
    add_run(RunStatus.QUEUED, attempts=0)
    store = runtime.store()
    for n in range(3):
        store.put(event_name(f"r.{n}"), b"{}")
    deadletters.write(
        store, {"eventId": "r.9", "runId": "r"}, url="u", attempts=5, error="e", status=503,
        now=utcnow(),
    )  # fmt: skip
    store.put("dlq/jobs/r.json", b"{}")


@pytest.mark.usefixtures("populated")
def test_json_metrics(client: Any, monkeypatch) -> None:
    """Ratios, queue stats, dead-letter counts and alert states, as JSON."""
    monkeypatch.setenv("OPS_ALERT_STALE_FOR_MIN", "0")
    body = client.get("/ops/metrics", headers=AUTH).json
    assert body["heartbeat_stale_ratio"] == 0.5
    assert body["run_success_rate"] == round(2 / 3, 4)
    assert body["retry_success_rate"] == 0.5
    assert body["callback_failed_ratio"] == 0.25
    assert body["queue"] == {"queued": 1, "running": 2, "waiting_approval": 0, "stale_running": 1}
    assert body["dead_letters"] == {"jobs": 1, "callbacks": 1}
    states = {name: alert["state"] for name, alert in body["alerts"].items()}
    # stale 0.5 > 0.25 with no duration: firing; callbacks 0.25 > 0.10 for 10 min: pending;
    # retry success 0.5 < 0.70: pending; run success 0.67 < 0.90: pending.
    assert states == {
        "heartbeat_stale": "firing",
        "callback_failures": "pending",
        "retry_success": "pending",
        "run_success": "pending",
    }


@pytest.mark.usefixtures("populated")
def test_prometheus_text_when_asked(client: Any) -> None:
    """Accept: text/plain gets the exposition format with the same figures."""
    response = client.get("/ops/metrics", headers={**AUTH, "Accept": "text/plain"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for line in response.get_data(as_text=True).splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    assert samples["opsplane_heartbeat_stale_ratio"] == 0.5
    assert samples["opsplane_callback_failed_ratio"] == 0.25
    assert samples['opsplane_runs{status="RUNNING"}'] == 2
    assert samples['opsplane_dead_letters{kind="callbacks"}'] == 1
    assert samples['opsplane_alert_state{alert="heartbeat_stale",state="pending"}'] == 1


def test_empty_store_reports_no_data(client: Any) -> None:
    """With nothing to divide by, ratios are null and alerts say no_data (not ok, not firing)."""
    body = client.get("/ops/metrics", headers=AUTH).json
    assert body["run_success_rate"] is None
    assert {alert["state"] for alert in body["alerts"].values()} == {"no_data"}
    text = client.get("/ops/metrics", headers={**AUTH, "Accept": "text/plain"}).get_data(
        as_text=True
    )
    assert "opsplane_run_success_rate NaN" in text


def test_metrics_need_credentials(client: Any) -> None:
    """No token: 401 with a JSON error."""
    response = client.get("/ops/metrics")
    assert response.status_code == 401
    assert response.json["error"] == "missing_credentials"


def test_a_bad_threshold_is_a_clear_500(client: Any, monkeypatch) -> None:
    """A malformed threshold is reported as misconfiguration, not a crash."""
    monkeypatch.setenv("OPS_ALERT_STALE_RATIO", "a lot")
    response = client.get("/ops/metrics", headers=AUTH)
    assert response.status_code == 500
    assert response.json["error"] == "misconfigured"


def test_alert_goes_pending_then_firing_then_ok() -> None:
    """A breach fires only after its duration, survives re-evaluation, and clears on recovery."""
    store = MemoryStore()
    rule = alerts.AlertRule(
        "run_success", "run_success_rate", alerts.Direction.BELOW, 0.9, timedelta(minutes=30)
    )
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def state_at(minutes: int, value: float | None) -> alerts.AlertState:
        moment = start + timedelta(minutes=minutes)
        return alerts.evaluate(store, (rule,), {"run_success_rate": value}, moment)[0].state

    assert state_at(0, 0.5) is alerts.AlertState.PENDING
    assert state_at(29, 0.5) is alerts.AlertState.PENDING
    assert state_at(30, 0.5) is alerts.AlertState.FIRING
    assert state_at(31, 0.95) is alerts.AlertState.OK
    assert state_at(32, 0.5) is alerts.AlertState.PENDING  # a new breach starts over
    assert json.loads(store.get("ops/alerts/run_success.json").data)["breaching_since"]


@pytest.mark.parametrize(
    ("env", "name", "threshold", "minutes"),
    [
        pytest.param({}, "heartbeat_stale", 0.25, 5, id="stale-default"),
        pytest.param({}, "callback_failures", 0.10, 10, id="callbacks-default"),
        pytest.param({}, "retry_success", 0.70, 30, id="retry-default"),
        pytest.param({}, "run_success", 0.90, 30, id="success-default"),
        pytest.param(
            {"OPS_ALERT_SUCCESS_RATE_MIN": "0.5", "OPS_ALERT_SUCCESS_RATE_FOR_MIN": "2"},
            "run_success", 0.5, 2, id="success-configured",
        ),
    ],
)  # fmt: skip
def test_rule_thresholds(env, name: str, threshold: float, minutes: int) -> None:
    """Defaults match the issue; each threshold and duration is configurable."""
    rule = {r.name: r for r in alerts.rules_from_env(env)}[name]
    assert (rule.threshold, rule.duration) == (threshold, timedelta(minutes=minutes))
