"""A sustained run at the local stack's capacity: submissions, 429s, completions, RSS.

Client threads submit no-op runs in a closed loop as fast as the stack
admits them; with ``WORKER_MAX_QUEUE_SIZE`` small the queue stays full, so the
dispatcher and execute_task work flat out and the clients meet 429s (waiting
out Retry-After, as Cloud Tasks would). Every second the stack process's RSS
is sampled. At the end the queue drains and the report gives throughput,
latency, status counts and memory at the start and the end of the run.

    python -m tests.load.soak --seconds 300 [--clients 8] [--report soak.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.fuzz.stack import AUTH, local_stack

QUEUE_LIMIT = 20
RETRY_AFTER_S = 1
STACK_ENV = {
    "WORKER_MAX_QUEUE_SIZE": str(QUEUE_LIMIT),
    "WORKER_RETRY_AFTER_S": str(RETRY_AFTER_S),
    "OPSPLANE_LOG_LEVEL": "ERROR",
    # No callbacks: the soak measures the execution plane, not a receiver.
    "WORKER_CALLBACK_URL": "",
}


@dataclass
class SoakReport:
    """What one soak run measured."""

    seconds: float
    clients: int
    submitted: int = 0
    completed: int = 0
    runs_per_s: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)
    submit_p50_ms: float = 0.0
    submit_p95_ms: float = 0.0
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0
    rss_max_mb: float = 0.0
    rss_growth_pct: float = 0.0
    rss_timeline_mb: list[float] = field(default_factory=list)  # one sample per 30 s
    unfinished: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def summary(self) -> str:
        return (
            f"soak {self.seconds:.0f}s x {self.clients} clients: {self.submitted} runs accepted, "
            f"{self.completed} completed ({self.runs_per_s:.1f} runs/s); statuses {self.statuses}; "
            f"submit p50 {self.submit_p50_ms:.1f} ms p95 {self.submit_p95_ms:.1f} ms; "
            f"RSS {self.rss_start_mb:.1f} -> {self.rss_end_mb:.1f} MB "
            f"(max {self.rss_max_mb:.1f}, {self.rss_growth_pct:+.1f}%); "
            f"unfinished {self.unfinished}; unexpected {len(self.unexpected)}"
        )


class _Client(threading.Thread):
    def __init__(self, base_url: str, until: float) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.until = until
        self.statuses: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.unexpected: list[str] = []
        self.run_ids: list[str] = []

    def run(self) -> None:
        with httpx.Client(timeout=30, headers=AUTH) as client:
            while time.monotonic() < self.until:
                started = time.perf_counter()
                try:
                    response = client.post(f"{self.base_url}/runs", json={"job_type": "noop"})
                except httpx.TransportError as exc:
                    self.statuses["transport"] += 1
                    self.unexpected.append(f"transport: {exc}")
                    time.sleep(0.5)
                    continue
                self.latencies.append(time.perf_counter() - started)
                self.statuses[str(response.status_code)] += 1
                if response.status_code == 202:
                    self.run_ids.append(response.json()["run_id"])
                elif response.status_code == 429:
                    wait = float(response.headers.get("Retry-After", RETRY_AFTER_S))
                    time.sleep(min(wait, RETRY_AFTER_S))
                else:
                    self.unexpected.append(f"{response.status_code}: {response.text[:200]}")


def _rss_mb(process: psutil.Process) -> float:
    # The stack is one process; a child (none today) would be counted too.
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        total += child.memory_info().rss
    return total / 2**20


def _queued(base_url: str) -> int:
    stats = httpx.get(f"{base_url}/tasks/health", headers=AUTH, timeout=30).json()
    return int(stats.get("queued", 0)) + int(stats.get("running", 0))


def soak(seconds: float, clients: int = 8, *, drain_s: float = 120.0) -> SoakReport:
    """Run the soak against a fresh local stack on a temporary file:// store."""
    report = SoakReport(seconds=seconds, clients=clients)
    with tempfile.TemporaryDirectory() as tmp, local_stack(f"file://{tmp}", STACK_ENV) as stack:
        process = psutil.Process(stack.process.pid)
        base_url = stack.url
        samples: list[float] = []
        until = time.monotonic() + seconds
        workers = [_Client(base_url, until) for _ in range(clients)]
        started = time.monotonic()
        for worker in workers:
            worker.start()
        while time.monotonic() < until:
            samples.append(_rss_mb(process))
            time.sleep(1)
        for worker in workers:
            worker.join()
        drain_until = time.monotonic() + drain_s
        while time.monotonic() < drain_until and _queued(base_url) > 0:
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        report.unfinished = _queued(base_url)
        samples.append(_rss_mb(process))

        statuses: Counter[str] = sum((w.statuses for w in workers), Counter())
        latencies = sorted(latency for w in workers for latency in w.latencies)
        report.statuses = dict(statuses)
        report.unexpected = [u for w in workers for u in w.unexpected][:20]
        report.submitted = sum(len(w.run_ids) for w in workers)
        report.completed = report.submitted - report.unfinished
        report.runs_per_s = report.completed / elapsed
        if latencies:
            report.submit_p50_ms = 1000 * latencies[len(latencies) // 2]
            report.submit_p95_ms = 1000 * latencies[int(len(latencies) * 0.95)]
        # Start after warm-up (imports, first requests), end at the last quarter.
        quarter = max(1, len(samples) // 4)
        report.rss_start_mb = statistics.median(samples[quarter : 2 * quarter] or samples)
        report.rss_end_mb = statistics.median(samples[-quarter:])
        report.rss_max_mb = max(samples)
        report.rss_growth_pct = 100 * (report.rss_end_mb / report.rss_start_mb - 1)
        report.rss_timeline_mb = [round(sample, 1) for sample in samples[::30]]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.load.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--report", type=Path, help="also write the figures as JSON here")
    parser.add_argument(
        "--max-rss-growth-pct", type=float, default=15.0, help="fail above this growth"
    )
    args = parser.parse_args(argv)
    report = soak(args.seconds, args.clients)
    print(report.summary())
    if args.report:
        args.report.write_text(report.to_json() + "\n")
    failed: list[Any] = []
    if report.unexpected:
        failed.append(f"unexpected answers: {report.unexpected[:5]}")
    if report.unfinished:
        failed.append(f"{report.unfinished} runs did not finish")
    if report.rss_growth_pct > args.max_rss_growth_pct:
        failed.append(f"RSS grew {report.rss_growth_pct:.1f}%")
    for problem in failed:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
