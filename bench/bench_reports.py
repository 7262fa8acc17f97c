"""Daily report over a day of runs on the file:// store: wall time, peak memory, store ops.

For 20,000, 50,000 and 200,000 runs created over one day (90 % succeeded,
some after a retry, 7 % failed with five causes, 1 % cancelled), figures for

* the first report: it compacts the 24 closed hours (lists each hour's runs,
  reads each run once, writes one ``stats/hourly/<hour>.json``);
* a second report: it reads the 24 summaries and the present state only.

Store operations are counted by a wrapper around the store: gets, puts,
deletes and list pages (one page = up to 1,000 names). Peak memory is traced
with tracemalloc in a separate pass (the summaries deleted, the first report
made again), so the wall times are measured without tracing.

Seeding writes each run's final record with ``RunStore.create`` (one put per
run); it is not measured, and fsync is skipped while seeding only, because
200,000 fsyncs would take longer than everything measured.

``BENCH_REPORT_SIZES=20000,50000`` chooses other sizes.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from unittest import mock

from bench.harness import Results, peak_mib, section
from shared.jobs.models import Attempt, AttemptOutcome, Run, RunStatus, new_run_id
from shared.jobs.settings import WorkerSettings
from shared.jobs.store import RunStore
from shared.reports import make_report
from shared.reports.compact import HOURLY_PREFIX
from shared.storage import ObjectStore
from shared.storage.counting import CountingStore
from shared.storage.file import FileStore

NOW = datetime(2026, 11, 25, 0, 10, tzinfo=UTC)
DAY_START = NOW.replace(minute=0) - timedelta(days=1)
SIZES = (20_000, 50_000, 200_000)
CAUSES = [
    ("timeout", "GET https://api.example.com/items timed out after 30s"),
    ("temporary_failure", "POST https://hooks.example.com answered 503"),
    ("rate_limit", "GET https://api.example.com answered 429"),
    ("auth", "401 from https://api.example.com"),
    ("bad_request", "PUT https://api.example.com/items/17 answered 400"),
]


def _run(rng: random.Random, created: datetime) -> Run:
    roll = rng.random()
    job_type = rng.choice(["http", "report.build", "sync.users", "email.send", "sleep"])
    started = created + timedelta(milliseconds=rng.uniform(5, 500))
    ms = rng.lognormvariate(6.0, 0.8)
    if roll < 0.02:
        # Cancelled while waiting: never started.
        return Run(
            new_run_id(created), job_type, {}, "bench", RunStatus.CANCELLED, created, created
        )
    attempts = []
    if roll < 0.12:  # one failed attempt, then the retry
        end = started + timedelta(milliseconds=ms)
        attempts.append(Attempt(1, started, end, AttemptOutcome.FAILED, "temporary_failure"))
        started = end + timedelta(seconds=2)
    end = started + timedelta(milliseconds=ms)
    if roll > 0.93:
        code, message = CAUSES[int(rng.random() ** 2 * len(CAUSES))]
        attempts.append(Attempt(len(attempts) + 1, started, end, AttemptOutcome.FAILED, code))
        return Run(
            new_run_id(created), job_type, {}, "bench", RunStatus.FAILED, created, end,
            attempts=tuple(attempts), error_code=code, error_message=message, finished_at=end,
        )  # fmt: skip
    attempts.append(Attempt(len(attempts) + 1, started, end, AttemptOutcome.SUCCEEDED))
    return Run(
        new_run_id(created), job_type, {}, "bench", RunStatus.SUCCEEDED, created, end,
        attempts=tuple(attempts), finished_at=end,
    )  # fmt: skip


def seed(store: ObjectStore, count: int) -> None:
    rng = random.Random(count)
    runs = RunStore(store)
    step = 86_400 / count
    last = None
    with mock.patch("os.fsync"):
        for index in range(count):
            created = DAY_START + timedelta(seconds=index * step + rng.uniform(0, step))
            run = _run(rng, created)
            runs.create(run)
            last = run.run_id
    if last:
        runs.write_watermark(last)  # what the sweeper records once every run is final


def _report(store: CountingStore) -> tuple[float, Mapping[str, int], int]:
    store.ops.clear()
    started = time.perf_counter()
    bundle = make_report(store, "daily", NOW, settings=WorkerSettings())
    elapsed = time.perf_counter() - started
    return elapsed, dict(store.ops), bundle.report.totals.runs


def _peak_mib(store: CountingStore) -> float:
    return peak_mib(lambda: make_report(store, "daily", NOW, settings=WorkerSettings()))


def _ops(ops: Mapping[str, int]) -> int:
    return sum(ops.values())


def run(results: Results) -> None:
    raw = os.environ.get("BENCH_REPORT_SIZES", "")
    sizes = tuple(int(x) for x in raw.split(",") if x.strip()) or SIZES
    for size in sizes:
        root = tempfile.mkdtemp(prefix="opsplane-bench-reports-")
        try:
            with section(f"daily report over {size:,} runs (file:// store)"):
                inner = FileStore(root)
                started = time.perf_counter()
                seed(inner, size)
                print(f"  (seeded in {time.perf_counter() - started:.1f} s)")
                store = CountingStore(inner)
                first_s, first_ops, counted = _report(store)
                assert counted == size, f"report counted {counted} of {size} runs"
                second_s, second_ops, _ = _report(store)
                second_peak = _peak_mib(store)
                for info in list(inner.list(HOURLY_PREFIX)):
                    inner.delete(info.name)
                first_peak = _peak_mib(store)
                tag = f"reports.daily.{size // 1000}k"
                results.add(f"{tag}.first.wall", first_s * 1000, "ms")
                results.add(f"{tag}.first.store_ops", _ops(first_ops), "ops")
                for kind in ("get", "put", "list"):
                    results.add(f"{tag}.first.{kind}", first_ops.get(kind, 0), "ops")
                results.add(f"{tag}.first.peak_memory", first_peak, "MiB")
                results.add(f"{tag}.second.wall", second_s * 1000, "ms", baseline=first_s * 1000)
                results.add(
                    f"{tag}.second.store_ops", _ops(second_ops), "ops", baseline=_ops(first_ops)
                )
                for kind in ("get", "put", "list"):
                    results.add(f"{tag}.second.{kind}", second_ops.get(kind, 0), "ops")
                results.add(f"{tag}.second.peak_memory", second_peak, "MiB")
        finally:
            shutil.rmtree(root, ignore_errors=True)
