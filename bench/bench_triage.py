"""Dead-letter triage over 100,000 letters on a memory:// store.

Seeding goes through the executor's dead-letter writer (redaction included)
with messages drawn from a few templates full of ids, numbers and times, and
a secret in every letter. Figures:

* triage time: ``shared.dlq.triage`` over every letter (list, read, parse,
  redact, normalise, aggregate), against the baseline of listing, reading and
  ``json.loads``-ing the same 100,000 objects in the same run;
* peak memory of both passes (tracemalloc, measured in a second pass each,
  since tracing slows Python down);
* rendering the Markdown body.

memory:// keeps the store out of the figure: on gs:// the reads dominate.
"""

from __future__ import annotations

import gc
import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from bench.harness import Results, peak_mib, section
from shared.dlq import render_markdown, triage
from shared.jobs.deadletters import write_dead_letter
from shared.jobs.models import Attempt, AttemptOutcome, Run, RunStatus, new_run_id
from shared.storage import ObjectStore
from shared.storage.memory import MemoryStore

T = TypeVar("T")
LETTERS = 100_000
START = datetime(2026, 11, 1, tzinfo=UTC)
TEMPLATES = (
    ("http_error", "HTTP 503 from https://api.example.com/v1/items/{n} after {ms}ms"),
    ("timeout", "attempt timed out after {ms}ms on run {rid}"),
    ("auth_failed", "login refused with token ghp_{tok} for request {n}"),
    ("invalid_params", "missing field 'customer_{n}' at 2026-11-0{d}T10:00:0{d}Z"),
    ("http_error", "HTTP 404 for item {uid}"),
)
JOB_TYPES = ("http", "email", "report", "sync", "export")


def _fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def seed(store: ObjectStore, count: int) -> None:
    rng = random.Random(11)
    for i in range(count):
        code, template = TEMPLATES[i % len(TEMPLATES)]
        created = START + timedelta(seconds=i)
        message = template.format(
            n=rng.randint(1, 99999),
            ms=rng.randint(100, 30000),
            rid=new_run_id(created),
            tok=f"{rng.getrandbits(180):036x}"[:36],
            d=i % 9 + 1,
            uid=f"{rng.getrandbits(32):08x}-1111-2222-3333-{rng.getrandbits(48):012x}",
        )
        attempt = Attempt(1, created, created, AttemptOutcome.FAILED, code, message)
        run = Run(
            run_id=new_run_id(created),
            job_type=JOB_TYPES[i % len(JOB_TYPES)],
            params={"password": f"pw-{rng.getrandbits(32):x}", "item": i},
            owner="bench",
            status=RunStatus.FAILED,
            created_at=created,
            updated_at=created,
            attempts=(attempt,),
            error_code=code,
            error_message=message,
        )
        write_dead_letter(store, run, _fixed(created))


def read_and_parse(store: ObjectStore) -> int:
    """The baseline: every dead letter listed, read and parsed, nothing else."""
    count = 0
    for info in store.list("dlq/jobs/"):
        json.loads(store.get(info.name).data)
        count += 1
    return count


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    gc.collect()
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def run(results: Results) -> None:
    with section(f"dead-letter triage, {LETTERS:,} letters on memory://"):
        store = MemoryStore()
        seconds, _ = timed(lambda: seed(store, LETTERS))
        print(f"  (seeded through the dead-letter writer in {seconds:.1f} s)", flush=True)
        base_s, counted = timed(lambda: read_and_parse(store))
        assert counted == LETTERS
        triage_s, summary = timed(lambda: triage(store))
        assert summary.total == LETTERS
        results.add("triage 100k: time", triage_s, "s", baseline=base_s)
        results.add("triage 100k: letters per second", LETTERS / triage_s, "letters/s")
        base_peak = peak_mib(lambda: read_and_parse(store))
        triage_peak = peak_mib(lambda: triage(store))
        results.add("triage 100k: peak memory (tracemalloc)", triage_peak, "MiB", base_peak)
        render_s, body = timed(lambda: render_markdown(summary))
        results.add("triage 100k: Markdown render", render_s * 1000, "ms")
        results.add("triage 100k: reasons found", len(summary.top_reasons), "groups")
        print(f"  (Markdown body: {len(body):,} characters)", flush=True)
