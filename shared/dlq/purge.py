"""Purge dead letters, leaving an audit record.

The audit record ``dlq/audit/<YYYYmmddTHHMMSSZ>-<id>.json`` is written
*before* anything is deleted (what is about to go, who asked, which filters)
and completed afterwards with what was deleted, so even a purge that dies
half-way leaves its trace. Each delete is conditional on the generation that
was read: a letter that changed meanwhile (a replay started) is kept.
Letters in the middle of a replay are never purged.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from shared.clock import Clock, isoformat, utcnow
from shared.dlq.letters import DlqFilter, LetterStatus, iter_letters
from shared.dlq.triage import describe_filter
from shared.redaction import redact_data
from shared.storage import ObjectStore
from shared.storage.errors import ObjectNotFound, PreconditionFailed

AUDIT_PREFIX = "dlq/audit/"
PURGEABLE = frozenset({LetterStatus.OPEN.value, LetterStatus.RESOLVED.value})


@dataclass
class PurgeReport:
    """What a purge matched and deleted, and where its audit record is."""

    dry_run: bool
    matched: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    audit_object: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "matched": len(self.matched),
            "deleted": len(self.deleted),
            "kept": len(self.kept),
            "deleted_ids": self.deleted,
            "kept_ids": self.kept,
            "audit_object": self.audit_object,
        }


def purgeable(selection: DlqFilter) -> DlqFilter:
    """``selection`` without letters being replayed."""
    return selection.within_statuses(PURGEABLE)


def purge(
    store: ObjectStore,
    selection: DlqFilter | None = None,
    *,
    actor: str,
    clock: Clock = utcnow,
    dry_run: bool = False,
) -> PurgeReport:
    """Delete matching dead letters (none with ``dry_run``); audit what was done."""
    selection = purgeable(selection or DlqFilter())
    report = PurgeReport(dry_run=dry_run)
    targets: list[tuple[str, str]] = []
    for entry in iter_letters(store, selection):
        report.matched.append(entry.letter_id)
        targets.append((entry.letter_id, entry.object_name))
    if dry_run or not targets:
        return report
    now = clock()
    audit_name = f"{AUDIT_PREFIX}{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}.json"
    audit: dict[str, Any] = {
        "action": "purge",
        "actor": actor,
        "started_at": isoformat(now),
        "filters": describe_filter(selection),
        "matched_ids": report.matched,
        "status": "started",
    }
    generation = store.put(audit_name, _encode(audit), if_absent=True)
    report.audit_object = audit_name
    for letter_id, name in targets:
        stored = store.get_or_none(name)
        if stored is None:
            continue
        status = json.loads(stored.data).get("status") or LetterStatus.OPEN.value
        if status not in PURGEABLE:
            report.kept.append(letter_id)
            continue
        try:
            store.delete(name, if_generation=stored.generation)
        except (PreconditionFailed, ObjectNotFound):
            report.kept.append(letter_id)
            continue
        report.deleted.append(letter_id)
    audit.update(
        status="finished",
        finished_at=isoformat(clock()),
        deleted_ids=report.deleted,
        kept_ids=report.kept,
    )
    store.put(audit_name, _encode(audit), if_generation=generation)
    return report


def _encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(redact_data(doc), sort_keys=True).encode()
