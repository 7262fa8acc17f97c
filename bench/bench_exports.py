"""Dashboard export over 14 days of runs on a memory:// store.

Figures:

* the first export of every dataset (it compacts 336 closed hours into
  ``stats/hourly/`` on the way) and a second one (reads those summaries),
  against the baseline of listing, reading and parsing every run once;
* ``verify`` of the bundle (checksums and JSON Schemas);
* rendering ``/dashboard`` from the exported documents.
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta

from bench.harness import Results, median, section, timed_ms
from shared.exports import run_export, store_reader, verify_bundle
from shared.exports.current import current_documents
from shared.exports.page import render_dashboard
from shared.jobs.models import Attempt, AttemptOutcome, Run, RunStatus, new_run_id
from shared.jobs.store import RunStore
from shared.storage import ObjectStore
from shared.storage.memory import MemoryStore

RUNS = 10_000
DAYS = 14
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
JOB_TYPES = ("backup", "report", "sync", "cleanup")


def _seed(store: ObjectStore) -> None:
    runs = RunStore(store)
    rng = random.Random(7)
    start = NOW - timedelta(days=DAYS - 1)
    span = (NOW - start).total_seconds() - 600
    for _ in range(RUNS):
        created = start + timedelta(seconds=rng.uniform(0, span))
        began = created + timedelta(seconds=1)
        ended = began + timedelta(milliseconds=rng.lognormvariate(7, 0.8))
        failed = rng.random() < 0.08
        outcome = AttemptOutcome.FAILED if failed else AttemptOutcome.SUCCEEDED
        attempt = Attempt(1, began, ended, outcome, "boom" if failed else None, None, "bench")
        runs.create(
            Run(
                run_id=new_run_id(created),
                job_type=rng.choice(JOB_TYPES),
                params={},
                owner="bench",
                status=RunStatus.FAILED if failed else RunStatus.SUCCEEDED,
                created_at=created,
                updated_at=ended,
                attempts=(attempt,),
                error_code="boom" if failed else None,
                finished_at=ended,
            )
        )


def _read_every_run(store: ObjectStore) -> int:
    count = 0
    for info in store.list("runs/"):
        json.loads(store.get(info.name).data)
        count += 1
    return count


def run(results: Results) -> None:
    with section(f"dashboard export: {RUNS:,} runs over {DAYS} days on memory://"):
        store = MemoryStore("memory://bench-exports")
        _seed(store)
        started = time.perf_counter()
        assert _read_every_run(store) == RUNS
        baseline = (time.perf_counter() - started) * 1000

        def export() -> None:
            run_export(store, clock=lambda: NOW, record_run=False)

        first = timed_ms(export, 1)[0]
        results.add("export: first run, compacting 336 hours", first, "ms", baseline)
        again = median(timed_ms(export, 5))
        results.add("export: later runs, hourly summaries read", again, "ms", baseline)
        results.add(
            "verify: checksums and schemas",
            median(timed_ms(lambda: verify_bundle(store_reader(store)), 5)),
            "ms",
        )
        documents = current_documents(store, NOW).documents
        results.add(
            "dashboard page render",
            median(timed_ms(lambda: render_dashboard(documents, subtitle="bench"), 20)),
            "ms",
        )
