"""The triage summary of dead letters, built in one streaming pass.

Memory stays bounded by the number of distinct reasons, not letters: counts
are counters, samples a heap of the newest 20. Both dead-letter writers redact
messages before storing them; triage redacts again only what it shows (one
example and the normalised text per reason, the 20 samples), not every letter
it reads: redaction costs far more than the rest of the pass. Normalising
never cuts a secret into pieces the redactor would no longer see: it only
replaces whole tokens, and digits glued to letters stay as they are.
Every field is redacted as it is built, except ids of the shape
opsplane generates itself (run and event ids): the entropy rules may take a
random id suffix for a token, and an id that reads ``[REDACTED]`` cannot be
replayed.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shared.clock import Clock, isoformat, utcnow
from shared.dlq.letters import DeadLetterEntry, DlqFilter, LetterStatus, ReadStats, iter_letters
from shared.dlq.normalise import normalise_message
from shared.redaction import redact_data, redact_text
from shared.storage import ObjectStore

MAX_SAMPLES = 20
TOP_REASONS = 10
UNRESOLVED = frozenset({LetterStatus.OPEN.value, LetterStatus.REPLAYING.value})
_MIN = datetime.min.isoformat()


@dataclass
class _Reason:
    count: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    job_types: Counter[str] = field(default_factory=Counter)
    example: str = ""
    first_seen: datetime | None = None
    last_seen: datetime | None = None


@dataclass(frozen=True)
class TriageSummary:
    """What failed, how often and why; every text field already redacted."""

    generated_at: datetime
    filters: dict[str, Any]
    total: int
    by_kind: dict[str, int]
    by_job_type: dict[str, int]
    by_code: dict[str, int]
    by_status: dict[str, int]
    top_reasons: list[dict[str, Any]]
    oldest: dict[str, Any] | None
    newest: dict[str, Any] | None
    samples: list[dict[str, Any]]
    unreadable: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-able data (every field redacted as it was built)."""
        return {
            "generated_at": isoformat(self.generated_at),
            "filters": self.filters,
            "total": self.total,
            "by_kind": self.by_kind,
            "by_job_type": self.by_job_type,
            "by_code": self.by_code,
            "by_status": self.by_status,
            "top_reasons": self.top_reasons,
            "oldest": self.oldest,
            "newest": self.newest,
            "samples": self.samples,
            "unreadable": self.unreadable,
        }


_GENERATED_ID = re.compile(r"^\d{8}T\d{6,12}Z-[0-9a-f]{4,32}(?:\.\d{1,9})?$")


def safe_id(letter_id: str) -> str:
    """A run or event id as generated stays readable; anything else is redacted."""
    return letter_id if _GENERATED_ID.match(letter_id) else redact_text(letter_id)


def _sorted_counts(counter: Counter[str]) -> dict[str, int]:
    redacted: Counter[str] = Counter()
    for key, count in counter.items():
        redacted[redact_text(key)] += count
    return dict(sorted(redacted.items(), key=lambda item: (-item[1], item[0])))


def _brief(entry: DeadLetterEntry) -> dict[str, Any]:
    return {
        "id": safe_id(entry.letter_id),
        "kind": entry.kind.value,
        "job_type": redact_text(entry.job_type),
        "error_code": redact_text(entry.error_code),
        "created_at": isoformat(entry.created_at) if entry.created_at else None,
    }


def _sample(entry: DeadLetterEntry, message: str) -> dict[str, Any]:
    return {
        **_brief(entry),
        "status": entry.status,
        "attempts": entry.attempts,
        "message": message,
        "params": redact_data(entry.params),
    }


def summarise(
    entries: Iterable[DeadLetterEntry],
    *,
    now: datetime,
    filters: dict[str, Any] | None = None,
    unreadable: int = 0,
    max_samples: int = MAX_SAMPLES,
    top_reasons: int = TOP_REASONS,
) -> TriageSummary:
    """Aggregate dead letters into a :class:`TriageSummary` in one pass."""
    by_kind: Counter[str] = Counter()
    by_job_type: Counter[str] = Counter()
    by_code: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    reasons: dict[tuple[str, str], _Reason] = {}
    oldest: DeadLetterEntry | None = None
    newest: DeadLetterEntry | None = None
    # (created_at, sequence, entry, message): the heap's smallest is dropped first.
    newest_heap: list[tuple[str, int, DeadLetterEntry, str]] = []
    total = 0
    for total, entry in enumerate(entries, start=1):
        by_kind[entry.kind.value] += 1
        by_job_type[entry.job_type] += 1
        by_code[entry.error_code] += 1
        by_status[entry.status] += 1
        message = entry.message
        key = (entry.error_code, normalise_message(message))
        reason = reasons.get(key)
        if reason is None:
            reason = reasons[key] = _Reason(example=redact_text(message[:500]))
        reason.count += 1
        reason.codes[entry.error_code] += 1
        reason.job_types[entry.job_type] += 1
        created = entry.created_at
        if created is not None:
            if reason.first_seen is None or created < reason.first_seen:
                reason.first_seen = created
            if reason.last_seen is None or created > reason.last_seen:
                reason.last_seen = created
            if oldest is None or (oldest.created_at and created < oldest.created_at):
                oldest = entry
            if newest is None or (newest.created_at and created > newest.created_at):
                newest = entry
        stamp = created.isoformat() if created else _MIN
        item = (stamp, total, entry, message)
        if len(newest_heap) < max_samples:
            heapq.heappush(newest_heap, item)
        elif item[:2] > newest_heap[0][:2]:
            heapq.heapreplace(newest_heap, item)
    ranked = sorted(reasons.items(), key=lambda kv: (-kv[1].count, kv[0]))[:top_reasons]
    samples = [_sample(e, redact_text(m)) for _, _, e, m in sorted(newest_heap, reverse=True)]
    return TriageSummary(
        generated_at=now,
        filters=redact_data(filters or {}),
        total=total,
        by_kind=_sorted_counts(by_kind),
        by_job_type=_sorted_counts(by_job_type),
        by_code=_sorted_counts(by_code),
        by_status=_sorted_counts(by_status),
        top_reasons=[
            {
                "reason": redact_text(normalised),
                "error_code": redact_text(code),
                "count": reason.count,
                "job_types": _sorted_counts(reason.job_types),
                "example": reason.example,
                "first_seen": isoformat(reason.first_seen) if reason.first_seen else None,
                "last_seen": isoformat(reason.last_seen) if reason.last_seen else None,
            }
            for (code, normalised), reason in ranked
        ],
        oldest=_brief(oldest) if oldest else None,
        newest=_brief(newest) if newest else None,
        samples=samples,
        unreadable=unreadable,
    )


def describe_filter(selection: DlqFilter) -> dict[str, Any]:
    """The filters as shown in a summary (only those set)."""
    shown: dict[str, Any] = {}
    if selection.ids:
        shown["ids"] = sorted(selection.ids)
    if selection.job_type:
        shown["job_type"] = selection.job_type
    if selection.code:
        shown["code"] = selection.code
    if selection.since:
        shown["since"] = isoformat(selection.since)
    if selection.until:
        shown["until"] = isoformat(selection.until)
    if selection.statuses:
        shown["statuses"] = sorted(selection.statuses)
    return shown


def triage(
    store: ObjectStore, selection: DlqFilter | None = None, *, clock: Clock = utcnow
) -> TriageSummary:
    """Summarise the dead letters in ``store`` matching ``selection``.

    Without a status filter only unresolved letters (open, replaying) count:
    resolved ones are history, not work.
    """
    selection = selection or DlqFilter()
    if not selection.statuses:
        selection = replace(selection, statuses=UNRESOLVED)
    stats = ReadStats()
    entries = iter_letters(store, selection, stats)
    summary = summarise(entries, now=clock(), filters=describe_filter(selection))
    if stats.unreadable:
        summary = replace(summary, unreadable=stats.unreadable)
    return summary
