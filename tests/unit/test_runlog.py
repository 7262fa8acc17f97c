"""The automation run log: create-only records, time-range reads, the CLI."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import runtime
from shared.cli import main as cli_main
from shared.runlog import RunLog, RunRecord, RunStatus
from shared.storage import ObjectStore
from shared.storage.counting import CountingStore
from shared.storage.memory import MemoryStore

T0 = datetime(2026, 6, 27, 0, 30, 0, tzinfo=UTC)


def test_record_round_trips_every_field() -> None:
    """A record read back equals the record written, with the documented job id."""
    log = RunLog(MemoryStore())
    written = log.record(
        "latency",
        "error",
        started_at=T0,
        duration_ms=1234,
        artefacts={"report": "reports/history/daily/2026-06-27.json"},
        alerts=[{"slo": "p95", "value": 812}],
        attempts=3,
        error_code="timeout",
        error_message="upstream timed out",
    )
    assert written.job_id == "20260627T003000Z-latency"
    assert written.status is RunStatus.ERROR
    assert list(log.read()) == [written]


def test_each_record_is_its_own_object_under_its_day() -> None:
    """Records are spread over one object per run, named by UTC day and job id."""
    store = CountingStore(MemoryStore(), record_names=True)
    log = RunLog(store)
    for minute in range(3):
        log.record(
            "sweeper", RunStatus.OK, started_at=T0 + timedelta(minutes=minute), duration_ms=5
        )
    assert store.names("put") == [
        "runlog/2026/06/27/20260627T003000Z-sweeper.json",
        "runlog/2026/06/27/20260627T003100Z-sweeper.json",
        "runlog/2026/06/27/20260627T003200Z-sweeper.json",
    ]


def test_same_job_same_second_gets_a_suffix() -> None:
    """Two runs of one job in one second are both kept, the second with a suffix."""
    log = RunLog(MemoryStore())
    first = log.record("export", "ok", started_at=T0, duration_ms=1)
    second = log.record("export", "ok", started_at=T0 + timedelta(microseconds=10), duration_ms=2)
    assert (first.job_id, second.job_id) == (
        "20260627T003000Z-export",
        "20260627T003000Z-export-2",
    )
    assert [r.duration_ms for r in log.read(job="export")] == [1, 2]


def test_concurrent_writers_in_one_second_lose_nothing() -> None:
    """16 threads recording the same job in the same second → 16 distinct records."""
    log = RunLog(MemoryStore())
    barrier = threading.Barrier(16)

    def write(i: int) -> None:
        barrier.wait()
        log.record("report", "ok", started_at=T0, duration_ms=i)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = list(log.read())
    assert sorted(r.duration_ms for r in records) == list(range(16))
    assert len({r.job_id for r in records}) == 16


def test_error_message_and_alerts_are_redacted_on_write() -> None:
    """A token in an error message or an alert never reaches the store."""
    store = MemoryStore()
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    log = RunLog(store)
    record = log.record(
        "approvals",
        "error",
        started_at=T0,
        duration_ms=1,
        alerts=[{"message": f"auth failed with {token}"}],
        error_message=f"GitHub said 401 for token {token}",
    )
    raw = b"".join(store.get(info.name).data for info in store.list("runlog/"))
    assert token.encode() not in raw
    assert record.error_message is not None
    assert "[REDACTED_GH_TOKEN]" in record.error_message


def test_read_is_in_time_order_across_days_and_jobs() -> None:
    """Records come back oldest first whatever order they were written in."""
    log = RunLog(MemoryStore())
    moments = [T0 + timedelta(days=2), T0, T0 + timedelta(hours=30), T0 + timedelta(seconds=1)]
    for i, moment in enumerate(moments):
        log.record(f"job{i % 2}", "ok", started_at=moment, duration_ms=i)
    assert [r.started_at for r in log.read()] == sorted(moments)


def test_sub_second_order_within_one_second() -> None:
    """Records of one second are ordered by their exact start, not by job name."""
    log = RunLog(MemoryStore())
    log.record("zeta", "ok", started_at=T0 + timedelta(milliseconds=100), duration_ms=1)
    log.record("alpha", "ok", started_at=T0 + timedelta(milliseconds=900), duration_ms=2)
    assert [r.job for r in log.read()] == ["zeta", "alpha"]


@pytest.mark.parametrize(
    ("since", "until", "expected_hours"),
    [
        pytest.param(None, None, [0, 12, 24, 48, 72], id="everything"),
        pytest.param(24, None, [24, 48, 72], id="since-inclusive"),
        pytest.param(None, 48, [0, 12, 24, 48], id="until-inclusive"),
        pytest.param(13, 47, [24], id="window"),
        pytest.param(100, None, [], id="after-all"),
    ],
)
def test_read_filters_by_time_range(
    since: int | None, until: int | None, expected_hours: list[int]
) -> None:
    """since/until are inclusive bounds on started_at."""
    log = RunLog(MemoryStore())
    for hours in (0, 12, 24, 48, 72):
        log.record("daily", "ok", started_at=T0 + timedelta(hours=hours), duration_ms=hours)
    result = log.read(
        since=None if since is None else T0 + timedelta(hours=since),
        until=None if until is None else T0 + timedelta(hours=until),
    )
    assert [r.duration_ms for r in result] == expected_hours


def test_read_filters_by_job_without_prefix_confusion() -> None:
    """job='report' does not match 'report-weekly', but does match its own suffixed ids."""
    log = RunLog(MemoryStore())
    log.record("report", "ok", started_at=T0, duration_ms=1)
    log.record("report", "ok", started_at=T0, duration_ms=2)
    log.record("report-weekly", "ok", started_at=T0, duration_ms=3)
    log.record("report-2", "ok", started_at=T0 + timedelta(seconds=5), duration_ms=4)
    assert [r.duration_ms for r in log.read(job="report")] == [1, 2]
    assert [r.duration_ms for r in log.read(job="report-weekly")] == [3]
    assert [r.duration_ms for r in log.read(job="report-2")] == [4]


def test_read_touches_only_records_in_range() -> None:
    """A window of one day reads that day's records and none from the other 29 days."""
    store = CountingStore(MemoryStore(), record_names=True)
    log = RunLog(store)
    for day in range(30):
        log.record("daily", "ok", started_at=T0 + timedelta(days=day), duration_ms=day)
    store.reset()
    window = list(log.read(since=T0 + timedelta(days=10), until=T0 + timedelta(days=10, hours=1)))
    assert [r.duration_ms for r in window] == [10]
    assert store.names("get") == ["runlog/2026/07/07/20260707T003000Z-daily.json"]


def test_unreadable_object_is_skipped() -> None:
    """A damaged record does not hide the others."""
    store = MemoryStore()
    log = RunLog(store)
    log.record("a", "ok", started_at=T0, duration_ms=1)
    store.put("runlog/2026/06/27/20260627T003001Z-b.json", b"{not json")
    log.record("c", "ok", started_at=T0 + timedelta(seconds=2), duration_ms=3)
    assert [r.job for r in log.read()] == ["a", "c"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"job": "bad/name"}, "invalid job name", id="slash-in-job"),
        pytest.param({"job": ""}, "invalid job name", id="empty-job"),
        pytest.param({"status": "fail"}, "invalid run status", id="unknown-status"),
        pytest.param({"started_at": datetime(2026, 1, 1)}, "timezone-aware", id="naive-time"),
        pytest.param({"duration_ms": -1}, "duration_ms", id="negative-duration"),
        pytest.param({"attempts": -1}, "attempts", id="negative-attempts"),
    ],
)
def test_bad_records_are_rejected_and_nothing_is_written(
    kwargs: dict[str, Any], message: str
) -> None:
    """Invalid input raises ValueError naming the problem and writes no object."""
    store = MemoryStore()
    args: dict[str, Any] = {"job": "ok", "status": "ok", "started_at": T0, "duration_ms": 1}
    args.update(kwargs)
    job = args.pop("job")
    status = args.pop("status")
    with pytest.raises(ValueError, match=message):
        RunLog(store).record(job, status, **args)
    assert list(store.list("")) == []


def test_record_from_json_round_trip() -> None:
    """to_json/from_json are inverse, so other parts can ship records as JSON."""
    record = RunRecord("20260627T003000Z-x", "x", RunStatus.SKIPPED, T0, 0, {}, [], 1, None, None)
    assert RunRecord.from_json(json.loads(json.dumps(record.to_json()))) == record


def _seed_cli_store() -> ObjectStore:
    store = runtime.store()
    log = RunLog(store)
    now = datetime.now(UTC).replace(microsecond=0)
    log.record("sweeper", "ok", started_at=now - timedelta(hours=2), duration_ms=10)
    log.record(
        "latency",
        "error",
        started_at=now - timedelta(hours=1),
        duration_ms=20,
        error_code="timeout",
        error_message="took too long",
    )
    log.record("sweeper", "ok", started_at=now - timedelta(days=3), duration_ms=30)
    return store


def test_cli_tail_json_filters_by_job_and_since(capsys: pytest.CaptureFixture[str]) -> None:
    """`opsplane runlog tail --json --job --since` prints matching records as JSON lines."""
    _seed_cli_store()
    assert cli_main(["runlog", "tail", "--json", "--job", "sweeper", "--since", "7d"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["duration_ms"] for line in lines] == [30, 10]
    assert {line["job"] for line in lines} == {"sweeper"}


def test_cli_tail_table_defaults_to_last_day(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --since the table shows the last 24 hours, errors included."""
    _seed_cli_store()
    assert cli_main(["runlog", "tail"]) == 0
    out = capsys.readouterr().out
    assert "-sweeper" in out
    assert "timeout: took too long" in out
    assert "30ms" not in out


def test_cli_tail_limit_keeps_the_latest(capsys: pytest.CaptureFixture[str]) -> None:
    """--limit 1 prints only the most recent record."""
    _seed_cli_store()
    assert cli_main(["runlog", "tail", "--json", "--since", "7d", "--limit", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["job"] for line in lines] == ["latency"]


def test_cli_rejects_a_bad_since(capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed --since is a usage error naming the value."""
    with pytest.raises(SystemExit) as exc:
        cli_main(["runlog", "tail", "--since", "yesterday"])
    assert exc.value.code == 2
    assert "yesterday" in capsys.readouterr().err
