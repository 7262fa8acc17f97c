"""Run log and schedule runner on the ``file://`` store.

Figures:

* ``RunLog.record`` latency p50/p99 (one create-only object per record);
* reading one day of a 30-day log (2,400 records): wall time and store
  operations (listed names + object reads), against reading the whole log,
  measured in the same run — a range read touches only its own records;
* one idle schedule tick (6 jobs configured, none due): wall time and store
  operations, the cost Cloud Scheduler pays every minute.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.harness import Results, percentile, section
from shared.runlog import RunLog
from shared.schedule import JobContext, ScheduleRunner, parse_config
from shared.storage import open_store
from shared.storage.counting import CountingStore

DAYS = 30
PER_DAY = 80
START = datetime(2026, 6, 1, tzinfo=UTC)


def run(results: Results) -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = CountingStore(open_store(f"file://{Path(directory) / 'store'}"))
        log = RunLog(store)
        with section("run log (file:// store)"):
            samples = []
            for day in range(DAYS):
                for i in range(PER_DAY):
                    started_at = START + timedelta(days=day, minutes=i * 15)
                    began = time.perf_counter()
                    log.record("report", "ok", started_at=started_at, duration_ms=i)
                    samples.append((time.perf_counter() - began) * 1000)
            results.add("runlog record p50", percentile(samples, 50), "ms")
            results.add("runlog record p99", percentile(samples, 99), "ms")

            store.reset()
            began = time.perf_counter()
            everything = sum(1 for _ in log.read())
            full_ms = (time.perf_counter() - began) * 1000
            full_ops = store.operations

            store.reset()
            day = START + timedelta(days=15)
            began = time.perf_counter()
            one_day = sum(
                1 for _ in log.read(since=day, until=day + timedelta(hours=23, minutes=59))
            )
            day_ms = (time.perf_counter() - began) * 1000
            results.add(f"runlog read 1 day ({one_day} of {everything})", day_ms, "ms", full_ms)
            results.add("runlog read 1 day: store operations", store.operations, "ops", full_ops)

        with section("schedule runner (file:// store)"):
            config = parse_config(
                {
                    "enabled": True,
                    "jobs": {
                        "daily_a": {"cadence": "daily", "at": "09:00"},
                        "daily_b": {"cadence": "daily", "at": "10:00"},
                        "weekly_a": {"cadence": "weekly", "dow": "mon", "at": "09:00"},
                        "weekly_b": {"cadence": "weekly", "dow": "fri", "at": "17:00"},
                        "every_15": {"cadence": "every", "everyMinutes": 15},
                        "every_60": {"cadence": "every", "everyMinutes": 60},
                    },
                }
            )

            def noop(_: JobContext) -> None:
                return None

            runner = ScheduleRunner(store, config, jobs=dict.fromkeys(config.jobs, noop))
            first = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
            runner.run_once(first)  # state created, the interval jobs ran
            idle = first + timedelta(minutes=1)
            store.reset()
            ticks = []
            for _ in range(50):
                began = time.perf_counter()
                runner.run_once(idle)
                ticks.append((time.perf_counter() - began) * 1000)
            results.add("schedule idle tick p50 (6 jobs)", percentile(ticks, 50), "ms")
            results.add("schedule idle tick: store operations", store.operations / 50, "ops")
            store.reset()
            began = time.perf_counter()
            runner.run_once(first + timedelta(minutes=15))
            results.add("schedule tick running 1 job", (time.perf_counter() - began) * 1000, "ms")
            results.add("schedule tick running 1 job: store operations", store.operations, "ops")
