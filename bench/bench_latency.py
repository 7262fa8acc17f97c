"""Latency rollups: 1,000,000 samples, ours against numpy.percentile in the same run.

Figures: wall time (best of 3, without tracing) and peak traced memory
(tracemalloc, one separate run) for

* ``summarize`` (sort + nearest rank, pure Python) over 1,000,000 latencies;
* ``numpy.percentile(..., method="inverted_cdf")`` (nearest rank) on the same
  data, including the conversion from the Python list;
* ``build_rollup`` reading 200,000 samples back from their hourly JSON-lines
  object in the memory store (parse + summarize), the path a run takes.

Whether both methods agree on p50/p95/p99 is printed as 1 (yes) or 0.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.harness import Results, peak_mib, section
from shared.latency.raw import write_samples
from shared.latency.rollup import build_rollup, summarize
from shared.latency.sampler import Sample
from shared.storage.memory import MemoryStore

SAMPLES = 1_000_000
STORED_SAMPLES = 200_000
HOUR = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _latencies(count: int) -> list[float]:
    rng = random.Random(7)
    # Long-tailed like real latencies: lognormal around 40 ms, rounded like the sampler.
    return [round(rng.lognormvariate(3.7, 0.6), 3) for _ in range(count)]


def _best_seconds(fn: Callable[[], Any], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def run(results: Results) -> None:
    import numpy as np

    values = _latencies(SAMPLES)

    def ours() -> tuple[float | None, ...]:
        rollup = summarize("api", HOUR, values, 0, threshold_ms=100, generated_at=HOUR)
        return rollup.p50_ms, rollup.p95_ms, rollup.p99_ms, rollup.max_ms

    def numpys() -> tuple[float, ...]:
        array = np.asarray(values, dtype=np.float64)
        p50, p95, p99 = np.percentile(array, [50, 95, 99], method="inverted_cdf")
        return float(p50), float(p95), float(p99), float(array.max())

    with section(f"latency rollup of {SAMPLES:,} samples"):
        numpy_s = _best_seconds(numpys)
        results.add(
            "rollup 1M: summarize (sort + nearest rank)",
            _best_seconds(ours) * 1000,
            "ms",
            baseline=numpy_s * 1000,
        )
        results.add("rollup 1M: numpy.percentile inverted_cdf", numpy_s * 1000, "ms")
        numpy_peak = peak_mib(numpys)
        results.add(
            "rollup 1M: summarize peak traced memory", peak_mib(ours), "MiB", baseline=numpy_peak
        )
        results.add("rollup 1M: numpy peak traced memory", numpy_peak, "MiB")
        results.add(
            "rollup 1M: p50/p95/p99/max equal numpy (1 = yes)", float(ours() == numpys()), "bool"
        )

    store = MemoryStore()
    stored = _latencies(STORED_SAMPLES)
    samples = [
        Sample(HOUR + timedelta(microseconds=i), "api", "t", value, 200)
        for i, value in enumerate(stored)
    ]
    write_samples(store, samples, job_id="bench", rotation_bytes=1 << 40)
    del samples

    def from_store() -> None:
        build_rollup(store, "api", HOUR, threshold_ms=100, generated_at=HOUR)

    with section(f"rollup from the stored hourly object ({STORED_SAMPLES:,} samples)"):
        seconds = _best_seconds(from_store, repeat=1)
        results.add("rollup 200k from store: time", seconds * 1000, "ms")
        results.add("rollup 200k from store: per sample", seconds / STORED_SAMPLES * 1e6, "us")
        results.add("rollup 200k from store: peak traced memory", peak_mib(from_store), "MiB")
