"""Reports over a seeded store: counts, rates, percentiles, sections and both locales."""

from __future__ import annotations

import json
import random
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.jobs.deadletters import write_dead_letter
from shared.jobs.settings import WorkerSettings
from shared.jobs.store import RunStore
from shared.reports import make_report
from shared.reports.compact import compact_hour, hour_object_name
from shared.reports.i18n import LABELS, Locale
from shared.reports.render_json import validate_payload
from shared.storage import ObjectStore
from shared.storage.counting import CountingStore
from shared.storage.memory import MemoryStore
from tests.unit.test_reports_seed import ManualClock, Seeded, Seeder, nearest_rank

NOW = datetime(2026, 11, 25, 0, 20, tzinfo=UTC)  # 09:20 in Tokyo
PERIOD_END = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
PERIOD_START = PERIOD_END - timedelta(days=1)
JA_LABELS = ["Job実行状態", "キュー待ち", "実行中", "承認待ち", "成功", "失敗", "DLQ"]
JA_LABELS += ["バックプレッシャー", "キュー使用率", "主な失敗理由"]


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def seeder(store: MemoryStore) -> Seeder:
    return Seeder(store, ManualClock(PERIOD_START))


MESSAGES = {
    "timeout": "GET https://api.example.com/v1/items timed out after 30s",
    "temporary_failure": "POST https://hooks.example.com answered 503: upstream down",
    "auth": "401 from https://api.example.com token=ghp_R4nd0mT0kenV4lu3xYz9QwErTyUiOp123456",
}


def seed_day(seeder: Seeder, rng: random.Random, count: int = 120) -> None:
    """A mixed day inside the period, plus runs just outside it on both sides."""
    job_types = ["http", "report.build", "sleep"]
    for _ in range(count):
        at = PERIOD_START + timedelta(seconds=rng.randrange(0, 86_400 - 600))
        job = rng.choice(job_types)
        roll = rng.random()
        if roll < 0.55:
            attempts: list[tuple[float, str | None]] = [(rng.uniform(0.05, 4.0), None)]
        elif roll < 0.7:
            attempts = [(rng.uniform(0.1, 2), "temporary_failure"), (rng.uniform(0.1, 2), None)]
        else:
            code = rng.choice(list(MESSAGES))
            attempts = [(rng.uniform(0.1, 3), code)] * rng.randint(1, 3)
            seeder.play(job, at, attempts, message=MESSAGES[code])
            continue
        seeder.play(job, at, attempts)
    # Outside the period: an hour before it, and in the open hour after it.
    seeder.play("http", PERIOD_START - timedelta(minutes=30), [(1.0, "timeout")])
    seeder.play("http", PERIOD_END + timedelta(minutes=5), [(1.0, None)])


def in_period(seeded: list[Seeded]) -> list[Seeded]:
    return [s for s in seeded if PERIOD_START <= s.created_at < PERIOD_END]


def expected_totals(runs: list[Seeded]) -> dict[str, Any]:
    succeeded = sum(s.status.value == "SUCCEEDED" for s in runs)
    failed = sum(s.status.value == "FAILED" for s in runs)
    return {
        "total": len(runs),
        "succeeded": succeeded,
        "failed": failed,
        "retried": sum(s.attempts > 1 for s in runs),
        "recovered": sum(s.attempts > 1 and s.status.value == "SUCCEEDED" for s in runs),
        "success_rate": round(succeeded / (succeeded + failed), 4),
    }


def assert_close_above(estimate: float | None, exact: float) -> None:
    # Fixed log-spaced buckets: the estimate is the bucket's top, at most 4 % above.
    assert estimate is not None
    assert exact - 0.1 <= estimate <= exact * 1.04 + 0.1


@pytest.mark.parametrize("locale", [pytest.param("en", id="en"), pytest.param("ja", id="ja")])
def test_daily_report_matches_independent_counts(
    store: MemoryStore, seeder: Seeder, locale: str
) -> None:
    """Totals, per-job rows, p50/p95 and top reasons equal what the test computes itself."""
    seed_day(seeder, random.Random(11))
    bundle = make_report(store, "daily", NOW, locale=locale, timezone="Asia/Tokyo")
    payload = bundle.payload
    validate_payload(payload)
    runs = in_period(seeder.seeded)
    assert {k: payload["runs"][k] for k in expected_totals(runs)} == expected_totals(runs)
    assert (payload["period_start"], payload["period_end"]) == (
        "2026-11-24T00:00:00Z",
        "2026-11-25T00:00:00Z",
    )
    rows = {row["job_type"]: row for row in payload["runs"]["by_job_type"]}
    assert set(rows) == {s.job_type for s in runs}
    for job_type, row in rows.items():
        mine = [s for s in runs if s.job_type == job_type]
        ok = sum(s.status.value == "SUCCEEDED" for s in mine)
        bad = sum(s.status.value == "FAILED" for s in mine)
        assert (row["runs"], row["succeeded"], row["failed"]) == (len(mine), ok, bad)
        assert row["failure_rate"] == round(bad / (ok + bad), 4)
        durations = [s.duration_ms for s in mine if s.duration_ms is not None]
        assert_close_above(row["p50_ms"], nearest_rank(durations, 50))
        assert_close_above(row["p95_ms"], nearest_rank(durations, 95))
    codes = Counter(s.code for s in runs if s.code)
    reasons = payload["runs"]["top_failure_reasons"]
    assert {r["code"]: r["count"] for r in reasons} == dict(codes)
    markdown = bundle.markdown
    for row in payload["runs"]["by_job_type"]:
        line = next(x for x in markdown.splitlines() if x.startswith(f"| {row['job_type']} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1:4] == [str(row["runs"]), str(row["succeeded"]), str(row["failed"])]
    label = LABELS[Locale(locale)]
    assert f"## {label['top_failure_reasons']}" in markdown
    assert f"## {label['job_status']}" in markdown
    if locale == "ja":
        for text in JA_LABELS:
            assert text in markdown


def test_failure_reasons_are_redacted_everywhere(store: MemoryStore, seeder: Seeder) -> None:
    """A token in an error message reaches neither Markdown, JSON nor the stored summary."""
    at = PERIOD_START + timedelta(hours=2)
    seeder.play("http", at, [(0.5, "auth")], message=MESSAGES["auth"])
    bundle = make_report(store, "daily", NOW)
    secret = "ghp_R4nd0mT0kenV4lu3xYz9QwErTyUiOp123456"
    summary = store.get(hour_object_name(at)).data.decode()
    for text in (bundle.markdown, json.dumps(bundle.payload), summary):
        assert secret not in text
    assert bundle.payload["runs"]["top_failure_reasons"][0]["count"] == 1


def test_job_status_section_counts_present_state(store: MemoryStore, seeder: Seeder) -> None:
    """Queued, waiting approval, dead letters and utilization come from the present state."""
    for minute in range(3):
        seeder.queued("http", PERIOD_END - timedelta(minutes=50 - minute))
    seeder.waiting("deploy", PERIOD_START + timedelta(hours=1))
    failed = seeder.play("http", PERIOD_START + timedelta(hours=3), [(1.0, "timeout")])
    write_dead_letter(store, RunStore(store).get(failed.run_id).run, seeder.clock)
    settings = WorkerSettings(max_queue_size=10)
    bundle = make_report(store, "daily", NOW, settings=settings)
    status = bundle.payload["job_status"]
    assert status == {
        "queued": 3,
        "running": 0,
        "waiting_approval": 1,
        "succeeded": 0,
        "failed": 1,
        "dead_letters": 1,
        "callback_dead_letters": 0,
        "backpressure": "normal",
        "queue_utilization_pct": 30.0,
    }
    assert bundle.payload["recommendations"] == ["run_triage"]


def _with_dead_letter(store: ObjectStore, seeder: Seeder) -> None:
    failed = seeder.play("http", PERIOD_START + timedelta(hours=1), [(1.0, "timeout")])
    write_dead_letter(store, RunStore(store).get(failed.run_id).run, seeder.clock)


def _with_full_queue(store: ObjectStore, seeder: Seeder) -> None:
    for minute in range(4):
        seeder.queued("http", PERIOD_START + timedelta(minutes=minute))


def _with_approvals(store: ObjectStore, seeder: Seeder) -> None:
    for minute in range(5):
        seeder.waiting("deploy", PERIOD_START + timedelta(minutes=minute))


def _with_callback_letter(store: ObjectStore, seeder: Seeder) -> None:
    store.put("dlq/callbacks/evt-1.json", b"{}", metadata={"status": "open"})


@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        pytest.param(lambda store, seeder: None, [], id="healthy-none"),
        pytest.param(_with_dead_letter, ["run_triage"], id="dead-letters"),
        pytest.param(_with_full_queue, ["check_capacity"], id="backpressure"),
        pytest.param(_with_approvals, ["check_approvals"], id="many-approvals"),
        pytest.param(_with_callback_letter, ["check_callback_receiver"], id="callbacks"),
    ],
)
def test_recommendations_only_when_they_apply(
    store: MemoryStore, seeder: Seeder, seed: Any, expected: list[str]
) -> None:
    """Each recommendation appears exactly when its condition holds, in both locales."""
    seed(store, seeder)
    settings = WorkerSettings(max_queue_size=4)
    for locale in ("en", "ja"):
        bundle = make_report(store, "daily", NOW, locale=locale, settings=settings)
        assert bundle.payload["recommendations"] == expected
        heading = f"## {LABELS[Locale(locale)]['recommendations']}"
        assert (heading in bundle.markdown) is bool(expected)


def test_breakers_and_slo_states_are_reported(store: MemoryStore) -> None:
    """An open breaker and a critical SLO appear as sections and alerts."""
    from shared.jobs.breaker import BreakerRecord, BreakerState, breaker_object_name
    from shared.latency.slo import SloState, SourceSlo, slo_name

    store.put(
        breaker_object_name("api.example.com"),
        BreakerRecord(BreakerState.OPEN, failures=5, opened_at=NOW).to_json(),
    )
    slo = SourceSlo("checkout", state=SloState.CRITICAL, consecutive_breaches=4)
    store.put(slo_name("checkout"), json.dumps(slo.to_json()).encode())
    payload = make_report(store, "daily", NOW).payload
    assert payload["breakers"] == [
        {"downstream": "api.example.com", "state": "open", "failures": 5}
    ]
    assert payload["latency"]["slo"][0]["state"] == "critical"
    assert {(a["kind"], a["severity"]) for a in payload["alerts"]} == {
        ("breaker", "critical"),
        ("slo", "critical"),
    }


def test_second_report_reads_summaries_not_runs(store: MemoryStore, seeder: Seeder) -> None:
    """The first report compacts each closed hour once; the next reads only summaries."""
    seed_day(seeder, random.Random(5), count=60)
    counting = CountingStore(store, record_names=True)
    first = make_report(counting, "daily", NOW)
    assert first.hours_compacted == 24
    assert counting.by_prefix("get")["runs"] >= 60
    assert counting.by_prefix("put")["stats"] == 24
    counting.reset()
    second = make_report(counting, "daily", NOW + timedelta(minutes=5))
    assert second.hours_compacted == 0
    assert counting.by_prefix("get")["runs"] == 0
    assert counting.by_prefix("get")["stats"] == 24
    assert sum(counting.by_prefix("put").values()) == 0
    assert second.payload["runs"] == first.payload["runs"]


def test_run_unfinished_at_compaction_is_counted_when_it_ends(
    store: MemoryStore, seeder: Seeder
) -> None:
    """A run still running when its hour was compacted counts as finished once it is."""
    at = PERIOD_START + timedelta(hours=23, minutes=59)
    run_id = seeder.queued("http", at)
    assert make_report(store, "daily", NOW).payload["runs"]["active"] == 1
    summary = json.loads(store.get(hour_object_name(at)).data)
    assert summary["pending"] == [run_id]

    def finish(run: Any) -> Any:
        from shared.jobs.models import Attempt, AttemptOutcome, RunStatus

        start = at + timedelta(minutes=2)
        attempt = Attempt(1, start, start + timedelta(seconds=3), AttemptOutcome.SUCCEEDED)
        return run.evolve(
            NOW,
            status=RunStatus.SUCCEEDED,
            attempts=(attempt,),
            finished_at=start + timedelta(seconds=3),
        )

    RunStore(store).update(run_id, lambda r: r.evolve(NOW, status=r.status.RUNNING))
    RunStore(store).update(run_id, finish)
    runs = make_report(store, "daily", NOW).payload["runs"]
    assert (runs["active"], runs["succeeded"]) == (0, 1)


def test_compaction_is_create_only(store: MemoryStore, seeder: Seeder) -> None:
    """A second compaction of the same hour reads the stored summary and writes nothing."""
    at = PERIOD_START + timedelta(hours=1)
    seeder.play("http", at, [(1.0, None)])
    first = compact_hour(store, at, NOW)
    generation = store.get(hour_object_name(at)).generation
    seeder.play("http", at + timedelta(minutes=1), [(1.0, None)])  # late writer, same hour
    second = compact_hour(store, at, NOW)
    assert (first.compacted, second.compacted) == (True, False)
    assert store.get(hour_object_name(at)).generation == generation
    assert second.tally.runs == 1


def _svg_children(svg: str) -> Iterator[ET.Element]:
    return iter(ET.fromstring(svg))  # noqa: S314 - our own SVG, not untrusted input


def test_weekly_report_has_daily_rows_and_a_chart(store: MemoryStore, seeder: Seeder) -> None:
    """Seven daily rows (local days) with their success rates, and a well-formed SVG."""
    rng = random.Random(3)
    week_start = PERIOD_END - timedelta(days=7)
    for day in range(7):
        for _ in range(6):
            at = week_start + timedelta(days=day, seconds=rng.randrange(0, 80_000))
            codes = [None] if rng.random() < 0.7 else ["timeout"]
            seeder.play("http", at, [(rng.uniform(0.1, 2.0), code) for code in codes])
    bundle = make_report(store, "weekly", NOW, timezone="UTC")
    daily = bundle.payload["daily"]
    assert [d["date"] for d in daily] == [
        (week_start + timedelta(days=n)).date().isoformat() for n in range(7)
    ]
    for row in daily:
        mine = [s for s in seeder.seeded if s.created_at.date().isoformat() == row["date"]]
        ok = sum(s.status.value == "SUCCEEDED" for s in mine)
        assert row["runs"] == len(mine)
        assert row["success_rate"] == round(ok / len(mine), 4)
    assert bundle.svg is not None
    bars = [e for e in _svg_children(bundle.svg) if e.tag.endswith("rect") and len(e)]
    assert len(bars) == 7
    assert "chart.svg" in bundle.markdown
    assert re.search(r'<polyline points="([\d.]+,[\d.]+ ){6}[\d.]+,[\d.]+"', bundle.svg)


def test_empty_store_reports_zeroes(store: MemoryStore) -> None:
    """No runs: zero counts, no rates, a valid payload and the 'no failures' line."""
    bundle = make_report(store, "daily", NOW, locale="ja")
    validate_payload(bundle.payload)
    assert bundle.payload["runs"]["total"] == 0
    assert bundle.payload["runs"]["success_rate"] is None
    assert LABELS[Locale.JA]["no_failures"] in bundle.markdown


def test_payload_schema_rejects_missing_fields() -> None:
    """Validation names the missing field."""
    from shared.reports.render_json import PayloadInvalid

    with pytest.raises(PayloadInvalid, match="job_status"):
        validate_payload({"schema_version": 1})


def test_weekly_days_are_seven_local_slices(store: MemoryStore, seeder: Seeder) -> None:
    """In Asia/Tokyo a week ending 09:00 local has seven rows named by their local start date."""
    seeder.play("http", PERIOD_END - timedelta(hours=1), [(1.0, None)])  # 08:xx JST, last slice
    daily = make_report(store, "weekly", NOW, timezone="Asia/Tokyo").payload["daily"]
    assert [d["date"] for d in daily] == [f"2026-11-{day}" for day in range(18, 25)]
    assert [d["runs"] for d in daily] == [0, 0, 0, 0, 0, 0, 1]
