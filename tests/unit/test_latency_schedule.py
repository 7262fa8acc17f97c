"""The latency job under the schedule runner: registered, recorded once, opt-in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.runlog import RunLog, RunStatus
from shared.schedule.config import parse_config
from shared.schedule.registry import registered_jobs
from shared.schedule.runner import ScheduleRunner
from shared.storage.memory import MemoryStore
from tests.latency_servers import scripted_target

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def runner(store: MemoryStore, now: list[datetime]) -> ScheduleRunner:
    config = parse_config(
        {
            "enabled": True,
            "timezone": "UTC",
            "jobs": {"latency": {"cadence": "every", "everyMinutes": 15}},
        }
    )
    return ScheduleRunner(store, config, clock=lambda: now[0])


def test_the_latency_job_is_registered() -> None:
    """Importing the schedule's job modules registers ``latency``."""
    assert "latency" in registered_jobs()


def test_each_due_period_samples_once_with_one_run_log_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two 15-minute periods → two samplings, two records (the runner's, not doubled)."""
    store = MemoryStore()
    now = [START]
    with scripted_target(default_ms=1) as target:
        probe = {"name": "web", "url": target.url, "slo_p95_ms": 100, "samples": 2}
        monkeypatch.setenv("OPSPLANE_LATENCY_CONFIG", json.dumps({"targets": [probe]}))
        schedule = runner(store, now)
        (first,) = schedule.run_once(now[0])
        assert schedule.run_once(now[0]) == []  # same period: not due again
        now[0] += timedelta(minutes=15)
        (second,) = schedule.run_once(now[0])
    assert target.hits == 4
    assert (first.status.value, second.status.value) == ("ok", "ok")
    assert first.details["samples_written"] == 2
    records = list(RunLog(store).read(job="latency"))
    assert [r.status for r in records] == [RunStatus.OK, RunStatus.OK]
    assert records[0].artefacts["heartbeat"] == "latency/heartbeat.json"


def test_without_latency_configuration_the_job_is_skipped() -> None:
    """Latency sampling is opt-in: no targets configured → skipped, not failed."""
    store = MemoryStore()
    now = [START]
    (outcome,) = runner(store, now).run_once(now[0])
    assert outcome.status.value == "skipped"
    (record,) = RunLog(store).read(job="latency")
    assert record.status is RunStatus.SKIPPED
