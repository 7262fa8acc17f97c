"""Redaction throughput on a realistic ~50 MB log, against one big alternation regex.

The log is generated from a fixed seed: mostly ordinary ops lines (JSON and
plain, timestamps, run ids, UUIDs, SHAs, URLs, paths, durations) with about
one line in a hundred carrying a secret. Two ways of feeding it are timed:

- line by line, the way logs, dead letters and run records call
  ``redact_text`` (one short string per call): ``redaction.throughput_mb_s``;
- the whole text in one call, the way a report body or ``opsplane redact``
  on a file is handled: ``redaction.throughput_whole_text_mb_s``.

The baseline, timed in the same run on the same input, is the naive
redactor: ONE regex made of every built-in pattern joined with ``|`` (plus a
plain 32+ character class run for the random-string rule) and ``.sub``.
It does less work (no judges, no typed placeholders, no overlap resolution),
so it is a lower bound on what the naive approach costs. Figures only.

OPSPLANE_BENCH_REDACTION_MB overrides the size (default 50).
"""

from __future__ import annotations

import os
import random
import re
import string
import time
from collections.abc import Callable

from bench.harness import Results, section
from shared.redaction import Redactor
from shared.redaction.rules import PatternRule

_SEED = 20260627
_ALNUM = string.ascii_letters + string.digits
_JOBS = ("latency", "report", "export", "sweep", "dlq-replay")
_PATHS = ("/runs", "/health", "/health/test", "/callbacks", "/dlq", "/export/dashboard")


def _pick(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _ordinary_line(rng: random.Random, n: int) -> str:
    second = n % 86400
    stamp = (
        f"2026-06-27T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}.{n % 1000:03d}Z"
    )
    job = rng.choice(_JOBS)
    run_id = f"20260627T{second // 3600:02d}{second // 60 % 60:02d}Z-{job}"
    kind = rng.randrange(6)
    if kind == 0:
        return (
            f'{{"severity": "INFO", "message": "run finished", "time": "{stamp}", '
            f'"run_id": "{run_id}", "duration_ms": {rng.randrange(5, 90000)}, "attempts": 1}}'
        )
    if kind == 1:
        return (
            f"{stamp} INFO {rng.choice(('GET', 'POST'))} http://127.0.0.1:8080"
            f"{rng.choice(_PATHS)}?page={rng.randrange(9)} {rng.choice((200, 201, 204, 429))}"
            f" {rng.uniform(0.5, 900):.1f}ms request_id={_pick(rng, '0123456789abcdef', 12)}"
        )
    if kind == 2:
        return (
            f"{stamp} INFO lease {rng.getrandbits(128):032x} claimed by worker-{rng.randrange(64)}"
            f" for run {run_id} (attempt {rng.randrange(1, 6)} of 5)"
        )
    if kind == 3:
        return (
            f"{stamp} DEBUG wrote gs://acme-opsplane/runs/2026/06/27/{run_id}.json"
            f" generation={rng.randrange(10**15, 10**16)} size={rng.randrange(200, 9000)}"
        )
    if kind == 4:
        return (
            f"{stamp} WARNING retrying task-{rng.randrange(10000)} in {rng.uniform(0.1, 30):.2f}s"
            f" after {rng.choice(('timeout', 'HTTP 503', 'connection reset'))};"
            f" commit {rng.getrandbits(160):040x}"
        )
    return (
        f"{stamp} INFO latency p50={rng.uniform(1, 50):.1f}ms p99={rng.uniform(50, 900):.1f}ms"
        f" samples=1000 slo=99.9% job={job} uuid={_uuid(rng)}"
    )


def _uuid(rng: random.Random) -> str:
    value = f"{rng.getrandbits(128):032x}"
    return f"{value[:8]}-{value[8:12]}-4{value[13:16]}-a{value[17:20]}-{value[20:]}"


def _secret_line(rng: random.Random, n: int) -> str:
    kind = rng.randrange(8)
    secrets = (
        f"Authorization: Bearer ghp_{_pick(rng, _ALNUM, 36)}",
        f"connecting to postgres://app:{_pick(rng, _ALNUM, 16)}@db.internal:5432/app",
        f'{{"event": "callback", "password": "{_pick(rng, _ALNUM, 14)}"}}',
        f"slack notify via https://hooks.slack.com/services/T0{_pick(rng, _ALNUM, 7)}/"
        f"B0{_pick(rng, _ALNUM, 7)}/{_pick(rng, _ALNUM, 24)}",
        f"aws key AKIA{_pick(rng, string.ascii_uppercase + string.digits, 16)} used",
        f"OPENAI_API_KEY=sk-proj-{_pick(rng, _ALNUM, 48)}",
        f"escalated to oncall-{n % 97}@acme.io",
        f"webhook secret {_pick(rng, _ALNUM, 40)} rotated",
    )
    return f"2026-06-27T00:00:00Z ERROR {secrets[kind]}"


def generate_log(size_bytes: int) -> list[str]:
    """Deterministic log lines (no newline) adding up to about ``size_bytes``."""
    rng = random.Random(_SEED)
    lines: list[str] = []
    total = 0
    n = 0
    while total < size_bytes:
        line = _secret_line(rng, n) if rng.random() < 0.01 else _ordinary_line(rng, n)
        lines.append(line)
        total += len(line) + 1
        n += 1
    return lines


def baseline_regex(redactor: Redactor) -> re.Pattern[str]:
    """ONE alternation of every built-in pattern, the naive redactor."""
    parts = []
    for rule in redactor.rules:
        if isinstance(rule, PatternRule):
            source = rule.pattern.pattern
            flags = ("i" if rule.fold_case else "") + (
                "s" if rule.pattern.flags & re.DOTALL else ""
            )
            parts.append(f"(?{flags}:{source})" if flags else f"(?:{source})")
    parts.append(r"(?:[A-Za-z0-9+/_-]{32,})")
    # the named groups are per-rule; an alternation needs them unique
    joined = re.sub(r"\(\?P<(\w+)>", "(?:", "|".join(parts))
    return re.compile(joined)


def _throughput(size: int, action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return size / 1e6 / (time.perf_counter() - started)


def run(results: Results) -> None:
    megabytes = float(os.environ.get("OPSPLANE_BENCH_REDACTION_MB", "50"))
    with section(f"redaction: {megabytes:.0f} MB generated log, redactor vs one alternation regex"):
        lines = generate_log(int(megabytes * 1e6))
        text = "\n".join(lines) + "\n"
        size = len(text.encode())
        redactor = Redactor()
        baseline = baseline_regex(redactor)
        print(
            f"  {len(lines):,} lines, {size / 1e6:.1f} MB, about 1% carrying a secret", flush=True
        )

        def ours_by_line() -> None:
            for line in lines:
                redactor.redact_text(line)

        def baseline_by_line() -> None:
            for line in lines:
                baseline.sub("[REDACTED]", line)

        ours = _throughput(size, ours_by_line)
        naive = _throughput(size, baseline_by_line)
        results.add("redaction.throughput_mb_s", ours, "MB/s", baseline=naive)

        ours_whole = _throughput(size, lambda: redactor.redact_text(text))
        naive_whole = _throughput(size, lambda: baseline.sub("[REDACTED]", text))
        results.add(
            "redaction.throughput_whole_text_mb_s", ours_whole, "MB/s", baseline=naive_whole
        )
