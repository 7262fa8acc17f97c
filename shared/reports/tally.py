"""The mergeable counts a report is built from: one tally per hour, merged per period.

A tally holds, for the runs it has seen: counts by status and job type,
duration histograms, failure reasons (redacted, normalised so ids and
numbers don't split a cause) and, per job type and error code, the minutes
failures happened at (what the improvement digest groups into incidents).
Memory is bounded by the number of job types, codes and distinct reasons,
never by the number of runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.dlq.normalise import normalise_message
from shared.jobs.models import Run, RunStatus
from shared.redaction import redact_text
from shared.reports.histogram import Histogram

SCHEMA = 1
MAX_REASONS = 100  # kept per tally; the rest only counts towards "other"
MAX_EXAMPLES = 3
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def run_duration_ms(run: Run) -> float | None:
    """First attempt's start to the run's end: what the job cost in wall time."""
    if not run.attempts or run.finished_at is None:
        return None
    return max(0.0, (run.finished_at - run.attempts[0].started_at).total_seconds() * 1000)


def epoch_minute(moment: datetime) -> int:
    return int((moment - _EPOCH).total_seconds() // 60)


def minute_time(minute: int) -> datetime:
    return _EPOCH + timedelta(minutes=minute)


@dataclass
class JobTally:
    """One job type's counts and durations."""

    runs: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    retried: int = 0
    recovered: int = 0
    durations: Histogram = field(default_factory=Histogram)

    def merge(self, other: JobTally) -> None:
        self.runs += other.runs
        self.by_status.update(other.by_status)
        self.retried += other.retried
        self.recovered += other.recovered
        self.durations.merge(other.durations)

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "by_status": dict(self.by_status),
            "retried": self.retried,
            "recovered": self.recovered,
            "durations": self.durations.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobTally:
        return cls(
            runs=int(data["runs"]),
            by_status=Counter({str(k): int(v) for k, v in data["by_status"].items()}),
            retried=int(data.get("retried", 0)),
            recovered=int(data.get("recovered", 0)),
            durations=Histogram.from_json(data.get("durations", {})),
        )


@dataclass
class ReasonTally:
    """One failure reason: its code, a redacted example and how often it happened."""

    code: str
    reason: str
    count: int = 0
    job_types: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "reason": self.reason,
            "count": self.count,
            "job_types": dict(self.job_types),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReasonTally:
        return cls(
            code=str(data["code"]),
            reason=str(data["reason"]),
            count=int(data["count"]),
            job_types=Counter({str(k): int(v) for k, v in data.get("job_types", {}).items()}),
        )


@dataclass
class FailureTally:
    """Failed runs of one job type and error code: per-minute counts and examples."""

    job_type: str
    code: str
    reason: str
    minutes: Counter[int] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def merge(self, other: FailureTally) -> None:
        self.minutes.update(other.minutes)
        room = MAX_EXAMPLES - len(self.examples)
        self.examples.extend(other.examples[: max(0, room)])

    def to_json(self) -> dict[str, Any]:
        return {
            "job_type": self.job_type,
            "code": self.code,
            "reason": self.reason,
            "minutes": {str(m): n for m, n in sorted(self.minutes.items())},
            "examples": list(self.examples),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FailureTally:
        return cls(
            job_type=str(data["job_type"]),
            code=str(data["code"]),
            reason=str(data["reason"]),
            minutes=Counter({int(m): int(n) for m, n in data.get("minutes", {}).items()}),
            examples=[str(x) for x in data.get("examples", [])][:MAX_EXAMPLES],
        )


def _failure_of(run: Run) -> tuple[str, str]:
    """The error code and redacted, normalised reason of a failed run."""
    last = run.last_attempt
    code = run.error_code or (last.error_code if last else None) or "failed"
    message = run.error_message or (last.error_message if last else None) or ""
    return code, normalise_message(redact_text(message))


@dataclass
class Tally:
    """Everything a report counts, for any set of runs; tallies merge by adding."""

    by_status: Counter[str] = field(default_factory=Counter)
    job_types: dict[str, JobTally] = field(default_factory=dict)
    reasons: dict[str, ReasonTally] = field(default_factory=dict)
    other_reasons: int = 0
    failures: dict[str, FailureTally] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return sum(self.by_status.values())

    def add_run(self, run: Run) -> None:
        """Count one run in its current state."""
        status = run.status.value
        self.by_status[status] += 1
        job = self.job_types.setdefault(run.job_type, JobTally())
        job.runs += 1
        job.by_status[status] += 1
        if len(run.attempts) > 1:
            job.retried += 1
            if run.status is RunStatus.SUCCEEDED:
                job.recovered += 1
        duration = run_duration_ms(run) if run.status.final else None
        if duration is not None:
            job.durations.add(duration)
        if run.status is RunStatus.FAILED:
            self._add_failure(run)

    def _add_failure(self, run: Run) -> None:
        code, reason = _failure_of(run)
        key = f"{code}\t{reason}"
        entry = self.reasons.get(key)
        if entry is None:
            entry = self.reasons[key] = ReasonTally(code, reason)
        entry.count += 1
        entry.job_types[run.job_type] += 1
        failure_key = f"{run.job_type}\t{code}"
        failure = self.failures.get(failure_key)
        if failure is None:
            failure = self.failures[failure_key] = FailureTally(run.job_type, code, reason)
        failure.minutes[epoch_minute(run.finished_at or run.updated_at)] += 1
        if len(failure.examples) < MAX_EXAMPLES:
            failure.examples.append(run.run_id)

    def merge(self, other: Tally) -> None:
        self.by_status.update(other.by_status)
        for name, job in other.job_types.items():
            self.job_types.setdefault(name, JobTally()).merge(job)
        for key, reason in other.reasons.items():
            mine = self.reasons.get(key)
            if mine is None:
                mine = self.reasons[key] = ReasonTally(reason.code, reason.reason)
            mine.count += reason.count
            mine.job_types.update(reason.job_types)
        self.other_reasons += other.other_reasons
        for key, failure in other.failures.items():
            if key in self.failures:
                self.failures[key].merge(failure)
            else:
                self.failures[key] = FailureTally.from_json(failure.to_json())
        self.pending.extend(other.pending)

    def top_reasons(self, limit: int) -> list[ReasonTally]:
        return sorted(self.reasons.values(), key=lambda r: (-r.count, r.code, r.reason))[:limit]

    def to_json(self) -> dict[str, Any]:
        kept = self.top_reasons(MAX_REASONS)
        dropped = sum(r.count for r in self.reasons.values()) - sum(r.count for r in kept)
        return {
            "schema": SCHEMA,
            "by_status": dict(self.by_status),
            "job_types": {name: job.to_json() for name, job in sorted(self.job_types.items())},
            "reasons": [reason.to_json() for reason in kept],
            "other_reasons": self.other_reasons + dropped,
            "failures": [f.to_json() for _, f in sorted(self.failures.items())],
            "pending": list(self.pending),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tally:
        tally = cls(
            by_status=Counter({str(k): int(v) for k, v in data.get("by_status", {}).items()}),
            job_types={
                str(name): JobTally.from_json(job)
                for name, job in data.get("job_types", {}).items()
            },
            other_reasons=int(data.get("other_reasons", 0)),
            pending=[str(x) for x in data.get("pending", [])],
        )
        for raw in data.get("reasons", []):
            reason = ReasonTally.from_json(raw)
            tally.reasons[f"{reason.code}\t{reason.reason}"] = reason
        for raw in data.get("failures", []):
            failure = FailureTally.from_json(raw)
            tally.failures[f"{failure.job_type}\t{failure.code}"] = failure
        return tally

    @classmethod
    def merged(cls, tallies: Iterable[Tally]) -> Tally:
        result = cls()
        for tally in tallies:
            result.merge(tally)
        return result
