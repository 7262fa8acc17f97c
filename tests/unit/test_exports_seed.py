"""Seeding for the export and dashboard tests: known runs, dead letters, rollups and SLOs.

Runs go through the real RunStore (the report tests' seeder); dead letters,
rollups and SLO states are written in the shapes their own modules write.
``Seeded`` keeps the expected figures, computed here without the exports code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shared.clock import isoformat
from shared.latency.rollup import rollup_name, summarize
from shared.latency.slo import SloState, SourceSlo, slo_name
from shared.storage import ObjectStore
from tests.unit.test_reports_seed import ManualClock, Seeder

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


@dataclass
class Expected:
    """What the page and datasets must show for the seeded store."""

    # day -> (succeeded, failed) over every job type
    per_day: dict[str, tuple[int, int]] = field(default_factory=dict)
    # (day, job_type) -> durations in ms of finished runs
    durations: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    open_letters: dict[str, int] = field(default_factory=dict)
    p95_ms: dict[tuple[str, str], float] = field(default_factory=dict)  # (source, hour)
    slo_states: dict[str, str] = field(default_factory=dict)


def seed(store: ObjectStore, now: datetime = NOW) -> Expected:
    """Runs over two days, three dead letters, two latency sources with SLO states."""
    expected = Expected()
    seeder = Seeder(store, ManualClock(now))
    # Two whole days before ``now``'s day, so no seeded run lies in the future.
    yesterday = now - timedelta(days=2)
    today = now - timedelta(days=1)
    plan = [
        # (created at, job type, attempts)
        (yesterday.replace(hour=9), "backup", [(2.0, None)]),
        (yesterday.replace(hour=9, minute=5), "backup", [(4.0, None)]),
        (yesterday.replace(hour=10), "backup", [(1.0, "disk_full")]),
        (yesterday.replace(hour=11), "report", [(3.0, None)]),
        (today.replace(hour=8), "backup", [(2.5, None)]),
        (today.replace(hour=8, minute=10), "backup", [(1.0, "timeout"), (1.5, "timeout")]),
        (today.replace(hour=9), "backup", [(1.0, "timeout"), (1.0, "timeout")]),
        (today.replace(hour=9, minute=30), "report", [(6.0, None)]),
    ]
    for at, job_type, attempts in plan:
        played = seeder.play(job_type, at, attempts)
        day = at.date().isoformat()
        ok, failed = expected.per_day.get(day, (0, 0))
        if played.code is None:
            ok += 1
        else:
            failed += 1
        expected.per_day[day] = (ok, failed)
        assert played.duration_ms is not None
        expected.durations.setdefault((day, job_type), []).append(played.duration_ms)

    letters = [("backup", "open"), ("backup", "open"), ("report", "resolved")]
    for index, (job_type, status) in enumerate(letters):
        body = json.dumps({"run_id": f"seed-{index}", "job_type": job_type, "status": status})
        store.put(
            f"dlq/jobs/seed-{index}.json",
            body.encode(),
            metadata={"job_type": job_type, "status": status},
        )
        if status == "open":
            expected.open_letters[job_type] = expected.open_letters.get(job_type, 0) + 1

    sources = {"api": ([120.0, 180.0, 240.0, 900.0], 500.0), "web": ([40.0, 60.0, 75.0], 200.0)}
    for offset in (3, 2, 1):
        hour = (now - timedelta(hours=offset)).replace(minute=0, second=0, microsecond=0)
        for source, (values, threshold) in sources.items():
            scaled = [v * (1 + offset / 10) for v in values]
            rollup = summarize(source, hour, scaled, 0, threshold_ms=threshold, generated_at=now)
            store.put(rollup_name(source, hour), json.dumps(rollup.to_json()).encode())
            assert rollup.p95_ms is not None
            expected.p95_ms[(source, isoformat(hour))] = rollup.p95_ms
    states = {"api": SloState.CRITICAL, "web": SloState.OK}
    for source, state in states.items():
        slo = SourceSlo(source, state=state, consecutive_breaches=3 if state != "ok" else 0)
        store.put(slo_name(source), json.dumps(slo.to_json()).encode())
        expected.slo_states[source] = state.value
    return expected
