"""The schedule runner under time travel: restarts, races, downtime, DST."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared.runlog import RunLog, RunStatus
from shared.schedule import (
    JobContext,
    JobFailed,
    JobResult,
    OutcomeStatus,
    ScheduleRunner,
    UnknownJob,
    parse_config,
)
from shared.schedule.loop import run_loop
from shared.storage import ObjectStore
from shared.storage.memory import MemoryStore

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(autouse=True)
def quiet_run_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Thousands of simulated runs: keep their INFO lines out of the capture."""
    caplog.set_level(logging.WARNING, logger="opsplane.schedule")


class SimClock:
    """A clock the test moves by hand; kept in UTC so steps are real elapsed time."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)

    @property
    def now(self) -> datetime:
        return self._now

    @now.setter
    def now(self, value: datetime) -> None:
        # Aware arithmetic in a local zone steps the wall clock, not time: stay in UTC.
        self._now = value.astimezone(UTC)

    def __call__(self) -> datetime:
        return self._now


@dataclass
class Calls:
    """Every call of every job: (job, period, the clock's time at the call)."""

    items: list[tuple[str, str, datetime]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def job(self, name: str) -> Callable[[JobContext], JobResult | None]:
        def run(ctx: JobContext) -> JobResult:
            with self.lock:
                self.items.append((name, ctx.period, ctx.clock()))
            return JobResult(artefacts={"report.json": f"reports/{ctx.period}.json"})

        return run

    def of(self, name: str) -> list[tuple[str, datetime]]:
        return [(period, at) for job, period, at in self.items if job == name]


def make_config(timezone: str, jobs: dict[str, dict[str, Any]], **extra: Any) -> Any:
    return parse_config({"enabled": True, "timezone": timezone, "jobs": jobs, **extra})


def simulate(
    store: ObjectStore,
    config: Any,
    jobs: dict[str, Callable[[JobContext], JobResult | None]],
    clock: SimClock,
    until: datetime,
    *,
    tick: timedelta = timedelta(minutes=15),
    restart_every: int = 37,
    concurrency: int = 3,
) -> None:
    """Tick from clock.now to ``until``; each tick fires ``concurrency`` invocations at once.

    Every ``restart_every`` ticks all runner objects are replaced (a restart).
    """
    barrier = threading.Barrier(concurrency)
    runners: list[ScheduleRunner] = []

    def fire(runner: ScheduleRunner, now: datetime) -> None:
        barrier.wait()
        runner.run_once(now)

    with ThreadPoolExecutor(concurrency) as pool:
        ticks = 0
        while clock.now <= until:
            if ticks % restart_every == 0:
                runners = [
                    ScheduleRunner(store, config, jobs=jobs, clock=clock)
                    for _ in range(concurrency)
                ]
            now = clock.now
            for future in [pool.submit(fire, runner, now) for runner in runners]:
                future.result()
            clock.now += tick
            ticks += 1


def local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %a %H:%M")


def test_fifteen_days_in_tokyo_with_restarts_and_races() -> None:
    """15 days of racing invocations and restarts: daily ran 15 times, weekly once a week."""
    store = MemoryStore()
    calls = Calls()
    config = make_config(
        "Asia/Tokyo",
        {
            "daily_observability_report": {"cadence": "daily", "at": "09:00"},
            "weekly_observability_report": {"cadence": "weekly", "dow": "mon", "at": "09:00"},
            "latency": {"cadence": "every", "everyMinutes": 15},
        },
    )
    jobs = {name: calls.job(name) for name in config.jobs}
    start = datetime(2026, 6, 1, 0, 0, tzinfo=TOKYO)
    clock = SimClock(start)
    simulate(store, config, jobs, clock, start + timedelta(days=15) - timedelta(minutes=1))

    daily = calls.of("daily_observability_report")
    assert [p for p, _ in daily] == [f"2026-06-{d:02d}" for d in range(1, 16)]
    assert {local(at, TOKYO)[-5:] for _, at in daily} == {"09:00"}
    weekly = calls.of("weekly_observability_report")
    assert [(p, local(at, TOKYO)) for p, at in weekly] == [
        ("2026-W23", "2026-06-01 Mon 09:00"),
        ("2026-W24", "2026-06-08 Mon 09:00"),
        ("2026-W25", "2026-06-15 Mon 09:00"),
    ]
    assert len(calls.of("latency")) == 15 * 24 * 4
    assert len({p for p, _ in calls.of("latency")}) == 15 * 24 * 4
    log = RunLog(store)
    assert len(list(log.read(job="daily_observability_report"))) == 15
    assert len(list(log.read(job="weekly_observability_report"))) == 3


@pytest.mark.parametrize(
    ("start", "daily_at", "weekly", "expected_daily_local", "expected_weekly_local"),
    [
        pytest.param(
            datetime(2026, 3, 2, tzinfo=NEW_YORK),
            "02:30",
            {"dow": "sun", "at": "02:30"},
            # 02:30 does not exist on 8 March: the run comes right after the gap.
            {"2026-03-08": "03:30"},
            [("2026-W10", "2026-03-08 Sun 03:30"), ("2026-W11", "2026-03-15 Sun 02:30")],
            id="spring-forward",
        ),
        pytest.param(
            datetime(2026, 10, 26, tzinfo=NEW_YORK),
            "01:30",
            {"dow": 7, "at": "01:30"},
            {},  # 01:30 happens twice on 1 November: it runs at the first one only
            [("2026-W44", "2026-11-01 Sun 01:30"), ("2026-W45", "2026-11-08 Sun 01:30")],
            id="fall-back",
        ),
    ],
)
def test_fifteen_days_across_dst_in_new_york(
    start: datetime,
    daily_at: str,
    weekly: dict[str, Any],
    expected_daily_local: dict[str, str],
    expected_weekly_local: list[tuple[str, str]],
) -> None:
    """Across a DST change: one daily run per local day, one weekly run per ISO week."""
    store = MemoryStore()
    calls = Calls()
    config = make_config(
        "America/New_York",
        {
            "daily": {"cadence": "daily", "at": daily_at},
            "weekly": {"cadence": "weekly", **weekly},
        },
    )
    jobs = {name: calls.job(name) for name in config.jobs}
    clock = SimClock(start)
    simulate(store, config, jobs, clock, start + timedelta(days=15) - timedelta(minutes=1))

    daily = calls.of("daily")
    assert [p for p, _ in daily] == [
        (start + timedelta(days=d)).date().isoformat() for d in range(15)
    ]
    for period, at in daily:
        assert local(at, NEW_YORK)[-5:] == expected_daily_local.get(period, daily_at)
    assert [(p, local(at, NEW_YORK)) for p, at in calls.of("weekly")] == expected_weekly_local
    if not expected_daily_local:
        # The fall-back day's run is at the first 01:30 (EDT, UTC-4), not the second.
        fall_back = dict(daily)["2026-11-01"]
        assert fall_back.astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_downtime_runs_the_missed_period_once() -> None:
    """Three days without ticks → one catch-up run on return, then the normal schedule."""
    store = MemoryStore()
    calls = Calls()
    config = make_config("Asia/Tokyo", {"daily": {"cadence": "daily", "at": "09:00"}})
    jobs = {"daily": calls.job("daily")}
    clock = SimClock(datetime(2026, 6, 1, tzinfo=TOKYO))
    simulate(store, config, jobs, clock, datetime(2026, 6, 3, 23, 50, tzinfo=TOKYO))
    clock.now = datetime(2026, 6, 7, 8, 0, tzinfo=TOKYO)  # back before today's 09:00
    simulate(store, config, jobs, clock, datetime(2026, 6, 7, 23, 50, tzinfo=TOKYO))
    assert [(p, local(at, TOKYO)[-5:]) for p, at in calls.of("daily")] == [
        ("2026-06-01", "09:00"),
        ("2026-06-02", "09:00"),
        ("2026-06-03", "09:00"),
        ("2026-06-06", "08:00"),
        ("2026-06-07", "09:00"),
    ]


def test_a_job_starts_with_the_first_period_after_it_is_first_seen() -> None:
    """Enabling a job at 10:00 does not replay today's 09:00 run; tomorrow's runs."""
    store = MemoryStore()
    calls = Calls()
    config = make_config("Asia/Tokyo", {"daily": {"cadence": "daily", "at": "09:00"}})
    clock = SimClock(datetime(2026, 6, 1, 10, 0, tzinfo=TOKYO))
    simulate(store, config, {"daily": calls.job("daily")}, clock, clock.now + timedelta(days=1))
    assert [p for p, _ in calls.of("daily")] == ["2026-06-02"]


def test_disabled_schedule_runs_nothing_and_writes_nothing() -> None:
    """enabled=false (the default) → no job runs and the store stays empty."""
    store = MemoryStore()
    calls = Calls()
    config = parse_config({"jobs": {"daily": {"cadence": "daily", "at": "00:00"}}})
    runner = ScheduleRunner(store, config, jobs={"daily": calls.job("daily")})
    assert runner.run_once(datetime(2026, 6, 1, 12, tzinfo=UTC)) == []
    assert calls.items == []
    assert list(store.list("")) == []


def test_disabled_job_does_not_run() -> None:
    """A job with enabled=false is left alone while the others run."""
    store = MemoryStore()
    calls = Calls()
    config = make_config(
        "UTC",
        {
            "on": {"cadence": "every", "everyMinutes": 1},
            "off": {"cadence": "every", "everyMinutes": 1, "enabled": False},
        },
    )
    runner = ScheduleRunner(store, config, jobs={n: calls.job(n) for n in ("on", "off")})
    outcomes = runner.run_once(datetime(2026, 6, 1, 12, tzinfo=UTC))
    assert [o.job for o in outcomes] == ["on"]


def test_failures_are_recorded_in_state_and_run_log_redacted() -> None:
    """A failing job: state counts failures, lastError and the run log hold no secret."""
    store = MemoryStore()
    token = "ghp_" + "x1Y2z3" * 6
    results: list[Exception | None] = [RuntimeError(f"GitHub 401 with {token}"), None]

    def flaky(_: JobContext) -> None:
        error = results.pop(0)
        if error is not None:
            raise error

    config = make_config("UTC", {"report": {"cadence": "daily", "at": "00:00"}})
    clock = SimClock(datetime(2026, 6, 1, tzinfo=UTC))
    runner = ScheduleRunner(store, config, jobs={"report": flaky}, clock=clock)
    [failed] = runner.run_once(clock.now)
    assert (failed.status, failed.error_code) == (OutcomeStatus.ERROR, "RuntimeError")
    assert failed.error_message is not None
    assert token not in failed.error_message
    [status] = runner.status(clock.now)
    assert status.state is not None
    assert (status.state.last_status, status.state.consecutive_failures) == ("fail", 1)
    assert token not in (status.state.last_error or "")

    clock.now += timedelta(days=1)
    [succeeded] = runner.run_once(clock.now)
    assert succeeded.status is OutcomeStatus.OK
    [status] = runner.status(clock.now)
    assert status.state is not None
    assert (status.state.last_status, status.state.consecutive_failures) == ("ok", 0)
    assert status.state.run_count == 2
    records = list(RunLog(store).read(job="report"))
    assert [r.status for r in records] == [RunStatus.ERROR, RunStatus.OK]
    assert all(token not in (r.error_message or "") for r in records)
    raw = b"".join(store.get(i.name).data for i in store.list(""))
    assert token.encode() not in raw


def test_job_failed_carries_code_attempts_and_artefacts() -> None:
    """JobFailed lands in the run log with its code, attempts and artefacts."""
    store = MemoryStore()

    def webhook(_: JobContext) -> None:
        raise JobFailed(
            "webhook_failed", "receiver answered 503", attempts=3, artefacts={"payload": "p.json"}
        )

    config = make_config("UTC", {"post": {"cadence": "daily", "at": "00:00"}})
    runner = ScheduleRunner(store, config, jobs={"post": webhook})
    [outcome] = runner.run_once(datetime(2026, 6, 1, 0, 0, tzinfo=UTC))
    [record] = RunLog(store).read()
    assert (record.error_code, record.attempts, record.artefacts) == (
        "webhook_failed",
        3,
        {"payload": "p.json"},
    )
    assert outcome.job_id == record.job_id


def test_skipped_result_and_custom_redaction_patterns() -> None:
    """A job that skips is recorded as skipped; configured patterns redact its message."""
    store = MemoryStore()

    def idle(_: JobContext) -> JobResult:
        return JobResult(skipped=True, message="nothing new for customer ACME-4711")

    config = make_config(
        "UTC",
        {"digest": {"cadence": "daily", "at": "00:00"}},
        redaction={"patterns": [r"ACME-\d+"], "placeholder": "[CUSTOMER]"},
    )
    runner = ScheduleRunner(store, config, jobs={"digest": idle})
    [outcome] = runner.run_once(datetime(2026, 6, 1, 0, 0, tzinfo=UTC))
    assert outcome.status is OutcomeStatus.SKIPPED
    assert outcome.message == "nothing new for customer [CUSTOMER]"
    [status] = runner.status(datetime(2026, 6, 1, 0, 0, tzinfo=UTC))
    assert status.state is not None
    assert status.state.last_status == "skipped"
    assert [r.status for r in RunLog(store).read()] == [RunStatus.SKIPPED]


class Crash(BaseException):
    """The process dies mid-run (nothing in the runner may catch it)."""


def test_a_run_that_died_is_taken_over_after_stale_after() -> None:
    """An unfinished claim blocks the period until stale, then runs again as attempt 2."""
    store = MemoryStore()
    calls = Calls()
    crashes = [True]

    def dies_once(ctx: JobContext) -> JobResult | None:
        if crashes:
            crashes.pop()
            raise Crash
        return calls.job("daily")(ctx)

    config = make_config("UTC", {"daily": {"cadence": "daily", "at": "00:00"}})
    clock = SimClock(datetime(2026, 6, 1, 0, 0, tzinfo=UTC))

    def runner() -> ScheduleRunner:
        return ScheduleRunner(
            store, config, jobs={"daily": dies_once}, clock=clock, stale_after=timedelta(hours=1)
        )

    with pytest.raises(Crash):
        runner().run_once(clock.now)
    clock.now += timedelta(minutes=30)
    assert runner().run_once(clock.now) == []
    clock.now += timedelta(minutes=31)
    [outcome] = runner().run_once(clock.now)
    assert (outcome.period, outcome.attempt) == ("2026-06-01", 2)
    assert [r.attempts for r in RunLog(store).read()] == [2]
    clock.now += timedelta(hours=2)
    assert runner().run_once(clock.now) == []


def test_force_runs_now_once_per_second_without_consuming_the_period() -> None:
    """force runs a job that is not due (even disabled); racing forced calls run it once."""
    store = MemoryStore()
    calls = Calls()
    config = parse_config({"jobs": {"daily": {"cadence": "daily", "at": "09:00"}}})
    now = datetime(2026, 6, 1, 1, tzinfo=UTC)
    runners = [ScheduleRunner(store, config, jobs={"daily": calls.job("daily")}) for _ in range(4)]
    barrier = threading.Barrier(4)

    def fire(runner: ScheduleRunner) -> int:
        barrier.wait()
        return len(runner.run_once(now, force=True, only="daily"))

    with ThreadPoolExecutor(4) as pool:
        assert sorted(pool.map(fire, runners)) == [0, 0, 0, 1]
    assert len(calls.items) == 1
    [status] = runners[0].status(now)
    assert status.state is not None
    assert (status.state.run_count, status.state.last_period) == (1, None)


def test_only_runs_one_job_and_rejects_unknown_names() -> None:
    """only= restricts the invocation to that job; an unknown name is UnknownJob."""
    store = MemoryStore()
    calls = Calls()
    config = make_config(
        "UTC",
        {n: {"cadence": "every", "everyMinutes": 5} for n in ("a", "b")},
    )
    runner = ScheduleRunner(store, config, jobs={n: calls.job(n) for n in ("a", "b")})
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert [o.job for o in runner.run_once(now, only="b")] == ["b"]
    with pytest.raises(UnknownJob, match="'nope'"):
        runner.run_once(now, only="nope")


def test_unregistered_job_is_reported_not_run() -> None:
    """A configured job nobody registered shows as unregistered and writes no state."""
    store = MemoryStore()
    config = make_config("UTC", {"future_job": {"cadence": "daily", "at": "00:00"}})
    runner = ScheduleRunner(store, config, jobs={})
    [outcome] = runner.run_once(datetime(2026, 6, 1, 1, tzinfo=UTC))
    assert outcome.status is OutcomeStatus.UNREGISTERED
    assert list(store.list("")) == []


def test_markers_of_minute_jobs_are_pruned() -> None:
    """Two days of a 5-minute job leave about a day of markers, not two."""
    store = MemoryStore()
    calls = Calls()
    config = make_config("UTC", {"tick": {"cadence": "every", "everyMinutes": 5}})
    clock = SimClock(datetime(2026, 6, 1, tzinfo=UTC))
    simulate(
        store,
        config,
        {"tick": calls.job("tick")},
        clock,
        clock.now + timedelta(days=2),
        tick=timedelta(minutes=5),
        concurrency=1,
    )
    assert len(calls.items) == 2 * 288 + 1
    markers = list(store.list("schedule/markers/tick/"))
    assert 288 <= len(markers) <= 290


def test_state_and_markers_follow_state_location() -> None:
    """stateLocation moves state and markers under its prefix."""
    store = MemoryStore()
    config = make_config(
        "UTC", {"job": {"cadence": "daily", "at": "00:00"}}, stateLocation="ops/sched"
    )
    runner = ScheduleRunner(store, config, jobs={"job": Calls().job("job")})
    runner.run_once(datetime(2026, 6, 1, 0, 0, tzinfo=UTC))
    names = sorted(i.name for i in store.list("ops/"))
    assert names == ["ops/sched/markers/job/2026-06-01.json", "ops/sched/state/job.json"]


def test_status_reports_next_run_in_local_time() -> None:
    """status gives each job's next scheduled instant and whether it is due now."""
    store = MemoryStore()
    config = make_config("Asia/Tokyo", {"daily": {"cadence": "daily", "at": "09:00"}})
    runner = ScheduleRunner(store, config, jobs={"daily": Calls().job("daily")})
    first = datetime(2026, 6, 1, 8, 0, tzinfo=TOKYO)
    runner.run_once(first)
    [status] = runner.status(first)
    assert status.next_run_at == datetime(2026, 6, 1, 9, 0, tzinfo=TOKYO)
    assert not status.due
    [status] = runner.status(datetime(2026, 6, 1, 9, 5, tzinfo=TOKYO))
    assert status.due
    assert status.to_json()["schedule"] == "daily at 09:00"


def test_run_loop_ticks_until_stopped() -> None:
    """run_loop runs the runner on every tick and returns when the event is set."""
    store = MemoryStore()
    calls = Calls()
    config = make_config("UTC", {"tick": {"cadence": "every", "everyMinutes": 1}})
    clock = SimClock(datetime(2026, 6, 1, tzinfo=UTC))
    stop = threading.Event()
    seen: list[int] = []

    def on_tick(outcomes: list[Any]) -> None:
        seen.append(len(outcomes))
        clock.now += timedelta(minutes=1)
        if len(seen) == 3:
            stop.set()

    ticks = run_loop(
        stop,
        clock,
        interval_seconds=0.01,
        runner_factory=lambda c: ScheduleRunner(
            store, config, jobs={"tick": calls.job("tick")}, clock=c
        ),
        on_tick=on_tick,
    )
    assert ticks == 3
    assert seen == [1, 1, 1]


def test_run_loop_survives_a_failing_tick() -> None:
    """A tick that raises (bad configuration) is logged; the loop keeps going."""
    stop = threading.Event()
    attempts: list[int] = []

    def broken(_: Any) -> ScheduleRunner:
        attempts.append(1)
        if len(attempts) == 2:
            stop.set()
        raise ValueError("schedule config: timezone: 'Mars/Base' is not an IANA time zone")

    assert run_loop(stop, interval_seconds=0.01, runner_factory=broken) == 2


def test_shipped_jobs_are_registered_and_the_sweeper_runs() -> None:
    """The registry holds the shipped jobs; the sweeper runs through the runner."""
    from shared import runtime
    from shared.schedule import registered_jobs

    assert {"sweeper", "latency"} <= set(registered_jobs())
    config = parse_config({"enabled": True, "jobs": {"sweeper": {}}})
    runner = ScheduleRunner(runtime.store(), config)
    [outcome] = runner.run_once(datetime(2026, 6, 1, 0, 0, tzinfo=UTC))
    assert (outcome.job, outcome.status) == ("sweeper", OutcomeStatus.OK)
    assert outcome.details["scanned"] == 0


def test_registering_a_different_function_under_a_taken_name_fails() -> None:
    """Two features cannot silently claim one job name; the same function twice is fine."""
    from shared.schedule import register_job, unregister_job

    def one(_: JobContext) -> None:
        return None

    def two(_: JobContext) -> None:
        return None

    register_job("test_taken", one)
    try:
        register_job("test_taken", one)
        with pytest.raises(ValueError, match="already registered"):
            register_job("test_taken", two)
        register_job("test_taken", two, replace=True)
    finally:
        unregister_job("test_taken")


def test_outcome_details_are_redacted_when_rendered() -> None:
    """Secrets a job puts in its details never reach the rendered outcome."""
    store = MemoryStore()
    token = "ghp_" + "Q" * 36

    def chatty(_: JobContext) -> JobResult:
        return JobResult(details={"note": f"used {token}", "count": 3})

    config = make_config("UTC", {"chatty": {"cadence": "every", "everyMinutes": 5}})
    [outcome] = ScheduleRunner(store, config, jobs={"chatty": chatty}).run_once(
        datetime(2026, 6, 1, tzinfo=UTC)
    )
    rendered = outcome.to_json()
    assert token not in str(rendered)
    assert rendered["details"]["count"] == 3


_RACER = """
import sys, time
from datetime import UTC, datetime
from shared.schedule import ScheduleRunner, parse_config
from shared.storage import open_store

store_url, out_path, start_at = sys.argv[1], sys.argv[2], float(sys.argv[3])

def job(ctx):
    with open(out_path, "a") as out:
        out.write(ctx.period + "\\n")

config = parse_config(
    {"enabled": True, "timezone": "UTC", "jobs": {"daily": {"cadence": "daily", "at": "00:00"}}}
)
runner = ScheduleRunner(open_store(store_url), config, jobs={"daily": job})
time.sleep(max(0.0, start_at - time.time()))
runner.run_once(datetime(2026, 6, 1, 0, 0, tzinfo=UTC))
"""


def test_four_processes_racing_on_a_file_store_run_a_period_once(tmp_path: Path) -> None:
    """Four processes firing at the same moment on one file:// store → one run."""
    import subprocess
    import sys
    import time

    store_url = f"file://{tmp_path / 'store'}"
    out = tmp_path / "runs.txt"
    start_at = time.time() + 1.5
    processes = [
        subprocess.Popen([sys.executable, "-c", _RACER, store_url, str(out), str(start_at)])
        for _ in range(4)
    ]
    assert [p.wait(timeout=30) for p in processes] == [0, 0, 0, 0]
    assert out.read_text().splitlines() == ["2026-06-01"]
    from shared.storage import open_store

    assert len(list(RunLog(open_store(store_url)).read(job="daily"))) == 1
