"""Collects benchmark rows, prints them as a table and writes bench/results.json.

Every row is ``{"name", "value", "unit", "baseline", "ratio"}``: the figure,
and where the benchmark measured one in the same run, the baseline it is
compared with and value / baseline.
"""

from __future__ import annotations

import gc
import json
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"


@dataclass
class Row:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)

    def add(self, name: str, value: float, unit: str, baseline: float | None = None) -> None:
        ratio = round(value / baseline, 3) if baseline else None
        self.rows.append(Row(name, round(value, 3), unit, baseline and round(baseline, 3), ratio))
        shown = f"{value:,.3f} {unit}"
        if baseline is not None:
            shown += f"   (baseline {baseline:,.3f} {unit}, ratio {ratio})"
        print(f"  {name:<58} {shown}", flush=True)

    def write(self, path: Path = RESULTS_PATH, *, merge: bool = False) -> None:
        """Write the rows; with ``merge``, keep earlier rows this run did not measure."""
        rows = [asdict(row) for row in self.rows]
        if merge and path.exists():
            measured = {row["name"] for row in rows}
            earlier = json.loads(path.read_text())
            rows = [row for row in earlier if row["name"] not in measured] + rows
        path.write_text(json.dumps(rows, indent=2) + "\n")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation, like numpy's default."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def timed_ms(fn: Callable[[], object], repeat: int) -> list[float]:
    """Run ``fn`` ``repeat`` times; the latency of each call in milliseconds."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def peak_mib(fn: Callable[[], object]) -> float:
    """Peak memory traced while ``fn`` runs, in MiB (garbage collected first)."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / (1024 * 1024)


def median(values: list[float]) -> float:
    return statistics.median(values)


@contextmanager
def section(title: str) -> Iterator[None]:
    print(f"\n== {title}", flush=True)
    yield
