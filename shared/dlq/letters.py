"""Reading dead letters of both kinds, and the filters every action shares.

Job dead letters are ``dlq/jobs/<run_id>.json`` (written by the executor,
see :mod:`shared.jobs.deadletters`); callback dead letters live under
``dlq/callbacks/<event_id>.json`` (see :mod:`shared.callbacks.deadletters`:
no job type or code of their own; the payload's ``jobType`` and the delivery's
HTTP status stand in). A letter that cannot be parsed is counted, not fatal:
one damaged object must not hide the others.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shared import logs
from shared.clock import parse_iso
from shared.storage import ObjectInfo, ObjectStore
from shared.storage.errors import ObjectNotFound

JOBS_PREFIX = "dlq/jobs/"
CALLBACKS_PREFIX = "dlq/callbacks/"
_log = logs.get_logger("opsplane.dlq")


class LetterKind(enum.StrEnum):
    JOB = "job"
    CALLBACK = "callback"


class LetterStatus(enum.StrEnum):
    """A dead letter's life: kept as history once resolved."""

    OPEN = "open"
    REPLAYING = "replaying"
    RESOLVED = "resolved"


PREFIXES: dict[LetterKind, str] = {
    LetterKind.JOB: JOBS_PREFIX,
    LetterKind.CALLBACK: CALLBACKS_PREFIX,
}


@dataclass(frozen=True)
class DeadLetterEntry:
    """One dead letter as triage and the actions see it (already redacted at write)."""

    kind: LetterKind
    letter_id: str
    object_name: str
    job_type: str
    error_code: str
    message: str
    created_at: datetime | None
    status: str
    params: Any = None
    attempts: int = 0


@dataclass(frozen=True)
class DlqFilter:
    """Which dead letters an action applies to; empty fields match everything."""

    ids: frozenset[str] = frozenset()
    job_type: str | None = None
    code: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    kinds: frozenset[LetterKind] = frozenset(LetterKind)
    statuses: frozenset[str] = field(default_factory=frozenset)

    def within_statuses(self, allowed: frozenset[str]) -> DlqFilter:
        """This filter, keeping only letters whose status an action may touch.

        Statuses asked for are intersected with ``allowed``; none asked for
        means all of ``allowed``, never "every status".
        """
        return replace(self, statuses=(self.statuses & allowed) if self.statuses else allowed)

    def wants_meta(self, info: ObjectInfo) -> bool:
        """Whether a listing entry may match, judged on its metadata alone."""
        meta = info.metadata or {}
        if self.ids and _id_from_name(info.name) not in self.ids:
            return False
        if self.job_type and meta.get("job_type") and meta["job_type"] != self.job_type:
            return False
        return not (self.statuses and meta.get("status") and meta["status"] not in self.statuses)

    def matches(self, entry: DeadLetterEntry) -> bool:
        """Whether a parsed dead letter matches every filter."""
        if self.ids and entry.letter_id not in self.ids:
            return False
        if self.job_type and entry.job_type != self.job_type:
            return False
        if self.code and entry.error_code != self.code:
            return False
        if self.statuses and entry.status not in self.statuses:
            return False
        if self.since or self.until:
            if entry.created_at is None:
                return False
            if self.since and entry.created_at < self.since:
                return False
            if self.until and entry.created_at > self.until:
                return False
        return True


@dataclass
class ReadStats:
    """How many objects a scan listed and how many it could not parse."""

    listed: int = 0
    unreadable: int = 0


def _id_from_name(name: str) -> str:
    return name.rsplit("/", 1)[-1].removesuffix(".json")


def parse_letter(kind: LetterKind, name: str, doc: Mapping[str, Any]) -> DeadLetterEntry:
    """A stored dead letter as an entry; KeyError/TypeError/ValueError when malformed."""
    if kind is LetterKind.JOB:
        letter_id = str(doc["run_id"])
        job_type = str(doc.get("job_type") or "unknown")
        code = str(doc.get("error_code") or "failed")
        message = str(doc.get("last_error") or "")
        attempts = len(doc.get("attempts") or ())
    else:
        # shared.callbacks.deadletters: the event's payload says which job it was about;
        # the failure is the delivery's (an HTTP status, or no answer at all).
        raw_payload = doc.get("payload")
        payload: Mapping[str, Any] = raw_payload if isinstance(raw_payload, Mapping) else {}
        letter_id = str(doc.get("event_id") or _id_from_name(name))
        job_type = str(doc.get("job_type") or payload.get("jobType") or "callback")
        last_status = doc.get("last_status")
        code = str(
            doc.get("error_code")
            or (f"callback_http_{last_status}" if last_status else "callback_unreachable")
        )
        message = str(doc.get("last_error") or "")
        attempts_value = doc.get("attempts")
        attempts = (
            len(attempts_value) if isinstance(attempts_value, list) else int(attempts_value or 0)
        )
    created = doc.get("created_at") or doc.get("failed_at")
    return DeadLetterEntry(
        kind=kind,
        letter_id=letter_id,
        object_name=name,
        job_type=job_type,
        error_code=code,
        message=message,
        created_at=parse_iso(str(created)) if created else None,
        status=str(doc.get("status") or LetterStatus.OPEN.value),
        params=doc.get("params", doc.get("payload")),
        attempts=attempts,
    )


def iter_letters(
    store: ObjectStore, selection: DlqFilter | None = None, stats: ReadStats | None = None
) -> Iterator[DeadLetterEntry]:
    """Every dead letter matching ``selection``, jobs first, each kind in name order."""
    selection = selection or DlqFilter()
    stats = stats if stats is not None else ReadStats()
    for kind in (LetterKind.JOB, LetterKind.CALLBACK):
        if kind not in selection.kinds:
            continue
        for info in _infos(store, kind, selection):
            stats.listed += 1
            if not selection.wants_meta(info):
                continue
            try:
                doc = json.loads(store.get(info.name).data)
                entry = parse_letter(kind, info.name, doc)
            except ObjectNotFound:
                continue  # purged or replayed away between listing and reading
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                stats.unreadable += 1
                _log.warning(
                    "skipping unreadable dead letter",
                    extra={"fields": {"object": info.name, "error": type(exc).__name__}},
                )
                continue
            if selection.matches(entry):
                yield entry


def _infos(store: ObjectStore, kind: LetterKind, selection: DlqFilter) -> Iterator[ObjectInfo]:
    prefix = PREFIXES[kind]
    if selection.ids and len(selection.ids) <= 100:
        # A handful of ids: read those names instead of listing everything.
        for letter_id in sorted(selection.ids):
            if "/" in letter_id or not letter_id:
                continue
            stored = store.get_or_none(f"{prefix}{letter_id}.json")
            if stored is not None:
                yield ObjectInfo(
                    stored.name,
                    stored.generation,
                    len(stored.data),
                    stored.updated,
                    stored.metadata,
                )
        return
    yield from store.list(prefix)
